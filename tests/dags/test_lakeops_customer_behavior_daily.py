"""The daily DAG end to end with ``dag.test()`` on the local stack, run twice for the same day.

Every layer is read back from where it landed (lake folders, moto's Glue and CloudWatch, the
fakesnow server, the duckdb warehouse) and every task's OpenLineage events from the file transport.
The second run must leave the same end state: the MERGE reports 0/0/0, Glue keeps its table version.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_lakeops.testing.dagrun import asset_event_uris, xcom_value
from airflow_provider_lakeops.testing.warehouse import warehouse_rows

DAG_ID = "lakeops_customer_behavior_daily"
DAY = "2025-10-31"
ROWS = 3000
TARGET = "LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR"

pytestmark = pytest.mark.integration


def _states(dr) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


@pytest.fixture(scope="module")
def runs(lakeops_stack, lakeops_airflow_db):
    from airflow.models import DagBag

    os.environ["LAKEOPS_LAKE_DIR"] = str(lakeops_stack.lake_dir)
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    dag = DagBag(dag_folder=str(dag_file)).get_dag(DAG_ID)
    conf = {"day": DAY, "rows": ROWS}
    first = dag.test(run_conf=conf, logical_date=datetime(2025, 10, 31, tzinfo=timezone.utc))
    second = dag.test(run_conf=conf, logical_date=datetime(2025, 10, 31, 12, tzinfo=timezone.utc))
    return {"stack": lakeops_stack, "lake": lakeops_stack.lake_dir, "first": first, "second": second}


def test_both_runs_succeed_with_every_step(runs):
    for name in ("first", "second"):
        states = _states(runs[name])
        assert runs[name].state == "success", states
        assert {
            "land_events",
            "validate_events",
            "mask_pii",
            "create_lake_bucket",
            "register_silver",
            "merge_to_snowflake",
            "publish_marts",
        } <= set(states)
        assert any(t.startswith("dbt.") for t in states), states
        assert set(states.values()) == {"success"}, states


def test_landing_has_the_day(runs):
    folder = runs["lake"] / "landing" / "customer_events" / f"dt={DAY}"
    lines = [json.loads(line) for f in sorted(folder.glob("part-*.jsonl")) for line in open(f)]
    assert len(lines) == ROWS
    assert {row["event_date"] for row in lines} == {DAY}


def test_quality_gate_passed_with_warnings_and_wrote_its_result(runs):
    summary = xcom_value(runs["first"], "validate_events")
    assert summary["success"] is True
    assert summary["rows"] == ROWS
    warned = [e for e in summary["expectations"] if e["severity"] == "warn" and e["status"] == "failed"]
    assert warned, "the sample data's defects should raise warn-level findings"
    assert all(e["status"] == "passed" for e in summary["expectations"] if e["severity"] == "error")
    results = list((runs["lake"] / "dq" / "results" / "customer_events" / f"dt={DAY}").glob("*.json"))
    assert results
    assert "@" not in json.dumps(summary)  # counts and percentages only, never an email


def test_silver_holds_masked_rows_only(runs):
    import pyarrow.dataset as ds

    landing = runs["lake"] / "landing" / "customer_events" / f"dt={DAY}"
    raw_emails = {json.loads(line).get("email") for f in landing.glob("part-*.jsonl") for line in open(f)}
    raw_emails.discard(None)
    silver = runs["lake"] / "silver" / "customer_behavior" / f"dt={DAY}"
    table = ds.dataset(silver, format="parquet").to_table()
    assert table.num_rows == ROWS
    emails = set(table.column("email").to_pylist()) - {None}
    assert emails
    assert not emails & raw_emails
    assert all(re.fullmatch(r"[0-9a-f]{64}", e) for e in emails)  # keyed HMAC-SHA256 tokens (policy: hmac)
    assert all(
        re.fullmatch(r"\*\*\*-\*\*-(\d{4}|\*{4})", s) for s in set(table.column("ssn").to_pylist()) - {None}
    )
    report = xcom_value(runs["first"], "mask_pii")
    assert report["status"] == "ok"
    assert report["rows_out"] == ROWS
    assert report["leak_guard"]["status"] == "passed"


def test_glue_table_registered_once_and_unchanged_on_rerun(runs):
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    first = xcom_value(runs["first"], "register_silver")
    second = xcom_value(runs["second"], "register_silver")
    assert first["action"] in {"created", "updated"}
    assert second["action"] == "unchanged"
    assert second["table_version"] == first["table_version"]
    assert second["partitions_added"] == 0
    glue = GlueCatalogHook(aws_conn_id="aws_default").get_conn()
    table = glue.get_table(DatabaseName="lakeops", Name="customer_behavior")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]
    parts = glue.get_partitions(DatabaseName="lakeops", TableName="customer_behavior")["Partitions"]
    assert [DAY] in [p["Values"] for p in parts]


def test_merge_loads_each_key_once_and_the_rerun_reports_zeros(runs):
    import pyarrow.dataset as ds
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    silver = runs["lake"] / "silver" / "customer_behavior" / f"dt={DAY}"
    table = ds.dataset(silver, format="parquet").to_table(columns=["customer_id", "event_id"])
    keys = {
        k
        for k in zip(
            table.column("customer_id").to_pylist(), table.column("event_id").to_pylist(), strict=True
        )
        if None not in k
    }
    first = xcom_value(runs["first"], "merge_to_snowflake")
    second = xcom_value(runs["second"], "merge_to_snowflake")
    assert (first["inserted"], first["updated"], first["deleted"]) == (len(keys), 0, 0)
    assert (second["inserted"], second["updated"], second["deleted"]) == (0, 0, 0)
    rows = SnowflakeHook(snowflake_conn_id="snowflake_default").get_records(
        f"SELECT COUNT(*), COUNT(DISTINCT customer_id, event_id) FROM {TARGET}"
    )
    assert [tuple(r) for r in rows] == [(len(keys), len(keys))]


def test_dbt_built_the_marts_from_silver(runs):
    stg = warehouse_rows(
        runs["lake"], "select count(*), count(distinct event_key) from main.stg_customer_behavior"
    )
    merged = xcom_value(runs["first"], "merge_to_snowflake")["inserted"]
    assert stg == [(merged, merged)]  # the same keys as the MERGE: null keys left out, one row per key
    fct = warehouse_rows(runs["lake"], "select count(*), sum(events) from main.fct_customer_engagement")
    assert fct[0][0] > 0
    assert fct[0][1] <= merged


def test_success_metrics_reached_cloudwatch(runs):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    cw = AwsBaseHook(aws_conn_id="aws_default", client_type="cloudwatch").get_conn()
    now = datetime.now(timezone.utc)

    def total(name: str, **dims: str) -> float:
        got = cw.get_metric_statistics(
            Namespace="Lakeops",
            MetricName=name,
            Period=3600,
            Statistics=["Sum"],
            Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(hours=1),
        )
        return sum(p["Sum"] for p in got["Datapoints"])

    assert total("dag_run_success", DAG=DAG_ID) >= 2
    assert total("task_success", DAG=DAG_ID, Task="merge_to_snowflake") >= 2


def test_every_task_emitted_lineage(runs, lakeops_lineage):
    for name in ("first", "second"):
        run = runs[name]
        for task_id in _states(run):
            events = lakeops_lineage.task_events(DAG_ID, task_id, event_type="COMPLETE", run_id=run.run_id)
            assert events, f"no COMPLETE event for {task_id} in the {name} run"
    run_id = runs["first"].run_id

    def io(task_id: str) -> tuple[list, list]:
        event = lakeops_lineage.task_events(DAG_ID, task_id, event_type="COMPLETE", run_id=run_id)[-1]
        return (
            [(d["namespace"], d["name"]) for d in event["inputs"]],
            [(d["namespace"], d["name"]) for d in event["outputs"]],
        )

    lake = str(runs["lake"])
    landing = f"{lake}/landing/customer_events/dt={DAY}"
    assert io("land_events")[1] == [("file", landing)]
    assert [n for _, n in io("validate_events")[0]] == [landing]
    mask_in, mask_out = io("mask_pii")
    assert [n for _, n in mask_in] == [landing]
    assert [n for _, n in mask_out] == [f"{lake}/silver/customer_behavior"]
    merge_in, merge_out = io("merge_to_snowflake")
    assert merge_out == [("snowflake://lakeops", TARGET)]
    dbt_outputs = {
        name for task_id in _states(runs["first"]) if task_id.startswith("dbt.") for _, name in io(task_id)[1]
    }
    assert any(name.endswith("fct_customer_engagement") for name in dbt_outputs), dbt_outputs


def test_what_the_pipeline_writes_is_published_as_assets(runs):
    uris = asset_event_uris(runs["first"])
    assert f"file://{runs['lake']}/silver/customer_behavior" in uris
    assert "snowflake://lakeops/LAKEOPS/PUBLIC/CUSTOMER_BEHAVIOR" in uris
    assert {"duckdb://lakeops/main/dim_customer", "duckdb://lakeops/main/fct_customer_engagement"} <= uris


def test_lineage_picture_renders_every_job_and_dataset_in_chromium(runs, lakeops_lineage, tmp_path):
    from airflow_provider_lakeops.lineage.graph import write_lineage_html
    from tests._support.browser import dom_text, render_dom, require_chromium

    browser = require_chromium()
    page = tmp_path / "lineage.html"
    graph = write_lineage_html(lakeops_lineage.path, page, dag_id=DAG_ID)
    dom = render_dom(page, browser=browser)
    text = dom_text(dom)

    assert "<svg" in dom
    events = lakeops_lineage.task_events(DAG_ID, run_id=runs["first"].run_id)
    jobs = {e["job"]["name"] for e in events}
    datasets = {d["name"] for e in events for d in (*e.get("inputs", []), *e.get("outputs", []))}
    assert {f"{DAG_ID}.{t}" for t in _states(runs["first"])} <= jobs
    assert datasets  # the run's files, Glue table, Snowflake table and dbt models
    for name in jobs | datasets:
        assert name in text, f"{name} is not on the rendered page"
    assert len(graph.jobs) >= len(jobs)
