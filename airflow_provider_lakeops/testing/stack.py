"""Start and stop the embedded local stack.

The stack stands in for the cloud on a laptop or a CI runner:

* **moto server** (S3, Glue Data Catalog, SNS, SQS, CloudWatch) on a free loopback port, with the
  lake's bucket ``s3://lakeops-lake`` (``$LAKEOPS_LAKE_URI``) that Spark reads and writes through
  S3A (``$LAKEOPS_SPARK_LAKE_JARS``: hadoop-aws, the AWS SDK v2 and Delta, from ``make jvm-deps``);
* **fakesnow server** served over TLS with a throw-away CA, so the stock ``SnowflakeHook``
  (which always speaks https) reaches it unchanged;
* optionally a **Spark standalone cluster** (a master and a worker launched with the pyspark
  package's own ``bin/spark-class``);
* optionally the **CDC servers**, real ones: a Kafka broker (KRaft), a Kafka Connect worker with
  Debezium on its plugin path (jars from ``make jvm-deps``), and MariaDB and PostgreSQL from
  Debian's packages, each with its own data folder and port (see ``_servers.py``);
* an **Airflow home** with a SQLite metadata DB and the OpenLineage file transport.

Every server runs as a child process in its own process group, started with
``PR_SET_PDEATHSIG`` on Linux so that it dies with its parent: nothing is left running even when
the parent is killed. :meth:`LocalStack.stop` is idempotent and is called on ``__exit__``.

Example::

    with LocalStack(home) as stack:
        os.environ.update(stack.env())
        ...
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.testing import _servers
from airflow_provider_lakeops.testing._process import (
    Child,
    StackError,
    free_port,
    http_ok,
    port_is_free,
    wait_until,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    _T = TypeVar("_T")

__all__ = ["LocalStack", "StackError", "airflow_env", "free_port", "lineage_transport", "migrate_airflow_db"]

LOCAL_REGION = "us-east-1"
ALERTS_TOPIC = "lakeops-alerts"
LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account
#: The lake's bucket on the local S3 (moto) and its URI (``$LAKEOPS_LAKE_URI``).
LAKE_BUCKET = "lakeops-lake"
LAKE_URI = f"s3://{LAKE_BUCKET}"
LAKE_BUCKET = "lakeops-lake"
SNOWFLAKE_DATABASE = "LAKEOPS"
SNOWFLAKE_SCHEMA = "PUBLIC"


def _bin_dir() -> str:
    return str(Path(sys.executable).parent)


def _spark_home() -> str:
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("pyspark is not installed: install the 'testing' extra to start a Spark cluster")
    return str(Path(next(iter(spec.submodule_search_locations))))


def lineage_transport(events_file: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The OpenLineage transport of the local stack: the JSON-lines file, plus Marquez when asked.

    With ``OPENLINEAGE_URL`` in ``environ`` (default ``os.environ``) the events go to the file *and*
    to that HTTP backend (``OPENLINEAGE_ENDPOINT``, default ``api/v1/lineage``; ``OPENLINEAGE_API_KEY``
    as a bearer key), through a composite transport that keeps going when one of them fails. The
    stack must set a transport (the tests read the file), and a set transport makes the client ignore
    ``OPENLINEAGE_URL``: this is how both work together.
    """
    env = os.environ if environ is None else environ
    file_transport: dict[str, Any] = {"type": "file", "log_file_path": str(events_file), "append": True}
    url = env.get("OPENLINEAGE_URL", "").strip()
    if not url:
        return file_transport
    http: dict[str, Any] = {
        "type": "http",
        "url": url,
        "endpoint": env.get("OPENLINEAGE_ENDPOINT") or "api/v1/lineage",
    }
    if env.get("OPENLINEAGE_API_KEY"):
        http["auth"] = {"type": "api_key", "apiKey": env["OPENLINEAGE_API_KEY"]}
    return {"type": "composite", "continue_on_failure": True, "transports": [file_transport, http]}


def airflow_env(home: Path) -> dict[str, str]:
    """Environment for a throw-away Airflow home under ``home`` (set it before importing airflow)."""
    home = home.resolve()
    airflow_home = home / "airflow"
    dags = airflow_home / "dags"
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(lineage_transport(home / "lineage" / "events.jsonl")),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "lakeops-local",
        # emit on success/failure in a bounded thread, not a forked copy of the (large) test or
        # demo process, and give it time on a loaded 2-core machine: with the default fork and 10 s,
        # events of quick tasks were lost when the machine was busy
        "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
        "AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT": "60",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__ENABLE_CACHE_DBT_LS": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos_cache"),
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
    }


