"""PII-safe outcomes of a GX validation: summaries, messages, persisted results and lineage facets.

Everything here works on counts, percentages and expectation configuration only. Raw data values
never leave this module: GX's result dicts are reduced to an allow-list of numeric keys, observed
values are kept only for expectations whose observation is a count or a proportion (never a value
of the data) unless the user opts in, sample failing values (only when asked for) are masked to
their shape (``jane.doe7@example.com`` -> ``xxxx.xxx9@xxxxxxx.xxx``), and exception messages are
scrubbed of quoted literals, digit runs and known secrets.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_lakeops.utils.redaction import redact_secrets, scrub_values

__all__ = [
    "XCOM_LIMIT_BYTES",
    "ExpectationOutcome",
    "ValidationOutcome",
    "bounded_summary",
    "mask_value",
    "outcome_from_gx",
    "scrub_message",
]

XCOM_LIMIT_BYTES = 16 * 1024
_NUMERIC_KEYS = (
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_percent_total",
    "unexpected_percent_nonmissing",
    "missing_count",
    "missing_percent",
)
#: Expectations whose ``observed_value`` is a count, a proportion or column names: never a data value.
_SAFE_OBSERVED = frozenset(
    {
        "expect_table_row_count_to_be_between",
        "expect_table_row_count_to_equal",
        "expect_table_row_count_to_equal_other_table",
        "expect_table_column_count_to_be_between",
        "expect_table_column_count_to_equal",
        "expect_table_columns_to_match_ordered_list",
        "expect_table_columns_to_match_set",
        "expect_column_unique_value_count_to_be_between",
        "expect_column_proportion_of_unique_values_to_be_between",
        "expect_column_proportion_of_non_null_values_to_be_between",
    }
)
_MAX_SAMPLE_CHARS = 64
_MAX_MESSAGE_CHARS = 300
_MAX_NAME_CHARS = 120


def mask_value(value: Any) -> str:
    """The shape of a value: letters -> ``x``, digits -> ``9``, other characters kept, 64 chars max."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    text = str(value)
    shape = "".join("9" if ch.isdigit() else "x" if ch.isalpha() else ch for ch in text[:_MAX_SAMPLE_CHARS])
    return shape + ("..." if len(text) > _MAX_SAMPLE_CHARS else "")


def scrub_message(text: str | None, secrets: Iterable[str] = ()) -> str:
    """An exception message without secrets, credentials, quoted literals, e-mail addresses or digit runs.

    Known ``secrets`` become ``***``, then :func:`~airflow_provider_lakeops.utils.redaction.scrub_values`
    (the strictest scrub: it is a message about data values); whitespace is collapsed and the text trimmed.
    """
    if not text:
        return ""
    text = scrub_values(redact_secrets(text, secrets))
    text = " ".join(text.split())
    return text[:_MAX_MESSAGE_CHARS] + ("..." if len(text) > _MAX_MESSAGE_CHARS else "")


def _exception_infos(info: Any) -> list[Mapping[str, Any]]:
    """GX reports one ``{raised_exception, exception_message, ...}`` or a dict of them per metric."""
    if not isinstance(info, Mapping):
        return []
    if "raised_exception" in info:
        return [info]
    return [v for v in info.values() if isinstance(v, Mapping) and "raised_exception" in v]


def _describe_exception(info: Any, secrets: Iterable[str]) -> str | None:
    raised = [i for i in _exception_infos(info) if i.get("raised_exception")]
    if not raised:
        return None
    first = raised[0]
    traceback = str(first.get("exception_traceback") or "").strip().splitlines()
    last = traceback[-1] if traceback else ""
    kind = last.split(":", 1)[0].strip() if ":" in last else ""
    kind = kind.rsplit(".", 1)[-1] if re.match(r"^[A-Za-z_][\w.]*$", kind) else "Exception"
    return f"{kind}: {scrub_message(str(first.get('exception_message') or ''), secrets)}"


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return int(value) if float(value).is_integer() and not isinstance(value, float) else value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass
class ExpectationOutcome:
    """One expectation's result, reduced to what is safe to publish."""

    index: int
    name: str
    type: str
    column: str | None
    severity: str
    status: str  # passed | failed | error
    metrics: dict[str, int | float] = field(default_factory=dict)
    observed: Any = None
    samples: list[Any] | None = None
    error: str | None = None

    def to_dict(self, *, details: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name[:_MAX_NAME_CHARS],
            "type": self.type,
            "severity": self.severity,
            "status": self.status,
        }
        if self.column is not None:
            out["column"] = self.column
        out.update(self.metrics)
        if details:
            if self.observed is not None:
                out["observed_value"] = self.observed
            if self.samples:
                out["masked_samples"] = self.samples
        if self.error:
            out["error"] = self.error
        return out

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        head = f"#{self.index} {self.name!r} ({self.type}){where}"
        if self.status == "error":
            return f"{head}: execution error: {self.error}"
        unexpected, total = self.metrics.get("unexpected_count"), self.metrics.get("element_count")
        if unexpected is not None and total is not None:
            percent = float(self.metrics.get("unexpected_percent", 0.0))
            missing = int(self.metrics.get("missing_count", 0))
            if missing:  # GX's percentage is over the non-null values
                return (
                    f"{head}: {int(unexpected):,} of {int(total) - missing:,} non-null values unexpected "
                    f"({percent:.3g}%; {int(total):,} rows)"
                )
            return f"{head}: {int(unexpected):,} of {int(total):,} unexpected ({percent:.3g}%)"
        if self.observed is not None:
            return f"{head}: observed {self.observed}"
        return f"{head}: failed"


