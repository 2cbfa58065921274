"""example_kafka_streaming end to end with ``dag.test()``: the file source on the local stack, and
the Kafka source on the stack's real broker."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from airflow_provider_lakeops.sample_data import write_events

DAG_ID = "example_kafka_streaming"
TASK_ID = "land_customer_events"

pytestmark = [pytest.mark.integration, pytest.mark.spark]


@pytest.fixture(scope="module")
def streaming_run(lakeops_stack, lakeops_airflow_db):
    from airflow.models import DagBag

    lake = lakeops_stack.lake_dir
    os.environ["LAKEOPS_LAKE_DIR"] = str(lake)
    os.environ.pop("LAKEOPS_STREAMING_SOURCE", None)
    for folder in (
        "landing/kafka_events",
        "bronze/kafka_customer_events",
        "quarantine/kafka_customer_events",
        "_checkpoints/example_kafka_streaming",
    ):
        shutil.rmtree(lake / folder, ignore_errors=True)
    landing = lake / "landing" / "kafka_events" / "dt=2025-10-31"
    summary = write_events(landing, 200, seed=21)
    tmp = landing / ".late.jsonl.tmp"
    tmp.write_text("not json at all\n")
    tmp.rename(landing / "late.jsonl")
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    dag = DagBag(dag_folder=str(dag_file)).get_dag(DAG_ID)
    run = dag.test()
    return lake, summary, run


def test_run_succeeds_and_lands_bronze(streaming_run):
    import pyarrow.dataset as ds

    lake, summary, run = streaming_run
    assert run.state == "success"
    bronze = ds.dataset(str(lake / "bronze" / "kafka_customer_events"), format="parquet", partitioning="hive")
    assert bronze.count_rows() == 200 - summary.defects["null_key"]
    quarantined = [
        json.loads(line)
        for f in (lake / "quarantine" / "kafka_customer_events").rglob("*.json")
        for line in f.read_text().splitlines()
    ]
    assert len(quarantined) == summary.defects["null_key"] + 1
    assert any(
        q["_reason"] == "malformed_json" and q["_source_file"].endswith("late.jsonl") for q in quarantined
    )


def test_progress_report_is_the_xcom(streaming_run):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    _, summary, run = streaming_run
    with create_session() as session:
        value = (
            session.query(XComModel.value)
            .filter(
                XComModel.dag_id == DAG_ID,
                XComModel.task_id == TASK_ID,
                XComModel.run_id == run.run_id,
                XComModel.key == "return_value",
            )
            .scalar()
        )
    report = json.loads(value) if isinstance(value, str) else value
    assert report["rows_in"] == 201
    assert report["rows_quarantined"] == summary.defects["null_key"] + 1
    assert report["end_offsets"] == {"logOffset": 0}
    assert "@" not in json.dumps(report)  # counts and positions only: no e-mail or other record value


def test_lineage_goes_from_the_landing_folder_to_bronze(streaming_run, lakeops_lineage):
    lake, summary, run = streaming_run
    events = lakeops_lineage.task_events(DAG_ID, TASK_ID, event_type="COMPLETE", run_id=run.run_id)
    assert events, "no COMPLETE event for the streaming task"
    event = events[-1]
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
        ("file", str(lake / "landing" / "kafka_events"))
    ]
    bronze = event["outputs"][0]
    assert (bronze["namespace"], bronze["name"]) == ("file", str(lake / "bronze" / "kafka_customer_events"))
    assert bronze["outputFacets"]["outputStatistics"]["rowCount"] == 200 - summary.defects["null_key"]
    assert "customer_id" in [f["name"] for f in bronze["facets"]["schema"]["fields"]]


# ------------------------------------------------------------------ the same DAG on a real broker
@pytest.fixture(scope="module")
def kafka_run(lakeops_kafka, lakeops_airflow_db, tmp_path_factory):
    """``LAKEOPS_STREAMING_SOURCE=kafka``: the DAG reads ``shop.customer_events`` from the stack's broker."""
    from airflow.models import DagBag
    from confluent_kafka import Producer

    from airflow_provider_lakeops.sample_data import generate_events

    lake = tmp_path_factory.mktemp("kafka-lake")
    rows = [r for chunk in generate_events(150, seed=31) for r in chunk]
    producer = Producer({"bootstrap.servers": lakeops_kafka.kafka_bootstrap, "enable.idempotence": True})
    for r in rows:
        producer.produce(
            "shop.customer_events", key=str(r["customer_id"]).encode(), value=json.dumps(r).encode()
        )
    producer.produce("shop.customer_events", value=b"not json at all")
    assert producer.flush(30) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKEOPS_LAKE_DIR", str(lake))
        mp.setenv("LAKEOPS_STREAMING_SOURCE", "kafka")
        dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
        dag = DagBag(dag_folder=str(dag_file)).get_dag(DAG_ID)
        run = dag.test()
    return lake, rows, run


def test_kafka_source_lands_the_topic(kafka_run):
    import pyarrow.dataset as ds

    lake, rows, run = kafka_run
    assert run.state == "success"
    bronze = ds.dataset(str(lake / "bronze" / "kafka_customer_events"), format="parquet", partitioning="hive")
    table = bronze.to_table(columns=["_kafka_topic", "_kafka_offset"]).to_pylist()
    good = [r for r in rows if r["event_id"] is not None and r["customer_id"] is not None]
    assert len(table) == len(good)
    assert {r["_kafka_topic"] for r in table} == {"shop.customer_events"}
    assert len({r["_kafka_offset"] for r in table}) == len(table)
    quarantined = [
        json.loads(line)
        for f in (lake / "quarantine" / "kafka_customer_events").rglob("*.json")
        for line in f.read_text().splitlines()
    ]
    assert len(quarantined) == len(rows) + 1 - len(good)
    assert any(q["_reason"] == "malformed_json" for q in quarantined)
