"""DeltaMergeOperator and its Spark job on real Spark with Delta Lake: the job's rules on the shared local
SparkSession (latest change per key, deletes, the only-newer guard, reruns, replays, ties, every bad input
with nothing written), then the operator through the real ``spark-submit`` on the stack's S3 (moto, S3A),
read back with delta-rs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from airflow_provider_lakeops.spark_apps.delta_merge_job import MergeConfig, MergeInputError, run
from airflow_provider_lakeops.testing.stack import LAKE_URI

pytestmark = [pytest.mark.integration, pytest.mark.spark]

KEYS = ["customer_id", "event_id"]
SCHEMA = (
    "customer_id BIGINT, event_id STRING, amount DOUBLE, email STRING, op STRING, "
    "_source_position STRING, _kafka_offset BIGINT, ingest_date STRING, batch STRING"
)


def change(
    n: int, position: int, op: str = "u", amount: float | None = 1.0, offset: int | None = None
) -> tuple:
    return (
        n,
        f"evt-{n}",
        amount,
        f"user{n}@pii.example.com",
        op,
        f"1-{position:020d}",
        position if offset is None else offset,
        "2025-12-04",
        f"{position:010d}",
    )


def write_bronze(spark, path: str, rows: list[tuple], fmt: str = "delta", mode: str = "append") -> None:
    frame = spark.createDataFrame(rows, SCHEMA)
    frame.write.format(fmt).mode(mode).partitionBy("ingest_date", "batch").save(path)


def silver(spark, path: str) -> dict[tuple, dict[str, Any]]:
    rows = spark.read.format("delta").load(path).collect()
    return {(r["customer_id"], r["event_id"]): r.asDict() for r in rows}


def version(spark, path: str) -> int:
    return int(spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").collect()[0]["version"])


def config(source: str, target: str, **kw) -> MergeConfig:
    values: dict[str, Any] = {
        "source_path": source,
        "target_path": target,
        "keys": KEYS,
        "ordering_columns": ["_source_position"],
    }
    values.update(kw)
    return MergeConfig(**values).validate()


@pytest.fixture
def paths(tmp_path):
    return str(tmp_path / "bronze"), str(tmp_path / "silver")


# ------------------------------------------------------------------------ the job's rules (local)
def test_first_run_creates_silver_then_merges_latest_changes_and_reruns_are_zero(spark, paths):
    bronze, target = paths
    write_bronze(spark, bronze, [change(n, n, op="r") for n in range(1, 6)])
    first = run(spark, config(bronze, target))
    assert (first["created"], first["rows_inserted"], first["rows_updated"], first["rows_deleted"]) == (
        True,
        5,
        0,
        0,
    )
    assert first["silver_version"] == 0
    assert first["columns"] == ["customer_id", "event_id", "amount", "email", "_source_position"]
    # updates (two for key 1: the later wins), a delete, an insert that is deleted again, an insert
    write_bronze(
        spark,
        bronze,
        [
            change(1, 10, amount=2.0),
            change(1, 11, amount=3.0),
            change(2, 12, op="d", amount=None),
            change(6, 13, op="c"),
            change(6, 14, op="d"),
            change(7, 15, op="c", amount=7.0),
        ],
    )
    second = run(spark, config(bronze, target))
    assert (second["rows_inserted"], second["rows_updated"], second["rows_deleted"]) == (1, 1, 1)
    assert second["silver_version"] == 1
    rows = silver(spark, target)
    assert sorted(k[0] for k in rows) == [1, 3, 4, 5, 7]
    assert rows[(1, "evt-1")]["amount"] == 3.0
    assert rows[(1, "evt-1")]["_source_position"] == f"1-{11:020d}"
    assert "op" not in rows[(1, "evt-1")]

    rerun = run(spark, config(bronze, target))
    assert (rerun["merged"], rerun["rows_inserted"], rerun["rows_updated"], rerun["rows_deleted"]) == (
        False,
        0,
        0,
        0,
    )
    assert rerun["silver_version"] == version(spark, target) == 1  # no new version

    # a replayed old batch (the same changes again, new offsets) resurrects nothing and reverts nothing
    write_bronze(spark, bronze, [change(2, 2, op="r", offset=900), change(1, 10, amount=2.0, offset=901)])
    replay = run(spark, config(bronze, target))
    assert (replay["rows_inserted"], replay["rows_updated"], replay["rows_deleted"]) == (0, 0, 0)
    assert silver(spark, target) == rows


def test_ties_are_refused_unless_a_tie_breaker_orders_them_and_nothing_is_written(spark, paths):
    bronze, target = paths
    write_bronze(spark, bronze, [change(1, 1, op="r"), change(2, 2, op="r")])
    run(spark, config(bronze, target))
    # two different changes of key 1 at one position
    write_bronze(spark, bronze, [change(1, 5, amount=10.0, offset=50), change(1, 5, amount=20.0, offset=51)])
    with pytest.raises(
        MergeInputError, match=r"1 key\(s\) have different changes with the same ordering"
    ) as err:
        run(spark, config(bronze, target))
    assert "tie_breaker" in str(err.value)
    assert "pii.example.com" not in str(err.value)
    assert version(spark, target) == 0
    resolved = run(spark, config(bronze, target, tie_breaker=["_kafka_offset"]))
    assert resolved["rows_updated"] == 1
    assert silver(spark, target)[(1, "evt-1")]["amount"] == 20.0


def test_identical_copies_of_one_change_are_one_change(spark, paths):
    bronze, target = paths
    copy = change(1, 3, op="c", offset=7)
    write_bronze(spark, bronze, [copy, change(1, 3, op="c", offset=8), copy])
    report = run(spark, config(bronze, target))
    assert report["rows_inserted"] == 1


@pytest.mark.parametrize(
    ("rows", "kw", "match"),
    [
        pytest.param(
            [change(1, 1)], {"keys": ["customer_id", "nope"]}, r"no column\(s\) \['nope'\]", id="no-key"
        ),
        pytest.param(
            [change(1, 1)], {"ordering_columns": ["_lsn"]}, r"no column\(s\) \['_lsn'\]", id="no-ordering"
        ),
        pytest.param(
            [change(1, 1), (None, "evt-x", 1.0, None, "c", "1-1", 1, "2025-12-04", "b")],
            {},
            r"1 change\(s\) .* null key or ordering value",
            id="null-key",
        ),
        pytest.param([change(1, 1)], {"source_format": "parquet"}, "is a Delta table", id="delta-as-parquet"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(spark, paths, rows, kw, match):
    bronze, target = paths
    write_bronze(spark, bronze, rows)
    with pytest.raises(MergeInputError, match=match):
        run(spark, config(bronze, target, **kw))
    assert not __import__("os").path.exists(target)


def test_parquet_bronze_and_the_format_guards(spark, tmp_path):
    bronze, target = str(tmp_path / "bronze"), str(tmp_path / "silver")
    write_bronze(
        spark, bronze, [change(1, 1, op="c"), change(1, 2, op="d"), change(2, 3, op="c")], fmt="parquet"
    )
    with pytest.raises(MergeInputError, match="plain files"):
        run(spark, config(bronze, target))  # source_format='delta' over plain Parquet
    report = run(spark, config(bronze, target, source_format="parquet"))
    assert (report["rows_inserted"], report["source_version"]) == (1, None)
    assert list(silver(spark, target)) == [(2, "evt-2")]
    # a target folder with plain files is not a Delta table: refused
    plain = str(tmp_path / "plain")
    write_bronze(spark, plain, [change(9, 9)], fmt="parquet")
    with pytest.raises(MergeInputError, match="no Delta table"):
        run(spark, config(bronze, plain, source_format="parquet"))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        pytest.param({"source_format": "orc"}, "source_format must be one of", id="format"),
        pytest.param({"keys": []}, "keys must name at least one column", id="no-keys"),
        pytest.param({"keys": "customer_id"}, "must be a list", id="keys-string"),
        pytest.param({"ordering_columns": ["a;drop"]}, "not plain column names", id="bad-name"),
        pytest.param({"target_path": "/x/bronze/silver"}, "overlap", id="overlap"),
        pytest.param({"target_path": "relative/silver"}, "absolute path", id="relative"),
        pytest.param(
            {"exclude_columns": ["_source_position"]}, "keeps its keys and ordering", id="drop-order"
        ),
        pytest.param({"tie_breaker": ["_source_position"]}, "in both", id="tie-is-ordering"),
        pytest.param({"delete_values": []}, "delete_values", id="no-delete-values"),
    ],
)
def test_bad_settings_name_the_argument(kw, match):
    values: dict[str, Any] = {
        "source_path": "/x/bronze",
        "target_path": "/x/silver",
        "keys": KEYS,
        "ordering_columns": ["_source_position"],
    }
    values.update(kw)
    with pytest.raises(ValueError, match=match):
        MergeConfig(**values).validate()


# ------------------------------------------------------------- the operator on S3 (spark-submit)
def test_operator_merges_a_delta_bronze_on_s3_through_spark_submit(lake_spark, lakeops_stack):
    from airflow_provider_lakeops.operators.delta_merge import DeltaMergeFailure, DeltaMergeOperator
    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

    root = f"{LAKE_URI}/tests/delta-merge-{uuid.uuid4().hex[:8]}"
    bronze, target = f"{root}/bronze/events", f"{root}/silver/events"
    write_bronze(lake_spark, bronze, [change(n, n, op="r") for n in range(1, 4)])
    write_bronze(lake_spark, bronze, [change(1, 7, op="d", amount=None), change(2, 8, amount=5.0)])

    def operator(**kw) -> DeltaMergeOperator:
        values: dict[str, Any] = {
            "task_id": "merge_silver",
            "source_path": bronze,
            "target_path": target,
            "keys": KEYS,
            "ordering_columns": ["_source_position"],
            "conf": {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"},
        }
        return DeltaMergeOperator(**{**values, **kw})

    op = operator()
    first = op.execute({})
    assert (first["rows_inserted"], first["rows_updated"], first["rows_deleted"]) == (2, 0, 0)
    assert (first["silver_version"], first["source_version"]) == (0, 1)
    assert "schema" not in first  # XCom: counts and names only

    from deltalake import DeltaTable

    table = DeltaTable(target, storage_options=delta_storage_options(aws_lake_access("aws_default")))
    rows = {(r["customer_id"], r["event_id"]): r for r in table.to_pyarrow_table().to_pylist()}
    assert sorted(rows) == [(2, "evt-2"), (3, "evt-3")]
    assert rows[(2, "evt-2")]["amount"] == 5.0

    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("s3://lakeops-lake", bronze.split("lake/", 1)[1])
    ]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("s3://lakeops-lake", target.split("lake/", 1)[1])
    ]
    assert [f.name for f in lineage.outputs[0].facets["schema"].fields][:2] == KEYS

    rerun = operator().execute({})
    assert (rerun["rows_inserted"], rerun["rows_updated"], rerun["rows_deleted"], rerun["merged"]) == (
        0,
        0,
        0,
        False,
    )
    assert rerun["silver_version"] == 0
    assert (
        DeltaTable(target, storage_options=delta_storage_options(aws_lake_access("aws_default"))).version()
        == 0
    )

    with pytest.raises(DeltaMergeFailure, match="no column") as err:
        operator(keys=["customer_id", "missing"]).execute({})
    assert "pii.example.com" not in str(err.value)
    assert (
        DeltaTable(target, storage_options=delta_storage_options(aws_lake_access("aws_default"))).version()
        == 0
    )