def migrate_airflow_db(env: dict[str, str], timeout: float = 180) -> None:
    """Create or upgrade the SQLite metadata DB of the Airflow home that ``env`` names."""
    Path(env["AIRFLOW__CORE__DAGS_FOLDER"]).mkdir(parents=True, exist_ok=True)
    Path(json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])["log_file_path"]).parent.mkdir(
        parents=True, exist_ok=True
    )
    airflow = shutil.which("airflow", path=_bin_dir()) or shutil.which("airflow")
    if airflow is None:
        raise StackError("the 'airflow' command is not on PATH: is apache-airflow installed?")
    result = subprocess.run(
        [airflow, "db", "migrate"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"'airflow db migrate' failed ({result.returncode}):\n{result.stderr[-2000:]}")


class LocalStack:
    """The embedded local stack; use it as a context manager.

    :param home: folder for logs, certificates, the local lake, lineage events and the Airflow home.
        It is created if missing and kept afterwards (so the results stay readable).
    :param moto: start the moto server.
    :param snowflake: start the fakesnow server over TLS.
    :param spark_cluster: start a Spark standalone master and worker.
    :param kafka: start a Kafka broker (KRaft, single node).
    :param kafka_connect: start a Kafka Connect worker (distributed mode) with the Debezium plugins;
        implies ``kafka``.
    :param mariadb: start MariaDB with a binary log (the MySQL-protocol CDC source).
    :param postgres: start PostgreSQL with ``wal_level=logical`` (GX SQL source, Debezium ``pgoutput``).
    :param jvm_dir: where ``make jvm-deps`` put the jars (default ``$LAKEOPS_JVM_DIR`` or ``./build/jvm``).
    :param start_timeout: seconds to wait for each server to answer.
    """

    def __init__(
        self,
        home: str | os.PathLike[str],
        *,
        moto: bool = True,
        snowflake: bool = True,
        spark_cluster: bool = False,
        kafka: bool = False,
        kafka_connect: bool = False,
        mariadb: bool = False,
        postgres: bool = False,
        jvm_dir: str | os.PathLike[str] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.home = Path(home)
        self.want_moto = moto
        self.want_snowflake = snowflake
        self.want_spark_cluster = spark_cluster
        self.want_kafka = kafka or kafka_connect
        self.want_kafka_connect = kafka_connect
        self.want_mariadb = mariadb
        self.want_postgres = postgres
        self.jvm_dir_arg = jvm_dir
        self.start_timeout = start_timeout
        self.kafka_bootstrap: str | None = None
        self.kafka_connect_url: str | None = None
        self.mariadb: _servers.DatabaseServer | None = None
        self.postgres: _servers.DatabaseServer | None = None
        self.start_seconds: dict[str, float] = {}
        self.moto_port: int | None = None
        self.snowflake_port: int | None = None
        self.spark_master_port: int | None = None
        self.spark_master_ui_port: int | None = None
        self._children: list[Child] = []

    # ------------------------------------------------------------------ paths
    @property
    def lake_dir(self) -> Path:
        """A local folder for what is not the lake: the dbt duckdb warehouse, scratch files of tests.
        The lake itself is ``s3://lakeops-lake`` on moto (:data:`LAKE_URI`)."""
        return self.home.resolve() / "lake"

    @property
    def data_docs_dir(self) -> Path:
        """The folder GX builds its Data Docs site into (``$LAKEOPS_DATA_DOCS_DIR``)."""
        return self.home.resolve() / "dq-docs"

    @property
    def lineage_file(self) -> Path:
        return self.home.resolve() / "lineage" / "events.jsonl"

    @property
    def ca_bundle(self) -> Path:
        return self.home.resolve() / "tls" / "ca-bundle.pem"

    @property
    def moto_endpoint(self) -> str:
        if self.moto_port is None:
            raise StackError("the moto server is not running")
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def spark_master_url(self) -> str:
        if self.spark_master_port is None:
            raise StackError("the Spark cluster is not running (start the stack with spark_cluster=True)")
        return f"spark://127.0.0.1:{self.spark_master_port}"

    @property
    def pii_key(self) -> str:
        """A stable 48-byte HMAC key for this home (kept in ``home/pii.key``, created once)."""
        path = self.home / "pii.key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(36))
            path.chmod(0o600)
        return path.read_text().strip()

    # ------------------------------------------------------------- lifecycle
    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        """Start every requested server; on any failure stop what started and raise :class:`StackError`."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.lake_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.want_moto:
                self._start_moto()
            if self.want_snowflake:
                self._start_fakesnow()
            if self.want_spark_cluster:
                self._timed("spark", self._start_spark_cluster)
            if self.want_mariadb:
                self.mariadb = self._timed(
                    "mariadb",
                    lambda: _servers.start_mariadb(
                        self._spawn, self._server_dir("mariadb"), self.start_timeout
                    ),
                )
            if self.want_postgres:
                self.postgres = self._timed(
                    "postgres",
                    lambda: _servers.start_postgres(
                        self._spawn, self._server_dir("postgres"), self.start_timeout
                    ),
                )
            if self.want_kafka:
                jars = _servers.jvm_dir(self.jvm_dir_arg)
                self.kafka_bootstrap = self._timed(
                    "kafka",
                    lambda: _servers.start_kafka(
                        self._spawn, self._server_dir("kafka"), jars, max(self.start_timeout, 90)
                    ),
                )
                if self.want_kafka_connect:
                    bootstrap = self.kafka_bootstrap
                    self.kafka_connect_url = self._timed(
                        "kafka_connect",
                        lambda: _servers.start_connect(
                            self._spawn,
                            self._server_dir("kafka-connect"),
                            jars,
                            bootstrap,
                            max(self.start_timeout, 180),
                        ),
                    )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server this stack started (idempotent)."""
        while self._children:
            self._children.pop().stop()
        self.moto_port = self.snowflake_port = self.spark_master_port = None
        self.kafka_bootstrap = self.kafka_connect_url = None
        self.mariadb = self.postgres = None
        _servers.remove_cluster_dir(self._server_dir("postgres"))

    def _server_dir(self, name: str) -> Path:
        """The data folder of one server (emptied at each start: the stack's servers start fresh)."""
        return self.home.resolve() / "servers" / name

    def _timed(self, name: str, start: Callable[[], _T]) -> _T:
        began = time.monotonic()
        result = start()
        self.start_seconds[name] = round(time.monotonic() - began, 1)
        return result

    def _spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        *,
        user: tuple[int, int] | None = None,
        stop_signal: int | None = None,
    ) -> Child:
        child = Child(
            name,
            argv,
            self.home / "logs" / f"{name}.log",
            env,
            user=user,
            **({"stop_signal": stop_signal} if stop_signal is not None else {}),
        )
        child.start()
        self._children.append(child)
        return child

    @staticmethod
    def _pick_port(port: int | None = None) -> int:
        if port is not None and not port_is_free(port):
            raise StackError(f"port {port} on 127.0.0.1 is already in use")
        return port or free_port()

    # ---------------------------------------------------------------- moto
    def _start_moto(self, port: int | None = None) -> None:
        port = self._pick_port(port)
        child = self._spawn("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)])
        wait_until(
            child, lambda: http_ok(f"http://127.0.0.1:{port}/moto-api/data.json"), "HTTP", self.start_timeout
        )
        self.moto_port = port
        self._create_alerts_topic()

    @property
    def alerts_topic_arn(self) -> str:
        """The SNS topic the example DAGs' failure callbacks publish to (on moto)."""
        return f"arn:aws:sns:{LOCAL_REGION}:123456789012:{ALERTS_TOPIC}"

    def aws_client(self, service: str) -> Any:
        """A boto3 client of the local AWS (moto) with the stack's test credentials."""
        import boto3  # testing-only module: boto3 comes with the amazon extra

        return boto3.client(
            service,
            endpoint_url=self.moto_endpoint,
            region_name=LOCAL_REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def _create_alerts_topic(self) -> None:
        """The alerts topic and the lake's bucket (``s3://lakeops-lake``): what every run expects."""
        arn = self.aws_client("sns").create_topic(Name=ALERTS_TOPIC)["TopicArn"]
        if arn != self.alerts_topic_arn:  # moto's default account; fail loudly if that ever changes
            raise StackError(f"moto created the alerts topic as {arn}, expected {self.alerts_topic_arn}")
        self.aws_client("s3").create_bucket(Bucket=LAKE_BUCKET)

    def reset_moto(self) -> None:
        """Forget every AWS resource (``POST /moto-api/reset``) but the alerts topic and the lake's
        bucket, created again (empty)."""
        req = urllib.request.Request(f"{self.moto_endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass
        self._create_alerts_topic()

    # ----------------------------------------------------------- fakesnow
    def _write_tls_files(self) -> tuple[Path, Path]:
        import certifi
        import trustme

        tls = self.home.resolve() / "tls"
        tls.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        server = ca.issue_cert("localhost", "127.0.0.1")
        cert, key = tls / "server.pem", tls / "server.key"
        server.private_key_pem.write_to_path(str(key))
        with open(cert, "wb") as fh:
            for blob in server.cert_chain_pems:
                fh.write(blob.bytes())
        # trust the system CAs and ours: the bundle replaces the default one for requests
        self.ca_bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + ca.cert_pem.bytes())
        return cert, key

    def _start_fakesnow(self, port: int | None = None) -> None:
        import ssl

        port = self._pick_port(port)
        cert, key = self._write_tls_files()
        child = self._spawn(
            "fakesnow",
            [
                sys.executable,
                "-m",
                "airflow_provider_lakeops.testing._fakesnow_tls",
                "--port",
                str(port),
                "--cert",
                str(cert),
                "--key",
                str(key),
            ],
        )
        context = ssl.create_default_context(cafile=str(self.ca_bundle))

        # any HTTP answer (fakesnow has no health route) means the TLS server is up
        def probe() -> bool:
            try:
                return http_ok(f"https://localhost:{port}/", context)
            except urllib.error.HTTPError:
                return True

        wait_until(child, probe, "TLS", self.start_timeout)
        self.snowflake_port = port

    # --------------------------------------------------------------- spark
    def _start_spark_cluster(self) -> None:
        spark_home = _spark_home()
        spark_class = Path(_bin_dir()) / "spark-class"
        if not spark_class.exists():
            spark_class = Path(spark_home) / "bin" / "spark-class"
        env = {**os.environ, **self._spark_env(spark_home)}
        master_port, ui_port, worker_ui = free_port(), free_port(), free_port()
        master = self._spawn(
            "spark-master",
            [
                str(spark_class),
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(master_port),
                "--webui-port",
                str(ui_port),
            ],
            env,
        )
        wait_until(master, lambda: http_ok(f"http://127.0.0.1:{ui_port}/json/"), "HTTP", 90)
        worker = self._spawn(
            "spark-worker",
            [
                str(spark_class),
                "org.apache.spark.deploy.worker.Worker",
                f"spark://127.0.0.1:{master_port}",
                "--host",
                "127.0.0.1",
                "--cores",
                "2",
                "--memory",
                "2g",
                "--webui-port",
                str(worker_ui),
            ],
            env,
        )

        def worker_alive() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as resp:
                state = json.load(resp)
            return any(w.get("state") == "ALIVE" for w in state.get("workers", []))

        wait_until(worker, worker_alive, "worker registration", 90)
        self.spark_master_port, self.spark_master_ui_port = master_port, ui_port

    def _spark_env(self, spark_home: str | None = None) -> dict[str, str]:
        return {
            "SPARK_HOME": spark_home or _spark_home(),
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOCAL_DIRS": str(self.home.resolve() / "spark-tmp"),
            "SPARK_WORKER_DIR": str(self.home.resolve() / "spark-work"),
        }

    def spark_kafka_jars(self) -> list[str]:
        """The jars of Spark's Kafka source (``spark.jars``), as ``make jvm-deps`` copied them."""
        folder = _servers.jvm_dir(self.jvm_dir_arg) / "spark-kafka"
        jars = sorted(str(p) for p in folder.glob("*.jar"))
        if not jars:
            raise StackError(f"no jars in {folder}: run 'make jvm-deps'")
        return jars

    def spark_lake_jars(self) -> list[str]:
        """The jars of S3A (hadoop-aws + AWS SDK v2) and Delta Lake (``spark.jars``), as ``make
        jvm-deps`` copied them to ``build/jvm/spark-lake/``."""
        folder = _servers.jvm_dir(self.jvm_dir_arg) / "spark-lake"
        jars = sorted(str(p) for p in folder.glob("*.jar"))
        if not jars:
            raise StackError(f"no jars in {folder}: run 'make jvm-deps'")
        return jars

    # ---------------------------------------------------------- connections
    def connections(self) -> dict[str, dict[str, Any]]:
        """Airflow connections (JSON form) that reach the running servers."""
        conns: dict[str, dict[str, Any]] = {
            "spark_default": {
                "conn_type": "spark",
                "host": "local[2]",
                "extra": {"deploy-mode": "client", "spark-binary": "spark-submit"},
            },
            "lakeops_pii_key": {
                "conn_type": "generic",
                "password": self.pii_key,
                "description": "HMAC key for PII pseudonymisation (local stack)",
            },
        }
        if self.moto_port is not None:
            conns["aws_default"] = {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": self.moto_endpoint, "region_name": LOCAL_REGION},
            }
        if self.snowflake_port is not None:
            conns["snowflake_default"] = {
                "conn_type": "snowflake",
                "login": "lakeops",
                "password": "lakeops-local",
                "schema": SNOWFLAKE_SCHEMA,
                "extra": {
                    "account": "lakeops",
                    "database": SNOWFLAKE_DATABASE,
                    "warehouse": "LOCAL_WH",
                    "role": "SYSADMIN",
                    "host": "localhost",
                    "port": self.snowflake_port,
                    # the throw-away CA has no OCSP responder
                    "insecure_mode": True,
                    "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
                },
            }
        conns.update(self.cdc_connections())
        if self.spark_master_port is not None:
            conns["spark_cluster"] = {
                "conn_type": "spark",
                "host": "spark://127.0.0.1",
                "port": self.spark_master_port,
                "extra": {"deploy-mode": "client", "spark-binary": "spark-submit"},
            }
        return conns

    def cdc_connections(self) -> dict[str, dict[str, Any]]:
        """The connections of the CDC servers only (Kafka, Kafka Connect, MariaDB, PostgreSQL)."""
        conns: dict[str, dict[str, Any]] = {}
        if self.kafka_bootstrap is not None:
            conns["kafka_default"] = {
                "conn_type": "kafka",
                "extra": {"bootstrap.servers": self.kafka_bootstrap},
            }
        if self.kafka_connect_url is not None:
            port = int(self.kafka_connect_url.rsplit(":", 1)[1])
            conns["kafka_connect_default"] = {
                "conn_type": "kafka_connect",
                "host": "127.0.0.1",
                "port": port,
                "schema": "http",
            }
        if self.mariadb is not None:
            db = self.mariadb
            mysql = {
                "conn_type": "mysql",
                "host": db.host,
                "port": db.port,
                "extra": {"client": "mysql-connector-python"},
            }
            conns["mysql_cdc"] = {**mysql, "login": db.cdc_user, "password": db.cdc_password}
            conns["mysql_default"] = {**mysql, "login": db.admin_user, "password": db.admin_password}
        if self.postgres is not None:
            db = self.postgres
            pg = {"conn_type": "postgres", "host": db.host, "port": db.port, "schema": "postgres"}
            conns["postgres_default"] = {**pg, "login": db.admin_user, "password": db.admin_password}
            conns["postgres_cdc"] = {**pg, "login": db.cdc_user, "password": db.cdc_password}
        return conns

    def cdc_env(self) -> dict[str, str]:
        """The variables of the CDC servers only: their connections, ``LAKEOPS_KAFKA_BOOTSTRAP`` and
        ``LAKEOPS_SPARK_KAFKA_JARS``. A second stack that runs only these servers exports this, so it
        never replaces the first stack's ``lakeops_pii_key``, ``spark_default`` or lake folder."""
        env = {f"AIRFLOW_CONN_{cid.upper()}": json.dumps(c) for cid, c in self.cdc_connections().items()}
        if self.kafka_bootstrap is not None:
            env["LAKEOPS_KAFKA_BOOTSTRAP"] = self.kafka_bootstrap
            env["LAKEOPS_SPARK_KAFKA_JARS"] = ",".join(self.spark_kafka_jars())
        return env

    def env(self) -> dict[str, str]:
        """Environment variables for a process that should use the stack (connections included)."""
        env = {f"AIRFLOW_CONN_{cid.upper()}": json.dumps(c) for cid, c in self.connections().items()}
        env.update(self._spark_env() if _has_pyspark() else {})
        env["LAKEOPS_LAKE_DIR"] = str(self.lake_dir)
        env["LAKEOPS_LAKE_URI"] = LAKE_URI
        env["LAKEOPS_DATA_DOCS_DIR"] = str(self.data_docs_dir)
        jars = _servers.jvm_dir(self.jvm_dir_arg) / "spark-lake"
        if any(jars.glob("*.jar")):
            env["LAKEOPS_SPARK_LAKE_JARS"] = ",".join(self.spark_lake_jars())
        if self.moto_port is not None:
            env["LAKEOPS_ALERTS_TOPIC_ARN"] = self.alerts_topic_arn
        env["LAKEOPS_HOME"] = str(self.home.resolve())
        env.update({k: v for k, v in self.cdc_env().items() if not k.startswith("AIRFLOW_CONN_")})
        bin_dir = _bin_dir()
        path = os.environ.get("PATH", "")
        if bin_dir not in path.split(os.pathsep):
            env["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir
        if self.snowflake_port is not None:
            env["REQUESTS_CA_BUNDLE"] = str(self.ca_bundle)
            env["SSL_CERT_FILE"] = str(self.ca_bundle)
        return env


def _has_pyspark() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyspark") is not None