def _sanitise_result(
    etype: str, raw: Mapping[str, Any], samples: int, expose_observed: bool
) -> tuple[dict[str, Any], Any, list[Any] | None]:
    """(safe GX result dict, safe observed value, masked samples) of one GX result dict."""
    safe: dict[str, Any] = {}
    for key in _NUMERIC_KEYS:
        number = _number(raw.get(key))
        if number is not None:
            safe[key] = int(number) if key.endswith("_count") else float(number)
    observed: Any = None
    if "observed_value" in raw:
        value = raw["observed_value"]
        if etype in _SAFE_OBSERVED or expose_observed:
            if isinstance(value, (list, tuple, set, frozenset)):
                observed = sorted(str(v)[:_MAX_SAMPLE_CHARS] for v in value)[:50]
            else:
                observed = _number(value)
                if observed is None and value is not None and expose_observed:
                    observed = str(value)[:_MAX_SAMPLE_CHARS]
        else:
            observed = "<redacted>"
        safe["observed_value"] = observed
    masked: list[Any] | None = None
    if samples > 0:
        if raw.get("partial_unexpected_counts"):
            masked = [
                {"value": mask_value(item.get("value")), "count": _number(item.get("count"))}
                for item in raw["partial_unexpected_counts"][:samples]
                if isinstance(item, Mapping)
            ]
        elif raw.get("partial_unexpected_list"):
            masked = [mask_value(v) for v in list(raw["partial_unexpected_list"])[:samples]]
        if masked:
            safe["masked_samples"] = masked
    return safe, observed, masked


@dataclass
class ValidationOutcome:
    """The whole validation, reduced: what the task decides, logs, pushes and reports in lineage."""

    suite: str
    expectations: list[ExpectationOutcome]
    gx_success: bool
    rows: int | None = None
    files: int | None = None
    bytes: int | None = None
    result_location: str | None = None
    data_docs_url: str | None = None
    fail_on_warn: bool = False

    @property
    def failed_errors(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if e.status == "failed" and e.severity == "error"]

    @property
    def failed_warnings(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if e.status == "failed" and e.severity == "warn"]

    @property
    def execution_errors(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if e.status == "error"]

    @property
    def blocking(self) -> list[ExpectationOutcome]:
        """What fails the gate: execution errors, failed ``error`` expectations (and warnings with
        ``fail_on_warn``)."""
        return (
            self.execution_errors + self.failed_errors + (self.failed_warnings if self.fail_on_warn else [])
        )

    @property
    def passed(self) -> bool:
        """No ``error`` expectation failed and nothing raised; warn-only failures still pass
        (unless ``fail_on_warn``)."""
        if self.blocking:
            return False
        # GX said "failed" but nothing we can see failed: treat as an error, never as a silent pass
        return self.gx_success or bool(self.failed_warnings)

    def statistics(self) -> dict[str, Any]:
        total = len(self.expectations)
        ok = sum(1 for e in self.expectations if e.status == "passed")
        return {
            "evaluated": total,
            "successful": ok,
            "failed_error": len(self.failed_errors),
            "failed_warn": len(self.failed_warnings),
            "execution_errors": len(self.execution_errors),
            "success_percent": round(100.0 * ok / total, 2) if total else 100.0,
        }

    def message(self, max_items: int = 25) -> str:
        """The failure/warning message: each failed expectation with counts and percentages."""
        stats = self.statistics()
        verdict = "passed" if self.passed else "failed"
        rows = f"; {self.rows:,} rows" if self.rows is not None else ""
        lines = [
            f"Data-quality gate {self.suite!r} {verdict}: {stats['failed_error']} error expectation(s) "
            f"failed, {stats['execution_errors']} execution error(s), {stats['failed_warn']} warning(s) "
            f"(of {stats['evaluated']} expectations{rows})."
        ]
        warn_title = (
            "Warnings (fail_on_warn: they fail the task too):"
            if self.fail_on_warn
            else "Warnings (do not fail the task):"
        )
        for title, items in (
            ("Failed (severity error):", self.execution_errors + self.failed_errors),
            (warn_title, self.failed_warnings),
        ):
            if items:
                lines.append(title)
                lines.extend(f"  - {e.describe()}" for e in items[:max_items])
                if len(items) > max_items:
                    lines.append(f"  ... and {len(items) - max_items} more")
        if self.result_location:
            lines.append(f"Full result: {self.result_location}")
        return "\n".join(lines)

    def full_summary(
        self, run_id: str | None = None, source: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "success": self.passed,
            "gx_success": self.gx_success,
            "suite": self.suite,
            "run_id": run_id,
            "source": dict(source or {}),
            "rows": self.rows,
            "statistics": self.statistics(),
            "result_location": self.result_location,
            "data_docs_url": self.data_docs_url,
            "expectations": [e.to_dict() for e in self.expectations],
            "omitted_expectations": 0,
        }

    def column_metrics(self) -> dict[str, dict[str, int]]:
        """Per column: ``nullCount``, ``count`` and ``distinctCount`` where an expectation computed them."""
        metrics: dict[str, dict[str, int]] = {}
        for e in self.expectations:
            if e.column is None or e.status == "error":
                continue
            col = metrics.setdefault(e.column, {})
            total = e.metrics.get("element_count")
            if e.type == "expect_column_values_to_not_be_null" and "unexpected_count" in e.metrics:
                col["nullCount"] = int(e.metrics["unexpected_count"])
            elif "missing_count" in e.metrics:
                col.setdefault("nullCount", int(e.metrics["missing_count"]))
            if total is not None and "nullCount" in col:
                col["count"] = int(total) - col["nullCount"]
            if e.type == "expect_column_unique_value_count_to_be_between" and isinstance(
                e.observed, (int, float)
            ):
                col["distinctCount"] = int(e.observed)
        return {k: v for k, v in metrics.items() if v}

    def row_count(self) -> int | None:
        if self.rows is not None:
            return self.rows
        for e in self.expectations:
            if e.type.startswith("expect_table_row_count") and isinstance(e.observed, (int, float)):
                return int(e.observed)
        counts = [int(e.metrics["element_count"]) for e in self.expectations if "element_count" in e.metrics]
        return max(counts) if counts else None


