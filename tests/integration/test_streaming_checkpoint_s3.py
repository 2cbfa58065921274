"""The checkpoint guard and the progress report on an S3 checkpoint (moto server from the local stack).

Spark here cannot write s3a:// (no hadoop-aws jars), so the files the app would write are put in
place with boto3; the operator reads them through the amazon provider's S3Hook, as in production.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_lakeops.exceptions import StreamingJobError
from airflow_provider_lakeops.operators.spark_streaming import KafkaStreamingSubmitOperator
from airflow_provider_lakeops.spark_apps import apps_dir, streaming_options

pytestmark = pytest.mark.integration

BUCKET = "lakeops-streaming-test"
CHECKPOINT = f"s3://{BUCKET}/checkpoints/customer_events"


@pytest.fixture
def s3(lakeops_stack, monkeypatch):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    monkeypatch.setenv(
        "AIRFLOW_CONN_KAFKA_S3TEST",
        json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": "broker:9092"}}),
    )
    client = S3Hook(aws_conn_id="aws_default").get_conn()
    client.create_bucket(Bucket=BUCKET)
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def operator(**kw) -> KafkaStreamingSubmitOperator:
    values = {
        "task_id": "stream",
        "source": "kafka",
        "topics": "shop.customer_events",
        "kafka_conn_id": "kafka_s3test",
        "bronze_path": f"s3://{BUCKET}/bronze/customer_events",
        "checkpoint_path": CHECKPOINT,
        "spark_conn_id": "no_such_spark_conn",
        "spark_version": "4.0.1",
        "kafka_package": "",
        "debezium": True,
    }
    values.update(kw)
    return KafkaStreamingSubmitOperator(**values)


def test_s3_checkpoint_guard_and_report(s3):
    opts = streaming_options
    op = operator()
    config = op.build_config(opts, apps_dir())
    key = config.fingerprint_path.split(f"{BUCKET}/", 1)[1]
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(config.fingerprint()).encode())

    op.check_checkpoint(opts, config)  # the same query may resume

    other = operator(topics="shop.orders")
    with pytest.raises(StreamingJobError, match="topics"):
        other.execute({})  # refused before any spark-submit (the Spark connection does not exist)
    not_cdc = operator(debezium=False)
    with pytest.raises(StreamingJobError, match="debezium"):
        not_cdc.check_checkpoint(opts, not_cdc.build_config(opts, apps_dir()))

    report_key = "checkpoints/customer_events/_lakeops/reports/r1.json"
    s3.put_object(Bucket=BUCKET, Key=report_key, Body=b'{"status": "succeeded", "rows_in": 3}')
    assert op._take_report(f"s3://{BUCKET}/{report_key}") == {"status": "succeeded", "rows_in": 3}
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=report_key)  # read, then removed
    assert op._take_report(f"s3://{BUCKET}/{report_key}") is None
