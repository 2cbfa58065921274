"""
### lakeops_cdc_streaming

The CDC side of the lakeops pipeline, end to end on real servers: PostgreSQL -> Debezium (Kafka
Connect) -> Kafka -> Spark Structured Streaming -> bronze Delta table on S3 -> a silver Delta replica
and a Snowflake replica, both checked against the source.

1. **deploy_connector** deploys Debezium's PostgreSQL connector (``pgoutput``,
   ``infra/debezium/postgres-source.json``) through Kafka Connect, idempotently: preflight of the
   source (``wal_level=logical``, replication role, keys or ``REPLICA IDENTITY FULL``, slots,
   publication), validation by Connect, a diff against the running config (secrets masked), a
   ``PUT`` only when something changed, then a deferrable wait until the worker runs the *new*
   config and every task stays ``RUNNING`` (a failed task is restarted once). ``topics`` in its
   XCom come from Connect.
2. **wait_for_changes** writes a watermark into the source's WAL and waits until the connector's
   slot has confirmed it: everything committed before the run is then in Kafka
   (``DebeziumWatermarkSensor``).
3. **stream_to_bronze** lands the change topics in the bronze **Delta** table
   (``$LAKEOPS_LAKE_URI/bronze/customer_events_cdc``) through Spark's Kafka source (``spark-sql-kafka``,
   ``read_committed``) with ``trigger="availableNow"``: each run resumes from the checkpoint (on S3),
   processes what arrived since the previous run and stops; each micro-batch is one Delta commit,
   never appended twice (Delta's transaction ids). Every row
   carries its operation (``op``) and its source position (``_source_position``, from the LSN), so
   the order of the changes to a key is total. Bad records go to the quarantine with their reason.
4. **merge_silver** MERGEs bronze into the silver Delta replica
   (``$LAKEOPS_LAKE_URI/silver/customer_events_replica``, ``DeltaMergeOperator`` on Spark): the latest
   change per key by ``_source_position`` wins, deletes are applied, an older change never replaces a
   newer row; a rerun with nothing new writes no Delta version. **check_silver** compares it with the
   source table.
5. **merge_replica** MERGEs bronze (read through its Delta log) into the Snowflake replica the same way
   (``only_newer``). Bronze keeps every change, so both MERGEs read all of it: a rerun with nothing
   new reports 0/0/0.
6. **check_replica** compares the Snowflake replica with the source table: row counts, an
   order-independent checksum of every column, and differences by key (``TableParityCheckOperator``).

Connections: ``kafka_connect_default`` (type ``kafka_connect``), ``postgres_cdc`` (type ``postgres``:
the connector's login, its password injected into the connector request only; its schema field is
the database), ``kafka_default`` (type ``kafka``, extra ``{"bootstrap.servers": ...}``),
``spark_default``, ``aws_default`` (the lake) and ``snowflake_default``. ``lakeops-stack run --cdc``
provides all of them on the local stack. Spark's Kafka jars (``spark-sql-kafka``) come from the
operator's ``jars``, by default ``LAKEOPS_SPARK_KAFKA_JARS``, and the lake's (S3A + Delta) from
``LAKEOPS_SPARK_LAKE_JARS``, read when the task runs (``make jvm-deps`` on the local stack).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param

from airflow_provider_lakeops.operators.debezium import DebeziumConnectorOperator
from airflow_provider_lakeops.operators.delta_merge import DeltaMergeOperator
from airflow_provider_lakeops.operators.replica_check import TableParityCheckOperator
from airflow_provider_lakeops.operators.snowflake import SnowflakeMergeOperator
from airflow_provider_lakeops.operators.spark_streaming import KafkaStreamingSubmitOperator
from airflow_provider_lakeops.sample_data import COLUMNS as EVENT_COLUMNS
from airflow_provider_lakeops.sensors.debezium_watermark import DebeziumWatermarkSensor

# infra/debezium/ holds the connector template; Jinja finds it through template_searchpath.
CONNECTOR_TEMPLATES = str(Path(__file__).resolve().parents[1] / "infra" / "debezium")
LAKE = os.environ.get("LAKEOPS_LAKE_URI", "s3://lakeops-lake").rstrip("/")
BRONZE = f"{LAKE}/bronze/customer_events_cdc"
SILVER = f"{LAKE}/silver/customer_events_replica"
# the source table's columns: the replica holds these and the position that orders their changes
COLUMNS = list(EVENT_COLUMNS)
KEYS = ["customer_id", "event_id"]

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=2),
}

with DAG(
    dag_id="lakeops_cdc_streaming",
    description="PostgreSQL -> Debezium -> Kafka -> Spark -> bronze Delta -> silver Delta + Snowflake",
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
        "table_include_list": Param("inventory.customer_events", type="string"),
        "slot_name": Param("lakeops_cdc", type="string", pattern=r"^[a-z0-9_]{1,63}$"),
        "publication_name": Param("lakeops_cdc", type="string", pattern=r"^[a-z0-9_]{1,63}$"),
        "replica_table": Param("CUSTOMER_EVENTS_REPLICA", type="string", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
    },
) as dag:
    # [START howto_operator_debezium]
    deploy_connector = DebeziumConnectorOperator(
        task_id="deploy_connector",
        connector_name="{{ params.topic_prefix }}-postgres-cdc",
        config="postgres-source.json",
        kafka_connect_conn_id="kafka_connect_default",
        database_conn_id="postgres_cdc",
        kafka_bootstrap_servers="{{ conn.kafka_default.extra_dejson['bootstrap.servers'] }}",
        deferrable=True,
        wait_timeout=900,
        poll_interval=5,
        settle_seconds=5,
        topics_timeout=60,
    )
    # [END howto_operator_debezium]

    # [START howto_sensor_debezium_watermark]
    wait_for_changes = DebeziumWatermarkSensor(
        task_id="wait_for_changes",
        postgres_conn_id="postgres_cdc",
        slot_name="{{ params.slot_name }}",
        timeout=600,
    )
    # [END howto_sensor_debezium_watermark]

    # [START howto_operator_cdc_stream_to_bronze]
    stream_to_bronze = KafkaStreamingSubmitOperator(
        task_id="stream_to_bronze",
        source="kafka",
        topics="{{ ti.xcom_pull(task_ids='deploy_connector')['topics'] | join(',') }}",  # from Connect
        kafka_conn_id="kafka_default",
        bronze_path=BRONZE,
        quarantine_path=f"{LAKE}/quarantine/customer_events_cdc",
        checkpoint_path=f"{LAKE}/_checkpoints/lakeops_cdc_streaming",
        debezium=True,  # the full envelope: the connector template has no ExtractNewRecordState
        trigger="availableNow",
        max_offsets_per_trigger=500_000,
        table_format="delta",
        aws_conn_id="aws_default",
        spark_conn_id="spark_default",
        conf={"spark.sql.shuffle.partitions": "4"},
    )
    # [END howto_operator_cdc_stream_to_bronze]

    # [START howto_operator_cdc_merge_silver]
    merge_silver = DeltaMergeOperator(
        task_id="merge_silver",
        source_path=BRONZE,
        source_format="delta",
        target_path=SILVER,
        keys=KEYS,
        ordering_columns=["_source_position"],
        delete_column="op",
        delete_values=["d"],
        aws_conn_id="aws_default",
        spark_conn_id="spark_default",
        conf={"spark.sql.shuffle.partitions": "4"},
    )
    # [END howto_operator_cdc_merge_silver]

    check_silver = TableParityCheckOperator(
        task_id="check_silver",
        source_conn_id="postgres_cdc",
        source_table="{{ params.table_include_list }}",
        target_delta_path=SILVER,
        aws_conn_id="aws_default",
        keys=KEYS,
        columns=COLUMNS,
    )

    # [START howto_operator_cdc_merge_replica]
    merge_replica = SnowflakeMergeOperator(
        task_id="merge_replica",
        target_table="{{ params.replica_table }}",
        keys=KEYS,
        source_delta=BRONZE,  # every change so far, read through the Delta log
        operation_column="op",
        delete_value="d",
        ordering_column="_source_position",  # the LSN order: ties are impossible
        only_newer=True,
        insert_columns=[*COLUMNS, "_source_position"],
        update_columns=[c for c in COLUMNS if c not in KEYS] + ["_source_position"],
        create_target_if_missing=True,
    )
    # [END howto_operator_cdc_merge_replica]

    # [START howto_operator_replica_check]
    check_replica = TableParityCheckOperator(
        task_id="check_replica",
        source_conn_id="postgres_cdc",
        source_table="{{ params.table_include_list }}",
        target_conn_id="snowflake_default",
        target_table="{{ params.replica_table }}",
        keys=KEYS,
        columns=COLUMNS,
    )
    # [END howto_operator_replica_check]

    deploy_connector >> wait_for_changes >> stream_to_bronze >> [merge_silver, merge_replica]
    merge_silver >> check_silver
    merge_replica >> check_replica
