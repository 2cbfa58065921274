"""KafkaConnectHook: URL and auth from the connection, bounded retries, error bodies.

The REST methods run against the real Kafka Connect worker in tests/integration/kafka_connect/.
Here a scripted HTTP responder on loopback replays answers the real worker gives but cannot be
made to give on demand; each one names the real behaviour, and
``test_the_real_worker_answers_like_the_hook_expects`` (integration) checks the 404/500 shapes
against the worker itself.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_provider_lakeops.exceptions import ConnectorDeploymentError
from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectApiError, KafkaConnectHook

NAME = "inventory-cdc"
# Kafka Connect 4.3.1's own texts (connect-runtime: DistributedHerder / RebalanceNeededException)
REBALANCE_409 = (
    409,
    {
        "error_code": 409,
        "message": "Cannot complete request because of a conflicting operation (e.g. worker rebalance)",
    },
)
EXPECTED_REBALANCE_409 = (
    409,
    {"error_code": 409, "message": "Request cannot be completed because a rebalance is expected"},
)
UNAVAILABLE_503 = (503, {"error_code": 503, "message": "Service Unavailable"})
# measured: PUT /connectors/{name}/config with an invalid config
INVALID_PUT_500 = (
    500,
    {
        "error_code": 500,
        "message": 'Cannot invoke "org.apache.kafka.connect.runtime.rest.entities.'
        'ConfigValueInfo.errors()" because the return value of "org.apache.kafka.connect.runtime.'
        'rest.entities.ConfigInfo.configValue()" is null',
    },
)
# measured: validate with a mismatched connector.class
MISMATCH_400 = (
    400,
    {
        "error_code": 400,
        "message": "Included connector type io.debezium.connector.mysql."
        "MySqlConnector does not match request type io.debezium.connector.postgresql.PostgresConnector",
    },
)
OK_200 = (200, [])


class Scripted:
    """Answers requests with the scripted ``(status, body)`` list in order (the last one repeats)."""

    def __init__(self, *answers: tuple[int, object]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, str, str | None]] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                scripted.requests.append((self.command, self.path, self.headers.get("Authorization")))
                status, body = scripted.answers.pop(0) if len(scripted.answers) > 1 else scripted.answers[0]
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted(monkeypatch) -> Iterator:
    servers: list[Scripted] = []

    def make(*answers: tuple[int, object], **conn: object) -> tuple[Scripted, KafkaConnectHook]:
        server = Scripted(*answers)
        servers.append(server)
        hook = _conn_env(
            monkeypatch,
            f"kc_scripted_{len(servers)}",
            host="127.0.0.1",
            port=server.port,
            extra={"retry_backoff": 0.01, **conn.pop("extra", {})},
            **conn,
        )
        return server, hook

    yield make
    for server in servers:
        server.close()


def _conn_env(monkeypatch, conn_id: str, **fields) -> KafkaConnectHook:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "kafka_connect", **fields})
    )
    return KafkaConnectHook(conn_id)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    hook = _conn_env(
        monkeypatch,
        "kc_extra",
        host="h",
        extra={"verify": "/etc/ssl/ca.pem", "timeout": 7, "max_retries": 2, "retry_backoff": 0.5},
    )
    assert (hook.verify, hook.timeout, hook.max_retries, hook.retry_backoff) == (
        "/etc/ssl/ca.pem",
        7.0,
        2,
        0.5,
    )
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


def test_basic_auth_is_sent(scripted):
    server, hook = scripted(OK_200, login="admin", password="s3cret-connect")
    assert hook.list_connectors() == []
    assert server.requests[0][2] == "Basic " + base64.b64encode(b"admin:s3cret-connect").decode()


def test_a_401_is_not_retried(scripted):
    server, hook = scripted((401, {"error_code": 401, "message": "Unauthorized"}))
    with pytest.raises(KafkaConnectApiError, match="401") as err:
        hook.list_connectors()
    assert (err.value.status_code, err.value.transient) == (401, False)
    assert len(server.requests) == 1


def test_test_connection_reports_an_unreachable_worker(monkeypatch):
    hook = _conn_env(monkeypatch, "kc_down", host="127.0.0.1", port=_closed_port(), extra={"max_retries": 0})
    ok, message = hook.test_connection()
    assert not ok
    assert "unreachable" in message


# ---------------------------------------------------------------------------- retries
def test_409s_during_a_rebalance_are_retried(scripted):
    server, hook = scripted(REBALANCE_409, EXPECTED_REBALANCE_409, REBALANCE_409, (200, {"name": NAME}))
    assert hook.get_connector_config(NAME) == {"name": NAME}
    assert len(server.requests) == 4


def test_5xx_is_retried_then_succeeds(scripted):
    server, hook = scripted(UNAVAILABLE_503, UNAVAILABLE_503, OK_200)
    assert hook.list_connectors() == []
    assert len(server.requests) == 3


def test_retries_are_bounded_and_the_error_is_transient(scripted):
    server, hook = scripted(REBALANCE_409, extra={"max_retries": 2})
    with pytest.raises(KafkaConnectApiError, match="409 after 3 attempts") as err:
        hook.get_connector_config(NAME)
    assert isinstance(err.value, ConnectorDeploymentError)
    assert err.value.transient
    assert len(server.requests) == 3


def test_a_put_can_skip_retrying_a_500(scripted):
    server, hook = scripted(INVALID_PUT_500)
    with pytest.raises(KafkaConnectApiError, match="ConfigInfo.configValue") as err:
        hook.put_connector_config(NAME, {"name": NAME}, retry_server_errors=False)
    assert err.value.status_code == 500
    assert len(server.requests) == 1


def test_connection_errors_are_retried_and_bounded(monkeypatch):
    hook = _conn_env(
        monkeypatch,
        "kc_refused",
        host="127.0.0.1",
        port=_closed_port(),
        extra={"max_retries": 2, "retry_backoff": 0.01, "timeout": 2},
    )
    with pytest.raises(KafkaConnectApiError, match="unreachable after 3 attempt") as err:
        hook.list_connectors()
    assert err.value.transient


def test_a_400_is_not_retried(scripted):
    server, hook = scripted(MISMATCH_400)
    with pytest.raises(KafkaConnectApiError, match="does not match request type") as err:
        hook.validate_config("io.debezium.connector.postgresql.PostgresConnector", {})
    assert (err.value.status_code, err.value.transient) == (400, False)
    assert len(server.requests) == 1


def test_topics_come_from_the_connectors_entry(scripted):
    _, hook = scripted((200, {NAME: {"topics": ["p.public.b", "p.public.a"]}}))
    assert hook.get_connector_topics(NAME) == ["p.public.a", "p.public.b"]
