"""SnowflakeMergeOperator without Snowflake: constructor checks, templating, validation before any I/O."""

from __future__ import annotations

from datetime import datetime

import pytest

from airflow_provider_lakeops.operators.snowflake import SnowflakeMergeOperator

BASE = {
    "task_id": "merge",
    "target_table": "LAKEOPS.PUBLIC.T",
    "keys": ["customer_id", "event_id"],
    "ordering_column": "updated_at",
}


def op(**kwargs):
    return SnowflakeMergeOperator(**{**BASE, "source_table": "S", **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"source_table": None}, "exactly one of source_table"),
        ({"source_sql": "SELECT 1"}, "exactly one of source_table"),
        ({"mode": "upsert"}, "mode must be one of"),
        ({"on_duplicates": "ignore"}, "on_duplicates must be one of"),
        ({"on_null_keys": "keep"}, "on_null_keys must be one of"),
        ({"ordering_column": None}, "pass ordering_column"),
        ({"keys": []}, "keys must name at least one column"),
        ({"keys": ["id", "ID"]}, "names a column twice"),
        ({"keys": ["id; drop table t"]}, "refused"),
        ({"update_columns": ["a", '"b']}, "update_columns"),
        ({"insert_columns": []}, "insert_columns must name"),
        ({"operation_column": "op--"}, "refused"),
        (
            {"source_delta": "s3://lake/t"},
            "exactly one of source_table, source_sql, source_parquet, source_delta",
        ),
        ({"source_partitions": {"dt": "x"}}, "need source_delta"),
        ({"source_version": 3}, "need source_delta"),
    ],
    ids=[
        "no-source",
        "two-sources",
        "mode",
        "on-duplicates",
        "on-null-keys",
        "dedupe-needs-ordering",
        "no-keys",
        "duplicate-keys",
        "key-injection",
        "bad-update-column",
        "empty-insert-columns",
        "bad-op-column",
        "table-and-delta",
        "partitions-without-delta",
        "version-without-delta",
    ],
)
def test_constructor_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        op(**kwargs)


def test_keys_must_be_a_list():
    with pytest.raises(TypeError, match="list of column names"):
        op(keys="customer_id")


def test_fail_mode_needs_no_ordering_column():
    merge = op(ordering_column=None, on_duplicates="fail", update_columns=[])
    assert merge.on_duplicates == "fail"
    assert merge.keys == ["customer_id", "event_id"]


def test_constructor_only_assigns():
    merge = op(column_mapping={"cust": "customer_id"}, mode="append")
    assert (merge.target_table, merge.source_table, merge.mode) == ("LAKEOPS.PUBLIC.T", "S", "append")
    assert merge.column_mapping == {"cust": "customer_id"}
    assert set(SnowflakeMergeOperator.template_fields) == {
        "target_table",
        "source_table",
        "source_sql",
        "source_parquet",
        "source_delta",
        "source_partitions",
        "source_version",
        "column_mapping",
        "delete_value",
    }
    assert SnowflakeMergeOperator.template_ext == (".sql",)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"source_table": None, "source_sql": "DROP TABLE T"}, ValueError, "single SELECT or WITH"),
        ({"column_mapping": ["a", "b"]}, TypeError, "column_mapping must be a dict"),
        ({"column_mapping": {"a": "b c"}}, ValueError, "column_mapping value"),
        ({"operation_column": "op", "delete_value": "x' OR '1'='1"}, ValueError, "delete_value"),
    ],
    ids=["query-not-select", "mapping-not-dict", "mapping-bad-target", "delete-value-injection"],
)
def test_execute_validates_templated_values_before_connecting(kwargs, error, match, monkeypatch):
    # no Snowflake connection exists in this test: a validation error must come first
    monkeypatch.delenv("AIRFLOW_CONN_SNOWFLAKE_DEFAULT", raising=False)
    with pytest.raises(error, match=match):
        op(**kwargs).execute(context={})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"source_delta": "  "}, ValueError, "source_delta is empty"),
        ({"source_delta": "s3://lake/t", "source_version": "-1"}, ValueError, "non-negative integer"),
        ({"source_delta": "s3://lake/t", "source_version": True}, ValueError, "non-negative integer"),
        ({"source_delta": "s3://lake/t", "source_partitions": ["dt"]}, TypeError, "must be a dict"),
        (
            {"source_delta": "s3://lake/t", "source_partitions": {"": "x"}},
            ValueError,
            "empty partition column",
        ),
        ({"source_delta": "s3://lake/t", "source_partitions": {"dt": []}}, ValueError, "empty list"),
    ],
    ids=["empty-uri", "negative-version", "bool-version", "partitions-list", "empty-column", "empty-values"],
)
def test_execute_validates_delta_arguments_before_connecting(kwargs, error, match, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SNOWFLAKE_DEFAULT", raising=False)
    with pytest.raises(error, match=match):
        op(source_table=None, **kwargs).execute(context={})


def test_delta_source_is_templated():
    merge = op(
        source_table=None,
        source_delta="s3://lake/silver/{{ params.t }}",
        source_partitions={"dt": "{{ ds }}"},
        source_version="{{ params.v }}",
    )
    merge.render_template_fields({"ds": "2025-10-31", "params": {"t": "events", "v": "4"}})
    assert (merge.source_delta, merge.source_partitions, merge.source_version) == (
        "s3://lake/silver/events",
        {"dt": "2025-10-31"},
        "4",
    )


def test_sql_file_is_rendered(tmp_path):
    from airflow.sdk import DAG

    (tmp_path / "merge_source.sql").write_text("SELECT * FROM {{ params.table }} WHERE dt = '{{ ds }}'")
    with DAG(
        "merge_templating",
        schedule=None,
        start_date=datetime(2025, 1, 1),
        template_searchpath=[str(tmp_path)],
        params={"table": "LAKEOPS.PUBLIC.SILVER"},
    ):
        merge = SnowflakeMergeOperator(**{**BASE, "source_sql": "merge_source.sql"})
    merge.render_template_fields({"params": {"table": "LAKEOPS.PUBLIC.SILVER"}, "ds": "2025-10-31"})
    assert merge.source_sql == "SELECT * FROM LAKEOPS.PUBLIC.SILVER WHERE dt = '2025-10-31'"


def test_lineage_is_empty_before_execute():
    lineage = op().get_openlineage_facets_on_complete(None)
    assert lineage.inputs == []
    assert lineage.outputs == []
