"""PII masking policy as code: parsing and validation, in pure Python.

A policy maps every column to a masking strategy (and its parameters). It is validated here
*before* Spark starts: ``PiiMaskingOperator`` imports this module in the Airflow worker (it
imports nothing heavy: no pyspark, no Airflow), and the Spark job validates it again against the
real input schema before anything is written.

YAML form (a JSON string or a ``dict`` of the same shape works too)::

    version: 1
    mode: strict            # strict (default): every input column must be listed
                            # passthrough: unlisted columns are copied unchanged
    columns:
      email: hmac           # short form: the strategy name
      phone: {strategy: phone, min_digits: 10}
      full_name: name
      event_date: keep
    leak_guard:             # optional, these are the defaults
      enabled: true
      sample_rows: 10000
      sample_fraction: null # null: the first rows; 0 < f <= 1: a seeded Bernoulli sample
      patterns: [email, phone, ssn, ipv4, ipv6, credit_card]
      ignore: {}            # column -> patterns not to report in that column

``columns`` may also be a list of ``{column: name, strategy: ..., <params>}`` items. Column
names are matched case-insensitively (Spark's default), so ``Email`` and ``email`` are the same
column, and naming one twice is an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DATE_UNITS",
    "LEAK_PATTERNS",
    "MIN_KEY_BYTES",
    "MODES",
    "STRATEGIES",
    "ColumnRule",
    "HmacKeyError",
    "LeakGuardConfig",
    "PiiPolicy",
    "PolicyError",
    "check_hmac_key",
    "key_fingerprint",
    "load_policy",
    "parse_policy",
]

#: The smallest HMAC key accepted, in bytes (HMAC-SHA256's output size).
MIN_KEY_BYTES = 32
MODES: tuple[str, ...] = ("strict", "passthrough")
DATE_UNITS: tuple[str, ...] = ("year", "quarter", "month", "week", "day")
#: The patterns the leak guard knows (see :mod:`airflow_provider_lakeops.spark_apps.leak_guard`).
LEAK_PATTERNS: tuple[str, ...] = ("email", "phone", "ssn", "ipv4", "ipv6", "credit_card")


class PolicyError(ValueError):
    """A policy is invalid; ``problems`` lists every problem found (names, never data values)."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            message = f"invalid PII policy: {self.problems[0]}"
        else:
            message = "invalid PII policy:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class HmacKeyError(ValueError):
    """The HMAC key is missing or too short (the message never contains the key)."""


@dataclass(frozen=True)
class _Param:
    kind: type | tuple[type, ...]
    default: Any
    check: Any = None  # callable(value) -> error string or None


def _int_between(low: int, high: int) -> Any:
    def check(value: Any) -> str | None:
        return None if low <= value <= high else f"must be between {low} and {high}"

    return check


def _one_of(choices: Sequence[str]) -> Any:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


#: strategy name -> accepted parameters (name -> type, default, check)
STRATEGIES: dict[str, dict[str, _Param]] = {
    "keep": {},
    "hmac": {},
    "email": {"keep_chars": _Param(int, 1, _int_between(0, 8))},
    "phone": {"min_digits": _Param(int, 10, _int_between(7, 15))},
    "ssn": {},
    "name": {},
    "ip": {},
    "redact": {"value": _Param((str, type(None)), None)},
    "truncate_date": {"unit": _Param(str, "month", _one_of(DATE_UNITS))},
}


@dataclass(frozen=True)
class ColumnRule:
    """One column's masking: ``strategy`` with its parameters (defaults filled in)."""

    column: str
    strategy: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def masks(self) -> bool:
        """True unless the strategy is ``keep``."""
        return self.strategy != "keep"

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, **dict(self.params)}


