"""dag.test() of example_snowflake_merge on the local stack: counts, idempotent rerun, lineage read back."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_lakeops.sample_data import PII_COLUMNS, write_events
from airflow_provider_lakeops.testing.dagrun import xcom_value
from airflow_provider_lakeops.testing.stack import LAKE_BUCKET
from tests._support.lake import write_delta

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "example_snowflake_merge"
DAY = "2025-10-31"
EVENTS = "LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR_EXAMPLE"
SUMMARY = "LAKEOPS.PUBLIC.CUSTOMER_SUMMARY_EXAMPLE"
PREFIX = "tests/example-snowflake-merge"
LAKE = f"s3://{LAKE_BUCKET}/{PREFIX}"
SILVER = f"{LAKE}/silver/customer_behavior"

pytestmark = pytest.mark.integration


def _silver(local: Path) -> pa.Table:
    """Two days of silver in a Delta table on S3: generated events (with duplicates, updates, NULL
    keys) without the PII columns; the DAG merges the day of its logical date only."""
    parts = []
    for day, rows in ((DAY, 400), ("2025-10-30", 100)):
        folder = local / f"dt={day}"
        write_events(folder, rows, fmt="parquet", day=day, duplicate_rate=0.05, update_rate=0.05)
        table = pa.concat_tables(pq.read_table(p) for p in sorted(folder.glob("part-*.parquet")))
        table = table.drop_columns([c for c in PII_COLUMNS if c in table.column_names])
        parts.append(table.append_column("dt", pa.array([day] * table.num_rows)))
    write_delta(SILVER, pa.concat_tables(parts), partition_by=["dt"], mode="overwrite")
    return parts[0]


def _counts(dr, task_id: str) -> tuple[int, int, int]:
    result = xcom_value(dr, task_id)
    return result["inserted"], result["updated"], result["deleted"]


@pytest.fixture(scope="module")
def runs(lakeops_stack, lakeops_airflow_db, tmp_path_factory):
    import os

    from airflow.models import DagBag

    table = _silver(tmp_path_factory.mktemp("merge-lake"))
    saved = os.environ.get("LAKEOPS_LAKE_URI")
    os.environ["LAKEOPS_LAKE_URI"] = LAKE
    try:
        dag = DagBag(dag_folder=str(REPO / "example_dags" / f"{DAG_ID}.py")).get_dag(DAG_ID)
        first = dag.test(logical_date=datetime(2025, 10, 31, tzinfo=timezone.utc))
        second = dag.test(logical_date=datetime(2025, 10, 31, 12, tzinfo=timezone.utc))
    finally:
        if saved is None:
            os.environ.pop("LAKEOPS_LAKE_URI", None)
        else:
            os.environ["LAKEOPS_LAKE_URI"] = saved
    pairs = list(zip(*(table.column(c).to_pylist() for c in ("customer_id", "event_id")), strict=True))
    keys = {p for p in pairs if None not in p}
    assert len(keys) < len(pairs)  # the batch really has re-sends, updates and NULL keys
    return {"first": first, "second": second, "keys": keys}


def test_both_runs_succeed(runs):
    for name in ("first", "second"):
        dr = runs[name]
        assert dr.state == "success", {ti.task_id: ti.state for ti in dr.get_task_instances()}


def test_first_run_merges_each_key_once_and_the_rerun_reports_zeros(runs, lakeops_stack):
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    customers = {c for c, _ in runs["keys"]}
    assert _counts(runs["first"], "merge_silver_events") == (len(runs["keys"]), 0, 0)
    assert _counts(runs["first"], "merge_customer_summary") == (len(customers), 0, 0)
    assert _counts(runs["second"], "merge_silver_events") == (0, 0, 0)
    assert _counts(runs["second"], "merge_customer_summary") == (0, 0, 0)
    rows = SnowflakeHook(snowflake_conn_id="snowflake_default").get_records(
        f"SELECT COUNT(*), COUNT(DISTINCT customer_id, event_id) FROM {EVENTS}"
    )
    assert [tuple(r) for r in rows] == [(len(runs["keys"]), len(runs["keys"]))]
    columns = {
        r[0]
        for r in SnowflakeHook(snowflake_conn_id="snowflake_default").get_records(
            "SELECT column_name FROM LAKEOPS.INFORMATION_SCHEMA.COLUMNS "
            "WHERE table_name = 'CUSTOMER_BEHAVIOR_EXAMPLE'"
        )
    }
    assert not columns & {c.upper() for c in PII_COLUMNS}


def test_lineage_is_read_back_from_the_file_transport(runs, lakeops_lineage):
    first = lakeops_lineage.task_events(
        DAG_ID, "merge_silver_events", "COMPLETE", run_id=runs["first"].run_id
    )
    assert first, "no COMPLETE event for merge_silver_events"
    event = first[-1]
    silver = (f"s3://{LAKE_BUCKET}", f"{PREFIX}/silver/customer_behavior")
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [silver]
    (output,) = event["outputs"]
    assert (output["namespace"], output["name"]) == ("snowflake://lakeops", EVENTS)
    lineage = output["facets"]["columnLineage"]["fields"]
    assert lineage["CUSTOMER_ID"]["inputFields"] == [
        {"namespace": silver[0], "name": silver[1], "field": "customer_id", "transformations": []}
    ]
    assert {f["name"] for f in output["facets"]["schema"]["fields"]} >= {
        "CUSTOMER_ID",
        "EVENT_ID",
        "UPDATED_AT",
    }
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == len(runs["keys"])

    rerun = lakeops_lineage.task_events(
        DAG_ID, "merge_silver_events", "COMPLETE", run_id=runs["second"].run_id
    )
    assert rerun[-1]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 0

    summary = lakeops_lineage.task_events(
        DAG_ID, "merge_customer_summary", "COMPLETE", run_id=runs["first"].run_id
    )[-1]
    assert [(d["namespace"], d["name"]) for d in summary["inputs"]] == [("snowflake://lakeops", EVENTS)]
    assert [(d["namespace"], d["name"]) for d in summary["outputs"]] == [("snowflake://lakeops", SUMMARY)]
