"""SnowflakeMergeOperator with a Delta source: a partitioned table Spark wrote to the local S3 (moto) with
``replaceWhere`` (its folder keeps the replaced files until VACUUM), read through its log by delta-rs and
merged on the fakesnow server; bad inputs fail before anything is written."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_lakeops.exceptions import MergeError
from airflow_provider_lakeops.operators.snowflake import SnowflakeMergeOperator
from airflow_provider_lakeops.testing.stack import LAKE_URI
from airflow_provider_lakeops.utils.storage import list_data_files
from tests.integration._snowflake import q

pytestmark = pytest.mark.integration


def ts(day: int, hour: int = 0) -> datetime:
    return datetime(2025, 10, day, hour, tzinfo=timezone.utc)


@pytest.fixture
def target() -> str:
    return f"DL_{uuid.uuid4().hex[:8].upper()}"


def merge(**kwargs: Any) -> dict[str, Any]:
    op = SnowflakeMergeOperator(
        task_id="merge_delta", keys=["customer_id", "event_id"], ordering_column="updated_at", **kwargs
    )
    return {"result": op.execute(context={"run_id": f"test-{uuid.uuid4().hex}"}), "op": op}


def table_exists(sf: Any, target: str) -> bool:
    rows = q(sf, f"SELECT COUNT(*) FROM LAKEOPS.INFORMATION_SCHEMA.TABLES WHERE table_name = '{target}'")
    return rows == [(1,)]


def spark_rows(spark: Any, rows: list[tuple[str, int, float, int, str]]) -> Any:
    frame = spark.createDataFrame(
        [(e, c, a, ts(d), dt) for e, c, a, d, dt in rows],
        "event_id string, customer_id long, amount double, updated_at timestamp, dt string",
    )
    return frame


@pytest.fixture(scope="module")
def silver(spark, lakeops_stack) -> str:
    """``s3://lakeops-lake/tests/<id>/silver/customer_behavior``: dt=2025-10-30 and dt=2025-10-31 written,
    then dt=2025-10-31 replaced (fewer rows, new values) with replaceWhere: version 1. (The S3A settings
    of ``lake_spark``, applied once for the module.)"""
    from airflow_provider_lakeops.spark_apps.lake_session import apply_s3a_credentials
    from airflow_provider_lakeops.utils.lake import spark_lake_settings

    settings = spark_lake_settings(paths=[LAKE_URI], table_format="delta", jars="")
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in settings.conf.items():
        if key.startswith("spark.hadoop."):
            hadoop.set(key[len("spark.hadoop.") :], value)
    apply_s3a_credentials(spark, settings.env)
    root = f"{LAKE_URI}/tests/merge-delta-{uuid.uuid4().hex[:8]}/silver/customer_behavior"
    first = spark_rows(
        spark,
        [
            ("evt-1", 1, 1.0, 30, "2025-10-30"),
            ("evt-2", 2, 2.0, 30, "2025-10-30"),
            ("evt-3", 0, 3.0, 31, "2025-10-31"),
            ("evt-4", 1, 4.0, 31, "2025-10-31"),
            ("evt-5", 2, 5.0, 31, "2025-10-31"),
        ],
    )
    first.write.format("delta").mode("overwrite").partitionBy("dt").save(root)
    replaced = spark_rows(spark, [("evt-3", 0, 30.0, 31, "2025-10-31"), ("evt-6", 0, 6.0, 31, "2025-10-31")])
    replaced.write.format("delta").mode("overwrite").option("replaceWhere", "dt = '2025-10-31'").save(root)
    return root


def test_a_replaced_partition_merges_only_the_rows_of_the_log_and_reruns_to_zero(sf, silver, target):
    # the folder still holds the replaced files: reading its Parquet files would merge 5 rows of the day
    stale = [f for f in list_data_files(f"{silver}/dt=2025-10-31/") if f.relative.endswith(".parquet")]
    assert len(stale) >= 2
    run = merge(
        source_delta=silver,
        source_partitions={"dt": "2025-10-31"},
        target_table=target,
        create_target_if_missing=True,
    )
    result = run["result"]
    assert (result["inserted"], result["updated"], result["deleted"]) == (2, 0, 0)
    assert result["delta_version"] == 1
    assert q(sf, f"SELECT event_id, amount, dt FROM {target} ORDER BY 1") == [
        ("evt-3", 30.0, "2025-10-31"),
        ("evt-6", 6.0, "2025-10-31"),
    ]
    lineage = run["op"].get_openlineage_facets_on_complete(None)
    (source,) = lineage.inputs
    assert (source.namespace, source.name) == ("s3://lakeops-lake", silver.removeprefix("s3://lakeops-lake/"))
    assert source.facets["version"].datasetVersion == "1"
    assert {f.name for f in source.facets["schema"].fields} >= {"event_id", "dt", "updated_at"}
    assert lineage.outputs[0].facets["columnLineage"].fields["DT"].inputFields[0].field == "dt"

    again = merge(source_delta=silver, source_partitions={"dt": "2025-10-31"}, target_table=target)["result"]
    assert (again["inserted"], again["updated"], again["deleted"]) == (0, 0, 0)


def test_the_whole_table_an_old_version_and_templated_arguments(sf, silver, target):
    op = SnowflakeMergeOperator(
        task_id="merge_delta",
        keys=["customer_id", "event_id"],
        ordering_column="updated_at",
        source_delta=silver.replace("s3://", "s3a://"),
        source_partitions={"dt": "{{ ds }}"},
        source_version="{{ params.version }}",
        target_table=target,
        create_target_if_missing=True,
    )
    op.render_template_fields({"ds": "2025-10-31", "params": {"version": "0"}})
    assert (op.source_partitions, op.source_version) == ({"dt": "2025-10-31"}, "0")
    result = op.execute(context={"run_id": "r"})
    assert (result["inserted"], result["delta_version"]) == (
        3,
        0,
    )  # version 0: the partition before the replace
    assert q(sf, f"SELECT event_id, amount FROM {target} ORDER BY 1") == [
        ("evt-3", 3.0),
        ("evt-4", 4.0),
        ("evt-5", 5.0),
    ]
    whole = merge(source_delta=silver, target_table=target)["result"]  # latest, every partition
    assert (whole["inserted"], whole["updated"], whole["delta_version"]) == (3, 1, 1)
    assert q(sf, f"SELECT COUNT(*) FROM {target}") == [(6,)]  # evt-4, evt-5 stay: a MERGE never deletes them


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"source_partitions": {"event_id": "evt-1"}}, ValueError, r"partitioned by \['dt'\]"),
        ({"source_version": 9}, ValueError, r"source_version 9 is not a version of .*versions 0\.\.1"),
        ({"source_version": "latest"}, ValueError, "non-negative integer"),
        ({"source_partitions": "dt=2025-10-31"}, TypeError, "must be a dict"),
    ],
    ids=["not-a-partition-column", "missing-version", "bad-version", "partitions-not-a-dict"],
)
def test_bad_delta_arguments_fail_before_anything_is_written(sf, silver, target, kwargs, error, match):
    with pytest.raises(error, match=match):
        merge(source_delta=silver, target_table=target, create_target_if_missing=True, **kwargs)
    assert not table_exists(sf, target)


def test_an_empty_partition_fails_unless_allowed(sf, silver, target):
    with pytest.raises(MergeError, match=r"no rows in Delta table .*version 1.*require_data=False"):
        merge(
            source_delta=silver,
            source_partitions={"dt": "2025-11-01"},
            target_table=target,
            create_target_if_missing=True,
        )
    assert not table_exists(sf, target)
    result = merge(
        source_delta=silver,
        source_partitions={"dt": "2025-11-01"},
        target_table=target,
        create_target_if_missing=True,
        require_data=False,
    )["result"]
    assert (result["inserted"], result["statements"], result["delta_version"]) == (0, 0, 1)
    assert not table_exists(sf, target)


def test_a_folder_that_is_not_a_delta_table_and_parquet_reads_of_a_delta_table_are_refused(
    sf, silver, target, tmp_path
):
    with pytest.raises(FileNotFoundError, match="is not a Delta table .*use source_parquet"):
        merge(source_delta=f"{LAKE_URI}/tests/no-such-table", target_table=target)
    (tmp_path / "plain").mkdir()
    with pytest.raises(FileNotFoundError, match="is not a Delta table"):
        merge(source_delta=str(tmp_path / "plain"), target_table=target)
    # the old way would merge the replaced files too: refused, naming the argument to use
    with pytest.raises(ValueError, match="is in the Delta table .*use source_delta="):
        merge(source_parquet=f"{silver}/dt=2025-10-31", target_table=target, create_target_if_missing=True)
    assert not table_exists(sf, target)


def test_a_local_delta_table_written_by_delta_rs_with_a_list_of_partitions(sf, tmp_path: Path, target):
    from deltalake import write_deltalake

    data = pa.table(
        {
            "event_id": ["evt-1", "evt-2", "evt-3"],
            "customer_id": pa.array([1, 2, 0], pa.int64()),
            "amount": [1.0, 2.0, 3.0],
            "updated_at": pa.array([ts(1), ts(1), ts(2)], pa.timestamp("us", tz="UTC")),
            "dt": ["2025-10-01", "2025-10-01", "2025-10-02"],
        }
    )
    write_deltalake(str(tmp_path / "events"), data, partition_by=["dt"])
    result = merge(
        source_delta=(tmp_path / "events").as_uri(),
        source_partitions={"dt": ["2025-10-02", "2025-10-01"]},
        target_table=target,
        create_target_if_missing=True,
    )
    assert (result["result"]["inserted"], result["result"]["delta_version"]) == (3, 0)
    lineage = result["op"].get_openlineage_facets_on_complete(None)
    assert (lineage.inputs[0].namespace, lineage.inputs[0].name) == ("file", str(tmp_path / "events"))
