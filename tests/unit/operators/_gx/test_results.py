"""Outcomes of a GX validation (_gx/results.py): PII-safe formatting, the bounded summary, the message."""

from __future__ import annotations

import json

import pytest

from airflow_provider_lakeops.operators._gx.results import (
    XCOM_LIMIT_BYTES,
    ExpectationOutcome,
    ValidationOutcome,
    bounded_summary,
    mask_value,
    scrub_message,
)


# ------------------------------------------------------------------ PII-safe formatting
@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("jane.doe7@example.com", "xxxx.xxx9@xxxxxxx.xxx"),
        ("123-45-6789", "999-99-9999"),
        (None, "null"),
        (-12.5, "-99.9"),
        ("Zoë Núñez", "xxx xxxxx"),
        ("x" * 70, "x" * 64 + "..."),
    ],
    ids=["email", "ssn", "null", "number", "unicode", "long"],
)
def test_mask_value_keeps_only_the_shape(value, masked):
    assert mask_value(value) == masked


def test_scrub_message_removes_values_and_secrets():
    text = (
        "could not convert 'jane@example.com' to float near \"Ada Lovelace\" row 12345 "
        "ip 2001:db8:0:0:1:0:0:1 pw s3cr3t-pw jane@example.com"
    )
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
        items.append(
            ExpectationOutcome(
                index=i,
                name=f"check_{i:04d}_" + "x" * 40,
                type="expect_column_values_to_not_be_null",
                column=f"col_{i}",
                severity="error" if i % 2 else "warn",
                status=status,
                metrics={
                    "element_count": 1_000_000,
                    "unexpected_count": 10 * i,
                    "unexpected_percent": 0.001 * i,
                },
                samples=["xxxx@xxx.xxx"] * 20 if status == "failed" else None,
            )
        )
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
