"""Suite parsing of GXValidateOperator (_gx/suite.py): YAML/JSON suites, tiers, clear errors, column
checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_lakeops.operators._gx.suite import check_columns, parse_suite

SUITE_FILE = Path(__file__).resolve().parents[4] / "example_dags" / "dq" / "customer_events.yaml"
NOT_NULL = {"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "event_id"}}


# ------------------------------------------------------------------ suite parsing
def test_example_suite_parses_with_two_tiers():
    suite = parse_suite(SUITE_FILE.read_text(), source=str(SUITE_FILE))
    assert suite.name == "customer_events"
    severities = {s.name: s.severity for s in suite.expectations}
    assert severities["event_id_not_null"] == "error"
    assert severities["event_id_not_null_strict"] == "warn"
    assert severities["event_id_unique"] == "warn"
    assert severities["has_rows"] == "error"
    assert {s.column for s in suite.expectations if s.column} == {
        "event_id",
        "customer_id",
        "event_type",
        "email",
        "amount",
    }


def test_gx_native_suite_json_is_accepted():
    native = {
        "name": "native",
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "a"},
                "meta": {},
                "severity": "warning",
            },
            {
                "type": "expect_column_values_to_be_unique",
                "kwargs": {"column": "a"},
                "meta": {"severity": "critical"},
            },
        ],
    }
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
    ids=[
        "empty",
        "bad-yaml",
        "scalar",
        "no-expectations",
        "unknown-suite-key",
        "bad-name",
        "no-type",
        "camel-case",
        "bad-severity",
        "typo-key",
        "kwargs-list",
        "result-format",
        "duplicate",
    ],
)
def test_bad_suites_name_the_problem(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_suite(raw)


def test_check_columns_names_every_expectation_and_suggests_case():
    suite = parse_suite(
        [
            NOT_NULL,
            {
                "expectation": "expect_column_values_to_be_between",
                "kwargs": {"column": "Amount", "min_value": 0},
                "name": "amount_ok",
            },
            {"expectation": "expect_column_to_exist", "kwargs": {"column": "not_checked"}},
            {"expectation": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["zz"]}},
        ]
    )
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
