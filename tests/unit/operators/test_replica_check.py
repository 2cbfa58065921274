"""TableParityCheckOperator without a database: canonical values and the argument checks that run
before any connection is opened."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from airflow_provider_lakeops.operators.replica_check import (
    TableParityCheckOperator,
    canonical_value,
    row_digest,
)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"source_table": "public.x; drop table y"}, "source_table", id="injection"),
        pytest.param({"keys": "customer_id"}, "keys must be a list", id="keys-string"),
        pytest.param({"columns": ["amount", "amount"]}, "names a column twice", id="dup-column"),
    ],
)
def test_bad_names_are_refused_before_any_query(kwargs, match):
    args = {
        "source_conn_id": "nope",
        "source_table": "public.t",
        "target_conn_id": "nope",
        "target_table": "t",
        "keys": ["id"],
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        TableParityCheckOperator(task_id="bad", **args).execute(context={})


def test_static_arguments_are_checked_at_construction():
    with pytest.raises(ValueError, match="on_mismatch must be one of fail, warn"):
        TableParityCheckOperator(
            task_id="x",
            source_conn_id="a",
            source_table="t",
            target_conn_id="b",
            target_table="t",
            keys=["id"],
            on_mismatch="ignore",
        )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(Decimal("10.50"), 10.5, id="numeric-float"),
        pytest.param(Decimal("-0.00"), 0, id="negative-zero"),
        pytest.param(
            dt.datetime(2025, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            dt.datetime(2025, 1, 1, 10),
            id="aware-utc",
        ),
    ],
)
def test_canonical_values_agree_across_engines(a, b):
    assert canonical_value(a) == canonical_value(b)


def test_null_and_empty_string_differ():
    assert row_digest([None]) != row_digest([""])


# ------------------------------------------------------------------------------ a Delta replica
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"target_conn_id": "b", "target_table": "t", "target_delta_path": "/x"}, "not both", id="both"
        ),
        pytest.param({"target_conn_id": "b"}, "target_delta_path", id="no-table"),
        pytest.param({}, "target_delta_path", id="neither"),
    ],
)
def test_one_kind_of_replica(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TableParityCheckOperator(task_id="x", source_conn_id="a", source_table="t", keys=["id"], **kwargs)


def delta_operator(path: str, **kwargs) -> TableParityCheckOperator:
    return TableParityCheckOperator(
        task_id="check_silver",
        source_conn_id="nope",
        source_table="public.t",
        target_delta_path=path,
        keys=["customer_id"],
        **kwargs,
    )


def test_a_relative_delta_path_is_refused_before_any_query():
    with pytest.raises(ValueError, match="target_delta_path must be an s3:// URI or an absolute path"):
        delta_operator("silver/events").execute(context={})


def test_delta_rows_are_read_with_delta_rs_by_column_name_in_any_case(tmp_path):
    import pyarrow as pa
    from deltalake import write_deltalake

    path = str(tmp_path / "silver")
    table = pa.table(
        {
            "Customer_ID": pa.array([1, 2], pa.int64()),
            "amount": pa.array([10.5, None], pa.float64()),
            "event_ts": pa.array([dt.datetime(2025, 1, 1, 10), None], pa.timestamp("us", tz="UTC")),
            "_source_position": ["p1", "p2"],
        }
    )
    write_deltalake(path, table)
    op = delta_operator(path)
    rows = list(op._delta_rows(path, ["customer_id", "amount", "event_ts"]))
    assert rows[0][:2] == (1, 10.5)
    assert rows[1] == (2, None, None)
    assert canonical_value(rows[0][2]) == canonical_value(dt.datetime(2025, 1, 1, 10))
    with pytest.raises(ValueError, match=r"no column\(s\) \['email'\]"):
        list(op._delta_rows(path, ["customer_id", "email"]))
    with pytest.raises(ValueError, match="is not a Delta table"):
        list(op._delta_rows(str(tmp_path / "nothing"), ["customer_id"]))


def test_delta_replica_lineage_names_the_table_root(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOPE", '{"conn_type": "postgres", "host": "db", "port": 5432, "schema": "app"}'
    )
    lineage = delta_operator("s3://lake/silver/events/").get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("postgres://db:5432", "app.public.t"),
        ("s3://lake", "silver/events"),
    ]
