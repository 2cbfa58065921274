"""spark_apps.pii_policy: parsing and validation in pure Python (no Spark started)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_lakeops.spark_apps.pii_policy import (
    LEAK_PATTERNS,
    STRATEGIES,
    HmacKeyError,
    PiiPolicy,
    PolicyError,
    check_hmac_key,
    key_fingerprint,
    load_policy,
    parse_policy,
)

REPO = Path(__file__).resolve().parents[3]
EXAMPLE_POLICY = REPO / "example_dags" / "policies" / "customer_events_pii.yaml"


def test_module_imports_no_pyspark_and_no_airflow():
    code = (
        "import sys, airflow_provider_lakeops.spark_apps.pii_policy; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'airflow', 'py4j')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_short_and_long_forms_fill_defaults():
    policy = parse_policy(
        {
            "columns": {
                "email": "email",
                "phone": {"strategy": "phone", "min_digits": 7},
                "dob": {"strategy": "truncate_date", "unit": "year"},
                "notes": {"strategy": "redact", "value": "[removed]"},
                "id": "keep",
            }
        }
    )
    assert policy.mode == "strict"
    assert policy.rule_for("EMAIL").params == {"keep_chars": 1}
    assert policy.rule_for("phone").params == {"min_digits": 7}
    assert policy.rule_for("dob").params == {"unit": "year"}
    assert policy.rule_for("notes").params == {"value": "[removed]"}
    assert policy.masked_columns == {
        "email": "email",
        "phone": "phone",
        "dob": "truncate_date",
        "notes": "redact",
    }
    assert not policy.uses_hmac
    assert policy.leak_guard.patterns == LEAK_PATTERNS


def test_list_form_and_json_round_trip():
    policy = parse_policy(
        {
            "mode": "passthrough",
            "columns": [{"column": "email", "strategy": "hmac"}, {"name": "ip", "strategy": "ip"}],
        }
    )
    assert policy.uses_hmac
    again = parse_policy(policy.to_json())
    assert again == policy
    assert json.loads(policy.to_json())["columns"]["email"] == {"strategy": "hmac"}


def test_example_policy_is_valid_and_strict():
    policy = load_policy(str(EXAMPLE_POLICY))
    assert policy.mode == "strict"
    assert policy.masked_columns == {
        "email": "hmac",
        "phone": "phone",
        "ssn": "ssn",
        "full_name": "name",
        "ip_address": "ip",
    }
    from airflow_provider_lakeops.sample_data import COLUMNS

    policy.check_columns(COLUMNS)  # every generated column is listed


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param(
            {"columns": {"email": "scramble"}}, "unknown strategy 'scramble'", id="unknown-strategy"
        ),
        pytest.param(
            {"columns": {"email": {"strategy": "email", "keep": 2}}},
            "unknown email parameter 'keep'",
            id="unknown-param",
        ),
        pytest.param(
            {"columns": {"email": {"strategy": "email", "keep_chars": -1}}},
            "between 0 and 8",
            id="param-range",
        ),
        pytest.param(
            {"columns": {"email": {"strategy": "email", "keep_chars": True}}},
            "must be an integer",
            id="param-bool",
        ),
        pytest.param(
            {"columns": {"d": {"strategy": "truncate_date", "unit": "hour"}}},
            "must be one of",
            id="date-unit",
        ),
        pytest.param({"columns": {"Email": "hmac", "email": "keep"}}, "named twice", id="duplicate-case"),
        pytest.param(
            {"columns": [{"column": "a", "strategy": "keep"}, {"column": "a", "strategy": "ip"}]},
            "named twice",
            id="duplicate-list",
        ),
        pytest.param({"columns": {}}, "'columns' is empty", id="empty"),
        pytest.param({"mode": "lenient", "columns": {"a": "keep"}}, "mode must be one of", id="mode"),
        pytest.param({"version": 2, "columns": {"a": "keep"}}, "unsupported policy version", id="version"),
        pytest.param({"columns": {"a": "keep"}, "extra": 1}, "unknown top-level key 'extra'", id="top-key"),
        pytest.param(
            {"columns": {"a": "keep"}, "leak_guard": {"sample_rows": 0}}, "sample_rows", id="guard-rows"
        ),
        pytest.param(
            {"columns": {"a": "keep"}, "leak_guard": {"sample_fraction": 2}},
            "sample_fraction",
            id="guard-fraction",
        ),
        pytest.param(
            {"columns": {"a": "keep"}, "leak_guard": {"patterns": ["iban"]}},
            "unknown pattern",
            id="guard-pattern",
        ),
        pytest.param({"columns": {"": "keep"}}, "non-empty strings", id="empty-name"),
        pytest.param({}, "no 'columns'", id="no-columns"),
    ],
)
def test_invalid_policies_name_the_problem(raw, fragment):
    with pytest.raises(PolicyError) as excinfo:
        parse_policy(raw)
    assert fragment in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_every_problem_is_reported_at_once():
    with pytest.raises(PolicyError) as excinfo:
        parse_policy({"mode": "x", "columns": {"a": "nope", "b": {"strategy": "phone", "min_digits": 99}}})
    assert len(excinfo.value.problems) == 3


def test_yaml_duplicate_keys_are_rejected():
    text = "columns:\n  email: hmac\n  phone: phone\n  email: keep\n"
    with pytest.raises(PolicyError, match=r"duplicate key 'email' at line 4 \(first at line 2\)"):
        parse_policy(text)


def test_json_duplicate_keys_are_rejected():
    with pytest.raises(PolicyError, match="duplicate key 'email'"):
        parse_policy('{"columns": {"email": "hmac", "email": "keep"}}')


def test_bad_yaml_and_missing_file():
    with pytest.raises(PolicyError, match="not valid YAML"):
        parse_policy("columns: [unclosed")
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy("/nonexistent/policy.yaml")
    with pytest.raises(PolicyError, match="empty"):
        parse_policy("   ")


def test_check_columns_missing_and_strict():
    policy = parse_policy({"columns": {"email": "hmac", "gone": "keep"}})
    with pytest.raises(PolicyError) as excinfo:
        policy.check_columns(["email", "phone"])
    message = str(excinfo.value)
    assert "column 'gone' is in the policy but not in the input" in message
    assert "strict mode: input column(s) 'phone' are not in the policy" in message


def test_check_columns_passthrough_allows_unlisted():
    policy = parse_policy({"mode": "passthrough", "columns": {"EMAIL": "hmac"}})
    policy.check_columns(["email", "anything"])  # case-insensitive, unlisted columns pass through
    with pytest.raises(PolicyError, match="not in the input"):
        policy.check_columns(["anything"])


def test_strategies_have_matching_functions():
    from airflow_provider_lakeops.spark_apps.masking import STRATEGY_FUNCTIONS

    assert set(STRATEGIES) == set(STRATEGY_FUNCTIONS)


def test_leak_patterns_match_the_guard():
    from airflow_provider_lakeops.spark_apps.leak_guard import PATTERNS

    assert set(LEAK_PATTERNS) == set(PATTERNS)


def test_hmac_key_checks_never_show_the_key():
    short = "s3cr3t-but-short"
    with pytest.raises(HmacKeyError) as excinfo:
        check_hmac_key(short)
    assert short not in str(excinfo.value)
    assert "16 bytes long; at least 32" in str(excinfo.value)
    with pytest.raises(HmacKeyError, match="no HMAC key"):
        check_hmac_key("")
    assert check_hmac_key("é" * 16) == ("é" * 16).encode()  # 32 bytes of UTF-8


def test_key_fingerprint_is_short_stable_and_not_a_token():
    key = b"k" * 48
    fingerprint = key_fingerprint(key)
    assert fingerprint == key_fingerprint(key)
    assert len(fingerprint) == 12
    assert fingerprint != key_fingerprint(b"j" * 48)
    assert fingerprint == hmac.new(key, b"lakeops-pii-key-fingerprint", hashlib.sha256).hexdigest()[:12]


def test_parse_policy_passes_a_policy_through():
    policy = parse_policy({"columns": {"a": "keep"}})
    assert parse_policy(policy) is policy
    assert isinstance(policy, PiiPolicy)