@dataclass(frozen=True)
class LeakGuardConfig:
    """Settings of the leak guard that scans the masked output before it is written."""

    enabled: bool = True
    sample_rows: int = 10_000
    sample_fraction: float | None = None
    patterns: tuple[str, ...] = LEAK_PATTERNS
    ignore: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "sample_rows": self.sample_rows,
            "sample_fraction": self.sample_fraction,
            "patterns": list(self.patterns),
            "ignore": {k: list(v) for k, v in self.ignore.items()},
        }


@dataclass(frozen=True)
class PiiPolicy:
    """A validated policy. Build it with :func:`parse_policy` or :func:`load_policy`."""

    rules: tuple[ColumnRule, ...]
    mode: str = "strict"
    leak_guard: LeakGuardConfig = field(default_factory=LeakGuardConfig)
    version: int = 1

    def rule_for(self, column: str) -> ColumnRule | None:
        """The rule of ``column`` (case-insensitive), or None when the policy does not name it."""
        wanted = column.casefold()
        return next((r for r in self.rules if r.column.casefold() == wanted), None)

    @property
    def uses_hmac(self) -> bool:
        """True when a column uses the ``hmac`` strategy (a key is then required)."""
        return any(r.strategy == "hmac" for r in self.rules)

    @property
    def masked_columns(self) -> dict[str, str]:
        """column -> strategy, for every column the policy masks (everything but ``keep``)."""
        return {r.column: r.strategy for r in self.rules if r.masks}

    def check_columns(self, columns: Iterable[str]) -> None:
        """Check the policy against the input's columns.

        :raises PolicyError: a policy column is not in the input, or (``strict`` mode) an input
            column is not in the policy.
        """
        columns = list(columns)
        present = {c.casefold() for c in columns}
        problems = [
            f"column {r.column!r} is in the policy but not in the input "
            f"(input columns: {', '.join(columns) or 'none'}); remove it from the policy"
            for r in self.rules
            if r.column.casefold() not in present
        ]
        if self.mode == "strict":
            unlisted = [c for c in columns if self.rule_for(c) is None]
            if unlisted:
                problems.append(
                    f"strict mode: input column(s) {', '.join(repr(c) for c in unlisted)} are not in the "
                    "policy; give each a strategy ('keep' to copy it unchanged) or set mode: passthrough"
                )
        if problems:
            raise PolicyError(problems)

    def to_dict(self) -> dict[str, Any]:
        """The canonical, JSON-serialisable form (what the operator passes to the Spark job)."""
        return {
            "version": self.version,
            "mode": self.mode,
            "columns": {r.column: r.to_dict() for r in self.rules},
            "leak_guard": self.leak_guard.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------------------- parsing
def _yaml_load(text: str) -> Any:
    """Load YAML, rejecting duplicate keys (PyYAML silently keeps the last one otherwise)."""
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml is a dependency of the provider
        raise PolicyError("a YAML policy needs PyYAML (pip install pyyaml), or pass JSON") from exc

    class _UniqueKeyLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        seen: dict[str, int] = {}
        for key_node, _value in node.value:
            key = loader.construct_object(key_node, deep=True)
            folded = key.casefold() if isinstance(key, str) else key
            if folded in seen:
                raise PolicyError(
                    f"duplicate key {key!r} at line {key_node.start_mark.line + 1} "
                    f"(first at line {seen[folded]}); name each column once"
                )
            seen[folded] = key_node.start_mark.line + 1
        return loader.construct_mapping(node, deep=True)

    _UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise PolicyError(f"the policy is not valid YAML: {exc}") from None


def _parse_text(text: str) -> Any:
    stripped = text.strip()
    if not stripped:
        raise PolicyError("the policy is empty")
    if stripped.startswith("{"):
        try:
            return json.loads(stripped, object_pairs_hook=_json_unique_keys)
        except json.JSONDecodeError:
            pass  # YAML flow mappings also start with "{"
    return _yaml_load(text)


def _json_unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in pairs:
        if key.casefold() in seen:
            raise PolicyError(f"duplicate key {key!r}; name each column once")
        seen.add(key.casefold())
        out[key] = value
    return out


def _check_param(column: str, strategy: str, name: str, spec: _Param, value: Any) -> str | None:
    if isinstance(value, bool) and spec.kind is int:
        return f"column {column!r}: {strategy} parameter {name!r} must be an integer, got {value!r}"
    if not isinstance(value, spec.kind):
        kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        return f"column {column!r}: {strategy} parameter {name!r} must be {names}, got {value!r}"
    problem = spec.check(value) if spec.check else None
    return f"column {column!r}: {strategy} parameter {name!r} {problem}, got {value!r}" if problem else None


def _rule(column: Any, spec: Any, problems: list[str]) -> ColumnRule | None:
    if not isinstance(column, str) or not column.strip():
        problems.append(f"column names must be non-empty strings, got {column!r}")
        return None
    if isinstance(spec, str):
        spec = {"strategy": spec}
    if not isinstance(spec, Mapping):
        problems.append(f"column {column!r}: expected a strategy name or a mapping, got {spec!r}")
        return None
    strategy = spec.get("strategy")
    if strategy not in STRATEGIES:
        problems.append(
            f"column {column!r}: unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}"
        )
        return None
    allowed = STRATEGIES[strategy]
    params: dict[str, Any] = {}
    for name, value in spec.items():
        if name in ("strategy", "column", "name"):
            continue
        if name not in allowed:
            accepted = ", ".join(allowed) or "no parameters"
            problems.append(
                f"column {column!r}: unknown {strategy} parameter {name!r} (accepted: {accepted})"
            )
            continue
        error = _check_param(column, strategy, name, allowed[name], value)
        if error:
            problems.append(error)
        else:
            params[name] = value
    for name, param in allowed.items():
        params.setdefault(name, param.default)
    return ColumnRule(column=column, strategy=strategy, params=params)


def _rules(raw: Any, problems: list[str]) -> list[ColumnRule]:
    items: list[tuple[Any, Any]] = []
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            name = item.get("column", item.get("name")) if isinstance(item, Mapping) else None
            if name is None:
                problems.append(f"columns[{i}]: each list item needs 'column' and 'strategy'")
                continue
            items.append((name, item))
    else:
        problems.append("'columns' must be a mapping (column -> strategy) or a list of {column, strategy}")
        return []
    if not items:
        problems.append("'columns' is empty: name every column with a strategy ('keep' copies it)")
    rules: list[ColumnRule] = []
    seen: dict[str, str] = {}
    for column, spec in items:
        rule = _rule(column, spec, problems)
        if rule is None:
            continue
        folded = rule.column.casefold()
        if folded in seen:
            problems.append(
                f"column {rule.column!r} is named twice (also as {seen[folded]!r}); name each column once"
            )
            continue
        seen[folded] = rule.column
        rules.append(rule)
    return rules


def _leak_guard(raw: Any, problems: list[str]) -> LeakGuardConfig:
    if raw is None:
        return LeakGuardConfig()
    if not isinstance(raw, Mapping):
        problems.append("'leak_guard' must be a mapping")
        return LeakGuardConfig()
    known = {"enabled", "sample_rows", "sample_fraction", "patterns", "ignore"}
    for key in raw:
        if key not in known:
            problems.append(f"leak_guard: unknown key {key!r} (accepted: {', '.join(sorted(known))})")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"leak_guard.enabled must be true or false, got {enabled!r}")
        enabled = True
    rows = raw.get("sample_rows", 10_000)
    if isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= 10_000_000:
        problems.append(f"leak_guard.sample_rows must be an integer from 1 to 10000000, got {rows!r}")
        rows = 10_000
    fraction = raw.get("sample_fraction")
    if fraction is not None and (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float))
        or not math.isfinite(fraction)
        or not 0 < fraction <= 1
    ):
        problems.append(f"leak_guard.sample_fraction must be null or in (0, 1], got {fraction!r}")
        fraction = None
    patterns = _pattern_list("leak_guard.patterns", raw.get("patterns", list(LEAK_PATTERNS)), problems)
    ignore: dict[str, tuple[str, ...]] = {}
    raw_ignore = raw.get("ignore") or {}
    if not isinstance(raw_ignore, Mapping):
        problems.append("leak_guard.ignore must be a mapping of column -> list of patterns")
    else:
        for column, names in raw_ignore.items():
            ignore[str(column)] = _pattern_list(f"leak_guard.ignore[{column!r}]", names, problems)
    return LeakGuardConfig(
        enabled=enabled,
        sample_rows=rows,
        sample_fraction=float(fraction) if fraction is not None else None,
        patterns=patterns,
        ignore=ignore,
    )


