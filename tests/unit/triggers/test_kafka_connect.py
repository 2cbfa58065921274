"""The wait's decisions (evaluate_status, ConnectorWait.judge, sealed configs) and the trigger's round trip.

Runs against the real worker are in tests/integration/kafka_connect/ (the deferrable test runs
this trigger's ``run()`` there); the unreachable-worker case below is a real closed port.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from airflow_provider_lakeops.triggers.kafka_connect import (
    ConnectorWait,
    KafkaConnectorStateTrigger,
    config_mismatches,
    evaluate_status,
    poll_delay,
    seal_config,
    trim_trace,
)

NAME = "inventory-cdc"
KAFKA_CONNECT_CONN_ID = "kafka_connect_unit"


def _status(connector: str, *tasks: str, trace: str = "boom") -> dict:
    body = {
        "name": NAME,
        "connector": {"state": connector, "worker_id": "w:8083"},
        "type": "source",
        "tasks": [
            {"id": i, "state": s, "worker_id": "w:8083", **({"trace": trace} if s == "FAILED" else {})}
            for i, s in enumerate(tasks)
        ],
    }
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
        (_status("STOPPED", "RUNNING"), "STOPPED", "pending"),  # measured: STOPPED before the task is gone
        (None, "RUNNING", "pending"),  # status not written yet just after creation
        (None, "DELETED", "done"),
        (_status("RUNNING", "RUNNING"), "DELETED", "pending"),
    ],
    ids=[
        "running",
        "no-tasks-yet",
        "unassigned",
        "task-restarting",
        "task-failed",
        "connector-failed",
        "paused-blocks",
        "stopped-blocks",
        "paused",
        "stopped",
        "stopped-task-left",
        "no-status-yet",
        "deleted",
        "not-deleted-yet",
    ],
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
    trace = (
        "org.apache.kafka.connect.errors.ConnectException: x\n"
        + "\tat a.b.C.d(C.java:1)\n" * 500
        + ("Caused by: java.sql.SQLException: Access denied for user 'dbz'")
    )
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
    kwargs = {
        "connector_name": NAME,
        "kafka_connect_conn_id": KAFKA_CONNECT_CONN_ID,
        "target_state": "RUNNING",
        "end_time": time.time() + 30,
        "poll_interval": 0.05,
        "trace_max_chars": 500,
        "carry": {"action": "created", "tables": ["inventory.customers"]},
    }
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


CONFIG = {
    "name": NAME,
    "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
    "database.password": "s3cret-pw",
    "topic.prefix": "p",
    "poll.interval.ms": "500",
}


def _tasks(config: dict, *ids: int) -> list[dict]:
    return [{"id": {"connector": NAME, "task": i}, "config": {**config, "task.class": "X"}} for i in ids]


def test_sealed_configs_hide_the_secret_and_still_recognise_it():
    sealed = seal_config(CONFIG, ["database.password"])
    assert "s3cret-pw" not in json.dumps(sealed)
    assert sealed["topic.prefix"] == "p"
    assert config_mismatches(sealed, CONFIG) == []
    assert config_mismatches(sealed, {**CONFIG, "database.password": "rotated"}) == ["database.password"]
    assert config_mismatches(sealed, {**CONFIG, "extra": "1"}) == ["extra"]
    assert config_mismatches(sealed, {**CONFIG, "task.class": "X"}, exact=False) == []
    assert config_mismatches(sealed, None) == sorted(CONFIG)
    placeholder = {**CONFIG, "database.password": "${file:/s.properties:pw}"}
    assert config_mismatches(placeholder, {**CONFIG, "database.password": "resolved"}, exact=False) == []


def test_the_wait_needs_the_new_config_on_the_connector_and_every_task():
    wait = ConnectorWait(NAME, expected_config=seal_config(CONFIG, ["database.password"]))
    running = _status("RUNNING", "RUNNING")
    old = {**CONFIG, "poll.interval.ms": "100"}
    assert "does not serve the new config" in wait.judge(running, old, _tasks(old, 0)).reason
    assert "task(s) 0 still have the previous config" in wait.judge(running, CONFIG, _tasks(old, 0)).reason
    assert "no task configs yet" in wait.judge(running, CONFIG, []).reason
    assert "the new config has ['0', '1']" in wait.judge(running, CONFIG, _tasks(CONFIG, 0, 1)).reason
    assert wait.judge(running, CONFIG, _tasks(CONFIG, 0)).outcome == "done"


def test_running_counts_only_after_the_settle_period():
    wait = ConnectorWait(NAME, settle_seconds=5)
    running, restarting = _status("RUNNING", "RUNNING"), _status("RUNNING", "RESTARTING")
    assert wait.judge(running, now=100).outcome == "pending"
    assert wait.judge(running, now=103).reason == "RUNNING for 3.0 s of the 5 s settle period"
    assert wait.judge(restarting, now=104).outcome == "pending"  # the clock starts again
    assert wait.judge(running, now=108).outcome == "pending"
    assert wait.judge(running, now=113).outcome == "done"
    assert wait.judge(_status("RUNNING", "FAILED"), now=114).outcome == "failed"


def test_a_failed_state_from_before_a_restart_does_not_end_the_wait():
    wait = ConnectorWait(NAME, restarted=["0"], restart_grace_until=110)
    failed = _status("RUNNING", "FAILED")
    assert wait.judge(failed, now=100).outcome == "pending"  # measured: FAILED 0.04 s after the restart
    assert wait.judge(_status("RUNNING", "RESTARTING"), now=101).outcome == "pending"
    assert wait.judge(failed, now=102).outcome == "failed"  # failed again after the restart
    late = ConnectorWait(NAME, restarted=["0"], restart_grace_until=110)
    assert late.judge(failed, now=111).outcome == "failed"  # grace over
    other = ConnectorWait(NAME, restarted=["0"], restart_grace_until=110)
    assert (
        other.judge(_status("RUNNING", "RUNNING", "FAILED"), now=100).outcome == "failed"
    )  # task 1 not restarted


def test_a_paused_state_right_after_a_resume_does_not_block():
    wait = ConnectorWait(NAME, restart_grace_until=110)
    assert wait.judge(_status("PAUSED", "PAUSED"), now=100).outcome == "pending"
    assert wait.judge(_status("PAUSED", "PAUSED"), now=111).outcome == "blocked"


def test_an_unreachable_worker_keeps_the_wait_going_until_its_deadline(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_KC_GONE",
        json.dumps(
            {"conn_type": "kafka_connect", "host": "127.0.0.1", "port": port, "extra": {"max_retries": 0}}
        ),
    )
    event = asyncio.run(
        asyncio.wait_for(
            _first_event(_trigger(kafka_connect_conn_id="kc_gone", end_time=time.time() + 1)), timeout=30
        )
    )
    assert event["status"] == "timeout"
    assert "Kafka Connect is not answering" in event["message"]
    assert "unreachable" in event["message"]
