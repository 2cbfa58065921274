"""GXValidateOperator without running GX: constructor checks, suite parsing, templating, PII-safe
formatting, the XCom size bound and lineage facets. Validation itself is tested on real GX in
``test_great_expectations_validation.py`` and on the local stack in ``tests/integration/test_gx_sources.py``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from airflow_provider_lakeops.operators._gx_publish import lineage_inputs, result_target
from airflow_provider_lakeops.operators._gx_results import (
    XCOM_LIMIT_BYTES,
    ExpectationOutcome,
    ValidationOutcome,
    bounded_summary,
    mask_value,
    scrub_message,
)
from airflow_provider_lakeops.operators._gx_sources import FileSource, normalise_format
from airflow_provider_lakeops.operators._gx_sql import SqlSource
from airflow_provider_lakeops.operators._gx_suite import check_columns, parse_suite
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
        ({"data_path": None, "conn_id": "db", "table": "t", "sql": "select 1"}, ValueError, "exactly one of table"),
        ({"table": "t"}, ValueError, "need conn_id"),
        ({"engine": "polars"}, ValueError, "engine must be one of"),
        ({"data_path": None, "conn_id": "db", "table": "t", "engine": "spark"}, ValueError, "validates files"),
        ({"on_failure": "ignore"}, ValueError, "on_failure must be one of"),
        ({"unexpected_samples": 21}, ValueError, "0..20"),
        ({"unexpected_samples": True}, ValueError, "0..20"),
        ({"read_options": ["x"]}, TypeError, "read_options"),
    ],
    ids=["two-suites", "no-suite", "expectations-str", "two-sources", "no-source", "conn-no-table",
         "table-and-sql", "table-no-conn", "engine", "spark-sql", "on-failure", "samples", "samples-bool",
         "read-options"],
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
        "suite", "data_path", "data_format", "conn_id", "table", "schema", "sql", "result_location",
        "data_docs_dir", "fail_on_warn"}
    assert set(GXValidateOperator.template_ext) == {".sql", ".yaml", ".yml", ".json"}
    assert [link.name for link in GXValidateOperator.operator_extra_links] == ["GX Data Docs"]


# ------------------------------------------------------------------ templating
def _render(op, **context):
    op.render_template_fields({"ds": "2025-10-31", "run_id": "r1", "params": {}, **context})
    return op


def test_locations_ending_like_template_files_are_rendered_as_text(tmp_path):
    op = _render(_op(data_path="/lake/{{ ds }}/events.json", result_location="s3://b/dq/{{ ds }}.json",
                     data_docs_dir="/docs/{{ ds }}"))
    assert op.data_path == "/lake/2025-10-31/events.json"
    assert op.result_location == "s3://b/dq/2025-10-31.json"
    assert op.data_docs_dir == "/docs/2025-10-31"


def test_suite_file_relative_to_the_dag_folder_is_read_and_rendered(tmp_path):
    from airflow.sdk import DAG

    (tmp_path / "dq").mkdir()
    (tmp_path / "dq" / "s.yaml").write_text("name: s_{{ ds_nodash }}\nexpectations:\n  - type: "
                                            "expect_column_values_to_not_be_null\n    kwargs: {column: a}\n")
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


# ------------------------------------------------------------------ suite parsing
def test_example_suite_parses_with_two_tiers():
    suite = parse_suite(SUITE_FILE.read_text(), source=str(SUITE_FILE))
    assert suite.name == "customer_events"
    severities = {s.name: s.severity for s in suite.expectations}
    assert severities["event_id_not_null"] == "error"
    assert severities["event_id_not_null_strict"] == "warn"
    assert severities["event_id_unique"] == "warn"
    assert severities["has_rows"] == "error"
    assert {s.column for s in suite.expectations if s.column} == {"event_id", "customer_id", "event_type",
                                                                  "email", "amount"}


def test_gx_native_suite_json_is_accepted():
    native = {"name": "native", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "meta": {}, "severity": "warning"},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "a"}, "meta": {"severity": "critical"}}]}
    suite = parse_suite(json.dumps(native))
    assert [s.severity for s in suite.expectations] == ["warn", "error"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "is empty"),
        ("name: x\nexpectations: [", "neither valid YAML nor JSON"),
        ("42", "must be a mapping"),
        ({"expectations": []}, "has no expectations"),
        ({"expectations": [NOT_NULL], "colour": 1}, "unknown keys"),
        ({"name": "bad name!", "expectations": [NOT_NULL]}, "name must be"),
        ([{"kwargs": {"column": "a"}}], "needs exactly one of 'expectation'"),
        ([{"expectation": "ExpectColumnValuesToNotBeNull"}], "snake_case"),
        ([{**NOT_NULL, "severity": "fatal"}], "severity must be one of"),
        ([{**NOT_NULL, "serverity": "warn"}], "unknown keys \\['serverity'\\]"),
        ([{**NOT_NULL, "kwargs": ["a"]}], "kwargs must be a mapping"),
        ([{**NOT_NULL, "kwargs": {"column": "a", "result_format": "COMPLETE"}}], "PII-safe result format"),
        ([NOT_NULL, {**NOT_NULL, "severity": "warn"}], "repeats #1"),
    ],
    ids=["empty", "bad-yaml", "scalar", "no-expectations", "unknown-suite-key", "bad-name", "no-type",
         "camel-case", "bad-severity", "typo-key", "kwargs-list", "result-format", "duplicate"],
)
def test_bad_suites_name_the_problem(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_suite(raw)


def test_check_columns_names_every_expectation_and_suggests_case():
    suite = parse_suite([NOT_NULL, {"expectation": "expect_column_values_to_be_between",
                                    "kwargs": {"column": "Amount", "min_value": 0}, "name": "amount_ok"},
                         {"expectation": "expect_column_to_exist", "kwargs": {"column": "not_checked"}},
                         {"expectation": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["zz"]}}])
    with pytest.raises(ValueError, match="refers to missing columns") as err:
        check_columns(suite, ["amount", "email"])
    text = str(err.value)
    assert "#1 'event_id:column_values_to_not_be_null'" in text
    assert "column 'event_id'" in text
    assert "#2 'amount_ok'" in text
    assert "did you mean 'amount'" in text
    assert "not_checked" not in text
    assert "zz" not in text
    check_columns(suite.__class__(suite.name, suite.expectations[1:2]), ["AMOUNT"], case_sensitive=False)


# ------------------------------------------------------------------ sources (static checks only)
@pytest.mark.parametrize(("fmt", "expected"), [(None, None), ("", None), ("json", "jsonl"), ("PARQUET", "parquet"),
                                               (".csv", "csv")])
def test_normalise_format(fmt, expected):
    assert normalise_format(fmt) == expected


def test_normalise_format_rejects_unknown():
    with pytest.raises(ValueError, match="data_format must be one of"):
        normalise_format("orc")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (FileSource("  ", None), "data_path is empty"),
        (FileSource("/x", "avro"), "data_format must be one of"),
        (FileSource("s3://b/k", None, engine="spark"), "cannot read s3:// URIs"),
        (SqlSource("db", table=" "), "table is empty"),
        (SqlSource("db", sql=" ; "), "sql is empty"),
        (SqlSource("", table="t"), "conn_id is empty"),
    ],
    ids=["empty-path", "format", "spark-s3", "empty-table", "empty-sql", "empty-conn"],
)
def test_source_checks(source, message):
    with pytest.raises(ValueError, match=message):
        source.check()


def test_sql_source_splits_schema_and_strips_semicolons():
    table = SqlSource("db", table="PUBLIC.EVENTS")
    table.check()
    assert (table.schema, table.table) == ("PUBLIC", "EVENTS")
    query = SqlSource("db", sql="select 1;\n")
    query.check()
    assert query.sql == "select 1"


def test_file_listing_skips_markers_and_infers_the_format(tmp_path):
    (tmp_path / "part-0.parquet").write_bytes(b"x")
    (tmp_path / "_SUCCESS").write_bytes(b"")
    (tmp_path / ".part-0.parquet.crc").write_bytes(b"")
    source = FileSource(str(tmp_path), None)
    source.check()
    source.prepare(tmp_path)
    assert source.fmt == "parquet"
    assert [Path(f).name for f in source.files] == ["part-0.parquet"]
    (tmp_path / "extra.csv").write_text("a\n1\n")
    mixed = FileSource(str(tmp_path), None)
    with pytest.raises(ValueError, match="several formats"):
        mixed.prepare(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FileSource(str(tmp_path / "missing"), "csv").prepare(tmp_path)


# ------------------------------------------------------------------ PII-safe formatting
@pytest.mark.parametrize(
    ("value", "masked"),
    [("jane.doe7@example.com", "xxxx.xxx9@xxxxxxx.xxx"), ("123-45-6789", "999-99-9999"), (None, "null"),
     (-12.5, "-99.9"), ("Zoë Núñez", "xxx xxxxx"), ("x" * 70, "x" * 64 + "...")],
    ids=["email", "ssn", "null", "number", "unicode", "long"],
)
def test_mask_value_keeps_only_the_shape(value, masked):
    assert mask_value(value) == masked


def test_scrub_message_removes_values_and_secrets():
    text = ("could not convert 'jane@example.com' to float near \"Ada Lovelace\" row 12345 "
            "ip 2001:db8:0:0:1:0:0:1 pw s3cr3t-pw jane@example.com")
    scrubbed = scrub_message(text, secrets=["s3cr3t-pw"])
    for leaked in ("jane@example.com", "Ada Lovelace", "12345", "2001:db8", "s3cr3t-pw"):
        assert leaked not in scrubbed
    assert "could not convert" in scrubbed
    assert "***" in scrubbed
    assert len(scrub_message("x" * 1000)) <= 303


# ------------------------------------------------------------------ outcome, summary, message
def _outcome(n: int, failing: int = 2) -> ValidationOutcome:
    items = []
    for i in range(1, n + 1):
        status = "failed" if i <= failing else "passed"
        items.append(ExpectationOutcome(
            index=i, name=f"check_{i:04d}_" + "x" * 40, type="expect_column_values_to_not_be_null",
            column=f"col_{i}", severity="error" if i % 2 else "warn", status=status,
            metrics={"element_count": 1_000_000, "unexpected_count": 10 * i, "unexpected_percent": 0.001 * i},
            samples=["xxxx@xxx.xxx"] * 20 if status == "failed" else None))
    return ValidationOutcome(suite="s", expectations=items, gx_success=failing == 0, rows=1_000_000)


def test_summary_is_bounded_to_16_kb_and_keeps_failures_first():
    summary = bounded_summary(_outcome(600, failing=300).full_summary("run", {"kind": "file"}))
    size = len(json.dumps(summary, separators=(",", ":")).encode())
    assert size <= XCOM_LIMIT_BYTES
    assert summary["omitted_expectations"] > 0
    assert {e["status"] for e in summary["expectations"]} == {"failed"}
    assert summary["statistics"]["evaluated"] == 600
    assert summary["statistics"]["failed_error"] == 150


def test_small_summary_is_untouched():
    full = _outcome(5).full_summary("run")
    assert bounded_summary(full) == full
    assert full["expectations"][0]["masked_samples"]


def test_message_lists_failed_expectations_with_counts_and_percentages():
    outcome = _outcome(4, failing=2)
    outcome.expectations[1].metrics["missing_count"] = 1000
    outcome.result_location = "/results/s.json"
    message = outcome.message()
    assert not outcome.passed
    assert "1 error expectation(s) failed" in message
    assert "1 warning(s)" in message
    assert "#1 'check_0001_" in message
    assert "10 of 1,000,000 unexpected (0.001%)" in message
    assert "20 of 999,000 non-null values unexpected" in message
    assert message.endswith("Full result: /results/s.json")


def test_gx_failure_without_visible_cause_is_not_a_pass():
    outcome = _outcome(3, failing=0)
    outcome.gx_success = False
    assert not outcome.passed


def test_execution_error_fails_even_a_warn_expectation():
    outcome = _outcome(2, failing=0)
    outcome.expectations[1].status, outcome.expectations[1].error = "error", "TypeError: bad operand"
    assert outcome.expectations[1].severity == "warn"
    assert not outcome.passed
    assert "execution error: TypeError: bad operand" in outcome.message()


def test_result_target():
    assert result_target("s3://b/dq/", "s") == "s3://b/dq/s.json"
    assert result_target("s3a://b/dq/x.json", "s") == "s3://b/dq/x.json"
    assert result_target("/r", "s") == "/r/s.json"
    assert result_target("file:///r/out.json", "s") == "/r/out.json"


# ------------------------------------------------------------------ lineage
def test_lineage_inputs_carry_assertions_and_metrics():
    from openlineage.client.serde import Serde

    from airflow_provider_lakeops.lineage.naming import file_dataset

    outcome = _outcome(3, failing=1)
    outcome.expectations[2].type = "expect_column_unique_value_count_to_be_between"
    outcome.expectations[2].observed = 42
    outcome.files, outcome.bytes = 2, 1234
    [dataset] = lineage_inputs([file_dataset("/lake/landing")], outcome)
    event = json.loads(Serde.to_json(dataset))
    assertions = event["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert [(a["column"], a["success"], a["severity"]) for a in assertions] == [
        ("col_1", False, "error"), ("col_2", True, "warn"), ("col_3", True, "error")]
    metrics = event["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == 1_000_000
    assert metrics["fileCount"] == 2
    assert metrics["bytes"] == 1234
    assert metrics["columnMetrics"]["col_1"] == {"nullCount": 10, "count": 999_990.0, "quantiles": {}}
    assert metrics["columnMetrics"]["col_3"]["distinctCount"] == 42
    assert (event["namespace"], event["name"]) == ("file", "/lake/landing")


def test_lineage_without_a_run_reports_the_dataset_only():
    op = _op()
    assert op.get_openlineage_facets_on_complete(None).inputs == []


def test_data_docs_link_reads_the_operator_state():
    op = _op()
    op._data_docs_url = "file:///docs/index.html"
    assert GXDataDocsLink().get_link(op, ti_key=None) == "file:///docs/index.html"
