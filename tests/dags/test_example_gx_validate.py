"""example_gx_validate end to end with ``dag.test()``: a passing gate (warnings only), a failing
gate, the skip mode, and the data-quality facets read back from the OpenLineage file transport."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.testing.stack import LAKE_BUCKET
from tests._support.lake import upload_folder

DAG_ID = "example_gx_validate"
GATE = "validate_events"
PREFIX = "tests/example-gx-validate"
LAKE = f"s3://{LAKE_BUCKET}/{PREFIX}"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runs(lakeops_stack, lakeops_airflow_db, tmp_path_factory):
    from airflow.models import DagBag

    local = tmp_path_factory.mktemp("gx-example-lake")
    docs = tmp_path_factory.mktemp("gx-docs")
    landing = local / "landing" / "customer_events"
    write_events(landing / "dt=2025-11-02", 3000, day="2025-11-02")  # the generator's defaults
    write_events(landing / "dt=2025-11-03", 3000, day="2025-11-03", defect_rate=0.2)  # a broken batch
    s3 = lakeops_stack.aws_client("s3")
    upload_folder(s3, local, LAKE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKEOPS_LAKE_URI", LAKE)  # read when the DAG file is parsed (dag.test re-parses)
        mp.setenv("LAKEOPS_DATA_DOCS_DIR", str(docs))
        dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
        dag = DagBag(dag_folder=str(dag_file)).get_dag(DAG_ID)
        passing = dag.test(run_conf={"day": "2025-11-02"})
        failing = dag.test(run_conf={"day": "2025-11-03"})
    return {"s3": s3, "docs": docs}, passing, failing


def states(run):
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def dq_facets(event):
    [dataset] = event["inputs"]
    return (
        dataset,
        dataset["inputFacets"]["dataQualityAssertions"],
        dataset["inputFacets"]["dataQualityMetrics"],
    )


def test_default_data_passes_with_warnings_and_skips_the_strict_branch(runs):
    lake, run, _ = runs
    assert run.state == "success"
    assert states(run) == {
        GATE: "success",
        "strict_uniqueness_gate": "skipped",
        "publish_deduplicated": "skipped",
    }
    key = f"{PREFIX}/dq/results/customer_events/dt=2025-11-02/customer_events.json"
    result = json.loads(lake["s3"].get_object(Bucket=LAKE_BUCKET, Key=key)["Body"].read())
    assert result["lakeops"]["success"] is True
    assert result["lakeops"]["statistics"]["failed_error"] == 0
    assert (lake["docs"] / "index.html").is_file()


def test_complete_event_carries_assertions_and_metrics(runs, lakeops_lineage):
    lake, run, _ = runs
    [event] = lakeops_lineage.task_events(DAG_ID, GATE, event_type="COMPLETE", run_id=run.run_id)
    dataset, assertions, metrics = dq_facets(event)
    assert dataset["namespace"] == f"s3://{LAKE_BUCKET}"
    assert dataset["name"] == f"{PREFIX}/landing/customer_events"  # the table, not the partition
    items = {a["name"]: a for a in assertions["assertions"]}
    assert len(items) == 12
    assert items["event_id_not_null"]["success"] is True
    assert items["event_id_not_null"]["severity"] == "error"
    assert items["event_id_unique"]["success"] is False
    assert items["event_id_unique"]["severity"] == "warn"
    assert {a["severity"] for a in assertions["assertions"] if not a["success"]} == {"warn"}
    assert metrics["rowCount"] == 3000
    assert metrics["fileCount"] == 1
    assert metrics["columnMetrics"]["event_id"]["nullCount"] > 0


def test_defective_data_fails_the_run_and_the_fail_event_has_the_facets(runs, lakeops_lineage):
    _, _, run = runs
    assert run.state == "failed"
    assert states(run)[GATE] == "failed"
    assert states(run)["publish_deduplicated"] == "upstream_failed"
    [event] = lakeops_lineage.task_events(DAG_ID, GATE, event_type="FAIL", run_id=run.run_id)
    _, assertions, metrics = dq_facets(event)
    failed = {a["name"] for a in assertions["assertions"] if not a["success"] and a["severity"] == "error"}
    assert failed == {
        "event_id_not_null",
        "customer_id_not_null",
        "event_type_known",
        "email_format",
        "amount_in_range",
    }
    assert metrics["rowCount"] == 3000
