"""The daily DAG end to end with ``dag.test()`` on the local stack."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

DAG_ID = "lakeops_customer_behavior_daily"


@pytest.fixture(scope="module")
def daily_run(lakeops_stack, lakeops_airflow_db):
    from airflow.models import DagBag

    os.environ["LAKEOPS_LAKE_DIR"] = str(lakeops_stack.lake_dir)
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    dag = DagBag(dag_folder=str(dag_file)).get_dag(DAG_ID)
    run = dag.test(run_conf={"day": "2025-10-31", "rows": 3000})
    return lakeops_stack, run


def test_run_succeeds(daily_run):
    _, run = daily_run
    assert run.state == "success"


def test_landing_has_the_day(daily_run):
    stack, _ = daily_run
    folder = stack.lake_dir / "landing" / "customer_events" / "dt=2025-10-31"
    lines = [json.loads(line) for f in sorted(folder.glob("part-*.jsonl")) for line in open(f)]
    assert len(lines) == 3000
    assert {row["event_date"] for row in lines} == {"2025-10-31"}


def test_every_task_emitted_lineage(daily_run, lakeops_lineage):
    _, run = daily_run
    for task_id in ("land_events",):
        events = lakeops_lineage.task_events(DAG_ID, task_id, event_type="COMPLETE", run_id=run.run_id)
        assert events, f"no COMPLETE event for {task_id}"
    land = lakeops_lineage.task_events(DAG_ID, "land_events", event_type="COMPLETE", run_id=run.run_id)[-1]
    assert land["outputs"][0]["namespace"] == "file"
    assert land["outputs"][0]["name"].endswith("landing/customer_events/dt=2025-10-31")
