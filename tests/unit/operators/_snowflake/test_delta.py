"""The MERGE's Delta reader: argument checks, and reads of real (local) Delta tables through delta-rs."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_lakeops.operators._snowflake.delta import (
    delta_uri,
    partition_filters,
    read_delta,
    validated_version,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s3://lake/silver/t/", "s3://lake/silver/t"),
        ("s3a://lake/silver/t", "s3://lake/silver/t"),
        ("s3n://lake/t", "s3://lake/t"),
        ("file:///data/t/", "/data/t"),
        (" /data/t ", "/data/t"),
    ],
    ids=["s3-trailing-slash", "s3a", "s3n", "file-uri", "local"],
)
def test_delta_uri(value, expected):
    assert delta_uri(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("3", 3), (0, 0), (" 12 ", 12)],
    ids=["none", "empty", "string", "zero", "spaces"],
)
def test_validated_version(value, expected):
    assert validated_version(value) == expected


@pytest.mark.parametrize("value", ["latest", -1, "1.5", False], ids=["word", "negative", "float", "bool"])
def test_validated_version_rejects(value):
    with pytest.raises(ValueError, match="non-negative integer"):
        validated_version(value)


def test_partition_filters():
    assert partition_filters(None) == []
    assert partition_filters({"dt": "2025-10-31", "hour": 3, "region": ["b", "a"]}) == [
        ("dt", "=", "2025-10-31"),
        ("hour", "=", "3"),
        ("region", "in", ["a", "b"]),
    ]


@pytest.fixture
def table(tmp_path: Path) -> Path:
    from deltalake import write_deltalake

    path = tmp_path / "events"
    data = pa.table({"id": [1, 2, 3], "dt": ["a", "a", "b"]})
    write_deltalake(str(path), data, partition_by=["dt"])
    write_deltalake(str(path), pa.table({"id": [9], "dt": ["a"]}), mode="overwrite", predicate="dt = 'a'")
    return path


def test_reads_the_log_not_the_folder(table, tmp_path):
    assert len(list((table / "dt=a").glob("*.parquet"))) == 2  # the replaced file is still there
    batch = read_delta(str(table), tmp_path / "out", partitions={"dt": "a"}, log=logging.getLogger("t"))
    assert (batch.version, batch.rows, batch.partition_columns) == (1, 1, ["dt"])
    assert pq.read_table(batch.files[0]).to_pylist() == [{"id": 9, "dt": "a"}]


def test_an_old_version_and_the_whole_table(table, tmp_path):
    old = read_delta(str(table), tmp_path / "v0", version=0)
    assert sorted(r["id"] for r in pq.read_table(old.files[0]).to_pylist()) == [1, 2, 3]
    latest = read_delta(str(table), tmp_path / "v1")
    assert sorted(r["id"] for r in pq.read_table(latest.files[0]).to_pylist()) == [3, 9]


def test_no_matching_partition_writes_no_file(table, tmp_path):
    batch = read_delta(str(table), tmp_path / "out", partitions={"dt": "zz"})
    assert (batch.files, batch.rows) == ([], 0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"partitions": {"id": "1"}}, ValueError, r"partitioned by \['dt'\]"),
        ({"version": 5}, ValueError, r"source_version 5 is not a version of .*0\.\.1"),
    ],
    ids=["not-a-partition-column", "missing-version"],
)
def test_bad_arguments(table, tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        read_delta(str(table), tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_not_a_delta_table(tmp_path):
    (tmp_path / "plain").mkdir()
    pq.write_table(pa.table({"id": [1]}), tmp_path / "plain" / "part-0.parquet")
    with pytest.raises(FileNotFoundError, match="is not a Delta table"):
        read_delta(str(tmp_path / "plain"), tmp_path / "out")
