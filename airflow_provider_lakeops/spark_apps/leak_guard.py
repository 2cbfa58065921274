"""Leak guard: scan a sample of the masked output for PII the policy did not mask.

The guard runs *before* the output is written. It casts every scanned column to a string and
counts, in one aggregation over a sample, the rows that match each PII pattern: e-mail address,
phone number (separated groups), US SSN, IPv4, IPv6 and payment card numbers (13-19 digits that
pass the Luhn check). Findings name the column and the pattern with a row count; they never
carry a value.

Patterns are Java regular expressions (Spark's ``rlike`` finds them anywhere in the text, so a
phone number inside a free-text comment is caught). They favour few false positives on common
non-PII data (ids such as ``evt-20251031-000000001``, timestamps, dates, amounts): a phone needs
separators between its groups, so a bare 10-digit number is not reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from airflow_provider_lakeops.spark_apps.masking import IPV4_REGEX, IPV6_REGEX

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["PATTERNS", "GuardResult", "LeakDetectedError", "pattern_matches", "scan"]

_CARD_CANDIDATE = r"(?<![\w-])(?:[0-9][ -]?){12,18}[0-9](?![\w-])"

#: pattern name -> Java regex (credit_card is a candidate regex, confirmed by the Luhn check).
PATTERNS: dict[str, str] = {
    "email": r"(?<![\w.%+-])[\w.%+-]++@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}",
    "phone": r"(?<![\w-])(?:\+[0-9]{1,3}[-. ]?)?(?:\([0-9]{3}\) "
    r"?|[0-9]{3}[-. ])[0-9]{3}[-. ][0-9]{4}(?![\w-])",
    "ssn": r"(?<![\w-])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![\w-])",
    "ipv4": rf"(?<![\w.]){IPV4_REGEX}(?![\w.])",
    "ipv6": rf"(?<![\w:]){IPV6_REGEX}(?![\w:])",
    "credit_card": _CARD_CANDIDATE,
}


class LeakDetectedError(Exception):
    """PII patterns were found in columns the policy did not mask; ``result`` has the findings."""

    def __init__(self, result: GuardResult) -> None:
        self.result = result
        super().__init__(result.message())


@dataclass
class GuardResult:
    """What the guard scanned and found (JSON-serialisable, names and counts only)."""

    status: str  # passed | failed | skipped
    sampled_rows: int = 0
    columns_scanned: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def message(self) -> str:
        if not self.findings:
            return f"leak guard {self.status}: {self.sampled_rows} sampled rows, no PII pattern found"
        parts = [
            f"pattern {f['pattern']!r} in column {f['column']!r} "
            f"({f['rows']} of {self.sampled_rows} sampled rows)"
            for f in self.findings
        ]
        return (
            "PII leak guard failed: " + "; ".join(parts) + ". These columns are not masked by the policy: "
            "give them a masking strategy, or list the pattern under leak_guard.ignore for that column "
            "if it is a false positive."
        )


#: cheap substring tests that must hold before a pattern's regex is worth running
_PREFILTERS: dict[str, str] = {"email": "@", "ssn": "-", "ipv4": ".", "ipv6": ":"}


def pattern_matches(name: str, col: Column) -> Column:
    """A boolean Column: does the string ``col`` contain PII pattern ``name``?"""
    if name not in PATTERNS:
        raise ValueError(f"unknown pattern {name!r}; use one of {', '.join(PATTERNS)}")
    found = col.rlike(PATTERNS[name])
    if name == "credit_card":
        candidates = F.regexp_extract_all(col, F.lit(_CARD_CANDIDATE), 0)
        luhn = F.exists(
            candidates, lambda c: F.call_function("luhn_check", F.regexp_replace(c, "[^0-9]", ""))
        )
        return found & luhn  # And short-circuits: the Luhn lambda runs only on candidates
    if name in _PREFILTERS:
        return col.contains(_PREFILTERS[name]) & found
    return found


def scan(
    df: DataFrame,
    columns: Iterable[str],
    *,
    sample_rows: int = 10_000,
    sample_fraction: float | None = None,
    patterns: Sequence[str] = tuple(PATTERNS),
    ignore: Mapping[str, Sequence[str]] | None = None,
    seed: int = 17,
) -> GuardResult:
    """Count the sampled rows of each column that match each pattern (one small Spark job).

    :param df: the masked output, before it is written.
    :param columns: the columns to scan (those the policy did not mask).
    :param sample_rows: at most this many rows are scanned.
    :param sample_fraction: None scans the first ``sample_rows`` rows (cheap: Spark reads only
        the first splits); a fraction takes a seeded Bernoulli sample first (reads more input).
    :param ignore: column -> pattern names not to report for that column (false positives).
    """
    columns = list(columns)
    ignored = {k.casefold(): set(v) for k, v in (ignore or {}).items()}
    patterns = list(patterns)
    if not columns or not patterns:
        return GuardResult(status="skipped", columns_scanned=columns, patterns=patterns)
    sample = df.select(*[df[c].cast("string").alias(f"c{i}") for i, c in enumerate(columns)])
    if sample_fraction is not None:
        sample = sample.sample(withReplacement=False, fraction=float(sample_fraction), seed=seed)
    sample = sample.limit(int(sample_rows))
    # long format (column index, text): one small expression per pattern instead of
    # columns x patterns aggregates, whose generated code would grow past the JVM's limits
    cells = sample.select(
        F.explode(
            F.array(*[F.struct(F.lit(i).alias("i"), F.col(f"c{i}").alias("v")) for i in range(len(columns))])
        ).alias("cell")
    ).select("cell.i", "cell.v")
    # each distinct (column, text) pair is matched once and weighs as many rows as carry it:
    # ids and timestamps are unique, but codes, categories, dates and flags repeat a lot
    distinct = cells.groupBy("i", "v").agg(F.count(F.lit(1)).alias("n"))
    counts = (
        distinct.groupBy("i")
        .agg(
            F.sum("n").alias("__rows"),
            *[
                F.sum(F.when(pattern_matches(p, F.col("v")), F.col("n")).otherwise(0)).alias(p)
                for p in patterns
            ],
        )
        .collect()
    )
    sampled = max((row["__rows"] for row in counts), default=0)
    findings = []
    for row in sorted(counts, key=lambda r: r["i"]):
        column = columns[row["i"]]
        for pattern in patterns:
            if row[pattern] and pattern not in ignored.get(column.casefold(), set()):
                findings.append({"column": column, "pattern": pattern, "rows": int(row[pattern])})
    return GuardResult(
        status="failed" if findings else "passed",
        sampled_rows=int(sampled),
        columns_scanned=columns,
        patterns=patterns,
        findings=findings,
    )
