"""GXValidateOperator against real systems: files on S3 (moto), SQL on fakesnow (Snowflake), the
machine's PostgreSQL and SQLite, and the Spark engine (the shared local SparkSession)."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_lakeops.operators.great_expectations import GXValidateOperator
from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.testing.services import on_ci

pytestmark = pytest.mark.integration

SUITE_FILE = Path(__file__).resolve().parents[2] / "example_dags" / "dq" / "customer_events.yaml"
BUCKET = "lakeops-lake"
# a small suite that SQL engines run in the database: keys, ranges, sets, uniqueness, row count
SQL_EXPECTATIONS = [
    {
        "name": "event_id_not_null",
        "expectation": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "event_id"},
    },
    {
        "name": "amount_positive",
        "expectation": "expect_column_values_to_be_between",
        "kwargs": {"column": "amount", "min_value": 0},
    },
    {
        "name": "event_type_known",
        "expectation": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "event_type", "value_set": ["page_view", "purchase"]},
    },
    {
        "name": "event_id_unique",
        "expectation": "expect_column_values_to_be_unique",
        "kwargs": {"column": "event_id"},
        "severity": "warn",
    },
    {"name": "has_rows", "expectation": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
]
ROWS = [
    ("e1", 10.0, "page_view", "ada@example.com"),
    ("e2", -5.0, "purchase", "grace@example.com"),
    (None, 3.5, "bogus", "alan@example.com"),
    ("e4", 1.0, "purchase", "linus@example.com"),
    ("e4", 2.0, "page_view", "ken@example.com"),
]
EMAILS = [r[3] for r in ROWS]


class RecordingTI:
    def __init__(self) -> None:
        self.xcom: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = json.loads(json.dumps(value))


def run(op: GXValidateOperator):
    ti = RecordingTI()
    ctx = {
        "ti": ti,
        "run_id": "it",
        "ds": "2025-10-31",
        "params": {},
        "logical_date": datetime(2025, 10, 31, tzinfo=timezone.utc),
    }
    op.render_template_fields(ctx)
    return op.execute(ctx), ti


def by_name(summary):
    return {e["name"]: e for e in summary["expectations"]}


def assert_sql_outcome(summary, op):
    checks = by_name(summary)
    assert summary["success"] is False  # on_failure="warn" lets the task succeed
    assert checks["event_id_not_null"]["unexpected_count"] == 1
    assert checks["amount_positive"]["unexpected_count"] == 1
    assert checks["event_type_known"]["unexpected_count"] == 1
    assert checks["event_id_unique"]["status"] == "failed"
    assert checks["has_rows"]["observed_value"] == 5
    assert summary["statistics"]["execution_errors"] == 0
    assert not any(e in json.dumps(summary) for e in EMAILS)
    [dataset] = op.get_openlineage_facets_on_complete(None).inputs
    assertions = dataset.inputFacets["dataQualityAssertions"].assertions
    assert sorted(a.name for a in assertions if not a.success) == [
        "amount_positive",
        "event_id_not_null",
        "event_id_unique",
        "event_type_known",
    ]
    return dataset


# ------------------------------------------------------------------ S3 on moto
def test_s3_json_lines_through_the_aws_connection(lakeops_stack, tmp_path):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id="aws_default")
    if not hook.check_for_bucket(BUCKET):
        hook.create_bucket(bucket_name=BUCKET)
    landed = write_events(tmp_path / "land", 2000, day="2025-11-01", rows_per_file=700)
    prefix = "gx-test/landing/customer_events/dt=2025-11-01"
    for name in landed.files:
        hook.load_file(name, key=f"{prefix}/{Path(name).name}", bucket_name=BUCKET, replace=True)
    hook.load_string("", key=f"{prefix}/_SUCCESS", bucket_name=BUCKET, replace=True)

    op = GXValidateOperator(
        task_id="s3_gate",
        suite=SUITE_FILE.read_text(),
        data_path=f"s3://{BUCKET}/{prefix}/",
        result_location=f"s3://{BUCKET}/gx-test/dq/dt={{{{ ds }}}}/",
    )
    summary, _ = run(op)
    assert summary["success"] is True
    assert summary["rows"] == 2000
    assert summary["statistics"]["failed_error"] == 0
    stored = json.loads(hook.read_key("gx-test/dq/dt=2025-10-31/customer_events.json", bucket_name=BUCKET))
    assert stored["lakeops"]["rows"] == 2000
    [dataset] = op.get_openlineage_facets_on_complete(None).inputs
    # a partition folder names its table (lineage.naming.table_root)
    assert (dataset.namespace, dataset.name) == (f"s3://{BUCKET}", "gx-test/landing/customer_events")
    assert dataset.inputFacets["dataQualityMetrics"].fileCount == 3


# ------------------------------------------------------------------ SQL on fakesnow
@pytest.fixture(scope="module")
def snowflake_events(lakeops_stack):
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    hook = SnowflakeHook(snowflake_conn_id="snowflake_default")
    hook.run("CREATE DATABASE IF NOT EXISTS LAKEOPS")
    hook.run("CREATE SCHEMA IF NOT EXISTS LAKEOPS.PUBLIC")
    hook.run(
        "CREATE OR REPLACE TABLE LAKEOPS.PUBLIC.GX_EVENTS "
        "(EVENT_ID VARCHAR, AMOUNT FLOAT, EVENT_TYPE VARCHAR, EMAIL VARCHAR)"
    )
    hook.run(
        "INSERT INTO LAKEOPS.PUBLIC.GX_EVENTS VALUES "
        + ", ".join("(" + ", ".join("NULL" if v is None else repr(v) for v in row) + ")" for row in ROWS)
    )
    return "GX_EVENTS"


def test_snowflake_table_validated_in_the_database(snowflake_events):
    op = GXValidateOperator(
        task_id="sf_gate",
        conn_id="snowflake_default",
        table=snowflake_events,
        expectations=SQL_EXPECTATIONS,
        suite_name="sf_events",
        on_failure="warn",
    )
    summary, _ = run(op)
    dataset = assert_sql_outcome(summary, op)
    assert (dataset.namespace, dataset.name) == ("snowflake://lakeops", "LAKEOPS.PUBLIC.GX_EVENTS")


def test_snowflake_query_and_missing_column(snowflake_events):
    op = GXValidateOperator(
        task_id="sf_query",
        conn_id="snowflake_default",
        sql=f"SELECT * FROM {snowflake_events} WHERE amount >= 0;",
        expectations=SQL_EXPECTATIONS[:3],
        suite_name="sf_query",
        on_failure="warn",
    )
    summary, _ = run(op)
    assert {n for n, e in by_name(summary).items() if e["status"] == "failed"} == {
        "event_id_not_null",
        "event_type_known",
    }  # the negative amount was filtered out by the query
    [dataset] = op.get_openlineage_facets_on_complete(None).inputs
    assert dataset.name == "LAKEOPS.PUBLIC.GX_EVENTS"
    bad = GXValidateOperator(
        task_id="sf_bad",
        conn_id="snowflake_default",
        table=snowflake_events,
        expectations=[
            {"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "customer_id"}}
        ],
    )
    with pytest.raises(ValueError, match="column 'customer_id' is not in the data"):
        run(bad)


# ------------------------------------------------------------------ SQLite
@pytest.fixture
def sqlite_conn(tmp_path, monkeypatch):
    path = tmp_path / "events.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE events (event_id TEXT, amount REAL, event_type TEXT, email TEXT)")
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", ROWS)
    monkeypatch.setenv("AIRFLOW_CONN_GX_SQLITE", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


def test_sqlite_table_and_query(sqlite_conn):
    op = GXValidateOperator(
        task_id="sqlite_gate",
        conn_id="gx_sqlite",
        table="events",
        expectations=SQL_EXPECTATIONS,
        suite_name="sqlite_events",
        on_failure="warn",
    )
    summary, _ = run(op)
    dataset = assert_sql_outcome(summary, op)
    assert (dataset.namespace, dataset.name) == (f"sqlite://{sqlite_conn}", "events")
    query = GXValidateOperator(
        task_id="sqlite_query",
        conn_id="gx_sqlite",
        sql="select * from events where event_type <> 'bogus'",
        expectations=SQL_EXPECTATIONS[2:3],
        suite_name="sqlite_query",
    )
    assert run(query)[0]["success"] is True


def test_sqlite_missing_table_is_a_clear_error(sqlite_conn):
    op = GXValidateOperator(
        task_id="sqlite_missing", conn_id="gx_sqlite", table="nope", expectations=SQL_EXPECTATIONS[:1]
    )
    with pytest.raises(ValueError, match="table 'nope' does not exist on connection 'gx_sqlite'"):
        run(op)


# ------------------------------------------------------------------ PostgreSQL
@pytest.mark.services
def test_postgres_table(monkeypatch, lakeops_databases):
    """The stack's own PostgreSQL (own cluster, own port): nothing on the machine is assumed."""
    pg = lakeops_databases.postgres
    import importlib.util

    if not any(importlib.util.find_spec(m) for m in ("psycopg2", "psycopg")):
        message = "no PostgreSQL driver (psycopg2-binary or psycopg) is installed in this environment"
        if on_ci():
            pytest.fail(message)
        pytest.skip(message)
    import sqlalchemy as sa

    url = sa.engine.URL.create(
        "postgresql",
        username=pg.admin_user,
        password=pg.admin_password,
        host=pg.host,
        port=pg.port,
        database="postgres",
    )
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS public.gx_events"))
        conn.execute(
            sa.text(
                "CREATE TABLE public.gx_events (event_id text, amount double precision, "
                "event_type text, email text)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO public.gx_events VALUES (:a, :b, :c, :d)"),
            [dict(zip("abcd", row, strict=True)) for row in ROWS],
        )
    monkeypatch.setenv(
        "AIRFLOW_CONN_GX_POSTGRES",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": pg.host,
                "port": pg.port,
                "login": pg.admin_user,
                "password": pg.admin_password,
                "schema": "postgres",
            }
        ),
    )
    try:
        op = GXValidateOperator(
            task_id="pg_gate",
            conn_id="gx_postgres",
            table="public.gx_events",
            expectations=SQL_EXPECTATIONS,
            suite_name="pg_events",
            on_failure="warn",
        )
        summary, _ = run(op)
        dataset = assert_sql_outcome(summary, op)
        assert (dataset.namespace, dataset.name) == (
            f"postgres://127.0.0.1:{pg.port}",
            "postgres.public.gx_events",
        )
        assert pg.admin_password not in json.dumps(summary)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS public.gx_events"))
        engine.dispose()


# ------------------------------------------------------------------ Spark engine
@pytest.mark.spark
def test_spark_engine_on_parquet(spark, tmp_path):
    write_events(tmp_path / "events", 2000, fmt="parquet", rows_per_file=1000, defect_rate=0.2)
    op = GXValidateOperator(
        task_id="spark_gate",
        suite=SUITE_FILE.read_text(),
        engine="spark",
        data_path=str(tmp_path / "events"),
        on_failure="warn",
        result_location=str(tmp_path / "results"),
    )
    summary, _ = run(op)
    assert summary["success"] is False
    assert summary["statistics"]["failed_error"] == 5
    assert by_name(summary)["has_rows"]["observed_value"] == 2000
    assert os.path.exists(tmp_path / "results" / "customer_events.json")
    assert spark.range(1).count() == 1  # the shared session was reused, not stopped
