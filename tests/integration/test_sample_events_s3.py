"""GenerateSampleEventsOperator landing a day in ``s3://lakeops-lake`` (moto): the files, a rerun that
ends with the same objects (stale ones removed, siblings untouched), and bad inputs that touch nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from airflow_provider_lakeops.operators.sample_events import GenerateSampleEventsOperator
from airflow_provider_lakeops.testing.stack import LAKE_BUCKET, LAKE_URI

pytestmark = pytest.mark.integration


@pytest.fixture
def s3(lakeops_stack) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id="aws_default")


@pytest.fixture
def prefix() -> str:
    return f"tests/sample-events-{uuid.uuid4().hex[:8]}/landing/customer_events"


def land(output_path: str, **kwargs: Any) -> dict[str, Any]:
    op = GenerateSampleEventsOperator(task_id="land", day="2025-10-31", output_path=output_path, **kwargs)
    return op.execute({})


def objects(s3: Any, prefix: str) -> dict[str, str]:
    """``{key: etag}`` below ``prefix``."""
    client = s3.get_conn()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=LAKE_BUCKET, Prefix=prefix)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def test_lands_a_day_on_s3_and_a_rerun_ends_with_the_same_objects(s3, prefix):
    day = f"{prefix}/dt=2025-10-31"
    sibling = f"{prefix}/dt=2025-10-3/part-00000.jsonl"  # shares the day's prefix without the '/'
    s3.load_string("keep me", key=sibling, bucket_name=LAKE_BUCKET)
    first = land(f"{LAKE_URI}/{day}", rows=250, generator_kwargs={"rows_per_file": 100})
    assert first["rows"] == 250
    assert first["path"] == f"{LAKE_URI}/{day}"
    assert first["files"] == [f"{LAKE_URI}/{day}/part-{i:05d}.jsonl" for i in range(3)]
    rows = [
        json.loads(line)
        for k in sorted(objects(s3, day + "/"))
        for line in s3.read_key(k, LAKE_BUCKET).splitlines()
    ]
    assert len(rows) == 250
    landed = objects(s3, day + "/")

    # a stale object from an earlier, bigger run and a marker: gone after the rerun
    s3.load_string("{}", key=f"{day}/part-00007.jsonl", bucket_name=LAKE_BUCKET)
    s3.load_string("", key=f"{day}/_SUCCESS", bucket_name=LAKE_BUCKET)
    second = land(f"{LAKE_URI}/{day}/", rows=250, generator_kwargs={"rows_per_file": 100})
    assert second["files"] == first["files"]
    assert objects(s3, day + "/") == landed  # same keys, same contents (the seed decides the rows)
    assert s3.read_key(sibling, LAKE_BUCKET) == "keep me"


def test_a_smaller_rerun_leaves_no_extra_files_and_parquet_lands_too(s3, prefix):
    day = f"{LAKE_URI}/{prefix}/dt=2025-11-01"
    land(day, rows=300, generator_kwargs={"rows_per_file": 100})
    result = land(day, rows=50, fmt="parquet", generator_kwargs={"rows_per_file": 100})
    assert list(objects(s3, f"{prefix}/dt=2025-11-01/")) == [f"{prefix}/dt=2025-11-01/part-00000.parquet"]
    assert result["files"] == [f"{day}/part-00000.parquet"]


def test_bad_input_and_a_missing_bucket_leave_the_landing_untouched(s3, prefix):
    day = f"{prefix}/dt=2025-10-31"
    land(f"{LAKE_URI}/{day}", rows=20)
    before = objects(s3, day + "/")
    with pytest.raises(ValueError, match="rows must be between 0"):
        land(f"{LAKE_URI}/{day}", rows=-1)
    with pytest.raises(ValueError, match="defect_rate"):
        land(f"{LAKE_URI}/{day}", rows=20, generator_kwargs={"defect_rate": 7})
    assert objects(s3, day + "/") == before
    with pytest.raises(FileNotFoundError, match="bucket 'no-such-bucket-lakeops' does not exist"):
        land(f"s3://no-such-bucket-lakeops/{day}", rows=20)
