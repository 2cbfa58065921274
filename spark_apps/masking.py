"""Masking strategies as native Spark ``Column`` expressions (no Python UDFs).

Every function takes a column (a ``Column`` or a column name) and returns a ``Column`` built
from Spark SQL functions only, so Catalyst compiles it into the JVM with whole-stage codegen and
no row ever crosses into a Python worker. Nulls stay null for every strategy. Malformed values
are never passed through: they get the strategy's fully masked form.

==============  ===================================  ======================================
strategy        example                              malformed / empty value
==============  ===================================  ======================================
hmac            64 lower-case hex digits (keyed)     hashed like any other string
email           ``jane.doe@example.com`` ->          ``***@***``
                ``j***@example.com``
phone           ``555-123-4567`` -> ``***-***-4567``  ``***-***-****``
ssn             ``123-45-6789`` -> ``***-**-6789``    ``***-**-****``
name            ``Jane Doe`` -> ``J****``             ``****``
ip              ``192.168.1.20`` -> ``192.168.***.***`` ``***``
                ``2001:db8::1`` ->
                ``2001:db8:0:****:****:****:****:****``
redact          null, or a constant                  same
truncate_date   ``2025-10-31`` -> ``2025-10-01``      null
keep            unchanged                            unchanged
==============  ===================================  ======================================

HMAC-SHA256 is built from ``sha2`` and ``unhex``: ``H((K ^ opad) || H((K ^ ipad) || m))``
(RFC 2104). The padded key blocks are *not* literals of the plan (a literal ``K ^ ipad`` is the
key, XOR a constant): they live in a one-row DataFrame that the expression reads through a
scalar subquery, so ``explain()``, the Spark UI and the event log show
``scalar-subquery#N`` instead of key material. See ``docs/operators/pii_masking.md`` for what
this does and does not protect.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "IPV4_REGEX",
    "IPV6_REGEX",
    "STRATEGY_FUNCTIONS",
    "HmacKey",
    "apply_policy",
    "hmac_key",
    "hmac_sha256",
    "keep",
    "mask_email",
    "mask_ip",
    "mask_name",
    "mask_phone",
    "mask_ssn",
    "redact",
    "strategy_column",
    "truncate_date",
]

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: A dotted-quad IPv4 address, each octet 0-255 without leading zeros.
IPV4_REGEX = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H = r"[0-9a-fA-F]{1,4}"
#: An IPv6 address in full or ``::``-compressed form (no zone id, no embedded IPv4).
IPV6_REGEX = (
    rf"(?:(?:{_H}:){{7}}{_H}"
    rf"|(?:{_H}:){{1,7}}:"
    rf"|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}"
    rf"|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}"
    rf"|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}"
    rf"|:(?:(?::{_H}){{1,7}}|:))"
)
_EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_SSN_SHAPE = r"^[0-9]{3}-?[0-9]{2}-?[0-9]{4}$"
_TRUNC_UNITS = {"year": "year", "quarter": "quarter", "month": "month", "week": "week", "day": "day"}


def _col(col: Column | str) -> Column:
    return F.col(col) if isinstance(col, str) else col


def _text(col: Column | str) -> Column:
    return _col(col).cast("string")


def _masked(col: Column | str, valid: Column, masked: Column, malformed: str) -> Column:
    """``masked`` where ``valid``, ``malformed`` for any other non-null value, null for null.

    ``valid`` comes first on purpose: Spark evaluates the first condition of a CASE for every
    row, so the sub-expressions it shares with ``masked`` (the trimmed text, the digits) are
    computed once per row instead of once per use (common sub-expression elimination).
    """
    return F.when(valid, masked).when(_col(col).isNotNull(), F.lit(malformed))


# ------------------------------------------------------------------------------- strategies
def keep(col: Column | str) -> Column:
    """The column unchanged."""
    return _col(col)


def mask_email(col: Column | str, keep_chars: int = 1) -> Column:
    """``jane.doe@example.com`` -> ``j***@example.com``: the first ``keep_chars`` characters of the
    local part (never all of it) and the domain. Anything that is not ``local@domain.tld`` with
    a single ``@`` becomes ``***@***``."""
    if isinstance(keep_chars, bool) or not isinstance(keep_chars, int) or keep_chars < 0:
        raise ValueError(f"keep_chars must be a non-negative integer, got {keep_chars!r}")
    text = F.trim(_text(col))
    local = F.substring_index(text, "@", 1)
    domain = F.substring_index(text, "@", -1)
    kept = F.least(F.lit(keep_chars), F.char_length(local) - 1)
    masked = F.concat(local.substr(F.lit(1), kept), F.lit("***@"), domain)
    return _masked(col, text.rlike(_EMAIL_SHAPE), masked, "***@***")


def mask_phone(col: Column | str, min_digits: int = 10) -> Column:
    """``555-123-4567`` -> ``***-***-4567`` (the last four digits). A value with fewer than
    ``min_digits`` or more than 15 digits becomes ``***-***-****``."""
    if isinstance(min_digits, bool) or not isinstance(min_digits, int) or not 4 <= min_digits <= 15:
        raise ValueError(f"min_digits must be an integer from 4 to 15, got {min_digits!r}")
    digits = F.regexp_replace(_text(col), "[^0-9]", "")
    count = F.char_length(digits)
    ok = (count >= min_digits) & (count <= 15)
    masked = F.concat(F.lit("***-***-"), F.substring(digits, -4, 4))
    return _masked(col, ok, masked, "***-***-****")


def mask_ssn(col: Column | str) -> Column:
    """``123-45-6789`` (or ``123456789``) -> ``***-**-6789``; anything else -> ``***-**-****``."""
    text = F.trim(_text(col))
    masked = F.concat(F.lit("***-**-"), F.substring(text, -4, 4))
    return _masked(col, text.rlike(_SSN_SHAPE), masked, "***-**-****")


def mask_name(col: Column | str) -> Column:
    """``Jane Doe`` -> ``J****``: the first character and four stars (the length is hidden).
    An empty or blank value becomes ``****``."""
    text = F.trim(_text(col))
    masked = F.concat(F.substring(text, 1, 1), F.lit("****"))
    return _masked(col, F.char_length(text) > 0, masked, "****")


def mask_ip(col: Column | str) -> Column:
    """IPv4 ``192.168.1.20`` -> ``192.168.***.***`` (a /16); IPv6 keeps the first three groups
    (a /48) with ``::`` expanded: ``2001:db8::1`` -> ``2001:db8:0:****:****:****:****:****``.
    Anything else (including zone ids and IPv4-mapped forms) becomes ``***``."""
    text = F.lower(F.trim(_text(col)))
    v4 = F.concat(F.substring_index(text, ".", 2), F.lit(".***.***"))
    empty = F.array().cast(T.ArrayType(T.StringType()))
    left = F.substring_index(text, "::", 1)
    right = F.substring_index(text, "::", -1)
    left_groups = F.when(left == "", empty).otherwise(F.split(left, ":"))
    right_groups = F.when(right == "", empty).otherwise(F.split(right, ":"))
    zeros = F.array_repeat(F.lit("0"), F.lit(8) - F.size(left_groups) - F.size(right_groups))
    groups = F.when(
        text.contains("::"), F.concat(left_groups, zeros, right_groups)
    ).otherwise(F.split(text, ":"))
    v6 = F.concat(F.array_join(F.slice(groups, 1, 3), ":"), F.lit(":****:****:****:****:****"))
    return (
        F.when(text.rlike(f"^{IPV4_REGEX}$"), v4)
        .when(text.rlike(f"^{IPV6_REGEX}$"), v6)
        .when(_col(col).isNotNull(), F.lit("***"))
    )


def redact(col: Column | str, value: str | None = None, data_type: T.DataType | str | None = None) -> Column:
    """Null (of ``data_type``, the column's own type by default when called from a policy), or
    the constant ``value`` for every non-null input."""
    if value is None:
        return F.lit(None).cast(data_type or "string")
    return F.when(_col(col).isNotNull(), F.lit(str(value)))


def truncate_date(col: Column | str, unit: str = "month", data_type: T.DataType | None = None) -> Column:
    """Truncate a date or timestamp to ``unit`` (year, quarter, month, week, day).

    Dates stay dates and timestamps stay timestamps; strings are parsed (ISO 8601) and come back
    as ``yyyy-MM-dd`` strings. A string that is not a date becomes null.
    """
    if unit not in _TRUNC_UNITS:
        raise ValueError(f"unit must be one of {', '.join(_TRUNC_UNITS)}, got {unit!r}")
    column = _col(col)
    if isinstance(data_type, (T.TimestampType, T.TimestampNTZType)):
        return F.date_trunc(_TRUNC_UNITS[unit], column)
    if isinstance(data_type, T.DateType):
        return F.to_date(F.date_trunc(_TRUNC_UNITS[unit], column))
    parsed = F.try_to_timestamp(F.trim(_text(column)))
    return F.date_format(F.date_trunc(_TRUNC_UNITS[unit], parsed), "yyyy-MM-dd")


# ------------------------------------------------------------------------------------- HMAC
@dataclass(frozen=True)
class HmacKey:
    """The padded key blocks of HMAC-SHA256 as plan-opaque columns, and the key's fingerprint."""

    ipad: Column
    opad: Column
    fingerprint: str

    def __repr__(self) -> str:  # never print key material
        return f"HmacKey(fingerprint={self.fingerprint!r})"


def hmac_key(spark: SparkSession, key: bytes, fingerprint: str = "") -> HmacKey:
    """Prepare ``key`` for :func:`hmac_sha256`.

    The padded blocks ``K ^ 0x36..`` and ``K ^ 0x5c..`` go into a one-row DataFrame read through a
    scalar subquery: the plan shows ``scalar-subquery#N``, not the bytes (which would give the
    key back by a XOR). Keys longer than 64 bytes are hashed first, as RFC 2104 says.
    """
    if not isinstance(key, (bytes, bytearray)) or len(key) == 0:
        raise ValueError("the HMAC key must be non-empty bytes")
    block = hashlib.sha256(key).digest() if len(key) > 64 else bytes(key)
    block = block.ljust(64, b"\0")
    ipad = bytearray(b ^ 0x36 for b in block)
    opad = bytearray(b ^ 0x5C for b in block)
    pads = spark.createDataFrame([(ipad, opad)], "ipad binary, opad binary")
    if hasattr(pads, "scalar"):  # pyspark >= 4.0
        ipad_col, opad_col = pads.select("ipad").scalar(), pads.select("opad").scalar()
    else:  # Spark 3.5 (e.g. EMR 7): the same scalar subquery through a temporary view
        view = f"lakeops_hmac_{uuid.uuid4().hex}"
        pads.createOrReplaceTempView(view)
        ipad_col, opad_col = F.expr(f"(SELECT ipad FROM {view})"), F.expr(f"(SELECT opad FROM {view})")
    return HmacKey(ipad=ipad_col, opad=opad_col, fingerprint=fingerprint)


def hmac_sha256(col: Column | str, key: HmacKey) -> Column:
    """HMAC-SHA256 of the value's UTF-8 bytes (binary columns as they are), as 64 lower-case hex
    digits: equal to ``hmac.new(key, value.encode(), hashlib.sha256).hexdigest()``. Null stays null."""
    column = _col(col)
    message = column.cast("binary")
    inner = F.sha2(F.concat(key.ipad, message), 256)
    return F.sha2(F.concat(key.opad, F.unhex(inner)), 256)


def _hmac_any(col: Column, key: HmacKey, data_type: T.DataType | None) -> Column:
    if isinstance(data_type, (T.StringType, T.BinaryType)):
        return hmac_sha256(col, key)
    return hmac_sha256(col.cast("string"), key)


# ----------------------------------------------------------------------------------- policy
#: strategy name -> function; every function returns a native Column.
STRATEGY_FUNCTIONS: dict[str, Any] = {
    "keep": keep,
    "hmac": hmac_sha256,
    "email": mask_email,
    "phone": mask_phone,
    "ssn": mask_ssn,
    "name": mask_name,
    "ip": mask_ip,
    "redact": redact,
    "truncate_date": truncate_date,
}


def strategy_column(
    strategy: str,
    col: Column,
    params: Mapping[str, Any] | None = None,
    *,
    data_type: T.DataType | None = None,
    key: HmacKey | None = None,
) -> Column:
    """The masking expression of one strategy (as a policy names it) over ``col``."""
    params = dict(params or {})
    if strategy == "hmac":
        if key is None:
            raise ValueError("the 'hmac' strategy needs a key (see hmac_key())")
        return _hmac_any(col, key, data_type)
    if strategy in ("redact", "truncate_date"):
        return STRATEGY_FUNCTIONS[strategy](col, data_type=data_type, **params)
    if strategy not in STRATEGY_FUNCTIONS:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGY_FUNCTIONS)}")
    return STRATEGY_FUNCTIONS[strategy](col, **params)


def apply_policy(df: DataFrame, policy: Any, key: HmacKey | None = None) -> DataFrame:
    """Apply a :class:`~spark_apps.pii_policy.PiiPolicy` to ``df``: one ``select`` of native
    expressions, columns in their input order and with their input names.

    :raises spark_apps.pii_policy.PolicyError: the policy does not fit the columns (missing
        column, or an unlisted column in strict mode).
    """
    policy.check_columns(df.columns)
    fields = {f.name: f.dataType for f in df.schema.fields}
    out = []
    for name in df.columns:
        rule = policy.rule_for(name)
        column = df[name]
        if rule is None or rule.strategy == "keep":
            out.append(column)
            continue
        expr = strategy_column(rule.strategy, column, rule.params, data_type=fields[name], key=key)
        out.append(expr.alias(name))
    return df.select(*out)
