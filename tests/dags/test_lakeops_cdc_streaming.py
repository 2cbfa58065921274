"""The CDC DAG through ``dag.test()``: preflight on MariaDB with a binlog, deploy to the fake Kafka Connect,
deferrable wait run by ``dag.test()``'s inline triggerer, then Debezium change events (full envelopes, as the
shipped connector template produces them) streamed to bronze through ``spark-submit`` with the file source,
and the lineage of both tasks read back from the file transport."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.integration import conftest_kafka_connect as kc
from tests.integration.conftest_kafka_connect import CONNECTOR_PASSWORD

# shared fixtures (defined in tests/integration/conftest_kafka_connect.py)
binlog_mariadb = kc.binlog_mariadb
fake_connect_server = kc.fake_connect_server

pytestmark = [pytest.mark.integration, pytest.mark.services, pytest.mark.spark]
DAG_ID = "lakeops_cdc_streaming"
TASK_ID = "deploy_connector"
STREAM_TASK_ID = "stream_to_bronze"
CONNECTOR = "lakeops-mysql-cdc"
TABLE = "inventory.customer_events"
TOPIC = f"lakeops.{TABLE}"
LAKE_FOLDERS = ("landing/cdc_events", "bronze/customer_events", "quarantine/customer_events",
                "_checkpoints/lakeops_cdc_streaming")

# the captured table: its rows have the shape of spark_apps/schemas/customer_event.json
CUSTOMER_EVENTS_DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    event_id VARCHAR(64) NOT NULL, customer_id BIGINT NOT NULL, session_id VARCHAR(64),
    event_type VARCHAR(32) NOT NULL, event_ts DATETIME(3) NOT NULL, updated_at DATETIME(3) NOT NULL,
    page VARCHAR(255), amount DECIMAL(12,2), currency CHAR(3), email VARCHAR(255), phone VARCHAR(32),
    ssn VARCHAR(16), full_name VARCHAR(255), ip_address VARCHAR(45), event_date DATE,
    PRIMARY KEY (customer_id, event_id))"""


# ------------------------------------------------------------------ Debezium change events
T0 = 1761904800000  # 2025-10-31T10:00:00Z in epoch milliseconds (time.precision.mode=connect)
EVENT_DAY = (date(2025, 10, 31) - date(1970, 1, 1)).days  # DATE columns: days since the epoch


def _row(n: int, **changes: Any) -> dict[str, Any]:
    """A ``customer_events`` row as Debezium's JsonConverter writes it (DECIMAL as a string)."""
    row = {
        "event_id": f"evt-20251031-{n:09d}", "customer_id": 1000 + n, "session_id": f"sess-{n}",
        "event_type": "page_view", "event_ts": T0 + n * 1000, "updated_at": T0 + n * 1000, "page": "/home",
        "amount": None, "currency": None, "email": f"user{n}@example.com", "phone": "+1-555-0100",
        "ssn": "123-45-6789", "full_name": f"User {n}", "ip_address": "10.0.0.1", "event_date": EVENT_DAY,
    }
    row.update(changes)
    return row


def _envelope(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, ts_ms: int) -> str:
    """The value of a Debezium MySQL change event without the ExtractNewRecordState transform."""
    source = {"version": "3.0.8.Final", "connector": "mysql", "name": "lakeops", "ts_ms": ts_ms - 5,
              "snapshot": "true" if op == "r" else "false", "db": "inventory", "table": "customer_events",
              "server_id": kc.SERVER_ID, "file": "binlog.000002", "pos": 1024, "row": 0}
    return json.dumps({"before": before, "after": after, "source": source, "op": op, "ts_ms": ts_ms,
                       "transaction": None})


