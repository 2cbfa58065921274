"""KafkaStreamingSubmitOperator with ``table_format="delta"``: bronze, quarantine and checkpoint on the
stack's S3 (moto, through S3A) via the real ``spark-submit`` (file source; the Kafka source into a Delta
bronze is in ``test_cdc_silver.py``). A batch whose checkpoint commit is lost is replayed: Delta's log
already has it, so nothing is appended twice."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_lakeops.operators.spark_streaming import KafkaStreamingSubmitOperator
from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.testing.stack import LAKE_BUCKET, LAKE_URI

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def _delta(path: str):
    from deltalake import DeltaTable

    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

    return DeltaTable(path, storage_options=delta_storage_options(aws_lake_access("aws_default")))


def test_file_source_into_a_delta_bronze_on_s3_is_exactly_once(tmp_path, lakeops_stack):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    summary = write_events(tmp_path / "landing" / "dt=2025-10-31", 120, seed=3, clean=True)
    root = f"{LAKE_URI}/tests/stream-delta-{uuid.uuid4().hex[:8]}"
    op = KafkaStreamingSubmitOperator(
        task_id="land_events",
        source="file",
        landing_path=str(tmp_path / "landing"),
        bronze_path=f"{root}/bronze/customer_events",
        checkpoint_path=f"{root}/_checkpoints/customer_events",
        table_format="delta",
        spark_conn_id="spark_default",
        conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"},
    )
    first = op.execute({})
    assert (first["status"], first["table_format"], first["rows_bronze"]) == ("succeeded", "delta", 120)
    assert summary.rows == 120
    table = _delta(f"{root}/bronze/customer_events")
    assert table.version() == 0
    assert table.metadata().partition_columns == ["ingest_date", "batch"]
    assert table.to_pyarrow_table().num_rows == 120
    history = table.history(1)[0]
    assert str(history.get("userMetadata")).startswith("lakeops-stream ")

    # lose the checkpoint's commit of batch 0: the next run replays it, and Delta's log already has it
    client = S3Hook(aws_conn_id="aws_default").get_conn()
    key = f"{root.split(LAKE_BUCKET + '/', 1)[1]}/_checkpoints/customer_events/commits/0"
    client.delete_object(Bucket=LAKE_BUCKET, Key=key)
    replay = op.execute({})
    assert replay["batches"] == 1
    assert replay["batch_details"][0]["replayed_commit"] is True
    assert replay["rows_bronze"] == 120  # counted again, not written again
    table = _delta(f"{root}/bronze/customer_events")
    assert table.version() == 0
    assert table.to_pyarrow_table().num_rows == 120
    assert client.get_object(Bucket=LAKE_BUCKET, Key=key)["Body"].read().startswith(b"v1")  # committed again
