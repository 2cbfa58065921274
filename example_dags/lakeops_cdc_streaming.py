"""
### lakeops_cdc_streaming

The CDC side of the lakeops pipeline: MySQL -> Debezium -> Kafka -> Spark Structured Streaming -> bronze.

1. **deploy_connector** deploys the Debezium MySQL source connector (``infra/debezium/mysql-source.json``)
   through Kafka Connect, idempotently: preflight of the source database (binlog, ``ROW``,
   ``FULL`` row image, server id, tables, grants), validation by Connect, a diff against the running
   config (secrets masked), a ``PUT`` only when something changed, then a deferrable wait until the
   connector and its task are ``RUNNING`` (a failed task is restarted once). Every run re-checks
   the connector, so a task that died since the last run is noticed and restarted.
2. **stream_to_bronze** lands the change topics listed in ``deploy_connector``'s XCom (``topics``)
   in bronze Parquet with ``trigger="availableNow"``: each run resumes from the checkpoint, processes
   what arrived since the previous run and stops (exactly once; a rerun lands nothing twice).
   ``debezium=True``: the app unwraps the full change-event envelope itself, so creates, updates and
   snapshot reads land the ``after`` row and a delete lands the key from ``before`` with
   ``op = 'd'`` - what the Snowflake MERGE's delete branch matches. Bad records go to the quarantine
   with their reason.

**Record format.** The connector template deliberately has *no* ``ExtractNewRecordState`` transform:
the streaming app's Debezium mode reads the envelope (``op``, ``before``/``after``, ``ts_ms``), and the
flattened form (``__op``, ``__deleted``) would be quarantined as ``debezium_missing_op`` (see
``docs/operators/debezium.md``).

**One schema per stream.** The app parses every record against one schema
(``spark_apps/schemas/customer_event.json``), so ``table_include_list`` names the table(s) whose rows
have that shape: ``inventory.customer_events`` (key ``customer_id, event_id``). Capture other tables
with their own stream (a ``schema_path`` and bronze/checkpoint paths of their own). Changing the
topics of a running stream needs a new ``checkpoint_path`` (the operator refuses the old one).

Sources: ``LAKEOPS_STREAMING_SOURCE=kafka`` reads the topics with the brokers of ``kafka_default``
(type ``kafka``, extra ``{"bootstrap.servers": ...}``; the same cluster as the ``kafka_bootstrap_servers``
param, so lineage joins up). The default, ``file``, is the local stack (no Kafka): the same app reads
Debezium-shaped JSON lines published to ``{lake}/landing/cdc_events/``.

Connections: ``kafka_connect_default`` (type ``kafka_connect``), ``mysql_cdc`` (type ``mysql``,
extra ``{"client": "mysql-connector-python"}``; its login/password become ``database.user`` /
``database.password`` in the request only), ``kafka_default`` and ``spark_default``. Parameters:
``topic_prefix``, ``database``, ``table_include_list``, ``database_server_id``, ``kafka_bootstrap_servers``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param

from airflow_provider_lakeops.operators.debezium import DebeziumConnectorOperator
from airflow_provider_lakeops.operators.spark_streaming import KafkaStreamingSubmitOperator

# infra/debezium/ holds the connector template; Jinja finds it through template_searchpath.
CONNECTOR_TEMPLATES = str(Path(__file__).resolve().parents[1] / "infra" / "debezium")
# The local lake (a folder): Spark here cannot write s3a://, see docs/local_stack.md.
LAKE = os.environ.get("LAKEOPS_LAKE_DIR", "/tmp/lakeops/lake")
SOURCE = os.environ.get("LAKEOPS_STREAMING_SOURCE", "file")

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=2),
}

with DAG(
    dag_id="lakeops_cdc_streaming",
    description="Deploy Debezium through Kafka Connect, then stream the change topics to bronze",
    schedule="@hourly",
    start_date=datetime(2025, 10, 1),
    catchup=False,
    max_active_runs=1,  # one writer per checkpoint
    default_args=default_args,
    template_searchpath=[CONNECTOR_TEMPLATES],
    tags=["lakeops", "example", "cdc", "streaming"],
    doc_md=__doc__,
    params={
        "topic_prefix": Param("lakeops", type="string", pattern=r"^[A-Za-z0-9._-]+$"),
        "database": Param("inventory", type="string"),
        "table_include_list": Param("inventory.customer_events", type="string"),
        "database_server_id": Param(5400, type="integer", minimum=1),
        "kafka_bootstrap_servers": Param("kafka:9092", type="string"),
    },
) as dag:
    # [START howto_operator_debezium]
    deploy_connector = DebeziumConnectorOperator(
        task_id="deploy_connector",
        connector_name="{{ params.topic_prefix }}-mysql-cdc",
        config="mysql-source.json",
        kafka_connect_conn_id="kafka_connect_default",
        mysql_conn_id="mysql_cdc",
        deferrable=True,
        wait_timeout=900,
        poll_interval=10,
    )
    # [END howto_operator_debezium]

    # [START howto_operator_cdc_stream_to_bronze]
    stream_to_bronze = KafkaStreamingSubmitOperator(
        task_id="stream_to_bronze",
        source=SOURCE,  # "kafka" in production, "file" on the local stack
        topics="{{ ti.xcom_pull(task_ids='deploy_connector')['topics'] | join(',') }}",  # source="kafka"
        kafka_conn_id="kafka_default",
        landing_path=f"{LAKE}/landing/cdc_events",  # source="file"
        bronze_path=f"{LAKE}/bronze/customer_events",
        quarantine_path=f"{LAKE}/quarantine/customer_events",
        checkpoint_path=f"{LAKE}/_checkpoints/lakeops_cdc_streaming",
        debezium=True,  # the full envelope: the connector template has no ExtractNewRecordState
        trigger="availableNow",
        max_offsets_per_trigger=500_000,
        spark_conn_id="spark_default",
        conf={"spark.sql.shuffle.partitions": "4"},
    )
    # [END howto_operator_cdc_stream_to_bronze]

    deploy_connector >> stream_to_bronze
