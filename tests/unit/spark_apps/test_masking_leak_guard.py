"""spark_apps.leak_guard: finds PII left in unmasked columns, names column and pattern, never values."""

from __future__ import annotations

import itertools

import pytest

from airflow_provider_lakeops.spark_apps import leak_guard
from airflow_provider_lakeops.spark_apps.leak_guard import LeakDetectedError, scan

pytestmark = pytest.mark.spark

HITS = {
    "email": ["contact: jane.doe@example.com please", "søren.k@example.co.uk"],
    "phone": ["call me at 555-123-4567 tomorrow", "(555) 123-4567", "+1 555.123.4567"],
    "ssn": ["ssn 078-05-1120 on file"],
    "ipv4": ["from 192.168.10.20", "10.0.0.1"],
    "ipv6": ["client 2001:db8::8a2e:370:7334 connected", "fe80::1"],
    "credit_card": ["card 4111 1111 1111 1111 exp 12/30", "5500-0000-0000-0004", "378282246310005"],
}
MISSES = [
    "evt-20251031-000000001",
    "ses-00000002-07",
    "2025-10-31",
    "2025-10-31T18:28:16.171Z",
    "2025-10-31 18:28:16.171",
    "/products/123",
    "1878.36",
    "123456",
    "5551234567",
    "v1.2.3",
    "4111 1111 1111 1112",  # fails the Luhn check
    "j***@example",
    "***-***-4567",
    "***-**-6789",
    "192.168.***.***",
    "J****",
    "e4e3f645ee13d98b741022f87d8ddb5a4c5b6130b590ae110895f69c745528d5",
    "12:30:45",
]


@pytest.fixture(scope="module")
def pattern_table(spark):
    """Every sample text with the boolean result of every pattern (one Spark job)."""
    from pyspark.sql import functions as F

    texts = sorted({*itertools.chain.from_iterable(HITS.values()), *MISSES})
    df = spark.createDataFrame([(t,) for t in texts], "t string")
    cols = [leak_guard.pattern_matches(name, F.col("t")).alias(name) for name in leak_guard.PATTERNS]
    return {row.t: row.asDict() for row in df.select("t", *cols).collect()}


@pytest.mark.parametrize("pattern", list(HITS))
def test_each_pattern_finds_its_pii(pattern_table, pattern):
    for text in HITS[pattern]:
        assert pattern_table[text][pattern], (pattern, text)


def test_no_false_positives_on_ids_dates_and_masked_values(pattern_table):
    for text in MISSES:
        found = [p for p in leak_guard.PATTERNS if pattern_table[text][p]]
        assert found == [], (text, found)


def test_unmasked_email_column_is_reported_by_name_not_value(spark):
    df = spark.createDataFrame(
        [(f"user{i}@example.com", f"note {i}") for i in range(50)], "contact string, notes string"
    )
    result = scan(df, ["contact", "notes"], sample_rows=20)
    assert result.status == "failed"
    assert result.sampled_rows == 20
    assert result.findings == [{"column": "contact", "pattern": "email", "rows": 20}]
    message = LeakDetectedError(result).args[0]
    assert "pattern 'email' in column 'contact' (20 of 20 sampled rows)" in message
    assert "@example.com" not in message
    assert "user" not in message


def test_repeated_values_count_once_per_row(spark):
    rows = [("jane@example.com", "same note")] * 25 + [(f"id-{i}", "same note") for i in range(15)]
    df = spark.createDataFrame(rows, "contact string, notes string")
    result = scan(df, ["contact", "notes"], sample_rows=1000)
    assert result.sampled_rows == 40
    assert result.findings == [{"column": "contact", "pattern": "email", "rows": 25}]


def test_phone_hidden_in_free_text(spark):
    rows = [("ok",), ("ping me on 555-867-5309 after 6",), ("fine",)]
    result = scan(spark.createDataFrame(rows, "comment string"), ["comment"])
    assert result.findings == [{"column": "comment", "pattern": "phone", "rows": 1}]
    assert "555" not in result.message()


def test_clean_columns_pass_and_ignore_silences_a_pattern(spark):
    df = spark.createDataFrame([("evt-1", "10.0.0.1")], "id string, server string")
    assert scan(df, ["id"]).status == "passed"
    assert scan(df, ["id", "server"]).findings == [{"column": "server", "pattern": "ipv4", "rows": 1}]
    ignored = scan(df, ["id", "server"], ignore={"SERVER": ["ipv4"]})
    assert ignored.status == "passed"
    assert ignored.findings == []


def test_sample_fraction_and_skipped(spark):
    df = spark.range(2000).selectExpr("concat('row ', id) AS t")
    result = scan(df, ["t"], sample_rows=10_000, sample_fraction=0.1)
    assert 100 < result.sampled_rows < 300  # a seeded Bernoulli sample of ~10 %
    assert result.status == "passed"
    assert scan(df, []).status == "skipped"


def test_unknown_pattern_is_an_error():
    with pytest.raises(ValueError, match="unknown pattern"):
        leak_guard.pattern_matches("iban", None)  # type: ignore[arg-type]
