"""Data-quality suites for :class:`~airflow_provider_lakeops.operators.great_expectations.GXValidateOperator`.

A suite is YAML or JSON (or the same structure in Python)::

    name: customer_events
    default_severity: error          # optional; "error" or "warn"
    expectations:
      - expectation: expect_column_values_to_not_be_null   # GX 1.x snake_case name
        kwargs: {column: event_id}
        severity: error                # "error" fails the task, "warn" only reports
        name: event_id_not_null        # optional label used in messages and lineage

``type`` and ``expectation_type`` are accepted for ``expectation`` (GX's own suite JSON has
``type`` + ``kwargs`` + ``meta``; ``meta.severity`` and GX's ``severity`` values ``critical`` /
``warning`` / ``info`` are understood too). A bare list of expectations is a suite as well.

Parsing needs no Great Expectations; :func:`build_gx_suite` checks every expectation against GX
(the type exists, the arguments are complete and valid) before any data is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SEVERITIES",
    "ExpectationSpec",
    "SuiteSpec",
    "build_gx_suite",
    "check_columns",
    "parse_suite",
]

SEVERITIES = ("error", "warn")
#: GX 1.x's own severity names, mapped both ways.
_TO_GX_SEVERITY = {"error": "critical", "warn": "warning"}
_FROM_GX_SEVERITY = {"critical": "error", "warning": "warn", "info": "warn", "error": "error", "warn": "warn"}
_TYPE_KEYS = ("expectation", "type", "expectation_type")
_ITEM_KEYS = frozenset(
    {*_TYPE_KEYS, "kwargs", "severity", "name", "description", "meta", "id", "notes", "rendered_content"}
)
_SUITE_KEYS = frozenset(
    {"name", "description", "default_severity", "expectations", "meta", "id", "notes", "suite_parameters"}
)
#: kwargs that would let a suite override the PII-safe result format the operator enforces.
_FORBIDDEN_KWARGS = frozenset({"result_format", "catch_exceptions", "include_config"})
#: Column-like kwargs that must name columns of the data (checked before validation runs).
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARG = "column_list"
_NAME_RE = re.compile(r"^expect_[a-z0-9_]+$")


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite, as the user wrote it (validated against GX by :func:`build_gx_suite`)."""

    index: int
    type: str
    kwargs: dict[str, Any]
    severity: str
    name: str
    description: str | None = None

    @property
    def label(self) -> str:
        """How messages name this expectation: ``#3 'email_format' (expect_column_values_to_match_regex)``."""
        return f"#{self.index} {self.name!r} ({self.type})"

    @property
    def column(self) -> str | None:
        value = self.kwargs.get("column")
        return value if isinstance(value, str) else None

    def referenced_columns(self) -> list[str]:
        """Columns the data must have for this expectation to run (not the ones it tests for)."""
        if self.type.startswith("expect_table_") or self.type == "expect_column_to_exist":
            return []
        cols = [self.kwargs[k] for k in _COLUMN_KWARGS if isinstance(self.kwargs.get(k), str)]
        listed = self.kwargs.get(_COLUMN_LIST_KWARG)
        if isinstance(listed, (list, tuple)):
            cols.extend(c for c in listed if isinstance(c, str))
        return cols


@dataclass(frozen=True)
class SuiteSpec:
    """A parsed suite: its name and its expectations in the order they were written."""

    name: str
    expectations: tuple[ExpectationSpec, ...]
    description: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def by_index(self) -> dict[int, ExpectationSpec]:
        return {spec.index: spec for spec in self.expectations}


def _load_text(text: str, source: str) -> Any:
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"suite {source} is empty")
    if stripped[0] in "[{":
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            pass  # YAML flow style also starts with { or [: let the YAML parser say what is wrong
    import yaml

    try:
        return yaml.safe_load(stripped)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise ValueError(f"suite {source} is neither valid YAML nor JSON{where}: {problem}") from None


