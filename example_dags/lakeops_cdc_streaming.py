"""
### lakeops_cdc_streaming

The CDC side of the lakeops pipeline: MySQL -> Debezium -> Kafka -> Spark Structured Streaming -> bronze.

1. **deploy_connector** deploys the Debezium MySQL source connector (``infra/debezium/mysql-source.json``)
   through Kafka Connect, idempotently: preflight of the source database (binlog, ``ROW``,
   ``FULL`` row image, server id, tables, grants), validation by Connect, a diff against the running
   config (secrets masked), a ``PUT`` only when something changed, then a deferrable wait until the
   connector and its task are ``RUNNING`` (a failed task is restarted once). Every run re-checks
   the connector, so a task that died since the last run is noticed and restarted.
2. **stream to bronze** (added with the streaming operator) reads the change topics listed in
   ``deploy_connector``'s XCom (``topics``, ``kafka_bootstrap_servers``) with ``availableNow``.

Connections: ``kafka_connect_default`` (type ``kafka_connect``) and ``mysql_cdc`` (type ``mysql``,
extra ``{"client": "mysql-connector-python"}``; its login/password become ``database.user`` /
``database.password`` in the request only). Parameters: ``topic_prefix``, ``database``,
``table_include_list``, ``database_server_id``, ``kafka_bootstrap_servers``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param

from airflow_provider_lakeops.operators.debezium import DebeziumConnectorOperator

# infra/debezium/ holds the connector template; Jinja finds it through template_searchpath.
CONNECTOR_TEMPLATES = str(Path(__file__).resolve().parents[1] / "infra" / "debezium")

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
    max_active_runs=1,
    default_args=default_args,
    template_searchpath=[CONNECTOR_TEMPLATES],
    tags=["lakeops", "example", "cdc", "streaming"],
    doc_md=__doc__,
    params={
        "topic_prefix": Param("lakeops", type="string", pattern=r"^[A-Za-z0-9._-]+$"),
        "database": Param("inventory", type="string"),
        "table_include_list": Param("inventory.customers,inventory.orders", type="string"),
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

    # Streaming step ([9/9]): a task that consumes
    #   "{{ ti.xcom_pull(task_ids='deploy_connector')['topics'] }}" from
    #   "{{ ti.xcom_pull(task_ids='deploy_connector')['kafka_bootstrap_servers'] }}"
    # goes here, downstream of deploy_connector:  deploy_connector >> stream_to_bronze
