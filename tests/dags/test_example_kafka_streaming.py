"""example_kafka_streaming end to end with ``dag.test()``: the file source on the local stack, and
the Kafka source on the stack's real broker."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.testing.stack import LAKE_BUCKET
from tests._support.lake import upload_folder

DAG_ID = "example_kafka_streaming"
TASK_ID = "land_customer_events"
PREFIX = "tests/example-kafka-streaming"

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def _empty(s3, prefix: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE_BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=LAKE_BUCKET, Key=obj["Key"])


def _bronze(lake: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """The bronze Delta table, read through its log."""
    from deltalake import DeltaTable

    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

    table = DeltaTable(
        f"{lake}/bronze/kafka_customer_events",
        storage_options=delta_storage_options(aws_lake_access("aws_default")),
    )
    return table.to_pyarrow_table(columns=columns).to_pylist()


def _quarantined(s3, lake: str) -> list[dict[str, Any]]:
    prefix = f"{lake.removeprefix(f's3://{LAKE_BUCKET}/')}/quarantine/kafka_customer_events/"
    rows = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE_BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(".json"):
                body = s3.get_object(Bucket=LAKE_BUCKET, Key=obj["Key"])["Body"].read().decode()
                rows += [json.loads(line) for line in body.splitlines() if line.strip()]
    return rows


@pytest.fixture(scope="module")
def streaming_run(lakeops_stack, lakeops_airflow_db):
    from airflow.models import DagBag

    lake = f"s3://{LAKE_BUCKET}/{PREFIX}/file-source"
    s3 = lakeops_stack.aws_client("s3")
    _empty(s3, f"{PREFIX}/file-source/")
    local = Path(lakeops_stack.lake_dir) / "example-kafka-streaming"
    landing = local / "landing" / "kafka_events" / "dt=2025-10-31"
    summary = write_events(landing, 200, seed=21)
    (landing / "late.jsonl").write_text("not json at all\n")
    upload_folder(s3, local, lake)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKEOPS_LAKE_URI", lake)  # read when the DAG file is parsed (dag.test re-parses)
        mp.delenv("LAKEOPS_STREAMING_SOURCE", raising=False)
        dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
        dag = DagBag(dag_folder=str(dag_file)).get_dag(DAG_ID)
        run = dag.test()
    return {"lake": lake, "s3": s3}, summary, run


def test_run_succeeds_and_lands_bronze(streaming_run):
    where, summary, run = streaming_run
    assert run.state == "success"
    assert len(_bronze(where["lake"], ["event_id"])) == 200 - summary.defects["null_key"]
    quarantined = _quarantined(where["s3"], where["lake"])
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
    where, summary, run = streaming_run
    events = lakeops_lineage.task_events(DAG_ID, TASK_ID, event_type="COMPLETE", run_id=run.run_id)
    assert events, "no COMPLETE event for the streaming task"
    event = events[-1]
    root = f"{PREFIX}/file-source"
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
        (f"s3://{LAKE_BUCKET}", f"{root}/landing/kafka_events")
    ]
    bronze = event["outputs"][0]
    assert (bronze["namespace"], bronze["name"]) == (
        f"s3://{LAKE_BUCKET}",
        f"{root}/bronze/kafka_customer_events",
    )
    assert bronze["outputFacets"]["outputStatistics"]["rowCount"] == 200 - summary.defects["null_key"]
    assert "customer_id" in [f["name"] for f in bronze["facets"]["schema"]["fields"]]


# ------------------------------------------------------------------ the same DAG on a real broker
@pytest.fixture(scope="module")
def kafka_run(lakeops_stack, lakeops_kafka, lakeops_airflow_db):
    """``LAKEOPS_STREAMING_SOURCE=kafka``: the DAG reads ``shop.customer_events`` from the stack's broker."""
    from airflow.models import DagBag
    from confluent_kafka import Producer

    from airflow_provider_lakeops.sample_data import generate_events

    lake = f"s3://{LAKE_BUCKET}/{PREFIX}/kafka-source"
    s3 = lakeops_stack.aws_client("s3")
    _empty(s3, f"{PREFIX}/kafka-source/")
    rows = [r for chunk in generate_events(150, seed=31) for r in chunk]
    producer = Producer({"bootstrap.servers": lakeops_kafka.kafka_bootstrap, "enable.idempotence": True})
    for r in rows:
        producer.produce(
            "shop.customer_events", key=str(r["customer_id"]).encode(), value=json.dumps(r).encode()
        )
    producer.produce("shop.customer_events", value=b"not json at all")
    assert producer.flush(30) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKEOPS_LAKE_URI", lake)
        mp.setenv("LAKEOPS_STREAMING_SOURCE", "kafka")
        dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
        dag = DagBag(dag_folder=str(dag_file)).get_dag(DAG_ID)
        run = dag.test()
    return {"lake": lake, "s3": s3}, rows, run


def test_kafka_source_lands_the_topic(kafka_run):
    where, rows, run = kafka_run
    assert run.state == "success"
    table = _bronze(where["lake"], ["_kafka_topic", "_kafka_offset"])
    good = [r for r in rows if r["event_id"] is not None and r["customer_id"] is not None]
    assert len(table) == len(good)
    assert {r["_kafka_topic"] for r in table} == {"shop.customer_events"}
    assert len({r["_kafka_offset"] for r in table}) == len(table)
    quarantined = _quarantined(where["s3"], where["lake"])
    assert len(quarantined) == len(rows) + 1 - len(good)
    assert any(q["_reason"] == "malformed_json" for q in quarantined)
