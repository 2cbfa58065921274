"""The one storage layer (utils/storage.py): the data-file rule, locations, listing and text files
on local folders; S3 in ``tests/integration/test_storage_s3.py``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import airflow_provider_lakeops
from airflow_provider_lakeops.utils.storage import (
    DataFile,
    Location,
    delete_file,
    download_to_folder,
    folder_exists,
    is_data_file,
    list_data_files,
    parse_location,
    partition_folder,
    read_text,
    write_text,
)


@pytest.mark.parametrize(
    ("relative", "size", "suffixes", "expected"),
    [
        ("part-0.parquet", 10, None, True),
        ("dt=2025-10-31/part-0.parquet", 10, (".parquet",), True),
        ("dt=2025-10-31/country=US/part-0.parquet", 10, None, True),
        ("_SUCCESS", 10, None, False),
        ("_SUCCESS", 0, None, False),
        (".part-0.crc", 10, None, False),
        ("dt=2025-10-31/.part-0.parquet.crc", 10, None, False),
        ("part-0.crc", 10, None, False),
        ("_spark_metadata/0", 10, None, False),
        ("_temporary/x.parquet", 10, (".parquet",), False),
        ("dt=2025-10-31/_temporary/0/x.parquet", 10, None, False),
        ("_delta_log/00000.json", 10, (".json",), False),
        ("../outside.parquet", 10, None, False),
        ("empty.parquet", 0, None, False),
        ("dt=2025-10-31/", 0, None, False),
        ("", 10, None, False),
        ("manifest.txt", 10, None, True),
        ("manifest.txt", 10, (".parquet",), False),
        ("events.jsonl", 10, (".json", ".jsonl"), True),
        ("events.csv", 10, (".json", ".jsonl"), False),
    ],
    ids=[
        "plain",
        "partition",
        "two-partitions",
        "_SUCCESS",
        "_SUCCESS-empty",
        ".part-0.crc",
        "crc-in-partition",
        "visible-crc",
        "_spark_metadata/0",
        "_temporary/x.parquet",
        "_temporary-in-partition",
        "_delta_log",
        "dot-dot",
        "empty-file",
        "folder-marker",
        "no-name",
        "manifest.txt-no-filter",
        "manifest.txt-parquet-filter",
        "jsonl-filter",
        "csv-not-in-filter",
    ],
)
def test_data_file_rule(relative, size, suffixes, expected):
    assert is_data_file(relative, size, suffixes=suffixes) is expected


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("dt=2025-10-31", ("dt", "2025-10-31")),
        ("country=New%20Zealand", ("country", "New Zealand")),
        ("a=b=c", ("a", "b=c")),
        ("old_copy", None),
        ("dt=", None),
        ("=x", None),
    ],
    ids=["date", "unescaped", "equals-in-value", "plain-folder", "no-value", "no-column"],
)
def test_partition_folder(segment, expected):
    assert partition_folder(segment) == expected


def test_data_file_partition_values():
    assert DataFile("a.parquet", 1).partition_values == {}
    assert DataFile("dt=1/c=US/a.parquet", 1).partition_values == {"dt": "1", "c": "US"}
    assert DataFile("dt=1/nested/a.parquet", 1).partition_values is None
    assert DataFile("dt=1/nested/a.parquet", 1).folders == ["dt=1", "nested"]


@pytest.mark.parametrize(
    ("value", "folder", "uri", "bucket", "key"),
    [
        ("s3://lakeops-lake/silver/t", True, "s3://lakeops-lake/silver/t/", "lakeops-lake", "silver/t/"),
        ("s3a://lakeops-lake/silver//", True, "s3://lakeops-lake/silver/", "lakeops-lake", "silver/"),
        ("s3n://lakeops-lake", True, "s3://lakeops-lake/", "lakeops-lake", ""),
        ("s3://lakeops-lake/dq/s.json", False, "s3://lakeops-lake/dq/s.json", "lakeops-lake", "dq/s.json"),
    ],
    ids=["s3-folder", "s3a-and-slashes", "s3n-bucket-root", "s3-file"],
)
def test_parse_s3(value, folder, uri, bucket, key):
    location = parse_location(value, folder=folder)
    assert (location.uri, location.bucket, location.key, location.is_s3, location.path) == (
        uri,
        bucket,
        key,
        True,
        None,
    )


def test_parse_local_and_join(tmp_path):
    folder = parse_location(str(tmp_path / "silver"))
    assert (folder.is_s3, folder.path, folder.uri) == (
        False,
        tmp_path / "silver",
        f"file://{tmp_path}/silver/",
    )
    assert parse_location(folder.uri).path == folder.path
    assert (
        parse_location(f"file://{tmp_path}/my%20dir/x.json", folder=False).path
        == tmp_path / "my dir" / "x.json"
    )
    child = folder.join("dt=1/a.parquet")
    assert (child.path, child.uri) == (
        tmp_path / "silver" / "dt=1" / "a.parquet",
        (tmp_path / "silver" / "dt=1" / "a.parquet").as_uri(),
    )
    s3 = parse_location("s3://lakeops-lake/silver/").join("dt=1/a.parquet")
    assert (s3.uri, s3.bucket, s3.key) == (
        "s3://lakeops-lake/silver/dt=1/a.parquet",
        "lakeops-lake",
        "silver/dt=1/a.parquet",
    )
    assert Location("s3://b/t/", bucket="b", prefix="t/").describe("a.parquet") == "s3://b/t/a.parquet"
    assert folder.describe("a.parquet") == str(tmp_path / "silver" / "a.parquet")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "location is empty"),
        (None, "location is empty"),
        ("s3://", "no valid bucket"),
        ("s3://Bad_Bucket/x", "no valid bucket"),
        ("gs://b/x", "not supported"),
    ],
    ids=["empty", "none", "no-bucket", "bad-bucket", "gcs"],
)
def test_bad_locations(value, message):
    with pytest.raises(ValueError, match=message):
        parse_location(value)


def _tree(root: Path) -> None:
    for relative, body in {
        "part-0.parquet": b"data",
        "dt=2025-10-31/part-0.parquet": b"data",
        "dt=2025-10-31/part-1.json": b"{}",
        "dt=2025-10-31/.part-0.parquet.crc": b"crc",
        "dt=2025-10-31/empty.parquet": b"",
        "_SUCCESS": b"",
        "_spark_metadata/0": b"v1",
        "_temporary/0/x.parquet": b"data",
        "nested/y.parquet": b"data",
        "manifest.txt": b"files",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(body)


def test_listing_a_local_tree(tmp_path):
    _tree(tmp_path)
    files = list_data_files(str(tmp_path))
    assert [f.relative for f in files] == [
        "dt=2025-10-31/part-0.parquet",
        "dt=2025-10-31/part-1.json",
        "manifest.txt",
        "nested/y.parquet",
        "part-0.parquet",
    ]
    assert [f.size for f in files] == [4, 2, 5, 4, 4]
    parquet = list_data_files(parse_location(str(tmp_path)), suffixes=(".parquet",))
    assert [(f.relative, f.partition_values) for f in parquet] == [
        ("dt=2025-10-31/part-0.parquet", {"dt": "2025-10-31"}),
        ("nested/y.parquet", None),
        ("part-0.parquet", {}),
    ]
    top = list_data_files(str(tmp_path), recursive=False)
    assert [f.relative for f in top] == ["manifest.txt", "part-0.parquet"]
    assert download_to_folder(str(tmp_path), top, tmp_path / "unused") == [
        tmp_path / "manifest.txt",
        tmp_path / "part-0.parquet",
    ]
    assert not (tmp_path / "unused").exists()  # local files are used where they are


def test_listing_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_data_files(str(tmp_path / "nope"))


def test_local_text_files(tmp_path):
    target = tmp_path / "dq" / "dt=1" / "suite.json"
    assert read_text(str(target)) is None
    assert write_text(f"file://{target}", "one") == str(target)
    write_text(str(target), "two")
    assert read_text(str(target)) == "two"
    assert [p.name for p in target.parent.iterdir()] == ["suite.json"]  # no temporary file left
    (target.parent / ".suite.json.crc").write_bytes(b"crc")
    assert folder_exists(str(target.parent))
    assert not folder_exists(str(tmp_path / "nope"))
    delete_file(str(target))
    delete_file(str(target))  # a missing file is fine
    assert list(target.parent.iterdir()) == []  # Hadoop's checksum went with it


# startswith(("_", ".")), startswith("_"), startswith('.') ... and Hadoop's checksum suffix
_RULES = (
    re.compile(r"""startswith\(\s*\(?\s*["'][_.]["']"""),
    re.compile(r"""endswith\(\s*\(?\s*["']\.crc["']"""),
)


def test_no_other_module_decides_what_a_data_file_is():
    """``utils/storage.py`` is the one place that decides what a data file is (hidden ``_*``/``.*``)."""
    package = Path(airflow_provider_lakeops.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative == "utils/storage.py" or relative.startswith(("spark_apps/", "testing/")):
            continue
        text = path.read_text(encoding="utf-8")
        if any(rule.search(text) for rule in _RULES):
            offenders.append(relative)
    assert offenders == [], f"use airflow_provider_lakeops.utils.storage.is_data_file in: {offenders}"
