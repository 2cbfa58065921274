"""The real servers of the local stack: Kafka (KRaft), Kafka Connect, MariaDB and PostgreSQL.

Each ``start_*`` function writes its configuration under ``root`` (a fresh folder per start), spawns
the server through ``spawn`` (the stack's :class:`~airflow_provider_lakeops.testing._process.Child`
factory, so the stack stops it), waits until it answers and returns what a client needs. A server
that does not come up raises :class:`StackError` with the tail of its log.

The JVM servers run from the jars that ``make jvm-deps`` copies out of Maven Central
(``infra/jvm/pom.xml``) into ``build/jvm``; MariaDB and PostgreSQL are Debian's ``mariadb-server``
and ``postgresql`` packages (``make system-deps`` installs them where missing).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_lakeops.testing._process import Child, StackError, free_port, wait_until

__all__ = [
    "DatabaseServer",
    "jvm_dir",
    "start_connect",
    "start_kafka",
    "start_mariadb",
    "start_postgres",
]

KAFKA_HEAP = "512m"
CONNECT_HEAP = "768m"
MARIADB_SERVER_ID = 223344
# Short GC/JIT settings: the servers are small and the machines have two cores.
_JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"]
_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
logger.kafka.name = org.apache.kafka
logger.kafka.level = warn
logger.kraft.name = kafka.server
logger.kraft.level = info
logger.connect.name = org.apache.kafka.connect
logger.connect.level = info
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
"""


class Spawn(Protocol):
    def __call__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        user: tuple[int, int] | None = None,
        stop_signal: int | None = None,
    ) -> Child: ...


