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
_IPV4_SHAPE = f"^{IPV4_REGEX}$"
_IPV6_SHAPE = f"^{IPV6_REGEX}$"
_TRUNC_UNITS = {"year": "year", "quarter": "quarter", "month": "month", "week": "week", "day": "day"}


def _col(col: Column | str) -> Column:
    return F.col(col) if isinstance(col, str) else col


def _text(col: Column | str) -> Column:
    return _col(col).cast("string")


def _masked(col: Column | str, valid: Column, masked: Column, malformed: str) -> Column:
    """``masked`` where ``valid``, ``malformed`` for any other non-null value, null for null."""
    return F.when(valid, masked).when(_col(col).isNotNull(), F.lit(malformed))


# Each masking strategy is split in two: a *helper* (the costly part several branches need:
# the trimmed text, the digits) and a *finisher* that builds the masked value from the helper.
# The public functions below inline the helper; apply_policy() computes every helper once per
# row in a first projection and the finishers in a second one. Spark's common sub-expression
# elimination does not reach into the branches of a CASE, so a single expression would run
# regexp_replace twice per phone number and trim up to ten times per IP address; Catalyst
# keeps the two projections apart (CollapseProject never duplicates a non-trivial expression)
# and compiles both into the same whole-stage-codegen function, so the output is identical.
def _trimmed(col: Column | str) -> Column:
    return F.trim(_text(col))


def _digits(col: Column | str) -> Column:
    return F.regexp_replace(_text(col), "[^0-9]", "")


def _finish_email(col: Column, text: Column, keep_chars: int) -> Column:
    local = F.substring_index(text, "@", 1)
    domain = F.substring_index(text, "@", -1)
    kept = F.least(F.lit(keep_chars), F.char_length(local) - 1)
    masked = F.concat(local.substr(F.lit(1), kept), F.lit("***@"), domain)
    return _masked(col, text.rlike(_EMAIL_SHAPE), masked, "***@***")


def _finish_phone(col: Column, digits: Column, min_digits: int) -> Column:
    count = F.char_length(digits)
    ok = (count >= min_digits) & (count <= 15)
    masked = F.concat(F.lit("***-***-"), F.substring(digits, -4, 4))
    return _masked(col, ok, masked, "***-***-****")


def _finish_ssn(col: Column, text: Column) -> Column:
    masked = F.concat(F.lit("***-**-"), F.substring(text, -4, 4))
    return _masked(col, text.rlike(_SSN_SHAPE), masked, "***-**-****")


def _finish_name(col: Column, text: Column) -> Column:
    masked = F.concat(F.substring(text, 1, 1), F.lit("****"))
    return _masked(col, text != "", masked, "****")  # not char_length(): no scan of the text


def _finish_ip(col: Column, text: Column) -> Column:
    # ``text`` is trimmed, not lower-cased: an IPv4 address has no letters, so it matches with
    # or without lower(), and lower() (ICU case mapping) is paid only by the rows that are not
    # IPv4 addresses (it never turns another character into a digit, a dot, a colon or a-f)
    v4 = F.concat(F.substring_index(text, ".", 2), F.lit(".***.***"))
    low = F.lower(text)
    empty = F.array().cast(T.ArrayType(T.StringType()))
    left = F.substring_index(low, "::", 1)
    right = F.substring_index(low, "::", -1)
    left_groups = F.when(left == "", empty).otherwise(F.split(left, ":"))
    right_groups = F.when(right == "", empty).otherwise(F.split(right, ":"))
    zeros = F.array_repeat(F.lit("0"), F.lit(8) - F.size(left_groups) - F.size(right_groups))
    groups = F.when(low.contains("::"), F.concat(left_groups, zeros, right_groups)).otherwise(
        F.split(low, ":")
    )
    v6 = F.concat(F.array_join(F.slice(groups, 1, 3), ":"), F.lit(":****:****:****:****:****"))
    return (
        F.when(text.rlike(_IPV4_SHAPE), v4)
        .when(low.rlike(_IPV6_SHAPE), v6)
        .when(col.isNotNull(), F.lit("***"))
    )


def _check_keep_chars(keep_chars: int) -> None:
    if isinstance(keep_chars, bool) or not isinstance(keep_chars, int) or keep_chars < 0:
        raise ValueError(f"keep_chars must be a non-negative integer, got {keep_chars!r}")


def _check_min_digits(min_digits: int) -> None:
    if isinstance(min_digits, bool) or not isinstance(min_digits, int) or not 4 <= min_digits <= 15:
        raise ValueError(f"min_digits must be an integer from 4 to 15, got {min_digits!r}")


# ------------------------------------------------------------------------------- strategies
def keep(col: Column | str) -> Column:
    """The column unchanged."""
    return _col(col)


def mask_email(col: Column | str, keep_chars: int = 1) -> Column:
    """``jane.doe@example.com`` -> ``j***@example.com``: the first ``keep_chars`` characters of the
    local part (never all of it) and the domain. Anything that is not ``local@domain.tld`` with
    a single ``@`` becomes ``***@***``."""
    _check_keep_chars(keep_chars)
    return _finish_email(_col(col), _trimmed(col), keep_chars)