def _severity(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.lower() not in _FROM_GX_SEVERITY:
        raise ValueError(f"{where}: severity must be one of {', '.join(SEVERITIES)}, got {value!r}")
    return _FROM_GX_SEVERITY[value.lower()]


def _parse_item(item: Any, index: int, default_severity: str, suite: str) -> ExpectationSpec:
    where = f"suite {suite!r} expectation #{index}"
    if not isinstance(item, Mapping):
        raise ValueError(
            f"{where} must be a mapping with 'expectation' and 'kwargs', got {type(item).__name__}"
        )
    unknown = sorted(set(item) - _ITEM_KEYS)
    if unknown:
        raise ValueError(
            f"{where} has unknown keys {unknown}; allowed: expectation (or type), kwargs, "
            f"severity, name, description, meta"
        )
    given = [k for k in _TYPE_KEYS if item.get(k) is not None]
    if len(given) != 1:
        raise ValueError(
            f"{where} needs exactly one of 'expectation', 'type', 'expectation_type'"
            f"{f' (got {given})' if given else ''}"
        )
    etype = item[given[0]]
    if not isinstance(etype, str) or not _NAME_RE.match(etype):
        raise ValueError(
            f"{where}: {etype!r} is not a GX expectation name; use the snake_case form, "
            f"e.g. 'expect_column_values_to_not_be_null'"
        )
    kwargs = item.get("kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise ValueError(f"{where} ({etype}): kwargs must be a mapping, got {type(kwargs).__name__}")
    bad = sorted(_FORBIDDEN_KWARGS & set(kwargs))
    if bad:
        raise ValueError(
            f"{where} ({etype}): kwargs {bad} are set by the operator (PII-safe result format); "
            f"remove them from the suite"
        )
    meta = item.get("meta") or {}
    if not isinstance(meta, Mapping):
        raise ValueError(f"{where} ({etype}): meta must be a mapping")
    raw_severity = item.get("severity", meta.get("severity", default_severity))
    name = item.get("name") or _default_name(etype, kwargs)
    if not isinstance(name, str):
        raise ValueError(f"{where} ({etype}): name must be a string")
    description = item.get("description")
    return ExpectationSpec(
        index=index,
        type=etype,
        kwargs=dict(kwargs),
        severity=_severity(raw_severity, f"{where} ({etype})"),
        name=name,
        description=str(description) if description is not None else None,
    )


def _default_name(etype: str, kwargs: Mapping[str, Any]) -> str:
    short = etype.removeprefix("expect_")
    column = kwargs.get("column")
    return f"{column}:{short}" if isinstance(column, str) else short


def parse_suite(raw: Any, *, default_name: str = "lakeops_suite", source: str = "(inline)") -> SuiteSpec:
    """Parse a suite from YAML/JSON text, a mapping or a list of expectations.

    :param raw: the suite (text, mapping with ``expectations``, or a list of expectation mappings).
    :param default_name: the suite's name when it does not give one.
    :param source: where the suite came from, for messages (a path or ``(inline)``).
    :raises ValueError: naming the expectation and what is wrong with it.
    """
    data = _load_text(raw, source) if isinstance(raw, str) else raw
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        data = {"expectations": list(data)}
    if not isinstance(data, Mapping):
        raise ValueError(
            f"suite {source} must be a mapping with an 'expectations' list (or a list), "
            f"got {type(data).__name__}"
        )
    unknown = sorted(set(data) - _SUITE_KEYS)
    if unknown:
        raise ValueError(
            f"suite {source} has unknown keys {unknown}; allowed: name, description, "
            f"default_severity, expectations, meta"
        )
    name = data.get("name") or default_name
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9_.\-]{1,100}$", name):
        raise ValueError(f"suite {source}: name must be 1-100 letters, digits, '_', '.' or '-', got {name!r}")
    default_severity = _severity(data.get("default_severity", "error"), f"suite {name!r} default_severity")
    items = data.get("expectations")
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)) or not items:
        raise ValueError(
            f"suite {name!r} ({source}) has no expectations: give a non-empty 'expectations' list"
        )
    specs = tuple(_parse_item(item, i, default_severity, name) for i, item in enumerate(items, start=1))
    seen: dict[str, ExpectationSpec] = {}
    for spec in specs:
        key = json.dumps([spec.type, spec.kwargs], sort_keys=True, default=str)
        if key in seen:
            raise ValueError(
                f"suite {name!r}: expectation {spec.label} repeats {seen[key].label} with the "
                f"same arguments; remove one (GX would silently keep only the first)"
            )
        seen[key] = spec
    meta = data.get("meta") or {}
    description = data.get("description")
    return SuiteSpec(
        name=name,
        expectations=specs,
        description=str(description) if description else None,
        meta=dict(meta) if isinstance(meta, Mapping) else {},
    )


