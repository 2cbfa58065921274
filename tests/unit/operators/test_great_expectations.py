"""GXValidateOperator without running GX: constructor checks, suite parsing, templating, PII-safe
formatting, the XCom size bound and lineage facets. Validation itself is tested on real GX in
``test_great_expectations_validation.py`` and on the local stack in
``tests/integration/test_gx_sources.py``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from airflow_provider_lakeops.operators._gx.suite import parse_suite
from airflow_provider_lakeops.operators.great_expectations import GXDataDocsLink, GXValidateOperator

SUITE_FILE = Path(__file__).resolve().parents[3] / "example_dags" / "dq" / "customer_events.yaml"
NOT_NULL = {"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "event_id"}}


def _op(**kwargs):
    base = {"task_id": "gate", "expectations": [NOT_NULL], "data_path": "/lake/landing"}
    return GXValidateOperator(**{**base, **kwargs})


# ------------------------------------------------------------------ constructor
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"suite": "s.yaml"}, ValueError, "exactly one of suite"),
        ({"expectations": None}, ValueError, "exactly one of suite"),
        ({"expectations": "dq.yaml"}, TypeError, "list of mappings"),
        ({"conn_id": "db", "table": "t"}, ValueError, "exactly one data source"),
        ({"data_path": None}, ValueError, "exactly one data source"),
        ({"data_path": None, "conn_id": "db"}, ValueError, "exactly one of table or sql"),
        (
            {"data_path": None, "conn_id": "db", "table": "t", "sql": "select 1"},
            ValueError,
            "exactly one of table",
        ),
        ({"table": "t"}, ValueError, "need conn_id"),
        ({"engine": "polars"}, ValueError, "engine must be one of"),
        (
            {"data_path": None, "conn_id": "db", "table": "t", "engine": "spark"},
            ValueError,
            "validates files",
        ),
        ({"on_failure": "ignore"}, ValueError, "on_failure must be one of"),
        ({"unexpected_samples": 21}, ValueError, "0..20"),
        ({"unexpected_samples": True}, ValueError, "0..20"),
        ({"read_options": ["x"]}, TypeError, "read_options"),
    ],
    ids=[
        "two-suites",
        "no-suite",
        "expectations-str",
        "two-sources",
        "no-source",
        "conn-no-table",
        "table-and-sql",
        "table-no-conn",
        "engine",
        "spark-sql",
        "on-failure",
        "samples",
        "samples-bool",
        "read-options",
    ],
)
def test_constructor_rejects_static_mistakes(kwargs, error, message):
    with pytest.raises(error, match=message):
        _op(**kwargs)


def test_constructor_only_assigns():
    op = _op(on_failure="warn", unexpected_samples=3)
    assert op.on_failure == "warn"
    assert op.unexpected_samples == 3
    assert op.engine == "pandas"
    assert op._outcome is None
    assert op._datasets == []
    assert op._data_docs_url is None


def test_template_fields_and_ext():
    assert set(GXValidateOperator.template_fields) == {
        "suite",
        "data_path",
        "data_format",
        "data_partitions",
        "conn_id",
        "table",
        "schema",
        "sql",
        "result_location",
        "data_docs_dir",
        "fail_on_warn",
    }
    assert set(GXValidateOperator.template_ext) == {".sql", ".yaml", ".yml", ".json"}
    assert [link.name for link in GXValidateOperator.operator_extra_links] == ["GX Data Docs"]


# ------------------------------------------------------------------ templating
def _render(op, **context):
    op.render_template_fields({"ds": "2025-10-31", "run_id": "r1", "params": {}, **context})
    return op


def test_locations_ending_like_template_files_are_rendered_as_text(tmp_path):
    op = _render(
        _op(
            data_path="/lake/{{ ds }}/events.json",
            result_location="s3://b/dq/{{ ds }}.json",
            data_docs_dir="/docs/{{ ds }}",
        )
    )
    assert op.data_path == "/lake/2025-10-31/events.json"
    assert op.result_location == "s3://b/dq/2025-10-31.json"
    assert op.data_docs_dir == "/docs/2025-10-31"


def test_suite_file_relative_to_the_dag_folder_is_read_and_rendered(tmp_path):
    from airflow.sdk import DAG

    (tmp_path / "dq").mkdir()
    (tmp_path / "dq" / "s.yaml").write_text(
        "name: s_{{ ds_nodash }}\nexpectations:\n  - type: "
        "expect_column_values_to_not_be_null\n    kwargs: {column: a}\n"
    )
    with DAG("gx_tpl", schedule=None, start_date=datetime(2025, 1, 1), template_searchpath=[str(tmp_path)]):
        op = GXValidateOperator(task_id="gate", suite="dq/s.yaml", data_path="/x")
    op.resolve_template_files()
    _render(op, ds_nodash="20251031")
    assert parse_suite(op.suite).name == "s_20251031"


def test_suite_file_by_templated_absolute_path(tmp_path):
    (tmp_path / "2025-10-31.yaml").write_text(SUITE_FILE.read_text())
    op = _render(_op(expectations=None, suite=str(tmp_path) + "/{{ ds }}.yaml"))
    assert parse_suite(op.suite).name == "customer_events"


def test_missing_suite_file_is_a_clear_error(tmp_path):
    op = _op(expectations=None, suite=str(tmp_path / "nope.yaml"))
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        _render(op)


def test_lineage_without_a_run_reports_the_dataset_only():
    op = _op()
    assert op.get_openlineage_facets_on_complete(None).inputs == []


def test_data_docs_link_reads_the_operator_state():
    op = _op()
    op._data_docs_url = "file:///docs/index.html"
    assert GXDataDocsLink().get_link(op, ti_key=None) == "file:///docs/index.html"
