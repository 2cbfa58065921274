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
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_lakeops.operators.pii import HMAC_KEY_ENV_VAR, PiiLeakFailure, PiiMaskingOperator
from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.testing.stack import LAKE_BUCKET

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


# ------------------------------------------------------------------ s3:// on the local stack
LAKE_ACCESS_KEY = "AKIALAKEOPSPIIIT01"
LAKE_SECRET = "pii-it-lake-secret-Vd73-not-real"


@pytest.fixture
def lake(lakeops_stack, spark_env, monkeypatch):
    """``aws_default`` on the stack's moto with credentials of its own (moto takes any), so a test can
    look for the secret in argv, logs and XCom; the S3 client and a unique prefix in the lake bucket."""
    import uuid

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    conn = json.loads(lakeops_stack.env()["AIRFLOW_CONN_AWS_DEFAULT"])
    conn.update(login=LAKE_ACCESS_KEY, password=LAKE_SECRET)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    client = S3Hook(aws_conn_id="aws_default").get_conn()
    prefix = f"tests/pii-s3-{uuid.uuid4().hex[:8]}"
    return SimpleNamespace(s3=client, bucket=LAKE_BUCKET, prefix=prefix, root=f"s3://{LAKE_BUCKET}/{prefix}")


def _upload_landing(lake, tmp_path, day: str, rows: int, seed: int) -> tuple[str, list[dict]]:
    local = tmp_path / f"landing-{day}"
    write_events(local, rows, day=day, seed=seed)
    raw = []
    for path in sorted(local.glob("*.jsonl")):
        raw += [json.loads(line) for line in path.read_text().splitlines()]
        lake.s3.upload_file(str(path), lake.bucket, f"{lake.prefix}/landing/dt={day}/{path.name}")
    return f"{lake.root}/landing/dt={day}/", raw


def _keys(lake, sub: str) -> list[str]:
    pages = lake.s3.get_paginator("list_objects_v2").paginate(
        Bucket=lake.bucket, Prefix=f"{lake.prefix}/{sub}/"
    )
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _delta_rows(uri: str) -> list[dict]:
    from deltalake import DeltaTable

    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

    table = DeltaTable(uri, storage_options=delta_storage_options(aws_lake_access("aws_default")))
    return table.to_pyarrow_table().to_pylist()


def _mask(input_path: str, output_path: str, **kw) -> PiiMaskingOperator:
    values = {
        "task_id": "mask",
        "input_path": input_path,
        "input_format": "json",
        "output_path": output_path,
        "policy": str(POLICY_FILE),
        "partition_by": "dt",
        "hmac_key_conn_id": "pii_it_key",
        "spark_conf": SMALL_SPARK,
        **kw,
    }
    return PiiMaskingOperator(**values)


SMALL_SPARK = {"spark.ui.enabled": "false", "spark.databricks.delta.snapshotPartitions": "2"}


