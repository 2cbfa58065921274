"""Fixtures for the Kafka Connect / Debezium tests: the fake Connect worker and a MariaDB with a binlog.

Import the fixtures you need into a test module or a ``conftest.py``::

    from tests.integration.conftest_kafka_connect import binlog_mariadb, kafka_connect  # noqa: F401

* ``fake_connect_server`` (session): a :class:`FakeKafkaConnect` on loopback.
* ``kafka_connect`` (function): the same server, reset, with ``AIRFLOW_CONN_KAFKA_CONNECT_TEST`` set.
* ``binlog_mariadb`` (session): a second ``mariadbd`` with binary logging (``ROW``, ``FULL``) on a
  free port in a temporary datadir, holding ``inventory.customers`` and ``inventory.orders`` and a
  connector user ``dbz`` with Debezium's grants; stopped and removed at the end of the session.
* ``mysql_cdc_conn`` (function): ``AIRFLOW_CONN_MYSQL_CDC_TEST`` for ``dbz`` on that server.

The machine's own MariaDB (127.0.0.1:3306, binary logging off) is reached with ``require_tcp``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeops.testing.fake_kafka_connect import FakeKafkaConnect
from airflow_provider_lakeops.testing.services import on_ci

KAFKA_CONNECT_CONN_ID = "kafka_connect_test"
MYSQL_CDC_CONN_ID = "mysql_cdc_test"
CONNECTOR_PASSWORD = "dbz-" + secrets.token_hex(12)  # a distinctive value to search logs/XCom/lineage for
CONNECTOR_SERVER_ID = 5400  # the connector's database.server.id (the server itself uses SERVER_ID)
SERVER_ID = 223344
STARTUP_TIMEOUT = 45.0

SCHEMA_SQL = [
    "CREATE DATABASE IF NOT EXISTS inventory",
    "CREATE TABLE IF NOT EXISTS inventory.customers (id INT PRIMARY KEY, email VARCHAR(200), updated_at DATETIME)",
    "CREATE TABLE IF NOT EXISTS inventory.orders (id INT PRIMARY KEY, customer_id INT, amount DECIMAL(10,2))",
    "INSERT IGNORE INTO inventory.customers VALUES (1, 'a@example.com', NOW()), (2, 'b@example.com', NOW())",
]


def _unavailable(message: str) -> None:
    if on_ci():
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BinlogMariaDB:
    """A throw-away MariaDB server with binary logging, reachable as root without a password."""

    host: str
    port: int
    base: Path
    process: subprocess.Popen[bytes]

    def execute(self, *statements: str, user: str = "root", password: str = "") -> list[Any]:
        """Run statements; returns the rows of the last one."""
        import mysql.connector

        conn = mysql.connector.connect(host=self.host, port=self.port, user=user, password=password,
                                       connection_timeout=10)
        try:
            cur = conn.cursor()
            rows: list[Any] = []
            for statement in statements:
                cur.execute(statement)
                rows = cur.fetchall() if cur.with_rows else []
            conn.commit()
            return rows
        finally:
            conn.close()

    def connection_json(self, login: str, password: str) -> str:
        return json.dumps({"conn_type": "mysql", "host": self.host, "port": self.port, "login": login,
                           "password": password, "extra": {"client": "mysql-connector-python"}})

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)


def start_binlog_mariadb() -> BinlogMariaDB:
    """Initialise a datadir and start ``mariadbd`` with ``log_bin``, ``ROW`` and ``FULL`` on a free port."""
    server = shutil.which("mariadbd") or shutil.which("mysqld", path="/usr/sbin:/usr/local/sbin:" + os.environ.get("PATH", ""))
    server = server or next((p for p in ("/usr/sbin/mariadbd", "/usr/sbin/mysqld") if os.path.exists(p)), None)
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not server or not install:
        _unavailable("mariadbd / mariadb-install-db are not installed (apt-get install mariadb-server)")
    assert server
    assert install
    base = Path(tempfile.mkdtemp(prefix="lakeops-mariadb-"))
    datadir = base / "data"
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    init = subprocess.run(
        [install, "--no-defaults", f"--datadir={datadir}", "--auth-root-authentication-method=normal",
         "--skip-test-db", "--skip-name-resolve", *as_root],
        capture_output=True, text=True, timeout=120,
    )
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"mariadb-install-db failed ({init.returncode}): {init.stderr[-2000:]}", pytrace=False)
    port = _free_port()
    log_file = base / "error.log"
    process = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={datadir}", f"--port={port}", "--bind-address=127.0.0.1",
         f"--socket={base / 'mysqld.sock'}", f"--pid-file={base / 'mysqld.pid'}", f"--log-error={log_file}",
         f"--log-bin={datadir / 'binlog'}", "--binlog-format=ROW", "--binlog-row-image=FULL",
         f"--server-id={SERVER_ID}", "--skip-name-resolve", "--innodb-buffer-pool-size=16M",
         "--performance-schema=OFF", *as_root],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent,
    )
    db = BinlogMariaDB("127.0.0.1", port, base, process)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            db.execute("SELECT 1")
            return db
        except Exception as exc:  # not accepting connections yet
            last_error = exc
            time.sleep(0.2)
    tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
    db.stop()
    pytest.fail(f"mariadbd with binlog did not start within {STARTUP_TIMEOUT:.0f} s ({last_error}):\n{tail}",
                pytrace=False)
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def binlog_mariadb() -> Iterator[BinlogMariaDB]:
    db = start_binlog_mariadb()
    try:
        db.execute(
            *SCHEMA_SQL,
            "CREATE USER IF NOT EXISTS 'dbz'@'%' IDENTIFIED BY '" + CONNECTOR_PASSWORD + "'",
            "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'dbz'@'%'",
        )
        yield db
    finally:
        db.stop()


@pytest.fixture
def mysql_cdc_conn(binlog_mariadb: BinlogMariaDB, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{MYSQL_CDC_CONN_ID.upper()}", binlog_mariadb.connection_json("dbz", CONNECTOR_PASSWORD))
    return MYSQL_CDC_CONN_ID


@pytest.fixture(scope="session")
def fake_connect_server() -> Iterator[FakeKafkaConnect]:
    with FakeKafkaConnect(start_delay=0.05) as fake:
        yield fake


@pytest.fixture
def kafka_connect(fake_connect_server: FakeKafkaConnect, monkeypatch: pytest.MonkeyPatch) -> FakeKafkaConnect:
    """The fake worker, emptied, with ``AIRFLOW_CONN_KAFKA_CONNECT_TEST`` pointing at it (fast retries)."""
    fake_connect_server.reset()
    fake_connect_server.set_start_delay(0.05)
    monkeypatch.setenv(f"AIRFLOW_CONN_{KAFKA_CONNECT_CONN_ID.upper()}", fake_connect_server.connection_uri())
    return fake_connect_server


def debezium_config(overrides: dict[str, str] | None = None, *, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """A valid Debezium MySQL source config for ``inventory`` without credentials."""
    config = {
        "connector.class": "io.debezium.connector.mysql.MySqlConnector",
        "tasks.max": "1",
        "topic.prefix": "lakeops",
        "database.server.id": str(CONNECTOR_SERVER_ID),
        "database.include.list": "inventory",
        "table.include.list": "inventory.customers,inventory.orders",
        "schema.history.internal.kafka.bootstrap.servers": "kafka.internal:9092",
        "schema.history.internal.kafka.topic": "_schema-history.lakeops",
        "transforms": "unwrap",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
    }
    config.update(overrides or {})
    for key in drop:
        config.pop(key, None)
    return config