def _describe_validation_error(exc: Exception) -> str:
    """Turn a pydantic error of a GX expectation into 'missing argument x; unknown argument y'."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).splitlines()[0]
    parts: list[str] = []
    seen: set[str] = set()
    for err in errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "?"
        if loc in seen:
            continue  # union types report one error per alternative: the first says it best
        seen.add(loc)
        kind = err.get("type", "")
        if kind == "value_error.missing":
            parts.append(f"missing required argument {loc!r}")
        elif kind == "value_error.extra":
            parts.append(f"unknown argument {loc!r}")
        elif loc == "__root__":
            parts.append(str(err.get("msg")))
        else:
            parts.append(f"argument {loc!r}: {err.get('msg')}")
    return "; ".join(parts)


def build_gx_suite(context: Any, suite: SuiteSpec) -> Any:
    """Check every expectation against GX and add them to a new suite of ``context``.

    Every problem of every expectation is collected and reported at once.

    :return: the GX ``ExpectationSuite``.
    :raises ValueError: an unknown expectation type or bad arguments, naming each expectation.
    """
    import great_expectations as gx
    from great_expectations.exceptions import ExpectationNotFoundError
    from great_expectations.expectations.registry import get_expectation_impl

    built: list[Any] = []
    problems: list[str] = []
    for spec in suite.expectations:
        try:
            impl = get_expectation_impl(spec.type)
        except ExpectationNotFoundError:
            problems.append(f"{spec.label}: unknown expectation type (see the GX expectation gallery)")
            continue
        arguments: dict[str, Any] = {
            **spec.kwargs,
            "severity": _TO_GX_SEVERITY[spec.severity],
            "meta": {"lakeops_index": spec.index, "lakeops_name": spec.name},
        }
        if spec.description:
            arguments["description"] = spec.description
        try:
            built.append(impl(**arguments))
        except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
            problems.append(f"{spec.label}: {_describe_validation_error(exc)}")
    if problems:
        raise ValueError(f"suite {suite.name!r} is invalid:\n  - " + "\n  - ".join(problems))
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite.name, meta={"lakeops": True}))
    for expectation in built:
        gx_suite.add_expectation(expectation)
    return gx_suite


def check_columns(suite: SuiteSpec, columns: Sequence[str], *, case_sensitive: bool = True) -> None:
    """Raise ``ValueError`` naming every expectation that refers to a column the data does not have."""
    present = set(columns)
    folded = {c.lower(): c for c in columns}
    problems = []
    for spec in suite.expectations:
        for col in spec.referenced_columns():
            if col in present or (not case_sensitive and col.lower() in folded):
                continue
            hint = f" (did you mean {folded[col.lower()]!r}?)" if col.lower() in folded else ""
            problems.append(f"{spec.label}: column {col!r} is not in the data{hint}")
    if problems:
        shown = ", ".join(sorted(present))
        if len(shown) > 600:
            shown = shown[:600] + ", ..."
        raise ValueError(
            f"suite {suite.name!r} refers to missing columns:\n  - "
            + "\n  - ".join(problems)
            + f"\n  columns available: {shown}"
        )
