"""The daily DAG end to end with ``dag.test()`` on the local stack, run twice for the same day.

Every layer is read back from where it landed (the lake on moto's S3: landing JSON, GX results, the
silver Delta table; moto's Glue and CloudWatch, the fakesnow server, the duckdb warehouse) and every
task's OpenLineage events from the file transport: valid RunEvents that form ONE connected graph in
which each step's outputs are the next step's inputs. The second run must leave the same end state:
the MERGE reports 0/0/0, Glue keeps its table version.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_lakeops.testing.dagrun import asset_event_uris, xcom_value
from airflow_provider_lakeops.testing.lineage import run_event_errors
from airflow_provider_lakeops.testing.stack import LAKE_BUCKET, LAKE_URI
from airflow_provider_lakeops.testing.warehouse import warehouse_rows

DAG_ID = "lakeops_customer_behavior_daily"
DAY = "2025-10-31"
ROWS = 3000
TARGET = "LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR"
LANDING = f"landing/customer_events/dt={DAY}/"
SILVER = f"{LAKE_URI}/silver/customer_behavior"
PIPELINE = (
    "land_events",
    "validate_events",
    "mask_pii",
    "compact_silver",
    "register_silver",
    "merge_to_snowflake",
)

pytestmark = pytest.mark.integration


def _states(dr) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


@pytest.fixture(scope="module")
def runs(lakeops_stack, lakeops_airflow_db):
    from airflow.models import DagBag

    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    dag = DagBag(dag_folder=str(dag_file)).get_dag(DAG_ID)
    conf = {"day": DAY, "rows": ROWS}
    first = dag.test(run_conf=conf, logical_date=datetime(2025, 10, 31, tzinfo=timezone.utc))
    second = dag.test(run_conf=conf, logical_date=datetime(2025, 10, 31, 12, tzinfo=timezone.utc))
    return {
        "stack": lakeops_stack,
        "lake": lakeops_stack.lake_dir,
        "s3": lakeops_stack.aws_client("s3"),
        "first": first,
        "second": second,
    }


def _objects(s3, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE_BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _landing_rows(s3) -> list[dict]:
    rows = []
    for key in _objects(s3, LANDING):
        if key.rsplit("/", 1)[-1].startswith("part-"):
            body = s3.get_object(Bucket=LAKE_BUCKET, Key=key)["Body"].read().decode()
            rows += [json.loads(line) for line in body.splitlines() if line.strip()]
    return rows


def _silver(columns=None):
    """The day's silver partition, read through the Delta log with delta-rs."""
    from deltalake import DeltaTable

    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

    table = DeltaTable(SILVER, storage_options=delta_storage_options(aws_lake_access("aws_default")))
    return table, table.to_pyarrow_table(partitions=[("dt", "=", DAY)], columns=columns)


def test_both_runs_succeed_with_every_step(runs):
    for name in ("first", "second"):
        states = _states(runs[name])
        assert runs[name].state == "success", states
        assert {"create_lake_bucket", *PIPELINE, "publish_marts"} <= set(states)
        assert any(t.startswith("dbt.") for t in states), states
        assert set(states.values()) == {"success"}, states


def test_landing_has_the_day(runs):
    lines = _landing_rows(runs["s3"])
    assert len(lines) == ROWS
    assert {row["event_date"] for row in lines} == {DAY}


def test_quality_gate_passed_with_warnings_and_wrote_its_result(runs):
    summary = xcom_value(runs["first"], "validate_events")
    assert summary["success"] is True
    assert summary["rows"] == ROWS
    warned = [e for e in summary["expectations"] if e["severity"] == "warn" and e["status"] == "failed"]
    assert warned, "the sample data's defects should raise warn-level findings"
    assert all(e["status"] == "passed" for e in summary["expectations"] if e["severity"] == "error")
    results = _objects(runs["s3"], f"dq/results/customer_events/dt={DAY}/")
    assert [k for k in results if k.endswith(".json")], results
    assert "@" not in json.dumps(summary)  # counts and percentages only, never an email


def test_silver_is_a_delta_table_holding_masked_rows_only(runs):
    raw_emails = {row.get("email") for row in _landing_rows(runs["s3"])} - {None}
    delta, table = _silver()
    assert table.num_rows == ROWS  # the rerun replaced the partition: no row twice
    assert delta.metadata().partition_columns == ["dt"]
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
    assert report["table_format"] == "delta"
    second = xcom_value(runs["second"], "mask_pii")
    assert second["version"] > report["version"]  # a new version of the same rows
    assert delta.version() >= second["version"]


def test_silver_is_compacted_and_vacuum_keeps_the_retention(runs):
    first = xcom_value(runs["first"], "compact_silver")
    second = xcom_value(runs["second"], "compact_silver")
    for report in (first, second):
        assert report["status"] == "ok"
        assert report["optimize"]["ran"]
        assert report["vacuum"]["ran"]
        assert report["vacuum"]["retention_hours"] >= 168  # the table's retention, never less
        assert report["version_after"] >= report["version_before"]


