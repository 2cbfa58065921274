"""The data sources of GXValidateOperator (files: _gx/sources.py, SQL: _gx/sql.py): static checks and
listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_lakeops.operators._gx.sources import FileSource, normalise_format
from airflow_provider_lakeops.operators._gx.sql import SqlSource


# ------------------------------------------------------------------ sources (static checks only)
@pytest.mark.parametrize(
    ("fmt", "expected"),
    [(None, None), ("", None), ("json", "jsonl"), ("PARQUET", "parquet"), (".csv", "csv")],
)
def test_normalise_format(fmt, expected):
    assert normalise_format(fmt) == expected


def test_normalise_format_rejects_unknown():
    with pytest.raises(ValueError, match="data_format must be one of"):
        normalise_format("orc")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (FileSource("  ", None), "data_path is empty"),
        (FileSource("/x", "avro"), "data_format must be one of"),
        (FileSource("/t", "parquet", partitions={"dt": "x"}), "set data_format='delta'"),
        (FileSource("/t/*", "delta", partitions={"dt": "x"}), "not a glob"),
        (FileSource("/t", "delta", partitions=["dt"]), "must be a dict"),
        (SqlSource("db", table=" "), "table is empty"),
        (SqlSource("db", sql=" ; "), "sql is empty"),
        (SqlSource("", table="t"), "conn_id is empty"),
    ],
    ids=[
        "empty-path",
        "format",
        "partitions-not-delta",
        "partitions-glob",
        "partitions-not-a-dict",
        "empty-table",
        "empty-sql",
        "empty-conn",
    ],
)
def test_source_checks(source, message):
    with pytest.raises((ValueError, TypeError), match=message):
        source.check()


def test_sql_source_splits_schema_and_strips_semicolons():
    table = SqlSource("db", table="PUBLIC.EVENTS")
    table.check()
    assert (table.schema, table.table) == ("PUBLIC", "EVENTS")
    query = SqlSource("db", sql="select 1;\n")
    query.check()
    assert query.sql == "select 1"


def test_file_listing_skips_markers_and_infers_the_format(tmp_path):
    (tmp_path / "part-0.parquet").write_bytes(b"x")
    (tmp_path / "_SUCCESS").write_bytes(b"")
    (tmp_path / ".part-0.parquet.crc").write_bytes(b"")
    source = FileSource(str(tmp_path), None)
    source.check()
    source.prepare(tmp_path)
    assert source.fmt == "parquet"
    assert [Path(f).name for f in source.files] == ["part-0.parquet"]
    (tmp_path / "extra.csv").write_text("a\n1\n")
    mixed = FileSource(str(tmp_path), None)
    with pytest.raises(ValueError, match="several formats"):
        mixed.prepare(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FileSource(str(tmp_path / "missing"), "csv").prepare(tmp_path)
