"""KafkaConnectorLifecycleOperator and KafkaConnectorStateSensor against the fake Kafka Connect worker."""

from __future__ import annotations

import asyncio
import json

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_lakeops.exceptions import ConnectorDeploymentError
from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook, KafkaConnectNotFoundError
from airflow_provider_lakeops.operators.kafka_connect import (
    KafkaConnectorLifecycleOperator,
    KafkaConnectorStateSensor,
)
from tests.integration import conftest_kafka_connect as kc
from tests.integration.conftest_kafka_connect import KAFKA_CONNECT_CONN_ID, debezium_config

# shared fixtures (defined in tests/integration/conftest_kafka_connect.py)
fake_connect_server = kc.fake_connect_server
kafka_connect = kc.kafka_connect

NAME = "inventory-cdc"


@pytest.fixture
def running(kafka_connect):
    """A deployed connector (credentials are irrelevant to the fake worker)."""
    hook = KafkaConnectHook(KAFKA_CONNECT_CONN_ID)
    hook.put_connector_config(NAME, {**debezium_config(), "database.hostname": "db", "database.user": "dbz"})
    return kafka_connect


def _op(action, **kwargs) -> KafkaConnectorLifecycleOperator:
    kwargs = {"poll_interval": 0.05, "wait_timeout": 20, "deferrable": False, **kwargs}
    return KafkaConnectorLifecycleOperator(task_id=f"{action}_connector", connector_name=NAME, action=action,
                                           kafka_connect_conn_id=KAFKA_CONNECT_CONN_ID, **kwargs)


def _sensor(**kwargs) -> KafkaConnectorStateSensor:
    return KafkaConnectorStateSensor(task_id="wait", connector_name=NAME, kafka_connect_conn_id=KAFKA_CONNECT_CONN_ID,
                                     poke_interval=0.05, timeout=20, **kwargs)


@pytest.mark.parametrize(
    ("actions", "state"),
    [(["pause"], "PAUSED"), (["pause", "resume"], "RUNNING"), (["restart"], "RUNNING"), (["stop"], "STOPPED"),
     (["stop", "resume"], "RUNNING")],
    ids=["pause", "resume", "restart", "stop", "resume-stopped"],
)
def test_actions_wait_for_the_resulting_state(running, actions, state):
    for action in actions:
        result = _op(action).execute({})
    assert result == {"connector": NAME, "action": actions[-1], "connector_state": state,
                      "task_states": {} if state == "STOPPED" else {"0": state}}


def test_restart_only_failed_restarts_the_failed_task(running):
    _sensor().execute({})  # RUNNING first
    running.fail_task(NAME, 0, times=1)
    result = _op("restart", include_tasks=True, only_failed=True).execute({})
    assert result["task_states"] == {"0": "RUNNING"}
    assert running.recorded("POST", f"/connectors/{NAME}/restart")[0].query == {
        "includeTasks": ["true"], "onlyFailed": ["true"]}


def test_delete_waits_until_gone(running):
    result = _op("delete").execute({})
    assert result["connector_state"] is None
    assert running.connector_names() == []


def test_delete_missing(kafka_connect):
    assert _op("delete", missing_ok=True).execute({})["connector_state"] is None
    with pytest.raises(KafkaConnectNotFoundError):
        _op("delete").execute({})


def test_action_on_a_missing_connector_fails_clearly(kafka_connect):
    with pytest.raises(KafkaConnectNotFoundError, match=f"Connector {NAME} not found"):
        _op("pause").execute({})


def test_no_wait(running):
    result = _op("pause", wait=False).execute({})
    assert result["connector_state"] is None


def test_deferrable_wait_goes_through_the_trigger(running):
    with pytest.raises(TaskDeferred) as deferred:
        _op("pause", deferrable=True).execute({})
    trigger = deferred.value.trigger
    trigger = type(trigger)(**json.loads(json.dumps(trigger.serialize()[1])))

    async def first():
        async for event in trigger.run():
            return event.payload

    result = _op("pause", deferrable=True).execute_complete({}, asyncio.run(first()))
    assert result["connector_state"] == "PAUSED"


def test_a_failed_wait_event_is_an_error(running):
    event = {"connector": NAME, "status": "timeout", "message": "did not reach PAUSED in time",
             "connector_state": "RUNNING", "task_states": {"0": "RUNNING"}}
    with pytest.raises(ConnectorDeploymentError, match="did not reach PAUSED in time"):
        _op("pause").execute_complete({}, event)


def test_bad_arguments():
    with pytest.raises(ValueError, match="action"):
        _op("explode")
    with pytest.raises(ValueError, match="positive"):
        _op("pause", wait_timeout=0)
    with pytest.raises(ValueError, match="target_state"):
        _sensor(target_state="HAPPY")


def test_sensor_pokes_until_running(running):
    assert _sensor().poke({}) in {True, False}
    _sensor().execute({})
    assert _sensor().poke({}) is True


def test_sensor_fails_at_once_on_a_failed_task(running):
    running.fail_task(NAME, 0, times=None, trace="java.lang.RuntimeException: binlog purged")
    with pytest.raises(ConnectorDeploymentError, match="binlog purged"):
        _sensor().execute({})


def test_sensor_waits_for_a_state_deferrably(running):
    KafkaConnectHook(KAFKA_CONNECT_CONN_ID).stop_connector(NAME)
    with pytest.raises(TaskDeferred) as deferred:
        _sensor(target_state="STOPPED", deferrable=True).execute({})

    async def first():
        async for event in deferred.value.trigger.run():
            return event.payload

    event = asyncio.run(first())
    assert event["status"] == "success"
    _sensor(target_state="STOPPED", deferrable=True).execute_complete({}, event)
