"""KafkaConnectHook: URL and auth from the connection, the REST methods, bounded retries.

Requests go over real HTTP to the contract-faithful fake Connect worker on loopback.
"""

from __future__ import annotations

import json
import socket

import pytest

from airflow_provider_lakeops.exceptions import ConnectorDeploymentError
from airflow_provider_lakeops.hooks.kafka_connect import (
    KafkaConnectApiError,
    KafkaConnectHook,
    KafkaConnectNotFoundError,
)
from airflow_provider_lakeops.testing.fake_kafka_connect import FakeKafkaConnect
from tests.integration import conftest_kafka_connect as kc
from tests.integration.conftest_kafka_connect import KAFKA_CONNECT_CONN_ID, debezium_config

# shared fixtures (defined in tests/integration/conftest_kafka_connect.py)
fake_connect_server = kc.fake_connect_server
kafka_connect = kc.kafka_connect

NAME = "inventory-cdc"


def _conn_env(monkeypatch, conn_id: str, **fields) -> KafkaConnectHook:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "kafka_connect", **fields}))
    return KafkaConnectHook(conn_id)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def hook(kafka_connect) -> KafkaConnectHook:
    return KafkaConnectHook(KAFKA_CONNECT_CONN_ID, retry_backoff=0.01)


def _config(password: str = "pw-123456") -> dict[str, str]:
    return {**debezium_config(), "name": NAME, "database.hostname": "db", "database.user": "dbz",
            "database.password": password}


# ---------------------------------------------------------------------------- connection settings
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": "connect.internal"}, "http://connect.internal:8083"),
        ({"host": "connect.internal", "port": 18083, "schema": "https"}, "https://connect.internal:18083"),
        ({"host": "https://connect.internal/kc/"}, "https://connect.internal:8083/kc"),
        ({"host": "connect.internal/kafka-connect", "port": 80}, "http://connect.internal:80/kafka-connect"),
    ],
    ids=["defaults", "scheme-from-schema", "url-in-host", "path-prefix"],
)
def test_base_url_from_connection(monkeypatch, fields, expected):
    assert _conn_env(monkeypatch, "kc_url", **fields).base_url == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"host": ""}, "has no host"), ({"host": "h", "schema": "ftp"}, "not http or https")],
    ids=["no-host", "bad-scheme"],
)
def test_bad_connection_is_a_clear_error(monkeypatch, fields, message):
    with pytest.raises(ValueError, match=message):
        _ = _conn_env(monkeypatch, "kc_bad", **fields).base_url


def test_extras_drive_verify_timeout_and_retries(monkeypatch):
    hook = _conn_env(monkeypatch, "kc_extra", host="h",
                     extra={"verify": "/etc/ssl/ca.pem", "timeout": 7, "max_retries": 2, "retry_backoff": 0.5})
    assert (hook.verify, hook.timeout, hook.max_retries, hook.retry_backoff) == ("/etc/ssl/ca.pem", 7.0, 2, 0.5)
    assert _conn_env(monkeypatch, "kc_noverify", host="h", extra={"verify": "false"}).verify is False
    assert KafkaConnectHook("kc_extra", max_retries=0, timeout=1).max_retries == 0
    ca = _conn_env(monkeypatch, "kc_ca", host="h", extra={"verify": True, "ca_bundle": "/ca.pem"})
    assert ca.verify == "/ca.pem"
    legacy = _conn_env(monkeypatch, "kc_legacy", host="h", extra={"extra__kafka_connect__max_retries": "3"})
    assert legacy.max_retries == 3


def test_ui_field_behaviour_declares_the_scheme_field():
    behaviour = KafkaConnectHook.get_ui_field_behaviour()
    assert behaviour["relabeling"]["schema"].startswith("Scheme")
    assert KafkaConnectHook.conn_type == "kafka_connect"
    assert KafkaConnectHook.default_conn_name == "kafka_connect_default"


def test_basic_auth_is_sent_and_enforced(monkeypatch):
    with FakeKafkaConnect(basic_auth=("admin", "s3cret-connect")) as fake:
        good = _conn_env(monkeypatch, "kc_auth", host="127.0.0.1", port=fake.port, login="admin",
                         password="s3cret-connect")
        assert good.list_connectors() == []
        bad = _conn_env(monkeypatch, "kc_noauth", host="127.0.0.1", port=fake.port, extra={"max_retries": 0})
        with pytest.raises(KafkaConnectApiError, match="401") as err:
            bad.list_connectors()
        assert err.value.status_code == 401


# ---------------------------------------------------------------------------- REST methods
def test_test_connection_reports_the_worker_version(hook, kafka_connect):
    ok, message = hook.test_connection()
    assert ok
    assert kafka_connect.version in message


def test_test_connection_reports_an_unreachable_worker(monkeypatch):
    hook = _conn_env(monkeypatch, "kc_down", host="127.0.0.1", port=_closed_port(), extra={"max_retries": 0})
    ok, message = hook.test_connection()
    assert not ok
    assert "unreachable" in message