def outcome_from_gx(
    result: Any, suite: Any, *, samples: int = 0, expose_observed: bool = False, secrets: Sequence[str] = ()
) -> ValidationOutcome:
    """Reduce a GX ``ExpectationSuiteValidationResult`` *in place* and return its outcome.

    The GX result object is rewritten (``result`` dicts reduced to the safe keys, exception
    tracebacks replaced by scrubbed one-liners), so anything built from it afterwards - the
    persisted JSON, Data Docs - carries no raw values either.
    """
    specs = suite.by_index()
    outcomes: list[ExpectationOutcome] = []
    for res in result.results:
        config = res.expectation_config
        meta = config.meta or {}
        spec = specs.get(meta.get("lakeops_index"))
        etype = spec.type if spec else str(config.type)
        error = _describe_exception(res.exception_info, secrets)
        safe, observed, masked = _sanitise_result(etype, dict(res.result or {}), samples, expose_observed)
        gx_safe = dict(safe)
        if "unexpected_count" in gx_safe and "unexpected_percent" not in gx_safe:
            gx_safe.pop("unexpected_count")  # GX's renderers expect both or neither
        res.result = gx_safe
        # the traceback (which may quote data) is replaced by the scrubbed one-line message
        res.exception_info = {
            "raised_exception": bool(error),
            "exception_message": error,
            "exception_traceback": error,
        }
        status = "error" if error else ("passed" if res.success else "failed")
        outcomes.append(
            ExpectationOutcome(
                index=spec.index if spec else len(outcomes) + 1,
                name=spec.name if spec else etype,
                type=etype,
                column=(spec.column if spec else config.kwargs.get("column")),
                severity=spec.severity if spec else "error",
                status=status,
                metrics={k: v for k, v in safe.items() if k in _NUMERIC_KEYS},
                observed=observed,
                samples=masked,
                error=error,
            )
        )
    outcomes.sort(key=lambda e: e.index)
    return ValidationOutcome(suite=suite.name, expectations=outcomes, gx_success=bool(result.success))


def _size(obj: Any) -> int:
    return len(json.dumps(obj, default=str, separators=(",", ":")).encode("utf-8"))


def bounded_summary(summary: dict[str, Any], limit: int = XCOM_LIMIT_BYTES) -> dict[str, Any]:
    """Shrink ``summary`` until its JSON fits ``limit`` bytes: details first, then passed entries,
    then the tail of the failed ones (``omitted_expectations`` says how many were left out)."""
    if _size(summary) <= limit:
        return summary
    out = dict(summary)
    entries = [
        {k: v for k, v in e.items() if k not in ("masked_samples", "observed_value")}
        for e in summary.get("expectations", [])
    ]
    out["expectations"] = entries
    if _size(out) > limit:
        entries = [e for e in entries if e.get("status") != "passed"]
        out["expectations"] = entries
    while entries and _size({**out, "omitted_expectations": 10**9}) > limit:
        entries = entries[: max(0, min(len(entries) - 1, len(entries) * 3 // 4))]
        out["expectations"] = entries
    out["omitted_expectations"] = len(summary.get("expectations", [])) - len(entries)
    if _size(out) > limit:  # only the fixed fields are left: cut the free-text ones
        out["source"] = {k: str(v)[:200] for k, v in dict(out.get("source") or {}).items()}
        out["result_location"] = str(out.get("result_location") or "")[:500] or None
    return out
