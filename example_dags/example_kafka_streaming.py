"""
### example_kafka_streaming

Kafka -> bronze with Spark Structured Streaming, as a scheduled incremental job.

Every run submits ``airflow_provider_lakeops/spark_apps/kafka_customer_events.py`` with \
``trigger="availableNow"``: Spark
resumes from the checkpoint, lands every record that arrived since the previous run in bronze
Parquet (partitioned by ingest date, with topic/partition/offset metadata), quarantines records
that break the schema with the reason, and stops. A rerun lands nothing twice.

* ``LAKEOPS_STREAMING_SOURCE=kafka``: reads the ``shop.customer_events`` topic with the brokers of
  the ``kafka_default`` connection (type ``kafka``, extra ``{"bootstrap.servers": ...}``), committed
  records only (``isolation_level="read_committed"``). Spark's Kafka source comes from the jars in
  ``$LAKEOPS_SPARK_KAFKA_JARS`` (``make jvm-deps`` copies them to ``build/jvm/spark-kafka/``; the
  local stack's Kafka broker exports both), passed as ``spark.jars`` and checked against the
  installed pyspark before the submit.
* default (``file``): JSON-lines files published to ``{lake}/landing/kafka_events/`` (same
  parsing, quarantine and sink code), for a stack started without its Kafka broker.

The task's XCom is the stream's progress report (batches, rows in, rows quarantined, end offsets).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_lakeops.operators.spark_streaming import KafkaStreamingSubmitOperator

LAKE = os.environ.get("LAKEOPS_LAKE_URI", "s3://lakeops-lake").rstrip("/")
SOURCE = os.environ.get("LAKEOPS_STREAMING_SOURCE", "file")

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=2),
}

with DAG(
    dag_id="example_kafka_streaming",
    description="Kafka (or a JSON landing folder) -> bronze Delta on S3, exactly once, every 15 minutes",
    schedule=timedelta(minutes=15),
    start_date=datetime(2025, 10, 1),
    catchup=False,
    max_active_runs=1,  # one writer per checkpoint
    default_args=default_args,
    tags=["lakeops", "example", "streaming"],
    doc_md=__doc__,
) as dag:
    # [START howto_operator_kafka_streaming_submit]
    land_events = KafkaStreamingSubmitOperator(
        task_id="land_customer_events",
        source=SOURCE,
        topics="shop.customer_events",  # source="kafka"
        kafka_conn_id="kafka_default",
        landing_path=f"{LAKE}/landing/kafka_events",  # source="file"
        bronze_path=f"{LAKE}/bronze/kafka_customer_events",
        quarantine_path=f"{LAKE}/quarantine/kafka_customer_events",
        checkpoint_path=f"{LAKE}/_checkpoints/example_kafka_streaming",
        table_format="delta",  # one idempotent Delta commit per micro-batch; or "parquet"
        aws_conn_id="aws_default",  # the lake; S3A + Delta jars from $LAKEOPS_SPARK_LAKE_JARS
        trigger="availableNow",
        max_offsets_per_trigger=200_000,
        isolation_level="read_committed",  # the default: aborted transactions never land
        # jars=[...]: the spark-sql-kafka jars; default $LAKEOPS_SPARK_KAFKA_JARS (set by the local stack)
        spark_conn_id="spark_default",
        conf={"spark.sql.shuffle.partitions": "4"},
    )
    # [END howto_operator_kafka_streaming_submit]