def _pattern_list(where: str, names: Any, problems: list[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list):
        problems.append(f"{where} must be a list of pattern names")
        return ()
    unknown = [n for n in names if n not in LEAK_PATTERNS]
    if unknown:
        problems.append(f"{where}: unknown pattern(s) {unknown!r}; use {', '.join(LEAK_PATTERNS)}")
    return tuple(n for n in names if n in LEAK_PATTERNS)


def parse_policy(source: PiiPolicy | Mapping[str, Any] | str) -> PiiPolicy:
    """Validate a policy given as a dict, or as YAML or JSON text, and return it.

    :raises PolicyError: listing every problem (unknown strategy or parameter, bad parameter
        value, duplicate or empty column, unknown mode, bad leak-guard settings).
    """
    if isinstance(source, PiiPolicy):
        return source
    raw = _parse_text(source) if isinstance(source, str) else source
    if not isinstance(raw, Mapping):
        raise PolicyError(f"the policy must be a mapping with a 'columns' key, got {type(raw).__name__}")
    problems: list[str] = []
    for key in raw:
        if key not in ("version", "mode", "columns", "leak_guard"):
            problems.append(f"unknown top-level key {key!r} (accepted: version, mode, columns, leak_guard)")
    version = raw.get("version", 1)
    if version != 1:
        problems.append(f"unsupported policy version {version!r}: this release reads version 1")
    mode = raw.get("mode", "strict")
    if mode not in MODES:
        problems.append(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if "columns" not in raw:
        problems.append("the policy has no 'columns' (column -> strategy)")
        rules: list[ColumnRule] = []
    else:
        rules = _rules(raw["columns"], problems)
    guard = _leak_guard(raw.get("leak_guard"), problems)
    if problems:
        raise PolicyError(problems)
    return PiiPolicy(rules=tuple(rules), mode=str(mode), leak_guard=guard, version=1)


def load_policy(path: str) -> PiiPolicy:
    """Read and validate a policy file (YAML or JSON)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise PolicyError(f"cannot read the policy file {path!r}: {exc.strerror or exc}") from None
    return parse_policy(text)


# ------------------------------------------------------------------------------------ keys
def check_hmac_key(key: bytes | str | None) -> bytes:
    """Return the key as bytes (UTF-8) after checking it is at least :data:`MIN_KEY_BYTES` long.

    :raises HmacKeyError: the key is missing or too short (the message never shows the key).
    """
    if key is None or key == "" or key == b"":
        raise HmacKeyError("no HMAC key was given: the policy uses the 'hmac' strategy")
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_BYTES:
        raise HmacKeyError(
            f"the HMAC key is {len(raw)} bytes long; at least {MIN_KEY_BYTES} are required "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    return raw


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible identifier of a key (to tell key versions apart when rotating).

    It is ``HMAC-SHA256(key, "lakeops-pii-key-fingerprint")`` cut to 12 hex digits: it reveals
    nothing usable about the key and differs from every token the key produces.
    """
    return hmac.new(key, b"lakeops-pii-key-fingerprint", hashlib.sha256).hexdigest()[:12]