def test_create_read_update_delete_round_trip(hook, kafka_connect):
    created, info = hook.put_connector_config(NAME, _config())
    assert created
    assert info["name"] == NAME
    assert info["type"] == "source"
    assert hook.get_connector_config(NAME)["topic.prefix"] == "lakeops"
    created, _ = hook.put_connector_config(NAME, {**_config(), "snapshot.mode": "never"})
    assert not created
    assert hook.get_connector_config(NAME)["snapshot.mode"] == "never"
    assert hook.list_connectors() == [NAME]
    assert NAME in hook.list_connectors(expand=["status", "info"])
    assert hook.get_connector(NAME)["config"]["snapshot.mode"] == "never"
    assert hook.delete_connector(NAME) is True
    assert hook.delete_connector(NAME, missing_ok=True) is False
    assert hook.get_connector_config_or_none(NAME) is None


def test_post_create_conflicts_when_the_connector_exists(hook, kafka_connect):
    hook.create_connector(NAME, _config())
    with pytest.raises(KafkaConnectApiError, match="already exists") as err:
        hook.create_connector(NAME, _config())
    assert err.value.status_code == 409
    # "already exists" is not a rebalance: exactly one retry-free POST answered 409
    assert [r.status for r in kafka_connect.recorded("POST", "/connectors")] == [201, 409]


def test_validate_returns_per_key_errors(hook, kafka_connect):
    result = hook.validate_config("io.debezium.connector.mysql.MySqlConnector", _config())
    assert result["error_count"] == 0
    bad = {**_config(), "database.server.id": "zero"}
    del bad["topic.prefix"]
    result = hook.validate_config("io.debezium.connector.mysql.MySqlConnector", bad)
    errors = {c["value"]["name"]: c["value"]["errors"] for c in result["configs"] if c["value"]["errors"]}
    assert result["error_count"] == 2 == len(errors)
    assert errors["topic.prefix"] == ["The 'topic.prefix' value is invalid: A value is required"]


def test_not_found_is_a_typed_error(hook, kafka_connect):
    with pytest.raises(KafkaConnectNotFoundError, match="Connector missing not found") as err:
        hook.get_connector("missing")
    assert (err.value.status_code, err.value.error_code, err.value.connector) == (404, 404, "missing")
    assert isinstance(err.value, ConnectorDeploymentError)


def test_lifecycle_calls(hook, kafka_connect):
    hook.put_connector_config(NAME, _config())
    assert hook.restart_connector(NAME) is None  # 204: the connector instance only
    status = hook.restart_connector(NAME, include_tasks=True, only_failed=False)
    assert status["connector"]["state"] == "RESTARTING"
    hook.pause_connector(NAME)
    hook.resume_connector(NAME)
    hook.stop_connector(NAME)
    assert hook.get_connector_status(NAME)["connector"]["state"] == "STOPPED"
    assert hook.get_offsets(NAME) == {"offsets": []}
    assert [p["class"] for p in hook.list_plugins()][0] == "io.debezium.connector.mysql.MySqlConnector"
    assert hook.get_server_info()["version"] == kafka_connect.version


def test_task_level_calls(hook, kafka_connect):
    import time

    hook.put_connector_config(NAME, _config())
    deadline = time.monotonic() + 10
    while not hook.get_tasks(NAME) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hook.get_tasks(NAME)[0]["id"] == {"connector": NAME, "task": 0}
    hook.restart_task(NAME, 0)
    assert hook.get_task_status(NAME, 0)["id"] == 0
    with pytest.raises(KafkaConnectNotFoundError):
        hook.restart_task(NAME, 7)


# ---------------------------------------------------------------------------- retries
def test_three_409s_then_success(hook, kafka_connect):
    hook.put_connector_config(NAME, _config())
    kafka_connect.begin_rebalance(3)
    assert hook.get_connector_config(NAME)["name"] == NAME
    assert [r.status for r in kafka_connect.recorded("GET", f"/connectors/{NAME}/config")] == [409, 409, 409, 200]


def test_5xx_is_retried_then_succeeds(hook, kafka_connect):
    kafka_connect.inject_server_errors(2, status=503, message="Service Unavailable")
    assert hook.list_connectors() == []
    assert [r.status for r in kafka_connect.recorded("GET", "/connectors")] == [503, 503, 200]


def test_retries_are_bounded(kafka_connect):
    hook = KafkaConnectHook(KAFKA_CONNECT_CONN_ID, max_retries=2, retry_backoff=0.01)
    hook.put_connector_config(NAME, _config())
    kafka_connect.begin_rebalance(10)
    with pytest.raises(KafkaConnectApiError, match="409 after 3 attempts"):
        hook.get_connector_config(NAME)
    assert len(kafka_connect.recorded("GET", f"/connectors/{NAME}/config")) == 3


def test_connection_errors_are_retried_and_bounded(monkeypatch):
    hook = _conn_env(monkeypatch, "kc_refused", host="127.0.0.1", port=_closed_port(),
                     extra={"max_retries": 2, "retry_backoff": 0.01, "timeout": 2})
    with pytest.raises(KafkaConnectApiError, match="unreachable after 3 attempt"):
        hook.list_connectors()


def test_a_400_is_not_retried(hook, kafka_connect):
    with pytest.raises(KafkaConnectApiError, match="Connector configuration is invalid") as err:
        hook.put_connector_config(NAME, {**_config(), "tasks.max": "many"})
    assert err.value.status_code == 400
    assert len(kafka_connect.recorded("PUT")) == 1
    assert kafka_connect.connector_names() == []
