"""Delta tables as GX file sources (pandas engine, real local tables written by delta-rs): read through
the log, partition filters, and the guard that refuses reading a Delta table's Parquet files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from airflow_provider_lakeops.operators._gx.delta import delta_guard, partition_filters
from airflow_provider_lakeops.operators._gx.sources import FileSource


@pytest.fixture
def table(tmp_path: Path) -> Path:
    """dt=a (2 rows, then replaced by 1: the old file stays in the folder) and dt=b (1 row)."""
    from deltalake import write_deltalake

    path = tmp_path / "events"
    write_deltalake(str(path), pa.table({"id": [1, 2, 3], "dt": ["a", "a", "b"]}), partition_by=["dt"])
    write_deltalake(str(path), pa.table({"id": [9], "dt": ["a"]}), mode="overwrite", predicate="dt = 'a'")
    return path


def source(location: str, fmt: str | None = "delta", **kwargs) -> FileSource:
    src = FileSource(location, fmt, aws_conn_id=None, **kwargs)
    src.check()
    return src


def test_partition_filters():
    assert partition_filters({"dt": "a", "h": [2, 1]}) == [("dt", "=", "a"), ("h", "in", ["1", "2"])]
    with pytest.raises(TypeError, match="must be a dict"):
        partition_filters("dt=a")


@pytest.mark.parametrize(
    ("partitions", "ids"),
    [(None, [3, 9]), ({"dt": "a"}, [9]), ({"dt": ["a", "b"]}, [3, 9]), ({"dt": "zz"}, [])],
    ids=["whole-table", "one-partition", "a-list", "no-such-partition"],
)
def test_pandas_reads_the_log(table, tmp_path, partitions, ids):
    src = source(str(table), partitions=partitions)
    src.prepare(tmp_path)
    assert src.columns() == ["id", "dt"]
    frame = src.load()
    assert sorted(frame["id"].tolist()) == ids
    assert src.stats.rows == len(ids)
    assert src.stats.files == len({"a": 1, "b": 1} if partitions is None else ids)
    (dataset,) = src.datasets()
    assert (dataset.namespace, dataset.name) == ("file", str(table))


def test_no_format_means_delta_for_a_delta_table(table, tmp_path):
    src = source(table.as_uri() + "/", fmt=None)
    src.prepare(tmp_path)
    assert src.fmt == "delta"
    assert sorted(src.load()["id"].tolist()) == [3, 9]


@pytest.mark.parametrize(
    ("relative", "fmt", "match"),
    [
        ("", "parquet", "is a Delta table: .*set data_format='delta'"),
        ("dt=a", None, "partition folder of the Delta table .*data_partitions="),
        ("dt=a", "parquet", "partition folder of the Delta table"),
    ],
    ids=["root-as-parquet", "partition-folder", "partition-folder-as-parquet"],
)
def test_parquet_reads_of_a_delta_table_are_refused(table, tmp_path, relative, fmt, match):
    src = source(str(table / relative) if relative else str(table), fmt=fmt)
    with pytest.raises(ValueError, match=match):
        src.prepare(tmp_path)


def test_delta_guard_leaves_other_folders_alone(tmp_path):
    (tmp_path / "plain" / "dt=a").mkdir(parents=True)
    assert delta_guard(str(tmp_path / "plain" / "dt=a"), "parquet", None) == "parquet"
    assert delta_guard(str(tmp_path / "plain"), None, None) is None


@pytest.mark.parametrize(
    ("location", "partitions", "error", "match"),
    [
        ("events", {"id": "1"}, ValueError, r"partitioned by \['dt'\]"),
        ("missing", None, FileNotFoundError, "is not a Delta table"),
    ],
    ids=["not-a-partition-column", "not-a-table"],
)
def test_bad_delta_inputs(table, tmp_path, location, partitions, error, match):
    src = source(str(tmp_path / location), partitions=partitions)
    with pytest.raises(error, match=match):
        src.prepare(tmp_path)


def test_partitions_need_a_delta_table(tmp_path):
    (tmp_path / "plain").mkdir()
    src = source(str(tmp_path / "plain"), fmt=None, partitions={"dt": "a"})
    with pytest.raises(ValueError, match="needs a Delta table"):
        src.prepare(tmp_path)
