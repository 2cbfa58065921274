"""The Spark side of :mod:`airflow_provider_lakeops.utils.lake`: credentials into the Hadoop
configuration, table-format readers and writers, for every lakeops Spark app.

Runs on the Spark driver (stdlib + pyspark, imported lazily). ``spark-submit`` receives the AWS
credentials in its environment only (never ``--conf``); :func:`apply_s3a_credentials` copies them
into the session's Hadoop configuration, which Spark ships to the executors inside each job, so
executors on another host (a standalone or YARN cluster) read S3 without their own credentials.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["apply_s3a_credentials", "read_table", "size_delta_state", "spark_path", "write_report_file"]

_SNAPSHOT_PARTITIONS = "spark.databricks.delta.snapshotPartitions"
_SIMPLE = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
_TEMPORARY = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"


def apply_s3a_credentials(spark: Any, environ: Mapping[str, str] | None = None) -> bool:
    """Copy ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (/ ``AWS_SESSION_TOKEN``) from the
    environment into the session's Hadoop configuration. Returns whether credentials were found;
    without them S3A keeps its default provider chain (instance profile, web identity, ...).
    """
    env = os.environ if environ is None else environ
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return False
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    conf.set("fs.s3a.access.key", key)
    conf.set("fs.s3a.secret.key", secret)
    token = env.get("AWS_SESSION_TOKEN")
    if token:
        conf.set("fs.s3a.session.token", token)
    conf.set("fs.s3a.aws.credentials.provider", _TEMPORARY if token else _SIMPLE)
    return True


def spark_path(uri: str) -> str:
    """The path Spark reads for a lake URI: ``s3a://``/``s3n://`` written as ``s3://`` (mapped to S3A
    by the settings lakeops passes), so Spark, delta-rs, Glue and lineage name it the same way."""
    for scheme in ("s3a://", "s3n://"):
        if uri.startswith(scheme):
            return "s3://" + uri[len(scheme) :]
    return uri


def read_table(spark: Any, uri: str, table_format: str) -> Any:
    """Read a Delta table or a Parquet folder (Hive partitions discovered) at ``uri``."""
    reader = spark.read.format("delta") if table_format == "delta" else spark.read.format("parquet")
    return reader.load(spark_path(uri))


def size_delta_state(spark: Any) -> None:
    """Read the Delta log with ``min(50, 2 x default parallelism)`` tasks unless the submit sets
    ``spark.databricks.delta.snapshotPartitions``: Delta's default of 50 is sized for big clusters and
    costs a whole stage of tiny tasks per table version on a small one."""
    sc: Any = spark.sparkContext
    if not sc.getConf().contains(_SNAPSHOT_PARTITIONS):
        spark.conf.set(_SNAPSHOT_PARTITIONS, str(min(50, max(2, 2 * int(sc.defaultParallelism)))))


def write_report_file(report: dict[str, Any], local: str | None) -> None:
    """Write an app's run report (JSON) to ``local`` atomically (a temporary file, then a rename), so
    the operator never reads half a report; nothing when ``local`` is empty."""
    if not local:
        return
    path = Path(local)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True, default=str), encoding="utf-8")
    tmp.replace(path)
