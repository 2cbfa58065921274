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
        "operators": [],
        "hooks": [],
        "triggers": [],
        "notifications": [],
        "connection-types": [],
        "config": {},
    }
