"""Delta maintenance on the local stack's moto S3 with real Spark: the job in-process on the shared
``lake_spark`` session (every check and refusal, nothing changed on refusal: the bucket is listed),
and ``DeltaMaintenanceOperator`` end to end through the real ``spark-submit``."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_lakeops.operators.delta_maintenance import DeltaMaintenanceOperator
from airflow_provider_lakeops.spark_apps.delta_maintenance_job import (
    MaintenanceArgumentError,
    MaintenanceOptions,
    NotDeltaTableError,
    RetentionRefusedError,
    run,
)
from airflow_provider_lakeops.testing.stack import LAKE_BUCKET, LAKE_URI

pytestmark = [pytest.mark.integration, pytest.mark.spark]

CONTEXT = {"ti": SimpleNamespace(dag_id="delta_it", task_id="maintain")}
SMALL = {"spark.ui.enabled": "false", "spark.databricks.delta.snapshotPartitions": "2"}


@pytest.fixture
def s3(lakeops_stack):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id="aws_default").get_conn()


def _keys(s3, uri: str) -> list[str]:
    prefix = uri.removeprefix(f"s3://{LAKE_BUCKET}/").rstrip("/") + "/"
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=LAKE_BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _data_files(s3, uri: str) -> list[str]:
    return [k for k in _keys(s3, uri) if k.endswith(".parquet")]


def _small_files_table(spark, uri: str, retention: str | None = None) -> None:
    """Two partitions, 2 x 5 files per partition (two appends of 5 tasks)."""
    spark.conf.set("spark.databricks.delta.snapshotPartitions", "2")
    for start in (0, 100):
        df = spark.range(start, start + 100, numPartitions=5).selectExpr(
            "id", "concat('v', id) as v", "cast(id % 2 as string) as dt"
        )
        df.write.format("delta").mode("append").partitionBy("dt").save(uri)
    if retention:
        spark.sql(
            f"ALTER TABLE delta.`{uri}` "
            f"SET TBLPROPERTIES ('delta.deletedFileRetentionDuration' = '{retention}')"
        )


def _uri(name: str) -> str:
    return f"{LAKE_URI}/tests/delta-maint-{name}-{uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------ the job, in-process on S3
def test_optimize_vacuum_and_rerun_on_s3(lake_spark, s3):
    uri = _uri("ok")
    _small_files_table(lake_spark, uri, retention="interval 0 hours")
    assert len(_data_files(s3, uri)) == 20

    report = run(lake_spark, MaintenanceOptions(table=uri, optimize=True, vacuum=True, retention_hours=0))
    assert report["version_before"] == 2
    opt = report["optimize"]
    assert (opt["files_removed"], opt["files_added"], opt["partitions_optimized"]) == (20, 2, 2)
    assert opt["changed"] is True
    assert report["vacuum"] == {
        "ran": True,
        "retention_hours": 0.0,
        "files_deleted": 20,
        "table_retention_hours": 0.0,
    }
    assert report["version_after"] == 5  # OPTIMIZE, VACUUM START, VACUUM END
    assert len(_data_files(s3, uri)) == 2
    assert lake_spark.read.format("delta").load(uri).count() == 200

    again = run(lake_spark, MaintenanceOptions(table=uri, optimize=True))
    assert again["optimize"]["changed"] is False
    assert (again["optimize"]["files_added"], again["optimize"]["files_removed"]) == (0, 0)
    assert "already compacted" in again["optimize"]["message"]
    assert again["version_before"] == again["version_after"] == 5


def test_optimize_where_limits_to_partitions(lake_spark, s3):
    uri = _uri("where")
    _small_files_table(lake_spark, uri)
    report = run(lake_spark, MaintenanceOptions(table=uri, optimize_where="dt = '1'"))
    assert (report["optimize"]["files_removed"], report["optimize"]["partitions_optimized"]) == (10, 1)
    zorder = run(lake_spark, MaintenanceOptions(table=uri, optimize_where="dt = '0'", zorder_by=["v"]))
    assert zorder["optimize"]["files_removed"] == 10
    assert lake_spark.read.format("delta").load(uri).count() == 200


@pytest.mark.parametrize(
    ("options", "error", "fragment"),
    [
        pytest.param(
            {"vacuum": True, "retention_hours": 1},
            RetentionRefusedError,
            "retention_hours=1 is shorter than the table's delta.deletedFileRetentionDuration of 168 hours",
            id="retention-below-table",
        ),
        pytest.param(
            {"optimize_where": "id = 3"}, MaintenanceArgumentError, "non-partition column", id="where-data"
        ),
        pytest.param({"zorder_by": ["dt"]}, MaintenanceArgumentError, "partition columns", id="zorder-part"),
        pytest.param({"zorder_by": ["nope"]}, MaintenanceArgumentError, "not columns", id="zorder-unknown"),
        pytest.param(
            {"optimize": False, "vacuum": False}, MaintenanceArgumentError, "nothing to do", id="nothing"
        ),
    ],
)
def test_refusals_change_nothing(lake_spark, s3, options, error, fragment):
    uri = _uri("refuse")
    _small_files_table(lake_spark, uri)
    before = _keys(s3, uri)
    with pytest.raises(error, match=fragment):
        # with vacuum, OPTIMIZE would run first: the retention guard comes before any change
        run(lake_spark, MaintenanceOptions(table=uri, **options))
    assert _keys(s3, uri) == before


def test_table_retention_is_the_default_and_property_formats(lake_spark, s3):
    uri = _uri("ret")
    _small_files_table(lake_spark, uri, retention="interval 2 days")
    with pytest.raises(RetentionRefusedError, match="of 48 hours"):
        run(lake_spark, MaintenanceOptions(table=uri, optimize=False, vacuum=True, retention_hours=47.5))
    report = run(lake_spark, MaintenanceOptions(table=uri, optimize=False, vacuum=True))
    assert report["vacuum"]["retention_hours"] == report["vacuum"]["table_retention_hours"] == 48.0
    assert report["vacuum"]["files_deleted"] == 0  # nothing is older than 48 h


def test_not_a_delta_table_is_refused(lake_spark, s3):
    uri = _uri("parquet")
    lake_spark.range(10).write.parquet(uri)
    before = _keys(s3, uri)
    with pytest.raises(NotDeltaTableError, match="not a Delta table"):
        run(lake_spark, MaintenanceOptions(table=uri, vacuum=True))
    with pytest.raises(NotDeltaTableError):
        run(lake_spark, MaintenanceOptions(table=_uri("missing")))
    assert _keys(s3, uri) == before


# ------------------------------------------------------------- the operator, real spark-submit
@pytest.fixture
def submit_env(monkeypatch, lakeops_stack):
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)


def test_operator_optimizes_and_vacuums_through_spark_submit(lake_spark, s3, submit_env, capfd):
    uri = _uri("op")
    _small_files_table(lake_spark, uri, retention="interval 0 hours")
    op = DeltaMaintenanceOperator(
        task_id="maintain", table_path=uri, vacuum=True, retention_hours="0", spark_conf=SMALL
    )
    report = op.execute(CONTEXT)
    assert report["status"] == "ok"
    assert (report["version_before"], report["version_after"]) == (2, 5)
    assert (report["optimize"]["files_removed"], report["optimize"]["files_added"]) == (20, 2)
    assert report["vacuum"]["files_deleted"] == 20
    assert len(_data_files(s3, uri)) == 2
    out = capfd.readouterr()
    assert "lakeops-delta-maintenance: ok version 2 -> 5" in out.out + out.err
    argv = " ".join(str(v) for v in op._hook._build_spark_submit_command("x.py"))
    assert "fs.s3a.endpoint" in argv
    assert "secret" not in argv.lower()  # credentials travel in the environment only

    lineage = op.get_openlineage_facets_on_complete(None)
    names = {(d.namespace, d.name) for d in [*lineage.inputs, *lineage.outputs]}
    assert names == {(f"s3://{LAKE_BUCKET}", uri.removeprefix(f"s3://{LAKE_BUCKET}/"))}


def test_operator_refusal_fails_without_retry(lake_spark, s3, submit_env):
    uri = _uri("op-refuse")
    _small_files_table(lake_spark, uri)
    before = _keys(s3, uri)
    op = DeltaMaintenanceOperator(
        task_id="maintain", table_path=uri, vacuum=True, retention_hours=24, spark_conf=SMALL
    )
    with pytest.raises(AirflowFailException, match="retention_refused: VACUUM refused: retention_hours=24"):
        op.execute(CONTEXT)
    assert _keys(s3, uri) == before
