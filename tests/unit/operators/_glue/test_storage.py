"""Locations, listing, hive partition discovery, schema reads and staging on local folders.

The S3 side of the same functions runs against the moto server in
``tests/integration/test_glue_register.py``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_lakeops.operators._glue.storage import (
    DataFile,
    Location,
    discover_partitions,
    list_files,
    parse_location,
    read_schemas,
    sample_files,
)


@pytest.mark.parametrize(
    ("value", "uri", "bucket", "prefix"),
    [
        (
            "s3://lakeops-lake/silver/customer_behavior",
            "s3://lakeops-lake/silver/customer_behavior/",
            "lakeops-lake",
            "silver/customer_behavior/",
        ),
        ("s3a://lakeops-lake/silver//", "s3://lakeops-lake/silver/", "lakeops-lake", "silver/"),
        (" s3://lakeops-lake ", "s3://lakeops-lake/", "lakeops-lake", ""),
    ],
    ids=["plain", "s3a-and-slashes", "bucket-root"],
)
def test_parse_s3_locations(value, uri, bucket, prefix):
    location = parse_location(value)
    assert (location.uri, location.bucket, location.prefix, location.is_s3) == (uri, bucket, prefix, True)


def test_parse_local_location(tmp_path):
    location = parse_location(str(tmp_path / "silver"))
    assert not location.is_s3
    assert location.path == tmp_path / "silver"
    assert location.uri == f"file://{tmp_path}/silver/"
    assert parse_location(location.uri).path == location.path


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "location is empty"),
        (None, "location is empty"),
        ("   ", "location is empty"),
        ("s3://", "no valid bucket"),
        ("s3://Bad_Bucket/x", "no valid bucket"),
        ("gs://b/x", "not supported"),
    ],
    ids=["empty", "none", "blank", "no-bucket", "bad-bucket", "gcs"],
)
def test_bad_locations(value, message):
    with pytest.raises(ValueError, match=message):
        parse_location(value)


def _parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def test_list_files_skips_hidden_markers_and_empty_files(tmp_path):
    table = pa.table({"id": [1]})
    _parquet(tmp_path / "dt=2025-10-31" / "part-0.parquet", table)
    _parquet(tmp_path / "dt=2025-10-31" / ".part-0.parquet.crc", table)
    _parquet(tmp_path / "_temporary" / "x.parquet", table)
    (tmp_path / "_SUCCESS").write_bytes(b"")
    (tmp_path / "dt=2025-10-31" / "empty.parquet").write_bytes(b"")
    files = list_files(parse_location(str(tmp_path)))
    assert [f.relative for f in files] == ["dt=2025-10-31/part-0.parquet"]


def test_list_files_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_files(parse_location(str(tmp_path / "nope")))


LOC = Location("s3://b/t/", bucket="b", prefix="t/")


def test_discover_multi_key_partitions_and_unescape():
    files = [
        DataFile("dt=2025-10-31/country=US/a.parquet", 1),
        DataFile("dt=2025-10-31/country=US/b.parquet", 1),
        DataFile("dt=2025-11-01/country=New%20Zealand/a.parquet", 1),
    ]
    layout = discover_partitions(files, LOC)
    assert layout.keys == ("dt", "country")
    assert layout.partitions == {
        ("2025-10-31", "US"): "dt=2025-10-31/country=US/",
        ("2025-11-01", "New Zealand"): "dt=2025-11-01/country=New%20Zealand/",
    }


def test_discover_unpartitioned():
    layout = discover_partitions([DataFile("a.parquet", 1)], LOC)
    assert layout.keys == ()
    assert layout.partitions == {}


@pytest.mark.parametrize(
    ("relatives", "message"),
    [
        (["dt=1/a.parquet", "b.parquet"], "different partition layouts"),
        (["dt=1/a.parquet", "dt=1/h=2/a.parquet"], "different partition layouts"),
        (["2025/a.parquet"], "not a hive partition"),
        (["Bad-Key=1/a.parquet"], "not a valid Glue name"),
    ],
    ids=["mixed-depth", "mixed-keys", "not-hive", "bad-key"],
)
def test_discover_rejects_inconsistent_layouts(relatives, message):
    with pytest.raises(ValueError, match=message):
        discover_partitions([DataFile(r, 1) for r in relatives], LOC)


def test_sample_files_spreads_evenly_and_keeps_ends():
    items = list(range(1000))
    picked = sample_files(items, 10)
    assert len(picked) == 10
    assert picked[0] == 0
    assert picked[-1] == 999
    assert sample_files(items, None) == items
    assert sample_files(items[:3], 10) == [0, 1, 2]


def test_read_schemas_of_local_parquet_csv_and_jsonl(tmp_path):
    _parquet(tmp_path / "p" / "a.parquet", pa.table({"id": pa.array([1], pa.int64()), "name": ["x"]}))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.csv").write_text("id,amount,day\n1,2.5,2025-10-31\n2,3,2025-11-01\n")
    (tmp_path / "j").mkdir()
    lines = "\n".join(json.dumps({"id": i, "tags": ["a"], "nested": {"k": i}}) for i in range(3)) + "\n"
    with gzip.open(tmp_path / "j" / "a.jsonl.gz", "wt") as fh:
        fh.write(lines)
    for folder, fmt, expected in [
        ("p", "parquet", {"id": pa.int64(), "name": pa.string()}),
        ("c", "csv", {"id": pa.int64(), "amount": pa.float64(), "day": pa.date32()}),
        (
            "j",
            "json",
            {"id": pa.int64(), "tags": pa.list_(pa.string()), "nested": pa.struct([("k", pa.int64())])},
        ),
    ]:
        location = parse_location(str(tmp_path / folder))
        [(where, schema)] = read_schemas([(location, f) for f in list_files(location)], fmt)
        assert where.startswith(str(tmp_path / folder))
        assert {f.name: f.type for f in schema} == expected


def test_text_sample_is_cut_at_a_line_boundary(tmp_path):
    (tmp_path / "a.jsonl").write_text(
        "".join(json.dumps({"id": i, "s": "x" * 50}) + "\n" for i in range(200))
    )
    location = parse_location(str(tmp_path))
    [(_, schema)] = read_schemas(
        [(location, f) for f in list_files(location)], "json", options={"sample_bytes": 1000}
    )
    assert schema.names == ["id", "s"]


def test_unreadable_parquet_names_the_file(tmp_path):
    (tmp_path / "a.parquet").write_text("not parquet at all")
    location = parse_location(str(tmp_path))
    with pytest.raises(ValueError, match=r"a\.parquet: not a readable Parquet file"):
        read_schemas([(location, f) for f in list_files(location)], "parquet")
