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
