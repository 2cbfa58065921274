"""Spark writes ``s3://`` (S3A) Delta and Parquet on the local S3; delta-rs reads the Delta table back."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_lakeops.testing.stack import LAKE_URI
from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

pytestmark = pytest.mark.integration


def test_spark_writes_delta_and_parquet_to_s3(lake_spark):
    root = f"{LAKE_URI}/tests/lake-spark-{uuid.uuid4().hex[:8]}"
    df = lake_spark.range(100).selectExpr("id", "cast(id % 2 as string) as dt")
    df.write.mode("overwrite").partitionBy("dt").parquet(f"{root}/parquet")
    assert lake_spark.read.parquet(f"{root}/parquet").count() == 100
    df.write.format("delta").mode("overwrite").partitionBy("dt").save(f"{root}/delta")
    # atomic partition replacement: only dt=1 changes
    lake_spark.range(3).selectExpr("id", "'1' as dt").write.format("delta").mode("overwrite").option(
        "replaceWhere", "dt = '1'"
    ).save(f"{root}/delta")

    from deltalake import DeltaTable

    table = DeltaTable(f"{root}/delta", storage_options=delta_storage_options(aws_lake_access("aws_default")))
    assert table.version() == 1
    assert table.metadata().partition_columns == ["dt"]
    rows = table.to_pyarrow_table().to_pylist()
    assert sorted((r["dt"], r["id"]) for r in rows if r["dt"] == "1") == [("1", 0), ("1", 1), ("1", 2)]
    assert len([r for r in rows if r["dt"] == "0"]) == 50
