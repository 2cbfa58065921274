"""PiiMaskingOperator end to end through the real ``spark-submit``: on ``local[*]`` and on the
local Spark standalone cluster. The HMAC key must reach the driver and nothing else."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pyarrow.dataset as ds
import pytest

from airflow_provider_lakeops.operators.pii import HMAC_KEY_ENV_VAR, PiiMaskingOperator
from airflow_provider_lakeops.sample_data import write_events

pytestmark = [pytest.mark.integration, pytest.mark.spark]

REPO = Path(__file__).resolve().parents[2]
POLICY_FILE = REPO / "example_dags" / "policies" / "customer_events_pii.yaml"
KEY = "integration-hmac-key-7Hq2-not-a-real-secret-0123456789"
CONTEXT = {"ti": SimpleNamespace(dag_id="pii_it", task_id="mask")}


@pytest.fixture
def spark_env(monkeypatch):
    """spark-submit on PATH, Spark on loopback, and the key connection (as the local stack sets them)."""
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    monkeypatch.setenv("AIRFLOW_CONN_PII_IT_KEY", json.dumps({"conn_type": "generic", "password": KEY}))


@pytest.fixture
def popen_calls(monkeypatch):
    """Record the argv and environment of every process started (the real process still runs)."""
    calls = []
    real = subprocess.Popen

    def spy(args, *a, **kw):
        calls.append(SimpleNamespace(argv=list(args), env=dict(kw.get("env") or {})))
        return real(args, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", spy)
    return calls


def _token(value: str) -> str:
    return hmac.new(KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def test_local_star_masks_partitions_and_keeps_the_key_secret(
    tmp_path, spark_env, popen_calls, caplog, capfd
):
    landing = tmp_path / "landing" / "customer_events" / "dt=2025-10-31"
    write_events(landing, 400, seed=5)
    raw = [json.loads(line) for f in landing.glob("*.jsonl") for line in f.read_text().splitlines()]
    silver = tmp_path / "silver" / "customer_behavior"
    op = PiiMaskingOperator(
        task_id="mask",
        input_path=f"{landing}/",
        input_format="json",
        output_path=str(silver),
        policy=str(POLICY_FILE),
        partition_by="dt",
        derive_columns={"dt": "event_date"},
        hmac_key_conn_id="pii_it_key",
        spark_conf={"spark.ui.enabled": "false"},
    )
    caplog.set_level("INFO")
    report = op.execute(CONTEXT)

    assert report["status"] == "ok"
    assert report["spark"]["master"] == "local[*]"
    assert report["rows_in"] == report["rows_out"] == 400
    assert report["partitions_written"] == ["dt=2025-10-31"]
    table = ds.dataset(str(silver), format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 400
    emails = set(table.column("email").to_pylist())
    assert emails == {_token(r["email"]) for r in raw if r["email"]} | ({None} if None in emails else set())
    assert not set(table.column("ssn").to_pylist()) & {r["ssn"] for r in raw}

    submits = [c for c in popen_calls if c.argv and c.argv[0] == "spark-submit"]
    assert len(submits) == 1
    argv = submits[0].argv
    assert argv[1:3] == ["--master", "local[*]"]
    assert "--py-files" in argv
    assert submits[0].env[HMAC_KEY_ENV_VAR] == KEY  # the key travels in the child's environment only
    out = capfd.readouterr()
    logs = caplog.text + out.out + out.err  # Airflow 3 logs through structlog to stdout
    assert "Spark-Submit cmd" in logs  # the task log (hook and job output) is really captured here
    assert "lakeops-pii-masking: ok rows_in=400" in logs
    for where, text in {"argv": " ".join(argv), "log": logs, "xcom": json.dumps(report)}.items():
        assert KEY not in text, where

    lineage = op.get_openlineage_facets_on_complete(None)
    from openlineage.client.serde import Serde

    serialized = Serde.to_json(lineage.outputs[0]) + Serde.to_json(lineage.inputs[0])
    assert KEY not in serialized
    fields = lineage.outputs[0].facets["columnLineage"].fields
    assert fields["email"].inputFields[0].transformations[0].masking is True
    assert fields["event_id"].inputFields[0].transformations[0].masking is False


@pytest.mark.cluster
def test_standalone_cluster_parquet_input(tmp_path, spark_env, lakeops_spark_cluster):
    src = tmp_path / "bronze"
    write_events(src, 300, fmt="parquet", seed=9)
    silver = tmp_path / "silver"
    report = PiiMaskingOperator(
        task_id="mask",
        input_path=str(src),
        output_path=str(silver),
        policy=str(POLICY_FILE),
        partition_by=["dt"],
        partition_values={"dt": "2025-10-31"},
        spark_conn_id="spark_cluster",
        hmac_key_conn_id="pii_it_key",
        spark_conf={"spark.ui.enabled": "false", "spark.driver.host": "127.0.0.1", "spark.cores.max": "2"},
    ).execute(CONTEXT)

    assert report["status"] == "ok"
    assert report["spark"]["master"] == lakeops_spark_cluster.spark_master_url
    assert report["rows_out"] == 300
    assert report["partitions_written"] == ["dt=2025-10-31"]
    table = ds.dataset(str(silver), format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 300
    assert set(table.column("full_name").to_pylist()) <= {f"{c}****" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZØÓÉ"}
    assert all(ip.endswith(("***.***", ":****")) for ip in table.column("ip_address").to_pylist() if ip)
