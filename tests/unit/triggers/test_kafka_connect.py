"""KafkaConnectorStateTrigger: status evaluation, serialisation round trip, runs in an event loop."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook
from airflow_provider_lakeops.triggers.kafka_connect import (
    KafkaConnectorStateTrigger,
    evaluate_status,
    poll_delay,
    trim_trace,
)
from tests.integration import conftest_kafka_connect as kc
from tests.integration.conftest_kafka_connect import KAFKA_CONNECT_CONN_ID, debezium_config

# shared fixtures (defined in tests/integration/conftest_kafka_connect.py)
fake_connect_server = kc.fake_connect_server
kafka_connect = kc.kafka_connect

NAME = "inventory-cdc"


def _status(connector: str, *tasks: str, trace: str = "boom") -> dict:
    body = {"name": NAME, "connector": {"state": connector, "worker_id": "w:8083"}, "type": "source",
            "tasks": [{"id": i, "state": s, "worker_id": "w:8083", **({"trace": trace} if s == "FAILED" else {})}
                      for i, s in enumerate(tasks)]}
    if connector == "FAILED":
        body["connector"]["trace"] = trace
    return body


@pytest.mark.parametrize(
    ("status", "target", "outcome"),
    [
        (_status("RUNNING", "RUNNING"), "RUNNING", "done"),
        (_status("RUNNING"), "RUNNING", "pending"),  # no task assigned yet
        (_status("UNASSIGNED"), "RUNNING", "pending"),
        (_status("RUNNING", "RUNNING", "RESTARTING"), "RUNNING", "pending"),
        (_status("RUNNING", "RUNNING", "FAILED"), "RUNNING", "failed"),
        (_status("FAILED"), "RUNNING", "failed"),
        (_status("PAUSED", "PAUSED"), "RUNNING", "blocked"),
        (_status("STOPPED"), "RUNNING", "blocked"),
        (_status("PAUSED", "PAUSED"), "PAUSED", "done"),
        (_status("STOPPED"), "STOPPED", "done"),
        (None, "RUNNING", "pending"),  # status not written yet just after creation
        (None, "DELETED", "done"),
        (_status("RUNNING", "RUNNING"), "DELETED", "pending"),
    ],
    ids=["running", "no-tasks-yet", "unassigned", "task-restarting", "task-failed", "connector-failed",
         "paused-blocks", "stopped-blocks", "paused", "stopped", "no-status-yet", "deleted", "not-deleted-yet"],
)
def test_evaluate_status(status, target, outcome):
    assert evaluate_status(status, target).outcome == outcome


def test_evaluate_status_reports_failed_instances_with_traces():
    verdict = evaluate_status(_status("RUNNING", "RUNNING", "FAILED", trace="java.lang.X: bad"))
    assert verdict.failed == [{"id": "1", "trace": "java.lang.X: bad"}]
    assert verdict.task_states == {"0": "RUNNING", "1": "FAILED"}
    assert verdict.reason == "task 1 FAILED"


def test_evaluate_status_rejects_unknown_targets():
    with pytest.raises(ValueError, match="not one of"):
        evaluate_status(None, "HAPPY")


def test_trim_trace_keeps_the_head_and_the_root_cause():
    trace = "org.apache.kafka.connect.errors.ConnectException: x\n" + "\tat a.b.C.d(C.java:1)\n" * 500 + (
        "Caused by: java.sql.SQLException: Access denied for user 'dbz'")
    trimmed = trim_trace(trace, 400)
    assert len(trimmed) <= 400
    assert trimmed.startswith("org.apache.kafka.connect.errors.ConnectException")
    assert trimmed.endswith("Caused by: java.sql.SQLException: Access denied for user 'dbz'")
    assert trim_trace("short") == "short"
    assert trim_trace(None) == ""


def test_poll_delay_starts_fast_and_settles_at_the_interval():
    assert [poll_delay(i, 2.0) for i in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert poll_delay(10_000, 30.0) == 30.0


def _trigger(**overrides) -> KafkaConnectorStateTrigger:
    kwargs = {"connector_name": NAME, "kafka_connect_conn_id": KAFKA_CONNECT_CONN_ID, "target_state": "RUNNING",
              "end_time": time.time() + 30, "poll_interval": 0.05, "trace_max_chars": 500,
              "carry": {"action": "created", "tables": ["inventory.customers"]}}
    kwargs.update(overrides)
    return KafkaConnectorStateTrigger(**kwargs)


def test_serialize_round_trip_covers_every_argument():
    trigger = _trigger()
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_lakeops.triggers.kafka_connect.KafkaConnectorStateTrigger"
    json.dumps(kwargs)  # JSON-serialisable, as the triggerer table needs
    rebuilt = KafkaConnectorStateTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    import inspect

    params = set(inspect.signature(KafkaConnectorStateTrigger.__init__).parameters) - {"self"}
    assert params == set(kwargs)


async def _first_event(trigger: KafkaConnectorStateTrigger) -> dict:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger yielded nothing")


def _deploy(fake) -> None:
    config = {**debezium_config(), "database.hostname": "db", "database.user": "dbz"}
    KafkaConnectHook(KAFKA_CONNECT_CONN_ID).put_connector_config(NAME, config)


def test_runs_to_success_in_an_event_loop(kafka_connect):
    _deploy(kafka_connect)
    event = asyncio.run(_first_event(_trigger()))
    assert event["status"] == "success"
    assert event["connector_state"] == "RUNNING"
    assert event["task_states"] == {"0": "RUNNING"}
    assert event["carry"] == {"action": "created", "tables": ["inventory.customers"]}


def test_reports_a_failed_task_with_its_trimmed_trace(kafka_connect):
    kafka_connect.fail_task(NAME, 0, trace="java.lang.IllegalStateException: binlog gone\n" + "\tat x.Y(Y.java:1)\n" * 200)
    _deploy(kafka_connect)
    event = asyncio.run(_first_event(_trigger()))
    assert event["status"] == "failed"
    assert event["failed"][0]["id"] == "0"
    assert len(event["failed"][0]["trace"]) <= 500
    assert event["failed"][0]["trace"].startswith("java.lang.IllegalStateException: binlog gone")


def test_times_out_at_end_time(kafka_connect):
    kafka_connect.set_start_delay(60)
    _deploy(kafka_connect)
    event = asyncio.run(_first_event(_trigger(end_time=time.time() + 0.3)))
    assert event["status"] == "timeout"
    assert "did not reach RUNNING in time" in event["message"]
    assert event["connector_state"] == "UNASSIGNED"


def test_waits_for_a_deletion(kafka_connect):
    event = asyncio.run(_first_event(_trigger(target_state="DELETED")))
    assert event["status"] == "success"
    assert event["connector_state"] is None


def test_unreachable_worker_is_an_error_event(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_KC_GONE", json.dumps(
        {"conn_type": "kafka_connect", "host": "127.0.0.1", "port": port, "extra": {"max_retries": 0}}))
    event = asyncio.run(_first_event(_trigger(kafka_connect_conn_id="kc_gone")))
    assert event["status"] == "error"
    assert "unreachable" in event["message"]
