"""The fake Kafka Connect follows the documented REST contract (raw HTTP, exact status codes and bodies)."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_lakeops.testing.fake_kafka_connect import FakeKafkaConnect
from tests.integration.conftest_kafka_connect import debezium_config

pytestmark = pytest.mark.integration
MYSQL = "io.debezium.connector.mysql.MySqlConnector"


def _cfg(**extra) -> dict[str, str]:
    return {**debezium_config(), "database.hostname": "db", "database.user": "dbz", "database.password": "pw-1", **extra}


def _wait_running(url: str, name: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = requests.get(f"{url}/connectors/{name}/status", timeout=5).json()
        if status["connector"]["state"] == "RUNNING" and status["tasks"] and status["tasks"][0]["state"] == "RUNNING":
            return status
        time.sleep(0.05)
    raise AssertionError(f"{name} never ran: {status}")


@pytest.fixture
def url(kafka_connect) -> str:
    return kafka_connect.url


def test_root_and_plugins(url):
    root = requests.get(f"{url}/", timeout=5).json()
    assert set(root) == {"version", "commit", "kafka_cluster_id"}
    plugins = requests.get(f"{url}/connector-plugins", timeout=5).json()
    assert {"class": MYSQL, "type": "source", "version": "2.7.3.Final"} in plugins


def test_post_create_201_then_409_already_exists(url):
    r = requests.post(f"{url}/connectors", json={"name": "c1", "config": _cfg()}, timeout=5)
    assert r.status_code == 201
    assert r.json() == {"name": "c1", "config": {**_cfg(), "name": "c1"}, "tasks": [], "type": "source"}
    r = requests.post(f"{url}/connectors", json={"name": "c1", "config": _cfg()}, timeout=5)
    assert (r.status_code, r.json()) == (409, {"error_code": 409, "message": "Connector c1 already exists"})


def test_put_config_201_created_200_updated_and_name_mismatch_400(url):
    assert requests.put(f"{url}/connectors/c2/config", json=_cfg(), timeout=5).status_code == 201
    assert requests.put(f"{url}/connectors/c2/config", json=_cfg(**{"snapshot.mode": "never"}), timeout=5).status_code == 200
    r = requests.put(f"{url}/connectors/c2/config", json=_cfg(name="other"), timeout=5)
    assert r.status_code == 400
    assert "doesn't match connector name in the URL (c2)" in r.json()["message"]
    # GET config returns what was stored, password included (that is why config providers exist)
    assert requests.get(f"{url}/connectors/c2/config", timeout=5).json()["database.password"] == "pw-1"


def test_invalid_config_is_a_400_listing_the_errors(url, kafka_connect):
    r = requests.put(f"{url}/connectors/c3/config", json=_cfg(**{"tasks.max": "0", "snapshot.mode": "x"}), timeout=5)
    body = r.json()
    assert r.status_code == 400
    assert body["error_code"] == 400
    assert body["message"].startswith("Connector configuration is invalid and contains the following 2 error(s):\n")
    assert "Invalid value 0 for configuration tasks.max: Value must be at least 1" in body["message"]
    assert body["message"].endswith("`/connector-plugins/{connectorType}/config/validate`")
    assert kafka_connect.connector_names() == []


def test_validate_shape_hidden_passwords_and_missing_name(url):
    config = _cfg()
    r = requests.put(f"{url}/connector-plugins/{MYSQL}/config/validate", json=config, timeout=5)
    body = r.json()
    assert r.status_code == 200
    assert set(body) == {"name", "error_count", "groups", "configs"}
    assert body["name"] == MYSQL
    assert "Common" in body["groups"]
    assert "CONNECTION" in body["groups"]
    values = {c["value"]["name"]: c["value"] for c in body["configs"]}
    definition = next(c["definition"] for c in body["configs"] if c["definition"]["name"] == "database.password")
    assert definition["type"] == "PASSWORD"
    assert values["database.password"]["value"] == "[hidden]"
    assert set(values["database.password"]) == {"name", "value", "recommended_values", "errors", "visible"}
    # no "name" in the body: Connect's own ConfigDef reports it missing
    assert body["error_count"] == 1
    assert values["name"]["errors"] == ['Missing required configuration "name" which has no default value.']


def test_validate_rejects_a_mismatched_or_unknown_class(url):
    r = requests.put(f"{url}/connector-plugins/FileStreamSource/config/validate", json=_cfg(), timeout=5)
    assert r.status_code == 400
    assert "does not match request type FileStreamSource" in r.json()["message"]
    r = requests.put(f"{url}/connector-plugins/com.x.Nope/config/validate", json={"connector.class": "com.x.Nope"}, timeout=5)
    assert r.status_code == 400
    assert "Failed to find any class that implements Connector" in r.json()["message"]


def test_validate_resolves_file_placeholders_but_get_config_keeps_them(tmp_path):
    props = tmp_path / "secrets.properties"
    props.write_text("password=from-file\n")
    placeholder = f"${{file:{props}:password}}"
    with FakeKafkaConnect(config_providers={"file": props}) as fake:
        r = requests.put(f"{fake.url}/connectors/c4/config", json=_cfg(**{"database.password": placeholder}), timeout=5)
        assert r.status_code == 201
        assert requests.get(f"{fake.url}/connectors/c4/config", timeout=5).json()["database.password"] == placeholder


def test_404_body_shape(url):
    for path in ("/connectors/ghost", "/connectors/ghost/config"):
        r = requests.get(f"{url}{path}", timeout=5)
        assert (r.status_code, r.json()) == (404, {"error_code": 404, "message": "Connector ghost not found"})
    r = requests.get(f"{url}/connectors/ghost/status", timeout=5)
    assert r.status_code == 404
    assert r.json()["message"] == "No status found for connector ghost"


def test_states_restart_semantics_pause_resume_stop_delete(url, kafka_connect):
    requests.put(f"{url}/connectors/c5/config", json=_cfg(), timeout=5)
    status = _wait_running(url, "c5")
    assert status["tasks"] == [{"id": 0, "state": "RUNNING", "worker_id": kafka_connect.worker_id}]
    # connector-only restart: 204 without a body
    r = requests.post(f"{url}/connectors/c5/restart", timeout=5)
    assert (r.status_code, r.content) == (204, b"")
    _wait_running(url, "c5")
    # onlyFailed with nothing failed: 202, nothing RESTARTING
    r = requests.post(f"{url}/connectors/c5/restart?includeTasks=true&onlyFailed=true", timeout=5)
    assert r.status_code == 202
    assert {t["state"] for t in r.json()["tasks"]} == {"RUNNING"}
    kafka_connect.fail_task("c5", 0, times=1, trace="java.lang.RuntimeException: boom")
    status = requests.get(f"{url}/connectors/c5/status", timeout=5).json()
    assert status["tasks"][0]["state"] == "FAILED"
    assert status["tasks"][0]["trace"].startswith("java.lang.Runtime")
    r = requests.post(f"{url}/connectors/c5/restart?includeTasks=true&onlyFailed=true", timeout=5)
    assert r.status_code == 202
    assert r.json()["connector"]["state"] == "RUNNING"
    assert r.json()["tasks"][0]["state"] == "RESTARTING"
    _wait_running(url, "c5")
    assert requests.put(f"{url}/connectors/c5/pause", timeout=5).status_code == 202
    assert requests.get(f"{url}/connectors/c5/status", timeout=5).json()["connector"]["state"] == "PAUSED"
    assert requests.put(f"{url}/connectors/c5/resume", timeout=5).status_code == 202
    assert requests.put(f"{url}/connectors/c5/stop", timeout=5).status_code == 204
    stopped = requests.get(f"{url}/connectors/c5/status", timeout=5).json()
    assert stopped["connector"]["state"] == "STOPPED"
    assert stopped["tasks"] == []
    assert requests.get(f"{url}/connectors/c5/offsets", timeout=5).json() == {"offsets": []}
    assert requests.delete(f"{url}/connectors/c5", timeout=5).status_code == 204
    assert requests.delete(f"{url}/connectors/c5", timeout=5).status_code == 404


def test_rebalance_409_only_on_forwarded_requests(url, kafka_connect):
    requests.put(f"{url}/connectors/c6/config", json=_cfg(), timeout=5)
    kafka_connect.begin_rebalance(2)
    assert requests.get(f"{url}/connectors/c6/status", timeout=5).status_code == 200  # served locally
    assert requests.get(f"{url}/connectors", timeout=5).status_code == 200
    r = requests.get(f"{url}/connectors/c6/config", timeout=5)
    assert r.status_code == 409
    assert "rebalance" in r.json()["message"]
    assert requests.put(f"{url}/connectors/c6/config", json=_cfg(), timeout=5).status_code == 409
    assert requests.put(f"{url}/connectors/c6/config", json=_cfg(), timeout=5).status_code == 200


def test_server_errors_and_basic_auth(url, kafka_connect):
    kafka_connect.inject_server_errors(1)
    r = requests.get(f"{url}/connectors", timeout=5)
    assert (r.status_code, r.json()) == (500, {"error_code": 500, "message": "Request timed out"})
    with FakeKafkaConnect(basic_auth=("u", "p")) as fake:
        assert requests.get(f"{fake.url}/connectors", timeout=5).status_code == 401
        assert requests.get(f"{fake.url}/connectors", auth=("u", "p"), timeout=5).status_code == 200