def test_glue_table_registered_once_and_unchanged_on_rerun(runs):
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    first = xcom_value(runs["first"], "register_silver")
    second = xcom_value(runs["second"], "register_silver")
    assert first["action"] in {"created", "updated"}
    assert (first["table_type"], first["table_format"]) == ("DELTA", "delta")
    assert second["action"] == "unchanged"
    assert second["table_version"] == first["table_version"]
    glue = GlueCatalogHook(aws_conn_id="aws_default").get_conn()
    table = glue.get_table(DatabaseName="lakeops", Name="customer_behavior")["Table"]
    assert table["Parameters"]["table_type"] == "DELTA"
    assert table["StorageDescriptor"]["Location"].rstrip("/") == SILVER
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]


def test_merge_loads_each_key_once_and_the_rerun_reports_zeros(runs):
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    _, table = _silver(columns=["customer_id", "event_id"])
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


def test_every_task_emitted_valid_lineage(runs, lakeops_lineage):
    for name in ("first", "second"):
        run = runs[name]
        for task_id in _states(run):
            events = lakeops_lineage.task_events(DAG_ID, task_id, event_type="COMPLETE", run_id=run.run_id)
            assert events, f"no COMPLETE event for {task_id} in the {name} run"
        for event in lakeops_lineage.task_events(DAG_ID, run_id=run.run_id):
            assert run_event_errors(event) == [], event["job"]["name"]


def _io(lakeops_lineage, run_id: str, task_id: str) -> tuple[set, set]:
    event = lakeops_lineage.task_events(DAG_ID, task_id, event_type="COMPLETE", run_id=run_id)[-1]
    return (
        {(d["namespace"], d["name"]) for d in event["inputs"]},
        {(d["namespace"], d["name"]) for d in event["outputs"]},
    )


def test_each_steps_outputs_are_the_next_steps_inputs(runs, lakeops_lineage):
    run_id = runs["first"].run_id
    io = {task_id: _io(lakeops_lineage, run_id, task_id) for task_id in PIPELINE}
    lake = f"s3://{LAKE_BUCKET}"
    landing = (lake, "landing/customer_events")
    silver = (lake, "silver/customer_behavior")
    assert io["land_events"][1] == {landing}
    assert io["validate_events"][0] == {landing}
    assert io["mask_pii"] == ({landing}, {silver})
    assert silver in io["compact_silver"][0]
    assert silver in io["register_silver"][0]
    assert silver in io["register_silver"][1]
    assert io["merge_to_snowflake"] == ({silver}, {("snowflake://lakeops", TARGET)})
    dbt_tasks = [t for t in _states(runs["first"]) if t.startswith("dbt.")]
    staging = [t for t in dbt_tasks if "stg_customer_behavior" in t and t.endswith("run")]
    assert staging, dbt_tasks
    assert silver in _io(lakeops_lineage, run_id, staging[0])[0]  # the dbt source is the silver table
    dbt_outputs = {name for t in dbt_tasks for _, name in _io(lakeops_lineage, run_id, t)[1]}
    assert any(name.endswith("fct_customer_engagement") for name in dbt_outputs), dbt_outputs


def test_the_runs_lineage_is_one_connected_graph(runs, lakeops_lineage):
    from airflow_provider_lakeops.lineage.graph import build_graph

    graph = build_graph(lakeops_lineage.task_events(DAG_ID, run_id=runs["first"].run_id), dag_id=DAG_ID)
    pieces = graph.components()
    assert len(pieces) == 1, [sorted(p) for p in pieces]
    assert {f"job:{j.namespace}:{DAG_ID}.{t}" for j in graph.jobs.values() for t in PIPELINE} & set(pieces[0])
    # the only jobs outside it read and wrote nothing (the bucket, the marts' Assets)
    isolated = {key.rsplit(".", 1)[-1] for key in graph.isolated_jobs()}
    assert isolated <= {"create_lake_bucket", "publish_marts"}, isolated


def test_what_the_pipeline_writes_is_published_as_assets(runs):
    uris = asset_event_uris(runs["first"])
    assert SILVER in uris
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
    # it reads left to right as the pipeline runs: each step's box lies right of the one before
    node = r'<g class="node job[^"]*" transform="translate\((\d+),\d+\)"><title>([^\n<]+)'
    x = {name: int(pos) for pos, name in re.findall(node, dom)}
    # (the gate reads the landing table and writes no dataset: it stands beside the masking job)
    steps = [f"{DAG_ID}.{t}" for t in ("land_events", "mask_pii", "merge_to_snowflake")]
    staging = [name for name in x if "stg_customer_behavior" in name and name.endswith(".run")]
    assert all(s in x for s in steps), sorted(x)
    assert staging, sorted(x)
    chain = [x[s] for s in steps]
    assert chain == sorted(set(chain)), chain  # strictly left to right
    assert x[f"{DAG_ID}.land_events"] < x[f"{DAG_ID}.validate_events"]
    assert x[f"{DAG_ID}.mask_pii"] < x[staging[0]]
