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

pytestmark = [pytest.mark.integration, pytest.mark.spark]

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_pii_masking"
TASK_ID = "mask_customer_events"
DAY = "2025-10-31"


@pytest.fixture(scope="module")
def pii_run(lakeops_stack, lakeops_airflow_db, tmp_path_factory):
    from airflow.models import DagBag

    lake = tmp_path_factory.mktemp("pii-lake")
    landing = lake / "landing" / "customer_events" / f"dt={DAY}"
    write_events(landing, 500, day=DAY, seed=3)
    saved = os.environ.get("LAKEOPS_LAKE_DIR")
    os.environ["LAKEOPS_LAKE_DIR"] = str(lake)
    try:
        dag = DagBag(dag_folder=str(REPO / "example_dags" / f"{DAG_ID}.py")).get_dag(DAG_ID)
        dr = dag.test(logical_date=datetime(2025, 10, 31, tzinfo=timezone.utc))
    finally:
        if saved is None:
            os.environ.pop("LAKEOPS_LAKE_DIR", None)
        else:
            os.environ["LAKEOPS_LAKE_DIR"] = saved
    raw = [json.loads(line) for f in landing.glob("*.jsonl") for line in f.read_text().splitlines()]
    return {"dr": dr, "lake": lake, "landing": landing, "raw": raw, "key": lakeops_stack.pii_key}


def test_run_succeeds_and_writes_the_silver_partition(pii_run):
    dr = pii_run["dr"]
    assert dr.state == "success", {ti.task_id: ti.state for ti in dr.get_task_instances()}
    silver = pii_run["lake"] / "silver" / "customer_behavior"
    assert [p.name for p in silver.iterdir() if p.is_dir()] == [f"dt={DAY}"]
    table = ds.dataset(str(silver), format="parquet", partitioning="hive").to_table()
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
    assert event["inputs"][0]["namespace"] == "file"
    assert event["inputs"][0]["name"] == str(pii_run["landing"])
    output = event["outputs"][0]
    assert output["name"] == str(pii_run["lake"] / "silver" / "customer_behavior")
    fields = output["facets"]["columnLineage"]["fields"]
    for column in ("email", "phone", "ssn", "full_name", "ip_address"):
        transformation = fields[column]["inputFields"][0]["transformations"][0]
        assert transformation["masking"] is True, column
    assert fields["event_id"]["inputFields"][0]["transformations"][0]["masking"] is False
    assert "dt" not in fields  # the run's constant partition value has no input column
    all_events = lakeops_lineage.task_events(DAG_ID, TASK_ID, run_id=pii_run["dr"].run_id)
    assert pii_run["key"] not in json.dumps(all_events)
