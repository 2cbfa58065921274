"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

Keep this module free of imports beyond the package version: Airflow imports it while
discovering providers, in every process.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_lakeops import __version__


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ``ProvidersManager`` validates and registers."""
    return {
        "package-name": "airflow-provider-lakeops",
        "name": "lakeops",
        "description": (
            "Operate a lakehouse from Airflow 3: data-quality gates (Great Expectations), PII masking "
            "on Spark, Glue catalog registration, Debezium deployment, Kafka -> Spark streaming, "
            "Snowflake MERGE, with OpenLineage and alerting built in."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "lakeops",
                "external-doc-url": "https://github.com/lakeops/airflow-provider-lakeops",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "lakeops",
                "python-modules": [
                    "airflow_provider_lakeops.operators.sample_events",
                    "airflow_provider_lakeops.operators.great_expectations",
                    "airflow_provider_lakeops.operators.pii",
                    "airflow_provider_lakeops.operators.glue",
                    "airflow_provider_lakeops.operators.snowflake",
                    "airflow_provider_lakeops.operators.debezium",
                    "airflow_provider_lakeops.operators.kafka_connect",
                    "airflow_provider_lakeops.operators.spark_streaming",
                    "airflow_provider_lakeops.operators.replica_check",
                    "airflow_provider_lakeops.operators.delta_merge",
                    "airflow_provider_lakeops.operators.delta_maintenance",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "lakeops",
                "python-modules": [
                    "airflow_provider_lakeops.sensors.kafka_connect",
                    "airflow_provider_lakeops.sensors.debezium_watermark",
                ],
            }
        ],
        "hooks": [
            {
                "integration-name": "lakeops",
                "python-modules": [
                    "airflow_provider_lakeops.hooks.kafka_connect",
                    "airflow_provider_lakeops.hooks.glue_catalog",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "lakeops",
                "python-modules": ["airflow_provider_lakeops.triggers.kafka_connect"],
            }
        ],
        "extra-links": ["airflow_provider_lakeops.operators.great_expectations.GXDataDocsLink"],
        "notifications": [
            "airflow_provider_lakeops.notifications.callbacks.LakeopsNotifier",
            "airflow_provider_lakeops.notifications.cloudwatch.CloudWatchMetricsNotifier",
            "airflow_provider_lakeops.notifications.datadog.DatadogEventNotifier",
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_lakeops.hooks.kafka_connect.KafkaConnectHook",
                "hook-name": "Kafka Connect",
                "connection-type": "kafka_connect",
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"schema": "Scheme (http or https)", "login": "Username"},
                    "placeholders": {"host": "connect.example.internal", "port": "8083", "schema": "http"},
                },
                "conn-fields": {
                    "verify": {
                        "label": "Verify TLS certificates",
                        "description": "Check the worker's TLS certificate (https).",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                    "ca_bundle": {
                        "label": "CA bundle path",
                        "description": "A CA bundle to verify the worker's certificate with.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "schema": {"type": ["number", "null"], "default": 30},
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "description": "Retries on 409 (rebalance), 5xx and connection errors.",
                        "schema": {"type": ["integer", "null"], "default": 5, "minimum": 0},
                    },
                    "retry_backoff": {
                        "label": "Retry backoff (seconds)",
                        "description": "First wait; doubled each retry, at most 30 s.",
                        "schema": {"type": ["number", "null"], "default": 1, "minimum": 0},
                    },
                },
            }
        ],
        "config": {
            "lakeops": {
                "description": "lakeops provider: where metrics go and "
                "how long callbacks and metrics may take.",
                "options": {
                    "metrics_backend": {
                        "description": "Backend of emit_metric() / emit_operator_metrics(): "
                        "none, cloudwatch, datadog or statsd.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "cloudwatch",
                        "default": "none",
                    },
                    "metrics_namespace": {
                        "description": "CloudWatch namespace, and prefix of Datadog "
                        "and StatsD metric names (lower-cased).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "Lakeops/Prod",
                        "default": "Lakeops",
                    },
                    "metrics_aws_conn_id": {
                        "description": "AWS connection used by the cloudwatch metrics backend.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "aws_metrics",
                        "default": "aws_default",
                    },
                    "metrics_datadog_conn_id": {
                        "description": "Datadog connection used by the datadog metrics backend.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "datadog_prod",
                        "default": "datadog_default",
                    },
                    "metrics_timeout": {
                        "description": "Seconds a metrics flush may take "
                        "before it is abandoned with a warning.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "2.5",
                        "default": "5",
                    },
                    "notifier_timeout": {
                        "description": "Seconds one callback may take for all its channels "
                        "together before they are abandoned with a warning.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "5",
                        "default": "10",
                    },
                },
            }
        },
    }
