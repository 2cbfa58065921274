"""The embedded local stack: servers answer, connections work with the stock hooks, nothing is left
running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from airflow_provider_lakeops.testing.stack import LocalStack, StackError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): read its state
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_stack_connections_reach_moto_and_fakesnow(lakeops_stack):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    s3 = S3Hook(aws_conn_id="aws_default")
    s3.create_bucket("stack-check")
    s3.load_string("hello", "k/x.txt", bucket_name="stack-check", replace=True)
    assert s3.read_key("k/x.txt", bucket_name="stack-check") == "hello"

    hook = SnowflakeHook(snowflake_conn_id="snowflake_default")
    assert hook.get_first("select current_database(), 41 + 1") == ("LAKEOPS", 42)
    # one shared database across connections (the stack is one server process)
    hook.run("create or replace table stack_check (a int)")
    hook.run("insert into stack_check values (1), (2)")
    assert SnowflakeHook().get_first("select count(*) from stack_check") == (2,)


def test_stack_stops_every_child(tmp_path):
    stack = LocalStack(tmp_path / "s", snowflake=False)
    with stack:
        pids = [c.proc.pid for c in stack._children if c.proc]
        assert pids
        assert all(_alive(p) for p in pids)
    time.sleep(0.2)
    assert not any(_alive(p) for p in pids)
    stack.stop()  # idempotent


def test_port_in_use_is_reported_and_nothing_is_left_running(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = LocalStack(tmp_path / "s", snowflake=False, moto=False)
        with pytest.raises(StackError, match=f"port {port} on 127.0.0.1 is already in use"):
            stack._start_moto(port)
        assert stack._children == []


def test_start_failure_is_reported_with_the_log_and_cleaned_up(tmp_path, monkeypatch):
    stack = LocalStack(tmp_path / "s", snowflake=False, start_timeout=10)
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(StackError, match="moto exited during start-up"):
        stack.start()
    assert stack._children == []
    assert stack.moto_port is None


def test_children_die_with_a_killed_parent(tmp_path):
    """PR_SET_PDEATHSIG: a SIGKILLed parent leaves no orphan server behind."""
    code = (
        "import sys, time; from airflow_provider_lakeops.testing.stack import LocalStack;"
        f"s = LocalStack({str(tmp_path / 'p')!r}, snowflake=False).start();"
        "print(s._children[0].proc.pid, flush=True); time.sleep(120)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        child_pid = int(parent.stdout.readline())
        assert _alive(child_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(child_pid), "the moto server outlived its killed parent"
    finally:
        parent.kill()


@pytest.mark.cluster
def test_spark_cluster_runs_a_job(lakeops_spark_cluster, tmp_path):
    job = tmp_path / "job.py"
    job.write_text(
        "from pyspark.sql import SparkSession\n"
        "s = SparkSession.builder.getOrCreate()\n"
        "print('ROWS', s.range(100000).selectExpr('sum(id)').first()[0])\n"
        "print('MASTER', s.sparkContext.master)\n"
    )
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    hook = SparkSubmitHook(conn_id="spark_cluster", name="lakeops-stack-check")
    hook.submit(str(job))
    assert lakeops_spark_cluster.spark_master_url.startswith("spark://127.0.0.1:")
    assert hook._connection["master"] == lakeops_spark_cluster.spark_master_url


def test_cli_runs_a_command_on_the_stack_and_stops_it(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_lakeops.testing.cli",
            "run",
            "--home",
            str(tmp_path),
            "--no-snowflake",
            "--",
            sys.executable,
            "-c",
            "import os, json; "
            "print(json.loads(os.environ['AIRFLOW_CONN_AWS_DEFAULT'])['extra']['endpoint_url'])",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    endpoint = out.stdout.strip().splitlines()[-1]
    assert endpoint.startswith("http://127.0.0.1:")
    port = int(endpoint.rsplit(":", 1)[1])
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free again: the server was stopped


# ------------------------------------------------------------------ the CDC servers (real ones)
@pytest.mark.services
def test_cdc_servers_answer_with_their_connections(lakeops_cdc):
    import json
    import urllib.request

    from airflow.sdk import BaseHook

    stack = lakeops_cdc
    with urllib.request.urlopen(f"{stack.kafka_connect_url}/connector-plugins", timeout=10) as resp:
        plugins = {p["class"] for p in json.load(resp)}
    assert {
        "io.debezium.connector.postgresql.PostgresConnector",
        "io.debezium.connector.mysql.MySqlConnector",
    } <= plugins
    assert stack.postgres.execute("SHOW wal_level") == [("logical",)]
    assert stack.mariadb.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id") == [
        (1, "ROW", "FULL", 223344)
    ]
    conn = BaseHook.get_connection("kafka_default")
    assert conn.extra_dejson["bootstrap.servers"] == stack.kafka_bootstrap
    assert BaseHook.get_connection("postgres_cdc").login == "dbz"
    from confluent_kafka.admin import AdminClient

    topics = AdminClient({"bootstrap.servers": stack.kafka_bootstrap}).list_topics(timeout=10).topics
    assert {"_connect-configs", "_connect-offsets", "_connect-status"} <= set(topics)
    assert all(jar.endswith(".jar") for jar in stack.spark_kafka_jars())


def test_missing_jvm_jars_are_a_clear_error_and_nothing_is_left(tmp_path):
    stack = LocalStack(
        tmp_path / "home", moto=False, snowflake=False, kafka=True, jvm_dir=tmp_path / "nojars"
    )
    with pytest.raises(StackError, match="the Kafka jars are missing from .*run 'make jvm-deps'"):
        stack.start()
    assert stack._children == []


@pytest.mark.services
def test_database_servers_stop_and_free_their_ports(tmp_path):
    stack = LocalStack(tmp_path / "home", moto=False, snowflake=False, mariadb=True, postgres=True)
    stack.start()
    ports = [stack.mariadb.port, stack.postgres.port]
    pids = [c.proc.pid for c in stack._children]
    started = time.monotonic()
    stack.stop()
    assert time.monotonic() - started < 15  # PostgreSQL gets a fast shutdown, not a wait for clients
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
    for port in ports:  # nothing listens any more (TIME_WAIT connections may stay: SO_REUSEADDR)
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
    assert not (tmp_path / "home" / "servers" / "postgres").exists()  # the cluster folder is removed


@pytest.mark.services
def test_the_cdc_servers_leave_the_session_stacks_settings_alone(lakeops_cdc):
    """Regression: the CDC stack once exported its own lakeops_pii_key over the session stack's, and
    a later DAG test masked with a key its assertions did not know. The servers' fixtures export
    ``cdc_env()``: their own connections and variables, nothing of a full stack."""
    exported = lakeops_cdc.cdc_env()
    assert set(exported) == {
        "AIRFLOW_CONN_KAFKA_DEFAULT", "AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT", "AIRFLOW_CONN_MYSQL_CDC",
        "AIRFLOW_CONN_MYSQL_DEFAULT", "AIRFLOW_CONN_POSTGRES_DEFAULT", "AIRFLOW_CONN_POSTGRES_CDC",
        "LAKEOPS_KAFKA_BOOTSTRAP", "LAKEOPS_SPARK_KAFKA_JARS",
    }  # fmt: skip
    for key, value in exported.items():
        assert os.environ[key] == value
    assert "AIRFLOW_CONN_LAKEOPS_PII_KEY" in lakeops_cdc.env()  # a full stack's env() still has it
