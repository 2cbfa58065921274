"""Fixtures for the Debezium / Kafka Connect tests against the real local stack (``lakeops_cdc``).

Every test gets its own PostgreSQL database, table owner, replication slot, publication, topic
prefix and connector name (:func:`pg_source`), and loses them afterwards: the connector is
deleted, its walsender terminated, its slot dropped and its database dropped, so tests are
independent and the server's ``max_replication_slots`` (8) never runs out.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook

POSTGRES_CONNECTOR = "io.debezium.connector.postgresql.PostgresConnector"
CLEANUP_TIMEOUT = 30.0


@dataclass
class PgSource:
    """One test's PostgreSQL source and the names its connector uses."""

    stack: Any
    dbname: str
    conn_id: str
    connector: str
    slot: str
    prefix: str
    publication: str

    @property
    def server(self) -> Any:
        return self.stack.postgres

    @property
    def password(self) -> str:
        return str(self.server.cdc_password)

    def sql(self, *statements: str) -> list[Any]:
        """Run statements as the admin in this test's database."""
        return list(self.server.execute(*statements, database=self.dbname))

    def config(self, **overrides: str) -> dict[str, str]:
        """A valid Debezium PostgreSQL config for ``public.customers`` (no credentials: the connection has
        them)."""
        config = {
            "connector.class": POSTGRES_CONNECTOR,
            "plugin.name": "pgoutput",
            "tasks.max": "1",
            "topic.prefix": self.prefix,
            "table.include.list": "public.customers",
            "slot.name": self.slot,
            "publication.name": self.publication,
            "publication.autocreate.mode": "filtered",
            "snapshot.mode": "initial",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
        }
        config.update({k.replace("__", "."): v for k, v in overrides.items()})
        return config


def connect_log(stack: Any) -> Path:
    """The Kafka Connect worker's log (its REST request log lines included)."""
    return Path(stack.home) / "logs" / "kafka-connect.log"


def log_count(stack: Any, text: str) -> int:
    return connect_log(stack).read_text(errors="replace").count(text)


def drop_slot(server: Any, slot: str) -> None:
    """Terminate the walsender holding ``slot`` (if any) and drop the slot (if it exists)."""
    deadline = time.monotonic() + CLEANUP_TIMEOUT
    while time.monotonic() < deadline:
        rows = server.execute(f"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'")
        if not rows:
            return
        if rows[0][0]:
            server.execute(f"SELECT pg_terminate_backend({int(rows[0][0])})")
            time.sleep(0.3)
            continue
        try:
            server.execute(f"SELECT pg_drop_replication_slot('{slot}')")
            return
        except Exception:  # became active again between the two statements
            time.sleep(0.3)
    raise AssertionError(f"replication slot {slot} could not be dropped in {CLEANUP_TIMEOUT:.0f} s")


def delete_connector(hook: KafkaConnectHook, name: str) -> None:
    hook.delete_connector(name, missing_ok=True)
    deadline = time.monotonic() + CLEANUP_TIMEOUT
    while name in hook.list_connectors() and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture
def connect(lakeops_cdc) -> KafkaConnectHook:
    """A hook on the stack's worker (``kafka_connect_default``)."""
    return KafkaConnectHook("kafka_connect_default")


@pytest.fixture
def pg_source(lakeops_cdc, connect, monkeypatch) -> Iterator[PgSource]:
    """A fresh database with ``public.customers`` (2 rows) owned by the CDC user, who may create
    publications."""
    token = secrets.token_hex(4)
    server = lakeops_cdc.postgres
    src = PgSource(
        stack=lakeops_cdc,
        dbname=f"cdc_{token}",
        conn_id=f"pg_cdc_{token}",
        connector=f"pg-{token}",
        slot=f"slot_{token}",
        prefix=f"t{token}",
        publication=f"pub_{token}",
    )
    conn = server.connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {src.dbname}")
    conn.close()
    src.sql(
        "CREATE TABLE public.customers (id int PRIMARY KEY, email text NOT NULL)",
        f"ALTER TABLE public.customers OWNER TO {server.cdc_user}",
        "INSERT INTO public.customers VALUES (1, 'a@example.com'), (2, 'b@example.com')",
        f"GRANT CREATE ON DATABASE {src.dbname} TO {server.cdc_user}",
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{src.conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": server.host,
                "port": server.port,
                "schema": src.dbname,
                "login": server.cdc_user,
                "password": server.cdc_password,
            }
        ),
    )
    try:
        yield src
    finally:
        delete_connector(connect, src.connector)
        drop_slot(server, src.slot)
        conn = server.connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {src.dbname} WITH (FORCE)")
        conn.close()
