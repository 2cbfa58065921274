"""The shared Airflow Assets (airflow_provider_lakeops.assets) and the URI rules Airflow 3 applies to them."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset

from airflow_provider_lakeops import assets


def test_merged_table_asset_uses_the_uri_form_the_snowflake_provider_accepts(monkeypatch):
    monkeypatch.delenv(assets.SNOWFLAKE_ACCOUNT_ENV, raising=False)
    asset = assets.snowflake_table_asset("lakeops", "public", "customer_behavior")
    assert asset.uri == "snowflake://lakeops/LAKEOPS/PUBLIC/CUSTOMER_BEHAVIOR"
    assert assets.CUSTOMER_BEHAVIOR_TABLE == asset
    assert (
        assets.FCT_CUSTOMER_ENGAGEMENT.uri == "snowflake://lakeops/LAKEOPS/ANALYTICS/FCT_CUSTOMER_ENGAGEMENT"
    )
    assert assets.DIM_CUSTOMER.uri == "snowflake://lakeops/LAKEOPS/ANALYTICS/DIM_CUSTOMER"


def test_airflow_rejects_the_dotted_snowflake_form():
    """Why the URIs have slashes: the Snowflake provider's normaliser wants database/schema/table."""
    with pytest.raises(ValueError, match="must contain database, schema, and table names"):
        Asset("snowflake://lakeops/LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR")


def test_snowflake_account_from_argument_and_env(monkeypatch):
    assert (
        assets.snowflake_table_asset("DB", "S", "T", account="Acme-Prod").uri
        == "snowflake://acme-prod/DB/S/T"
    )
    monkeypatch.setenv(assets.SNOWFLAKE_ACCOUNT_ENV, "myorg-myaccount")
    assert assets.snowflake_table_asset("DB", "S", "T").uri == "snowflake://myorg-myaccount/DB/S/T"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("", "PUBLIC", "T"), {}, "database must be an unquoted Snowflake identifier"),
        (("DB", "PUB LIC", "T"), {}, "schema must be"),
        (("DB", "PUBLIC", "T;drop"), {}, "table must be"),
        (("DB", "PUBLIC", "T"), {"account": "acct/evil"}, "account must be a Snowflake account identifier"),
    ],
    ids=["empty-database", "space", "semicolon", "account-slash"],
)
def test_snowflake_table_asset_rejects_bad_parts(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        assets.snowflake_table_asset(*args, **kwargs)


def test_silver_asset_local_lake_is_a_file_uri(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEOPS_LAKE_DIR", str(tmp_path))
    assert assets.silver_asset().uri == f"file://{tmp_path}/silver/customer_behavior"
    assert assets.silver_asset(f"{tmp_path}/").uri == f"file://{tmp_path}/silver/customer_behavior"


def test_silver_asset_s3_lake(monkeypatch):
    monkeypatch.delenv("LAKEOPS_LAKE_DIR", raising=False)
    assert assets.silver_asset().uri == "s3://lakeops-lake/silver/customer_behavior"
    assert assets.silver_asset("s3://prod-lake/").uri == "s3://prod-lake/silver/customer_behavior"


@pytest.mark.parametrize(
    ("path", "lake", "message"),
    [
        ("", "s3://b", "path must be a folder inside the lake"),
        ("silver/../gold", "s3://b", "path must be a folder inside the lake"),
        ("silver", "relative/lake", "lake must be an S3 URI or an absolute path"),
    ],
    ids=["empty", "dotdot", "relative-lake"],
)
def test_lake_asset_rejects_bad_input(path, lake, message):
    with pytest.raises(ValueError, match=message):
        assets.lake_asset(path, lake=lake)


def test_mart_assets_per_target(monkeypatch):
    monkeypatch.delenv("LAKEOPS_DBT_TARGET", raising=False)
    assert [a.uri for a in assets.mart_assets()] == [
        "duckdb://lakeops/main/dim_customer",
        "duckdb://lakeops/main/fct_customer_engagement",
    ]
    assert assets.mart_assets("snowflake") == (assets.DIM_CUSTOMER, assets.FCT_CUSTOMER_ENGAGEMENT)
    with pytest.raises(ValueError, match="target must be one of"):
        assets.mart_assets("bigquery")


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'SILVER'"):
        _ = assets.SILVER
