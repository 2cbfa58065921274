"""DebeziumWatermarkSensor against the real stack: PostgreSQL (pgoutput) -> Debezium on Kafka Connect ->
Kafka. After the sensor returns, every row committed before it is in the topic (read back with a Kafka
consumer); a paused connector never confirms; a missing slot is an error before anything is written."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest

from airflow_provider_lakeops.sensors.debezium_watermark import DebeziumWatermarkSensor

pytestmark = [pytest.mark.integration, pytest.mark.services]


def _connect(stack, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    request = urllib.request.Request(
        f"{stack.kafka_connect_url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _topic_values(bootstrap: str, topic: str, expect: int, timeout: float = 30) -> list[dict]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        values: list[dict] = []
        deadline = time.monotonic() + timeout
        # a bounded read of what is in the topic *now*: stop at the end offset
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        while time.monotonic() < deadline and len(values) < high:
            message = consumer.poll(1.0)
            if message is not None and not message.error() and message.value():
                values.append(json.loads(message.value()))
        return values
    finally:
        consumer.close()


@pytest.fixture
def connector(lakeops_cdc):
    """A running Debezium PostgreSQL connector on a fresh table; deleted (and its slot dropped) after."""
    pg = lakeops_cdc.postgres
    tag = uuid.uuid4().hex[:8]
    schema, slot, name = f"wm_{tag}", f"wm_{tag}", f"wm-{tag}"
    pg.execute(
        f"CREATE SCHEMA {schema}",
        f"CREATE TABLE {schema}.items (id INT PRIMARY KEY, note TEXT)",
        f"ALTER TABLE {schema}.items OWNER TO {pg.cdc_user}",
        f"GRANT USAGE ON SCHEMA {schema} TO {pg.cdc_user}",
        f"GRANT CREATE ON DATABASE postgres TO {pg.cdc_user}",
        f"GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO {pg.cdc_user}",
    )
    config = {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": pg.host,
        "database.port": str(pg.port),
        "database.user": pg.cdc_user,
        "database.password": pg.cdc_password,
        "database.dbname": "postgres",
        "topic.prefix": name,
        "plugin.name": "pgoutput",
        "table.include.list": f"{schema}.items",
        "slot.name": slot,
        "publication.name": f"pub_{tag}",
        "publication.autocreate.mode": "filtered",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "heartbeat.interval.ms": "1000",  # needed: see the sensor's docstring
    }
    status, body = _connect(lakeops_cdc, "PUT", f"/connectors/{name}/config", config)
    assert status in (200, 201), body
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        _, state = _connect(lakeops_cdc, "GET", f"/connectors/{name}/status")
        slot_made = pg.execute(f"SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}'")
        if (
            isinstance(state, dict)
            and [t["state"] for t in state.get("tasks", [])] == ["RUNNING"]
            and slot_made
        ):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the connector did not start: {state}")
    monkey_env = {
        "AIRFLOW_CONN_WM_PG": json.dumps(
            {
                "conn_type": "postgres",
                "host": pg.host,
                "port": pg.port,
                "login": pg.cdc_user,
                "password": pg.cdc_password,
                "schema": "postgres",
            }
        )
    }
    yield {
        "name": name,
        "slot": slot,
        "schema": schema,
        "pg": pg,
        "env": monkey_env,
        "topic": f"{name}.{schema}.items",
    }
    _connect(lakeops_cdc, "DELETE", f"/connectors/{name}")
    for _ in range(60):  # the slot is released once the task stops
        if not pg.execute(f"SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}' AND active"):
            break
        time.sleep(0.5)
    pg.execute(
        f"SELECT pg_drop_replication_slot('{slot}') FROM pg_replication_slots WHERE slot_name = '{slot}'",
        f"DROP PUBLICATION IF EXISTS pub_{tag}",
        f"DROP SCHEMA {schema} CASCADE",
    )


def sensor(**kwargs) -> DebeziumWatermarkSensor:
    return DebeziumWatermarkSensor(task_id="watermark", postgres_conn_id="wm_pg", **kwargs)


def test_every_change_committed_before_the_watermark_is_in_kafka(connector, lakeops_cdc, monkeypatch):
    for key, value in connector["env"].items():
        monkeypatch.setenv(key, value)
    pg, schema = connector["pg"], connector["schema"]
    pg.execute(*[f"INSERT INTO {schema}.items VALUES ({i}, 'n{i}')" for i in range(1, 51)])
    pg.execute(
        f"UPDATE {schema}.items SET note = 'changed' WHERE id <= 5",
        f"DELETE FROM {schema}.items WHERE id = 50",
    )
    result = sensor(slot_name=connector["slot"], timeout=60).execute(context={"run_id": "wm-test"})
    assert result["slot"] == connector["slot"]
    assert result["waited_seconds"] < 60
    values = _topic_values(lakeops_cdc.kafka_bootstrap, connector["topic"], expect=56)
    ops = [v["op"] for v in values]
    assert ops.count("c") == 50
    assert ops.count("u") == 5
    assert ops.count("d") == 1
    # the watermark itself is a record on the message topic, with the run id as its content
    messages = _topic_values(lakeops_cdc.kafka_bootstrap, f"{connector['name']}.message", expect=1)
    assert any(m.get("message", {}).get("prefix") == "lakeops-watermark" for m in messages)


def test_without_heartbeats_the_watermark_is_never_confirmed(connector, lakeops_cdc, monkeypatch):
    """Measured behaviour the sensor's docs rely on: Debezium delivers the message but confirms the
    slot only up to the last commit it processed, unless heartbeats are on."""
    from airflow.exceptions import AirflowSensorTimeout

    for key, value in connector["env"].items():
        monkeypatch.setenv(key, value)
    name = connector["name"]
    _, config = _connect(lakeops_cdc, "GET", f"/connectors/{name}/config")
    config = {k: v for k, v in config.items() if k not in {"heartbeat.interval.ms", "name"}}
    assert _connect(lakeops_cdc, "PUT", f"/connectors/{name}/config", config)[0] == 200
    time.sleep(8)  # the restarted task reads the slot again
    with pytest.raises(AirflowSensorTimeout):
        sensor(slot_name=connector["slot"], timeout=8).execute(context={"run_id": "wm-no-heartbeat"})


def test_a_paused_connector_never_confirms(connector, lakeops_cdc, monkeypatch):
    from airflow.exceptions import AirflowSensorTimeout

    for key, value in connector["env"].items():
        monkeypatch.setenv(key, value)
    assert _connect(lakeops_cdc, "PUT", f"/connectors/{connector['name']}/pause")[0] == 202
    time.sleep(3)
    connector["pg"].execute(f"INSERT INTO {connector['schema']}.items VALUES (1, 'late')")
    with pytest.raises(AirflowSensorTimeout):
        sensor(slot_name=connector["slot"], timeout=6).execute(context={"run_id": "wm-paused"})


def test_a_missing_slot_fails_before_the_wait(lakeops_cdc, monkeypatch):
    pg = lakeops_cdc.postgres
    monkeypatch.setenv(
        "AIRFLOW_CONN_WM_PG",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": pg.host,
                "port": pg.port,
                "login": pg.admin_user,
                "password": pg.admin_password,
                "schema": "postgres",
            }
        ),
    )
    with pytest.raises(RuntimeError, match="replication slot 'no_such_slot' does not exist"):
        sensor(slot_name="no_such_slot").execute(context={})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"slot_name": "Bad-Slot"}, "slot_name 'Bad-Slot'", id="slot"),
        pytest.param({"slot_name": "ok", "message_prefix": "has space"}, "message_prefix", id="prefix"),
    ],
)
def test_bad_names_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sensor(**kwargs).execute(context={})


def test_reschedule_mode_is_refused_at_construction():
    with pytest.raises(ValueError, match="needs mode='poke'"):
        DebeziumWatermarkSensor(task_id="w", postgres_conn_id="x", slot_name="s", mode="reschedule")