E1, E2, E3, E4 = _row(1), _row(2), _row(3, event_type="purchase", amount="10.50", currency="USD"), _row(4)
E3_UPDATED = _row(3, event_type="purchase", amount="12.00", currency="USD", updated_at=T0 + 60_000)
GOOD = [
    _envelope("r", None, E1, T0 + 10),  # snapshot reads
    _envelope("r", None, E2, T0 + 11),
    _envelope("c", None, E3, T0 + 20_000),
    _envelope("c", None, E4, T0 + 21_000),
    _envelope("u", E3, E3_UPDATED, T0 + 60_000),
    _envelope("d", E4, None, T0 + 120_000),  # a delete carries the whole row in `before`
]
BAD = [
    '{"before": null, "after": {"event_id": "evt-',  # truncated
    # what the ExtractNewRecordState transform would have produced: no envelope, so no `op`
    json.dumps({**_row(5), "__op": "c", "__source_ts_ms": T0, "__deleted": "false"}),
    _envelope("c", None, {k: v for k, v in _row(6).items() if k != "event_type"}, T0 + 30_000),
    _envelope("u", _row(7), _row(7, customer_id="not-a-number"), T0 + 40_000),
]
BAD_REASONS = {"malformed_json": 1, "debezium_missing_op": 1, "missing_required:event_type": 1,
               "type_mismatch:customer_id": 1}