def mask_phone(col: Column | str, min_digits: int = 10) -> Column:
    """``555-123-4567`` -> ``***-***-4567`` (the last four digits). A value with fewer than
    ``min_digits`` or more than 15 digits becomes ``***-***-****``."""
    _check_min_digits(min_digits)
    return _finish_phone(_col(col), _digits(col), min_digits)


def mask_ssn(col: Column | str) -> Column:
    """``123-45-6789`` (or ``123456789``) -> ``***-**-6789``; anything else -> ``***-**-****``."""
    return _finish_ssn(_col(col), _trimmed(col))


def mask_name(col: Column | str) -> Column:
    """``Jane Doe`` -> ``J****``: the first character and four stars (the length is hidden).
    An empty or blank value becomes ``****``."""
    return _finish_name(_col(col), _trimmed(col))


def mask_ip(col: Column | str) -> Column:
    """IPv4 ``192.168.1.20`` -> ``192.168.***.***`` (a /16); IPv6 keeps the first three groups
    (a /48) with ``::`` expanded: ``2001:db8::1`` -> ``2001:db8:0:****:****:****:****:****``.
    Anything else (including zone ids and IPv4-mapped forms) becomes ``***``."""
    return _finish_ip(_col(col), _trimmed(col))


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


def _pads_frame(spark: SparkSession, ipad: bytearray, opad: bytearray) -> DataFrame:
    """A one-row DataFrame of the two pad blocks, held by the JVM (a ``LocalRelation``).

    ``spark.createDataFrame`` of Python rows would be a Python RDD: evaluating the scalar
    subquery would then start a Spark job and a Python worker on every run (~0.3 s). Spark
    Connect sessions (no JVM handle) take that path anyway.
    """
    schema = T.StructType([T.StructField("ipad", T.BinaryType()), T.StructField("opad", T.BinaryType())])
    jspark = getattr(spark, "_jsparkSession", None)
    if jspark is None:
        return spark.createDataFrame([(ipad, opad)], schema)
    from pyspark.sql import DataFrame as _DataFrame

    jvm: Any = spark.sparkContext._jvm
    gateway: Any = spark.sparkContext._gateway
    values = gateway.new_array(jvm.java.lang.Object, 2)
    values[0], values[1] = ipad, opad
    rows = jvm.java.util.ArrayList()
    rows.add(jvm.org.apache.spark.sql.RowFactory.create(values))
    return _DataFrame(jspark.createDataFrame(rows, jspark.parseDataType(schema.json())), spark)


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
    pads = _pads_frame(spark, ipad, opad)
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


def _staged_email(col: Column, helper: Column, keep_chars: int = 1) -> Column:
    _check_keep_chars(keep_chars)
    return _finish_email(col, helper, keep_chars)


def _staged_phone(col: Column, helper: Column, min_digits: int = 10) -> Column:
    _check_min_digits(min_digits)
    return _finish_phone(col, helper, min_digits)


#: strategy -> (helper over the input column, finisher(column, helper, **params)); the same
#: pieces the public functions are made of, used by apply_policy() in two projections.
_STAGED: dict[str, tuple[Any, Any]] = {
    "email": (_trimmed, _staged_email),
    "phone": (_digits, _staged_phone),
    "ssn": (_trimmed, _finish_ssn),
    "name": (_trimmed, _finish_name),
    "ip": (_trimmed, _finish_ip),
}


def _helper_prefix(columns: list[str]) -> str:
    taken = {c.casefold() for c in columns}
    prefix = "__lakeops_mask_"
    while any(c.startswith(prefix) for c in taken):
        prefix = f"_{prefix}"
    return prefix


def apply_policy(df: DataFrame, policy: Any, key: HmacKey | None = None) -> DataFrame:
    """Apply a :class:`~airflow_provider_lakeops.spark_apps.pii_policy.PiiPolicy` to ``df``: native
    expressions only, columns in their input order and with their input names.

    The per-row work each strategy needs several times (the trimmed text, the digits) is
    computed once, in a first projection of helper columns that the second one drops.

    :raises airflow_provider_lakeops.spark_apps.pii_policy.PolicyError: the policy does not fit the columns
        (missing column, or an unlisted column in strict mode).
    """
    policy.check_columns(df.columns)
    fields = {f.name: f.dataType for f in df.schema.fields}
    rules = {name: policy.rule_for(name) for name in df.columns}
    prefix = _helper_prefix(df.columns)
    helpers: dict[str, str] = {}
    helper_cols = []
    for name, rule in rules.items():
        if rule is not None and rule.strategy in _STAGED:
            helpers[name] = f"{prefix}{len(helpers)}"
            helper_cols.append(_STAGED[rule.strategy][0](df[name]).alias(helpers[name]))
    staged = df.select(*[df[name] for name in df.columns], *helper_cols) if helper_cols else df
    out = []
    for name, rule in rules.items():
        column = staged[name]
        if rule is None or rule.strategy == "keep":
            out.append(column)
        elif name in helpers:
            finish = _STAGED[rule.strategy][1]
            out.append(finish(column, staged[helpers[name]], **rule.params).alias(name))
        else:
            expr = strategy_column(rule.strategy, column, rule.params, data_type=fields[name], key=key)
            out.append(expr.alias(name))
    return staged.select(*out)
