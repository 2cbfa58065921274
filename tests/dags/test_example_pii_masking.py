"""dag.test() of example_pii_masking on the local stack: silver written, report in XCom, column
lineage with masking flags read back from the OpenLineage events, and the key nowhere."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.testing.dagrun import xcom_value
from airflow_provider_lakeops.testing.stack import LAKE_BUCKET
from tests._support.lake import upload_folder

pytestmark = [pytest.mark.integration, pytest.mark.spark]

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_pii_masking"
TASK_ID = "mask_customer_events"
DAY = "2025-10-31"
PREFIX = "tests/example-pii-masking"
LAKE = f"s3://{LAKE_BUCKET}/{PREFIX}"


@pytest.fixture(scope="module")
def pii_run(lakeops_stack, lakeops_airflow_db, tmp_path_factory):
    from airflow.models import DagBag

    local = tmp_path_factory.mktemp("pii-lake")
    landing = local / "landing" / "customer_events" / f"dt={DAY}"
    write_events(landing, 500, day=DAY, seed=3)
    s3 = lakeops_stack.aws_client("s3")
    upload_folder(s3, local, LAKE)
    saved = os.environ.get("LAKEOPS_LAKE_URI")
    os.environ["LAKEOPS_LAKE_URI"] = LAKE
    try:
        dag = DagBag(dag_folder=str(REPO / "example_dags" / f"{DAG_ID}.py")).get_dag(DAG_ID)
        dr = dag.test(logical_date=datetime(2025, 10, 31, tzinfo=timezone.utc))
    finally:
        if saved is None:
            os.environ.pop("LAKEOPS_LAKE_URI", None)
        else:
            os.environ["LAKEOPS_LAKE_URI"] = saved
    raw = [json.loads(line) for f in landing.glob("*.jsonl") for line in f.read_text().splitlines()]
    silver = local / "silver-read-back"
    prefix = f"{PREFIX}/silver/customer_behavior_parquet/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE_BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            target = silver / obj["Key"][len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(LAKE_BUCKET, obj["Key"], str(target))
    return {"dr": dr, "silver": silver, "raw": raw, "key": lakeops_stack.pii_key}


def test_run_succeeds_and_writes_the_silver_partition(pii_run):
    dr = pii_run["dr"]
    assert dr.state == "success", {ti.task_id: ti.state for ti in dr.get_task_instances()}
    silver = pii_run["silver"]  # downloaded from s3://.../silver/customer_behavior_parquet/
    assert [p.name for p in silver.iterdir() if p.is_dir()] == [f"dt={DAY}"]
    table = ds.dataset(
        str(silver), format="parquet", partitioning="hive", exclude_invalid_files=True
    ).to_table()
    assert table.num_rows == 500
    key = pii_run["key"].encode()
    tokens = {
        hmac.new(key, r["email"].encode(), hashlib.sha256).hexdigest() for r in pii_run["raw"] if r["email"]
    }
    assert set(table.column("email").to_pylist()) - {None} == tokens


def test_report_is_the_xcom_and_carries_no_key(pii_run):
    report = xcom_value(pii_run["dr"], TASK_ID)
    assert report["status"] == "ok"
    assert report["rows_in"] == report["rows_out"] == 500
    assert report["partitions_written"] == [f"dt={DAY}"]
    assert report["leak_guard"]["status"] == "passed"
    assert pii_run["key"] not in json.dumps(report)


def test_lineage_has_masked_column_lineage_and_no_key(pii_run, lakeops_lineage):
    events = lakeops_lineage.task_events(DAG_ID, TASK_ID, event_type="COMPLETE", run_id=pii_run["dr"].run_id)
    assert events, "no COMPLETE event for the masking task"
    event = events[-1]
    assert event["inputs"][0]["namespace"] == f"s3://{LAKE_BUCKET}"
    assert event["inputs"][0]["name"] == f"{PREFIX}/landing/customer_events"  # the table, not a partition
    output = event["outputs"][0]
    assert output["name"] == f"{PREFIX}/silver/customer_behavior_parquet"
    fields = output["facets"]["columnLineage"]["fields"]
    for column in ("email", "phone", "ssn", "full_name", "ip_address"):
        transformation = fields[column]["inputFields"][0]["transformations"][0]
        assert transformation["masking"] is True, column
    assert fields["event_id"]["inputFields"][0]["transformations"][0]["masking"] is False
    assert "dt" not in fields  # the run's constant partition value has no input column
    all_events = lakeops_lineage.task_events(DAG_ID, TASK_ID, run_id=pii_run["dr"].run_id)
    assert pii_run["key"] not in json.dumps(all_events)