def _publish(folder: Path, name: str, lines: list[str]) -> None:
    """Publish a JSON-lines file atomically, as a Kafka-less landing must (the file source skips dot-files)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.rename(folder / name)


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def cdc_env(lakeops_stack, lakeops_airflow_db, binlog_mariadb, fake_connect_server):
    fake_connect_server.reset()
    binlog_mariadb.execute(CUSTOMER_EVENTS_DDL)
    lake = lakeops_stack.lake_dir
    for folder in LAKE_FOLDERS:
        shutil.rmtree(lake / folder, ignore_errors=True)
    _publish(lake / "landing" / "cdc_events", f"{TOPIC}-0000.json", [*GOOD, *BAD])
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT", fake_connect_server.connection_uri())
            mp.setenv("AIRFLOW_CONN_MYSQL_CDC", binlog_mariadb.connection_json("dbz", CONNECTOR_PASSWORD))
            mp.setenv("LAKEOPS_LAKE_DIR", str(lake))
            mp.delenv("LAKEOPS_STREAMING_SOURCE", raising=False)  # the file source: no Kafka here
            yield fake_connect_server, binlog_mariadb, lake
    finally:
        # the server is shared by the session: leave `inventory` as the other Debezium tests expect it
        binlog_mariadb.execute(f"DROP TABLE IF EXISTS {TABLE}")


@pytest.fixture(scope="module")
def dag(cdc_env):
    from airflow.models import DagBag

    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    bag = DagBag(dag_folder=str(dag_file))
    assert bag.import_errors == {}
    return bag.get_dag(DAG_ID)


def _xcom(run, task_id: str = TASK_ID) -> dict:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(XComModel).filter_by(dag_id=DAG_ID, run_id=run.run_id, task_id=task_id,
                                                 key="return_value").one()
        value = row.value
    return json.loads(value) if isinstance(value, str) else value


def _rendered(run, task_id: str | None = None) -> str:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        query = session.query(RenderedTaskInstanceFields).filter_by(dag_id=DAG_ID, run_id=run.run_id)
        if task_id:
            query = query.filter_by(task_id=task_id)
        return json.dumps([r.rendered_fields for r in query.all()], default=str)


def _task_states(run) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance.task_id, TaskInstance.state).filter_by(dag_id=DAG_ID, run_id=run.run_id)
        return {task_id: str(state) for task_id, state in rows}


def _bronze(lake: Path) -> list[dict[str, Any]]:
    import pyarrow.dataset as ds

    table = ds.dataset(str(lake / "bronze" / "customer_events"), format="parquet", partitioning="hive").to_table()
    return table.to_pylist()


def _utc(value: Any) -> datetime:
    """A bronze timestamp as an aware UTC datetime (Spark writes INT96: pyarrow reads it without a zone)."""
    value = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _quarantine(lake: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted((lake / "quarantine" / "customer_events").rglob("*.json"))
            for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def first_run(dag, cdc_env):
    fake, _, _ = cdc_env
    fake.fail_task(CONNECTOR, 0, times=1)  # the first start of the task fails: restarted once, then RUNNING
    return dag.test()


@pytest.fixture(scope="module")
def second_run(dag, first_run, cdc_env):
    """The next scheduled run with nothing new: connector unchanged, the stream resumes at the checkpoint."""
    fake, _, lake = cdc_env
    puts_before = len(fake.recorded("PUT", f"/connectors/{CONNECTOR}/config"))
    bronze_before = _bronze(lake)
    run = dag.test()
    return run, puts_before, bronze_before


# --------------------------------------------------------------------------------- tests
def test_run_deploys_the_connector_through_the_deferrable_path(first_run, cdc_env):
    fake, db, _ = cdc_env
    assert first_run.state == "success", _task_states(first_run)
    assert _task_states(first_run) == {TASK_ID: "success", STREAM_TASK_ID: "success"}
    result = _xcom(first_run)
    assert result["action"] == "created"
    assert result["connector_state"] == "RUNNING"
    assert result["restarted"] == ["0"]  # carried through dag.test()'s inline trigger and the second deferral
    assert result["tables"] == [TABLE]
    assert result["topics"] == [TOPIC]
    assert result["kafka_bootstrap_servers"] == "kafka:9092"
    stored = fake.stored_config(CONNECTOR)
    assert stored["database.password"] == CONNECTOR_PASSWORD
    assert stored["database.port"] == str(db.port)
    assert stored["table.include.list"] == TABLE
    # the streaming app unwraps the envelope itself: no ExtractNewRecordState (it would drop `op`)
    assert not any(key.startswith("transforms") for key in stored), stored
    assert len(fake.recorded("POST", f"/connectors/{CONNECTOR}/restart")) == 1


def test_connector_and_its_task_are_running_on_connect(first_run, cdc_env):
    import requests

    fake, _, _ = cdc_env
    status = requests.get(f"{fake.url}/connectors/{CONNECTOR}/status", timeout=10).json()
    assert status["connector"]["state"] == "RUNNING"
    assert [t["state"] for t in status["tasks"]] == ["RUNNING"]


def test_stream_topics_come_from_the_deploy_xcom(first_run):
    rendered = json.loads(_rendered(first_run, STREAM_TASK_ID))
    assert len(rendered) == 1
    assert rendered[0]["topics"] == TOPIC  # the XCom list joined for the Kafka source


def test_change_events_land_in_bronze_with_their_operation(first_run, cdc_env):
    _, _, lake = cdc_env
    rows = _bronze(lake)
    assert len(rows) == len(GOOD)
    by_op = {(r["op"], r["event_id"]): r for r in rows}
    assert set(by_op) == {("r", E1["event_id"]), ("r", E2["event_id"]), ("c", E3["event_id"]),
                          ("c", E4["event_id"]), ("u", E3["event_id"]), ("d", E4["event_id"])}
    deleted = by_op[("d", E4["event_id"])]
    assert deleted["customer_id"] == E4["customer_id"]  # the key of a delete comes from `before`
    assert _utc(deleted["op_ts"]) == datetime(2025, 10, 31, 10, 2, tzinfo=timezone.utc)  # the event's ts_ms
    updated = by_op[("u", E3["event_id"])]
    assert updated["amount"] == 12.0  # DECIMAL arrives as a string (decimal.handling.mode=string)
    assert _utc(updated["updated_at"]) == datetime(2025, 10, 31, 10, 1, tzinfo=timezone.utc)  # epoch ms
    assert updated["event_date"] == date(2025, 10, 31)  # days since the epoch
    assert by_op[("r", E1["event_id"])]["event_type"] == "page_view"
    assert {r["_source_file"].rsplit("/", 1)[-1] for r in rows} == {f"{TOPIC}-0000.json"}


def test_bad_records_are_quarantined_and_counted(first_run, cdc_env):
    _, _, lake = cdc_env
    report = _xcom(first_run, STREAM_TASK_ID)
    assert report["status"] == "succeeded"
    assert report["rows_in"] == len(GOOD) + len(BAD)
    assert report["rows_bronze"] == len(GOOD)
    assert report["rows_quarantined"] == len(BAD)
    assert report["rows_skipped"] == 0  # tombstones.on.delete=false: no tombstones to skip
    assert report["quarantine_reasons"] == BAD_REASONS
    assert report["operations"] == {"c": 2, "d": 1, "r": 2, "u": 1}
    assert "@" not in json.dumps(report)  # counts and positions only, never record values
    quarantined = _quarantine(lake)
    assert sorted(q["_reason"] for q in quarantined) == sorted(BAD_REASONS)
    flat = next(q for q in quarantined if q["_reason"] == "debezium_missing_op")
    assert '"__op"' in flat["_raw"]  # the transform's flat form is refused, not landed without an operation


def test_lineage_of_both_tasks(first_run, cdc_env, lakeops_lineage):
    _, db, lake = cdc_env
    deploy = lakeops_lineage.task_events(DAG_ID, TASK_ID, event_type="COMPLETE", run_id=first_run.run_id)
    assert deploy, "no COMPLETE event for deploy_connector"
    assert [(d["namespace"], d["name"]) for d in deploy[-1]["inputs"]] == [(f"mysql://127.0.0.1:{db.port}", TABLE)]
    assert [(d["namespace"], d["name"]) for d in deploy[-1]["outputs"]] == [("kafka://kafka:9092", TOPIC)]

    stream = lakeops_lineage.task_events(DAG_ID, STREAM_TASK_ID, event_type="COMPLETE", run_id=first_run.run_id)
    assert stream, "no COMPLETE event for stream_to_bronze"
    event = stream[-1]
    # the file source stands in for the topics locally; with source="kafka" the inputs are kafka://kafka:9092 topics
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [("file", str(lake / "landing" / "cdc_events"))]
    bronze, quarantine = event["outputs"]
    assert (bronze["namespace"], bronze["name"]) == ("file", str(lake / "bronze" / "customer_events"))
    assert bronze["outputFacets"]["outputStatistics"]["rowCount"] == len(GOOD)
    assert {"customer_id", "event_id", "op", "op_ts"} <= {f["name"] for f in bronze["facets"]["schema"]["fields"]}
    assert (quarantine["namespace"], quarantine["name"]) == ("file", str(lake / "quarantine" / "customer_events"))
    assert quarantine["outputFacets"]["outputStatistics"]["rowCount"] == len(BAD)


def test_password_absent_from_logs_xcom_lineage_and_rendered_templates(first_run, lakeops_lineage, capfd):
    assert CONNECTOR_PASSWORD not in json.dumps(_xcom(first_run))
    assert CONNECTOR_PASSWORD not in lakeops_lineage.text()
    rendered = _rendered(first_run)
    assert "io.debezium.connector.mysql.MySqlConnector" in rendered  # the config template was rendered ...
    assert CONNECTOR_PASSWORD not in rendered  # ... without the password
    out = capfd.readouterr()
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    log_text = "".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file()) if logs.exists() else ""
    assert CONNECTOR_PASSWORD not in out.out + out.err + log_text


def test_rerun_is_unchanged_and_makes_no_put(second_run, cdc_env):
    fake, _, _ = cdc_env
    run, puts_before, _ = second_run
    assert run.state == "success", _task_states(run)
    assert _xcom(run)["action"] == "unchanged"
    assert _xcom(run)["connector_state"] == "RUNNING"
    assert len(fake.recorded("PUT", f"/connectors/{CONNECTOR}/config")) == puts_before


def test_rerun_streams_nothing_twice(second_run, cdc_env):
    _, _, lake = cdc_env
    run, _, bronze_before = second_run
    report = _xcom(run, STREAM_TASK_ID)
    assert report["status"] == "succeeded"
    assert (report["rows_in"], report["rows_bronze"], report["rows_quarantined"]) == (0, 0, 0)
    assert report["batches"] == 0
    assert report["start_offsets"] == report["end_offsets"]  # resumed at the checkpoint, nothing to read
    after = _bronze(lake)
    key = ("op", "event_id", "batch")
    assert sorted(tuple(r[k] for k in key) for r in after) == sorted(tuple(r[k] for k in key) for r in bronze_before)
    assert len(_quarantine(lake)) == len(BAD)
