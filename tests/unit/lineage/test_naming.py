from __future__ import annotations

import pytest

from airflow_provider_lakeops.lineage.naming import (
    DatasetName,
    file_dataset,
    glue_dataset,
    kafka_dataset,
    location_dataset,
    mysql_dataset,
    s3_dataset,
    snowflake_dataset,
)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/path/to/key", DatasetName("s3://bucket", "path/to/key")),
        ("s3://bucket/folder/", DatasetName("s3://bucket", "folder")),
        ("s3a://bucket/x", DatasetName("s3://bucket", "x")),
        ("s3://bucket", DatasetName("s3://bucket", "/")),
    ],
    ids=["key", "trailing-slash", "s3a", "bucket-only"],
)
def test_s3_dataset(uri, expected):
    assert s3_dataset(uri) == expected


@pytest.mark.parametrize("bad", ["/local/path", "gs://b/k", "s3:///nokey"])
def test_s3_dataset_rejects_non_s3(bad):
    with pytest.raises(ValueError, match="not an S3 URI"):
        s3_dataset(bad)


def test_file_dataset_absolute_and_relative(tmp_path, monkeypatch):
    assert file_dataset("/data/lake/") == DatasetName("file", "/data/lake")
    assert file_dataset("file:///data/x") == DatasetName("file", "/data/x")
    assert file_dataset("file://host1/data/x") == DatasetName("file://host1", "/data/x")
    monkeypatch.chdir(tmp_path)
    assert file_dataset("rel/dir").name == str(tmp_path / "rel" / "dir")


def test_location_dataset_dispatches():
    assert location_dataset("s3://b/k").namespace == "s3://b"
    assert location_dataset("/tmp/x").namespace == "file"


def test_snowflake_dataset():
    assert snowflake_dataset("MyOrg-MyAccount", "DB", "PUBLIC", "T") == DatasetName(
        "snowflake://myorg-myaccount", "DB.PUBLIC.T"
    )
    assert snowflake_dataset("xy12345", "D", "S", "T", region="us-east-1").namespace == (
        "snowflake://xy12345.us-east-1"
    )
    with pytest.raises(ValueError, match="required"):
        snowflake_dataset("acct", "", "S", "T")
    with pytest.raises(ValueError, match="account"):
        snowflake_dataset(" ", "D", "S", "T")


def test_kafka_dataset_uses_first_bootstrap_server():
    assert kafka_dataset("PLAINTEXT://k1:9092,k2:9092", "dbz.shop.orders") == DatasetName(
        "kafka://k1:9092", "dbz.shop.orders"
    )
    with pytest.raises(ValueError, match="topic"):
        kafka_dataset("k1:9092", "")


def test_mysql_and_glue_datasets():
    assert mysql_dataset("db.local", 3306, "shop", "orders") == DatasetName(
        "mysql://db.local:3306", "shop.orders"
    )
    assert mysql_dataset("db", None, "shop", "orders").namespace == "mysql://db:3306"
    assert glue_dataset("eu-west-1", "123456789012", "lakeops", "events") == DatasetName(
        "arn:aws:glue:eu-west-1:123456789012", "table/lakeops/events"
    )
    with pytest.raises(ValueError, match="required"):
        glue_dataset("eu-west-1", "", "d", "t")


def test_to_openlineage_builds_client_dataset():
    ds = s3_dataset("s3://b/k").to_openlineage()
    assert (ds.namespace, ds.name) == ("s3://b", "k")
