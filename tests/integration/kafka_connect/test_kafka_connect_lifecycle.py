"""KafkaConnectorLifecycleOperator, KafkaConnectorStateSensor and the hook against the real Kafka Connect
worker."""

from __future__ import annotations

import json

import pytest

from airflow_provider_lakeops.exceptions import ConnectorDeploymentError
from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectApiError, KafkaConnectNotFoundError
from airflow_provider_lakeops.operators.debezium import DebeziumConnectorOperator
from airflow_provider_lakeops.operators.kafka_connect import KafkaConnectorLifecycleOperator
from airflow_provider_lakeops.sensors.kafka_connect import KafkaConnectorStateSensor
from tests.integration.kafka_connect.conftest import PgSource

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def _deploy(src: PgSource) -> None:
    DebeziumConnectorOperator(
        task_id="deploy",
        connector_name=src.connector,
        config=src.config(),
        database_conn_id=src.conn_id,
        poll_interval=0.5,
        wait_timeout=90,
        deferrable=False,
        settle_seconds=1.0,
        topics_timeout=0,
    ).execute({})


def _act(src: PgSource, action: str, **kwargs) -> dict:
    return KafkaConnectorLifecycleOperator(
        task_id=action,
        connector_name=src.connector,
        action=action,
        poll_interval=0.5,
        wait_timeout=60,
        deferrable=False,
        settle_seconds=1.0,
        **kwargs,
    ).execute({})


def test_pause_resume_stop_restart_delete_reach_their_states(pg_source, connect):
    _deploy(pg_source)
    assert _act(pg_source, "pause")["connector_state"] == "PAUSED"
    assert connect.get_connector_status(pg_source.connector)["tasks"][0]["state"] == "PAUSED"
    assert _act(pg_source, "resume")["task_states"] == {"0": "RUNNING"}
    stopped = _act(pg_source, "stop")
    assert (stopped["connector_state"], stopped["task_states"]) == ("STOPPED", {})
    assert connect.get_tasks(pg_source.connector) == []  # a stopped connector has no tasks
    assert _act(pg_source, "resume")["task_states"] == {"0": "RUNNING"}
    assert _act(pg_source, "restart")["task_states"] == {"0": "RUNNING"}
    assert _act(pg_source, "restart", include_tasks=False)["connector_state"] == "RUNNING"
    gone = _act(pg_source, "delete")
    assert gone["connector_state"] is None
    assert pg_source.connector not in connect.list_connectors()
    assert _act(pg_source, "delete", missing_ok=True)["connector_state"] is None


def test_an_action_on_a_missing_connector_fails_clearly(lakeops_cdc):
    with pytest.raises(KafkaConnectNotFoundError, match="404"):
        KafkaConnectorLifecycleOperator(
            task_id="p", connector_name="no-such-connector", action="pause"
        ).execute({})


def test_the_sensor_waits_for_paused_and_fails_at_once_when_waiting_for_running_on_a_paused_one(pg_source):
    _deploy(pg_source)
    _act(pg_source, "pause", wait=False)
    sensor = KafkaConnectorStateSensor(
        task_id="s",
        connector_name=pg_source.connector,
        target_state="PAUSED",
        poke_interval=0.3,
        timeout=30,
        deferrable=False,
        mode="poke",
    )
    sensor.execute({})
    with pytest.raises(ConnectorDeploymentError, match="resume it"):
        KafkaConnectorStateSensor(task_id="r", connector_name=pg_source.connector).poke({})


def test_the_real_worker_answers_like_the_hook_expects(pg_source, connect):
    """Bodies and codes the hook relies on, read from Kafka Connect 4.3 itself."""
    assert connect.test_connection()[1].startswith("Kafka Connect 4.3")
    plugins = {p["class"] for p in connect.list_plugins()}
    assert {
        "io.debezium.connector.postgresql.PostgresConnector",
        "io.debezium.connector.mysql.MySqlConnector",
    } <= plugins
    with pytest.raises(KafkaConnectNotFoundError) as missing:
        connect.get_connector_status("no-such-connector")
    assert (missing.value.status_code, missing.value.error_code) == (404, 404)
    assert not missing.value.transient
    assert connect.get_connector_topics("no-such-connector") == []  # 200 with an empty list, not a 404
    config = {**pg_source.config(), "name": pg_source.connector, "database.port": "x"}
    with pytest.raises(KafkaConnectApiError) as invalid:  # an invalid config PUT is a 500, not a 400
        connect.put_connector_config(pg_source.connector, config, retry_server_errors=False)
    assert invalid.value.status_code == 500
    assert "ConfigInfo.configValue()" in str(invalid.value)
    assert pg_source.connector not in connect.list_connectors()


def test_an_unreachable_worker_is_transient_and_bounded(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_KC_CLOSED",
        json.dumps(
            {
                "conn_type": "kafka_connect",
                "host": "127.0.0.1",
                "port": 1,
                "extra": {"max_retries": 1, "retry_backoff": 0.01},
            }
        ),
    )
    event = KafkaConnectorLifecycleOperator(
        task_id="t", connector_name="x", action="pause", kafka_connect_conn_id="KC_CLOSED".lower()
    )
    with pytest.raises(KafkaConnectApiError, match="unreachable after 2 attempt") as err:
        event.execute({})
    assert err.value.transient
