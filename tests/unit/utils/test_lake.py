"""The lake settings every engine shares: S3A for Spark, delta-rs options, PyIceberg properties."""

from __future__ import annotations

import pytest

from airflow_provider_lakeops.utils.lake import (
    DELTA_SPARK_CONF,
    LAKE_JARS_ENV,
    AwsLakeAccess,
    delta_storage_options,
    lake_jars,
    pyiceberg_properties,
    spark_lake_settings,
    validate_table_format,
)

MOTO = AwsLakeAccess(
    region="us-east-1", endpoint_url="http://127.0.0.1:5000", access_key="AKID", secret_key="s3cr3t"
)


def test_local_parquet_job_needs_nothing():
    settings = spark_lake_settings(paths=["/tmp/lake/silver"], aws_conn_id=None, environ={})
    assert settings.conf == {}
    assert settings.env == {}


def test_s3_job_gets_s3a_conf_and_credentials_only_in_env():
    settings = spark_lake_settings(
        paths=["s3://lake/silver/"], access=MOTO, environ={LAKE_JARS_ENV: "/j/a.jar, /j/b.jar"}
    )
    assert settings.conf["spark.hadoop.fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert settings.conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:5000"
    assert settings.conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert settings.conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert settings.conf["spark.hadoop.fs.s3a.endpoint.region"] == "us-east-1"
    assert settings.conf["spark.jars"] == "/j/a.jar,/j/b.jar"
    assert "s3cr3t" not in repr(settings)
    assert "s3cr3t" not in str(settings.conf)
    assert settings.env == {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cr3t"}


def test_aws_endpoint_has_no_path_style():
    access = AwsLakeAccess(region="eu-west-1", access_key="A", secret_key="B", session_token="T")
    settings = spark_lake_settings(paths=["s3a://lake/x"], access=access, jars="")
    assert "spark.hadoop.fs.s3a.endpoint" not in settings.conf
    assert "spark.jars" not in settings.conf  # "": the cluster has the jars
    assert settings.env["AWS_SESSION_TOKEN"] == "T"


def test_delta_adds_extension_and_catalog():
    settings = spark_lake_settings(paths=["/tmp/x"], table_format="DELTA", aws_conn_id=None, jars=["/j.jar"])
    assert {k: settings.conf[k] for k in DELTA_SPARK_CONF} == DELTA_SPARK_CONF
    assert settings.conf["spark.jars"] == "/j.jar"


def test_missing_jars_is_a_clear_error():
    with pytest.raises(ValueError, match="LAKEOPS_SPARK_LAKE_JARS"):
        spark_lake_settings(paths=["s3://lake/x"], access=MOTO, environ={})
    assert lake_jars("", environ={}) == []


@pytest.mark.parametrize("bad", ["", "iceberg", None, "csv"])
def test_bad_table_format(bad):
    with pytest.raises(ValueError, match="table_format must be one of parquet, delta"):
        validate_table_format(bad)


def test_delta_rs_and_pyiceberg_options():
    options = delta_storage_options(MOTO)
    assert options["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    assert options["AWS_ALLOW_HTTP"] == "true"
    assert options["AWS_SECRET_ACCESS_KEY"] == "s3cr3t"
    props = pyiceberg_properties(MOTO)
    assert props["glue.endpoint"] == props["s3.endpoint"] == "http://127.0.0.1:5000"
    assert props["s3.access-key-id"] == "AKID"


def test_a_connection_without_credentials_leaves_them_to_the_engines(monkeypatch):
    import json

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKE_NO_KEYS",
        json.dumps(
            {"conn_type": "aws", "extra": {"region_name": "eu-west-1", "endpoint_url": "http://s3:9000"}}
        ),
    )
    from airflow_provider_lakeops.utils.lake import aws_lake_access

    access = aws_lake_access("lake_no_keys")
    assert (access.region, access.endpoint_url, access.access_key) == ("eu-west-1", "http://s3:9000", None)
    assert access.credential_env() == {}