def jvm_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The folder ``make jvm-deps`` fills: ``explicit``, ``$LAKEOPS_JVM_DIR`` or ``./build/jvm``."""
    path = Path(explicit or os.environ.get("LAKEOPS_JVM_DIR") or "build/jvm").resolve()
    if not (path / "kafka").is_dir() or not any((path / "kafka").glob("kafka_2.13-*.jar")):
        raise StackError(
            f"the Kafka jars are missing from {path}/kafka: run 'make jvm-deps' (or "
            "'mvn -f infra/jvm/pom.xml dependency:copy-dependencies') or set LAKEOPS_JVM_DIR"
        )
    return path


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise StackError("java is not installed (Kafka and Kafka Connect need a JDK 17+)")
    return java


def _fresh(root: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return root


def _write_properties(path: Path, props: Mapping[str, object]) -> Path:
    path.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
    return path


def _log_contains(child: Child, text: str) -> bool:
    try:
        return text in child.log_path.read_text(errors="replace")
    except OSError:
        return False


def _tcp_open(port: int) -> bool:
    with contextlib.closing(socket.create_connection(("127.0.0.1", port), timeout=1)):
        return True


# -------------------------------------------------------------------------------------- Kafka
def start_kafka(spawn: Spawn, root: Path, jars: Path, timeout: float) -> str:
    """A single-node KRaft broker+controller (storage formatted ``--standalone``); returns host:port."""
    root = _fresh(root)
    port, controller = free_port(), free_port()
    classpath = f"{jars / 'kafka'}/*"
    log4j = root / "log4j2.properties"
    log4j.write_text(_LOG4J2)
    props = _write_properties(
        root / "broker.properties",
        {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller}",
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": root / "data",
            "num.partitions": 1,
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": 1,
            "offsets.topic.num.partitions": 4,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "transaction.state.log.num.partitions": 4,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
            "log.retention.hours": -1,
        },
    )
    java = _java()
    base = [java, *_JVM_FLAGS, f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
    # StorageTool wants a base64 UUID: ask it for one
    made = subprocess.run(
        [*base, "kafka.tools.StorageTool", "random-uuid"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if made.returncode != 0 or not made.stdout.strip():
        raise StackError(f"kafka-storage random-uuid failed ({made.returncode}):\n{made.stderr[-2000:]}")
    cluster_id = made.stdout.strip().splitlines()[-1]
    formatted = subprocess.run(
        [*base, "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id, "-c", str(props)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if formatted.returncode != 0:
        raise StackError(f"kafka-storage format failed ({formatted.returncode}):\n{formatted.stderr[-2000:]}")
    child = spawn(
        "kafka", [*base[:1], f"-Xms{KAFKA_HEAP}", f"-Xmx{KAFKA_HEAP}", *base[1:], "kafka.Kafka", str(props)]
    )
    wait_until(
        child,
        lambda: _tcp_open(port) and _log_contains(child, "Kafka Server started"),
        "the Kafka protocol",
        timeout,
    )
    return f"127.0.0.1:{port}"


def start_connect(spawn: Spawn, root: Path, jars: Path, bootstrap: str, timeout: float) -> str:
    """A Kafka Connect worker in distributed mode with the Debezium plugins; returns its REST URL."""
    root = _fresh(root)
    port = free_port()
    plugins = jars / "connect-plugins"
    if not plugins.is_dir() or not any(plugins.iterdir()):
        raise StackError(f"no Connect plugins in {plugins}: run 'make jvm-deps'")
    log4j = root / "log4j2.properties"
    log4j.write_text(_LOG4J2)
    props = _write_properties(
        root / "worker.properties",
        {
            "bootstrap.servers": bootstrap,
            "group.id": "lakeops-connect",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "config.storage.topic": "_connect-configs",
            "offset.storage.topic": "_connect-offsets",
            "status.storage.topic": "_connect-status",
            "config.storage.replication.factor": 1,
            "offset.storage.replication.factor": 1,
            "offset.storage.partitions": 2,
            "status.storage.replication.factor": 1,
            "status.storage.partitions": 1,
            "offset.flush.interval.ms": 1000,
            "listeners": f"http://127.0.0.1:{port}",
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": port,
            "plugin.path": plugins,
            # secrets in connector configs can be ${file:...} / ${env:...} references
            "config.providers": "file,env",
            "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
            "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            "connector.client.config.override.policy": "All",
            "scheduled.rebalance.max.delay.ms": 0,
            "task.shutdown.graceful.timeout.ms": 5000,
        },
    )
    java = _java()
    child = spawn(
        "kafka-connect",
        [
            java,
            "-Xms256m",
            f"-Xmx{CONNECT_HEAP}",
            *_JVM_FLAGS,
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            f"{jars / 'kafka'}/*",
            "org.apache.kafka.connect.cli.ConnectDistributed",
            str(props),
        ],
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        import json

        with urllib.request.urlopen(f"{url}/connector-plugins", timeout=3) as resp:
            plugins_seen = {p.get("class", "") for p in json.load(resp)}
        with urllib.request.urlopen(f"{url}/connectors", timeout=3):
            pass
        return any(name.startswith("io.debezium.") for name in plugins_seen)

    wait_until(child, ready, "REST with the Debezium plugins", timeout, interval=0.5)
    return url


# ---------------------------------------------------------------------------------- databases
@dataclass
class DatabaseServer:
    """A running database server of the stack and the accounts it was created with."""

    kind: str  # "mariadb" or "postgres"
    host: str
    port: int
    admin_user: str
    admin_password: str
    cdc_user: str
    cdc_password: str
    datadir: Path

    def connect(
        self, database: str | None = None, *, user: str | None = None, password: str | None = None
    ) -> Any:
        """A DB-API connection (``mysql.connector`` / ``psycopg2``) as the admin unless told otherwise."""
        user = user or self.admin_user
        password = self.admin_password if password is None else password
        if self.kind == "mariadb":
            import mysql.connector

            return mysql.connector.connect(
                host=self.host,
                port=self.port,
                user=user,
                password=password,
                database=database,
                connection_timeout=10,
            )
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=user,
            password=password,
            dbname=database or "postgres",
            connect_timeout=10,
        )

    def execute(self, *statements: str, database: str | None = None) -> list[Any]:
        """Run statements as the admin in one transaction; returns the rows of the last one."""
        conn = self.connect(database)
        try:
            cur = conn.cursor()
            rows: list[Any] = []
            for statement in statements:
                cur.execute(statement)
                rows = list(cur.fetchall()) if cur.description else []
            conn.commit()
            return rows
        finally:
            conn.close()


def _find(names: list[str], patterns: list[str]) -> str | None:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/usr/local/bin")
        if found:
            return found
    for pattern in patterns:
        matches = sorted(glob.glob(pattern))
        if matches:
            return matches[-1]
    return None


def _ready_sql(server: DatabaseServer) -> Callable[[], bool]:
    def probe() -> bool:
        server.execute("SELECT 1")
        return True

    return probe


def start_mariadb(spawn: Spawn, root: Path, timeout: float) -> DatabaseServer:
    """Debian's ``mariadbd`` with its own datadir and port, binary log ``ROW``/``FULL``, a server id.

    The admin is ``root`` with a generated password; ``dbz`` holds Debezium's grants.
    """
    server = _find(["mariadbd", "mysqld"], ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"])
    install = _find(["mariadb-install-db", "mysql_install_db"], [])
    if not server or not install:
        raise StackError(
            "mariadbd / mariadb-install-db are not installed: run 'make system-deps' "
            "(apt-get install mariadb-server)"
        )
    root = _fresh(root)
    datadir = root / "data"
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    init = subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
            *as_root,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if init.returncode != 0:
        raise StackError(f"mariadb-install-db failed ({init.returncode}): {init.stderr[-2000:]}")
    port = free_port()
    child = spawn(
        "mariadb",
        [
            server,
            "--no-defaults",
            f"--datadir={datadir}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={root / 'mysqld.sock'}",
            f"--pid-file={root / 'mysqld.pid'}",
            f"--log-bin={datadir / 'mariadb-bin'}",
            "--binlog-format=ROW",
            "--binlog-row-image=FULL",
            f"--server-id={MARIADB_SERVER_ID}",
            "--binlog-expire-logs-seconds=86400",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M",
            "--performance-schema=OFF",
            "--log-error=",
            *as_root,
        ],
    )
    db = DatabaseServer("mariadb", "127.0.0.1", port, "root", "", "dbz", secrets.token_urlsafe(18), datadir)
    wait_until(child, _ready_sql(db), "SQL", timeout)
    admin_password = secrets.token_urlsafe(18)
    db.execute(
        f"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '{admin_password}'",
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
        f"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{admin_password}'",
        f"ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED BY '{admin_password}'",
        f"CREATE USER '{db.cdc_user}'@'%' IDENTIFIED BY '{db.cdc_password}'",
        "GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION "
        f"SLAVE, REPLICATION CLIENT ON *.* TO '{db.cdc_user}'@'%'",
    )
    db.admin_password = admin_password
    return db


def _postgres_bin(name: str) -> str | None:
    return _find([], [f"/usr/lib/postgresql/*/bin/{name}"]) or shutil.which(name)


def _switch_user(user: tuple[int, int]) -> Callable[[], None]:
    def preexec() -> None:  # pragma: no cover - runs in the child between fork and exec
        os.setgid(user[1])
        os.setuid(user[0])

    return preexec


def start_postgres(spawn: Spawn, root: Path, timeout: float) -> DatabaseServer:
    """Debian's PostgreSQL: an own cluster on its own port, ``wal_level=logical`` (Debezium ``pgoutput``).

    The admin is ``postgres`` with a generated password (scram over TCP); ``dbz`` may replicate. As
    root, the cluster runs as the ``postgres`` system user in a folder of its own under the system's
    temporary directory (PostgreSQL refuses to run as root; the stack's home may not be traversable).
    """
    initdb, postgres = _postgres_bin("initdb"), _postgres_bin("postgres")
    if not initdb or not postgres:
        raise StackError(
            "PostgreSQL's initdb / postgres are not installed: run 'make system-deps' "
            "(apt-get install postgresql)"
        )
    user: tuple[int, int] | None = None
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise StackError(
                "running as root needs the 'postgres' system user (apt-get install postgresql)"
            ) from exc
        user = (entry.pw_uid, entry.pw_gid)
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        cluster = Path(tempfile.mkdtemp(prefix="lakeops-postgres-"))
        os.chown(cluster, *user)
        root.symlink_to(cluster)  # the cluster's folder, reachable from the stack's home
    else:
        cluster = _fresh(root)
    datadir = cluster / "data"
    admin_password = secrets.token_urlsafe(18)
    pwfile = cluster / "pwfile"
    pwfile.write_text(admin_password + "\n")
    if user:
        os.chown(pwfile, *user)
    init = subprocess.run(
        [
            initdb,
            "-D",
            str(datadir),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        preexec_fn=_switch_user(user) if user else None,
    )
    pwfile.unlink()
    if init.returncode != 0:
        raise StackError(f"initdb failed ({init.returncode}): {init.stderr[-2000:]}")
    port = free_port()
    child = spawn(
        "postgres",
        [
            postgres,
            "-D",
            str(datadir),
            "-p",
            str(port),
            "-k",
            str(cluster),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "wal_level=logical",
            "-c",
            "max_wal_senders=8",
            "-c",
            "max_replication_slots=8",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "shared_buffers=32MB",
            "-c",
            "log_min_messages=warning",
        ],
        user=user,
        stop_signal=signal.SIGINT,
    )  # "fast" shutdown: SIGTERM waits for every client to leave
    db = DatabaseServer(
        "postgres", "127.0.0.1", port, "postgres", admin_password, "dbz", secrets.token_urlsafe(18), datadir
    )
    wait_until(child, _ready_sql(db), "SQL", timeout)
    db.execute(f"CREATE ROLE {db.cdc_user} WITH LOGIN REPLICATION PASSWORD '{db.cdc_password}'")
    return db


def remove_cluster_dir(root: Path) -> None:
    """Remove a PostgreSQL cluster folder made by :func:`start_postgres` (the link and its target)."""
    if root.is_symlink():
        target = root.resolve()
        root.unlink()
        shutil.rmtree(target, ignore_errors=True)