def test_s3_delta_rerun_then_parquet_and_refusals(lake, tmp_path, popen_calls, caplog, capfd):
    day30, raw30 = _upload_landing(lake, tmp_path, "2025-10-30", 150, seed=3)
    day31, raw31 = _upload_landing(lake, tmp_path, "2025-10-31", 200, seed=4)
    delta_out = f"{lake.root}/silver/delta"
    caplog.set_level("INFO")

    first = _mask(day30, delta_out, table_format="delta", partition_values={"dt": "2025-10-30"})
    report = first.execute(CONTEXT)
    assert (report["table_format"], report["write_mode"], report["version"]) == ("delta", "create", 0)
    second = _mask(day31, delta_out, table_format="delta", partition_values={"dt": "2025-10-31"})
    assert second.execute(CONTEXT)["version"] == 1
    rows = _delta_rows(delta_out)
    assert len(rows) == 350
    emails = {r["email"] for r in rows if r["dt"] == "2025-10-31"} - {None}
    assert emails == {_token(r["email"]) for r in raw31 if r["email"]}
    rerun = second.execute(CONTEXT)  # same end state, one more version
    assert (rerun["write_mode"], rerun["version"]) == ("replace_where", 2)
    assert sorted(map(json.dumps, _delta_rows(delta_out))) == sorted(map(json.dumps, rows))

    parquet_out = f"{lake.root}/silver/parquet"
    report = _mask(day31, parquet_out, partition_values={"dt": "2025-10-31"}).execute(CONTEXT)
    assert (report["table_format"], report["version"], report["rows_out"]) == ("parquet", None, 200)
    parquet_keys = _keys(lake, "silver/parquet")
    assert any(k.startswith(f"{lake.prefix}/silver/parquet/dt=2025-10-31/part-") for k in parquet_keys)

    # the secret: in the spark-submit environment, never in argv, logs, XCom or lineage
    submits = [c for c in popen_calls if c.argv and c.argv[0] == "spark-submit"]
    assert len(submits) == 4
    assert all(c.env["AWS_SECRET_ACCESS_KEY"] == LAKE_SECRET for c in submits)
    assert any("spark.hadoop.fs.s3a.endpoint=" in a for a in submits[0].argv)
    out = capfd.readouterr()
    logs = caplog.text + out.out + out.err
    lineage = first.get_openlineage_facets_on_complete(None)
    assert (lineage.outputs[0].namespace, lineage.outputs[0].name) == (
        f"s3://{LAKE_BUCKET}",
        f"{lake.prefix}/silver/delta",
    )
    assert lineage.inputs[0].name == f"{lake.prefix}/landing"  # the table root, not dt=...
    from openlineage.client.serde import Serde

    texts = {
        "argv": " ".join(a for c in submits for a in c.argv),
        "log": logs,
        "xcom": json.dumps(report) + json.dumps(rerun),
        "lineage": Serde.to_json(lineage.outputs[0]),
    }
    for where, text in texts.items():
        assert LAKE_SECRET not in text, where
        assert KEY not in text, where

    # refusals: a clear error, nothing written (the bucket is listed before and after)
    delta_keys = _keys(lake, "silver/delta")
    with pytest.raises(AirflowFailException, match="output_error: .*no _delta_log"):
        _mask(day30, parquet_out, table_format="delta", partition_values={"dt": "2025-10-30"}).execute(
            CONTEXT
        )
    with pytest.raises(
        AirflowFailException, match=r"output_error: .*partitioned by \['dt'\], this run by nothing"
    ):
        _mask(day30, delta_out, table_format="delta", partition_by=None).execute(CONTEXT)
    with pytest.raises(AirflowFailException, match="output_error: .*is a Delta table"):
        _mask(day30, delta_out, partition_values={"dt": "2025-10-30"}).execute(CONTEXT)
    assert _keys(lake, "silver/parquet") == parquet_keys
    assert _keys(lake, "silver/delta") == delta_keys


def test_s3_leak_guard_commits_nothing(lake, tmp_path):
    day31, _ = _upload_landing(lake, tmp_path, "2025-10-31", 100, seed=8)
    delta_out = f"{lake.root}/silver/delta"
    _mask(day31, delta_out, table_format="delta", partition_values={"dt": "2025-10-31"}).execute(CONTEXT)
    before = _keys(lake, "silver/delta")
    leaky = {"mode": "passthrough", "columns": {"ssn": "ssn"}}  # e-mails and phones left in clear
    with pytest.raises(PiiLeakFailure):
        _mask(
            day31, delta_out, policy=leaky, table_format="delta", partition_values={"dt": "2025-10-31"}
        ).execute(CONTEXT)
    assert _keys(lake, "silver/delta") == before


@pytest.mark.cluster
def test_standalone_cluster_s3_delta(lake, tmp_path, lakeops_spark_cluster):
    """Executors on the cluster's worker read and write S3 with the credentials of the job's Hadoop
    configuration (no secret in --conf)."""
    day31, _ = _upload_landing(lake, tmp_path, "2025-10-31", 300, seed=9)
    delta_out = f"{lake.root}/silver/cluster-delta"
    report = _mask(
        day31,
        delta_out,
        table_format="delta",
        partition_values={"dt": "2025-10-31"},
        spark_conn_id="spark_cluster",
        spark_conf={**SMALL_SPARK, "spark.driver.host": "127.0.0.1", "spark.cores.max": "2"},
    ).execute(CONTEXT)
    assert report["spark"]["master"] == lakeops_spark_cluster.spark_master_url
    assert (report["rows_out"], report["version"]) == (300, 0)
    assert len(_delta_rows(delta_out)) == 300
