"""The CDC DAG through ``dag.test()`` on real servers: a live PostgreSQL table -> Debezium on Kafka Connect
-> Kafka -> Spark (spark-sql-kafka) -> bronze Delta on S3 -> MERGE into a silver Delta replica and a
Snowflake replica (fakesnow) -> parity checks.

Three runs: after the seed (snapshot), after a round of inserts, updates, deletes and a transaction that
changes one key several times, and once more with nothing new. After each, both replicas equal the source
(row count and checksum of every column), and the lineage and XComs are read back."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeops.testing import cdc
from airflow_provider_lakeops.testing.dagrun import xcom_value
from airflow_provider_lakeops.testing.stack import LAKE_BUCKET

pytestmark = [pytest.mark.integration, pytest.mark.services, pytest.mark.spark]
DAG_ID = "lakeops_cdc_streaming"
SEED_ROWS = 200
PREFIX = "tests/lakeops-cdc-streaming"
LAKE = f"s3://{LAKE_BUCKET}/{PREFIX}"
REPLICA = "CUSTOMER_EVENTS_REPLICA"


def _delta(table: str) -> Any:
    from deltalake import DeltaTable

    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

    return DeltaTable(
        f"{LAKE}/{table}", storage_options=delta_storage_options(aws_lake_access("aws_default"))
    )


def _bronze() -> list[dict[str, Any]]:
    """The bronze changes, read through the Delta log."""
    return _delta("bronze/customer_events_cdc").to_pyarrow_table().to_pylist()


def _empty_lake(s3) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE_BUCKET, Prefix=PREFIX):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=LAKE_BUCKET, Key=obj["Key"])


@pytest.fixture(scope="module")
def runs(lakeops_stack, lakeops_cdc, lakeops_airflow_db):
    from airflow.models import DagBag
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    pg = lakeops_cdc.postgres
    _empty_lake(lakeops_stack.aws_client("s3"))
    SnowflakeHook(snowflake_conn_id="snowflake_default").run(f"DROP TABLE IF EXISTS {REPLICA}")
    cdc.prepare_source(pg)
    pg.execute(f"TRUNCATE {cdc.SOURCE_TABLE}")
    cdc.seed(pg, SEED_ROWS)
    os.environ["LAKEOPS_LAKE_URI"] = LAKE  # read when the DAG file is parsed (dag.test re-parses)
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    bag = DagBag(dag_folder=str(dag_file))
    assert bag.import_errors == {}
    dag = bag.get_dag(DAG_ID)
    for task in dag.tasks:  # a failure must show here, not after dag.test()'s inline retry delay
        task.retries = 0
    out: dict[str, Any] = {"pg": pg, "stack": lakeops_cdc}
    out["first"] = dag.test(logical_date=datetime(2025, 10, 31, 10, tzinfo=timezone.utc))
    out["bronze_first"] = _bronze()
    out["changes"] = cdc.mutate(pg, 0, SEED_ROWS)
    out["second"] = dag.test(logical_date=datetime(2025, 10, 31, 11, tzinfo=timezone.utc))
    out["bronze_second"] = _bronze()
    out["third"] = dag.test(logical_date=datetime(2025, 10, 31, 12, tzinfo=timezone.utc))
    out["bronze_third"] = _bronze()
    os.environ.pop("LAKEOPS_LAKE_URI", None)
    return out


def _states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_every_run_succeeds(runs):
    for name in ("first", "second", "third"):
        assert runs[name].state == "success", (name, _states(runs[name]))


def test_connector_created_once_then_unchanged_with_topics_from_connect(runs):
    first = xcom_value(runs["first"], "deploy_connector")
    assert first["action"] == "created"
    assert first["connector_state"] == "RUNNING"
    assert first["topics"] == ["lakeops.inventory.customer_events"]
    assert first["topics_source"] == "connect"
    for name in ("second", "third"):
        assert xcom_value(runs[name], "deploy_connector")["action"] == "unchanged"


def test_the_watermark_was_confirmed_each_run(runs):
    for name in ("first", "second", "third"):
        wait = xcom_value(runs[name], "wait_for_changes")
        assert wait["slot"] == "lakeops_cdc"
        assert wait["waited_seconds"] < 120


def test_the_snapshot_then_each_change_lands_once_with_a_total_order(runs):
    first, second, third = runs["bronze_first"], runs["bronze_second"], runs["bronze_third"]
    assert Counter(r["op"] for r in first) == {"r": SEED_ROWS}
    changes = runs["changes"]
    new = Counter(r["op"] for r in second) - Counter(r["op"] for r in first)
    assert new == {"c": changes["insert"], "u": changes["update"], "d": changes["delete"]}
    assert len(third) == len(second)  # nothing new: nothing landed twice
    coordinates = [(r["_kafka_topic"], r["_kafka_partition"], r["_kafka_offset"]) for r in third]
    assert len(set(coordinates)) == len(coordinates)
    assert all(r["_source_position"] for r in third)
    # ties impossible: no two changes of one key share a position, so the MERGE's order is total
    # (the snapshot's reads share the snapshot's LSN, one read per key)
    per_key = Counter((r["customer_id"], r["event_id"], r["_source_position"]) for r in third)
    assert max(per_key.values()) == 1
    snapshot = {r["_source_position"] for r in first}
    assert all(r["_source_position"] > max(snapshot) for r in third if r["op"] != "r")
    # the key changed three times in one transaction: its changes are ordered by position
    key = [r for r in third if r["event_id"] == f"evt-{SEED_ROWS + 1 + 500:08d}"]
    assert [r["op"] for r in sorted(key, key=lambda r: r["_source_position"])] == ["c", "u", "u"]


def test_merge_counts_follow_the_changes_and_the_rerun_is_zero(runs):
    first = xcom_value(runs["first"], "merge_replica")
    assert (first["inserted"], first["updated"], first["deleted"]) == (SEED_ROWS, 0, 0)
    second = xcom_value(runs["second"], "merge_replica")
    # 21 inserted keys, one of them deleted again in the same round; 10 + the 3-change key updated
    assert (second["inserted"], second["updated"], second["deleted"]) == (20, 10, 5)
    third = xcom_value(runs["third"], "merge_replica")
    assert (third["inserted"], third["updated"], third["deleted"]) == (0, 0, 0)


def test_the_silver_delta_replica_follows_the_changes_and_equals_the_source(runs):
    reports = [xcom_value(runs[name], "merge_silver") for name in ("first", "second", "third")]
    counts = [(r["rows_inserted"], r["rows_updated"], r["rows_deleted"]) for r in reports]
    assert counts == [(SEED_ROWS, 0, 0), (20, 10, 5), (0, 0, 0)]
    assert reports[2]["silver_version"] == reports[1]["silver_version"]  # nothing new: no new version
    for name in ("first", "second", "third"):
        check = xcom_value(runs[name], "check_silver")
        assert check["equal"] is True, (name, check)
        assert check["source_checksum"] == check["target_checksum"]
    silver = _delta("silver/customer_events_replica")
    assert silver.to_pyarrow_table().num_rows == xcom_value(runs["third"], "check_silver")["source_rows"]


def test_the_replica_equals_the_source_after_every_run(runs):
    expected = {"first": SEED_ROWS, "second": SEED_ROWS + 20 - 5, "third": SEED_ROWS + 20 - 5}
    for name, rows in expected.items():
        check = xcom_value(runs[name], "check_replica")
        assert check["equal"] is True, (name, check)
        assert check["source_rows"] == check["target_rows"] == rows
        assert check["source_checksum"] == check["target_checksum"]


def test_lineage_joins_postgres_kafka_bronze_and_the_replica(runs, lakeops_lineage):
    run_id = runs["first"].run_id
    pg = runs["pg"]

    def complete(task_id: str) -> dict[str, Any]:
        events = lakeops_lineage.task_events(DAG_ID, task_id, "COMPLETE", run_id=run_id)
        assert events, f"no COMPLETE event for {task_id}"
        return events[-1]

    deploy = complete("deploy_connector")
    assert [(d["namespace"], d["name"]) for d in deploy["inputs"]] == [
        (f"postgres://127.0.0.1:{pg.port}", "postgres.inventory.customer_events")
    ]
    topic = (f"kafka://{runs['stack'].kafka_bootstrap}", "lakeops.inventory.customer_events")
    assert [(d["namespace"], d["name"]) for d in deploy["outputs"]] == [topic]
    stream = complete("stream_to_bronze")
    assert topic in [(d["namespace"], d["name"]) for d in stream["inputs"]]
    bronze = (f"s3://{LAKE_BUCKET}", f"{PREFIX}/bronze/customer_events_cdc")
    silver = (f"s3://{LAKE_BUCKET}", f"{PREFIX}/silver/customer_events_replica")
    assert bronze in [(d["namespace"], d["name"]) for d in stream["outputs"]]
    merge = complete("merge_replica")
    assert bronze in [(d["namespace"], d["name"]) for d in merge["inputs"]]
    assert [d["name"] for d in merge["outputs"]] == [f"LAKEOPS.PUBLIC.{REPLICA}"]
    merge_silver = complete("merge_silver")
    assert [(d["namespace"], d["name"]) for d in merge_silver["inputs"]] == [bronze]
    assert [(d["namespace"], d["name"]) for d in merge_silver["outputs"]] == [silver]
    check = complete("check_replica")
    assert {d["name"] for d in check["inputs"]} == {
        "postgres.inventory.customer_events",
        f"LAKEOPS.PUBLIC.{REPLICA}",
    }


def test_the_cdc_lineage_is_one_connected_graph(runs, lakeops_lineage):
    from airflow_provider_lakeops.lineage.graph import build_graph

    for name in ("first", "second"):
        events = lakeops_lineage.task_events(DAG_ID, run_id=runs[name].run_id)
        pieces = build_graph(events, dag_id=DAG_ID).components()
        # the preflight's catalog probes (pg_roles, pg_replication_slots) are not lineage
        assert len(pieces) == 1, (name, [sorted(p) for p in pieces])


def test_the_connector_password_is_nowhere(runs, lakeops_lineage, capfd):
    password = runs["pg"].cdc_password
    for name in ("first", "second", "third"):
        for task_id in (
            "deploy_connector",
            "wait_for_changes",
            "stream_to_bronze",
            "merge_replica",
            "check_replica",
        ):
            assert password not in json.dumps(xcom_value(runs[name], task_id), default=str)
    assert password not in json.dumps(lakeops_lineage.events())
    out, err = capfd.readouterr()
    assert password not in out + err
