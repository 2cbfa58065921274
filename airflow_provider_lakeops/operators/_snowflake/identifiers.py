"""Validate, normalise and quote Snowflake identifiers and the few literals lakeops writes into SQL.

Rules (the same as Snowflake's own identifier resolution, made strict):

* a **simple** name (``customer_id``, ``LAKEOPS``: a letter or ``_`` first, then letters, digits,
  ``_`` or ``$``) is case-insensitive in Snowflake, so it is normalised to upper case;
* a name **wrapped in double quotes** (``'"Order Date"'``) is case-sensitive and kept exactly;
  inside the quotes letters, digits, spaces and most punctuation are allowed;
* anything else is refused: ``;``, quotes (``'``, an inner ``"``), ``\\``, comment markers
  (``--``, ``/*``, ``*/``) and control characters are never accepted, quoted or not.

Every identifier that reaches SQL goes through :func:`quote`, so even an accepted name can never
end the quoted identifier it sits in. Nothing here imports anything heavy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "TableName",
    "checked_identifier",
    "data_identifier",
    "normalize_identifier",
    "parse_table_name",
    "quote",
    "string_literal",
]

MAX_IDENTIFIER_LENGTH = 255
_SIMPLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_FORBIDDEN_SEQUENCES = (";", "'", '"', "\\", "--", "/*", "*/", "`")
_TABLE_PART = re.compile(r'"[^"]*"|[^."]+')
_LITERAL = re.compile(r"^[A-Za-z0-9_ .:+\-]{1,64}$")
_HOW = (
    "use letters, digits, _ and $ (starting with a letter or _), or wrap a case-sensitive name in "
    "double quotes, e.g. '\"Order Date\"'"
)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_free_text(name: str, what: str, original: object) -> None:
    if not name or not name.strip():
        raise ValueError(f"{what} {_shown(original)} is empty")
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise ValueError(f"{what} {_shown(original)} is longer than {MAX_IDENTIFIER_LENGTH} characters")
    bad = [s for s in _FORBIDDEN_SEQUENCES if s in name]
    if bad or any(ord(c) < 32 or ord(c) == 127 for c in name):
        shown = ", ".join(repr(s) for s in bad) or "a control character"
        raise ValueError(
            f"{what} {_shown(original)} is refused: it contains {shown}, which is never allowed in a "
            f"name (it could end the quoted identifier or start a comment); {_HOW}"
        )


def normalize_identifier(value: object, what: str) -> str:
    """Return the identifier Snowflake resolves ``value`` to (upper case unless it was quoted).

    :param value: ``customer_id`` (-> ``CUSTOMER_ID``) or ``'"Mixed Case"'`` (-> ``Mixed Case``).
    :param what: the argument name, for the error message.
    :raises TypeError: ``value`` is not a string.
    :raises ValueError: the name is empty, too long or contains a refused character.
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    if _SIMPLE.match(value):
        if len(value) > MAX_IDENTIFIER_LENGTH:
            raise ValueError(f"{what} {_shown(value)} is longer than {MAX_IDENTIFIER_LENGTH} characters")
        return value.upper()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        _check_free_text(inner, what, value)
        return inner
    _check_free_text(value, what, value)  # names the refused character when there is one
    raise ValueError(f"{what} {_shown(value)} is not a valid Snowflake identifier: {_HOW}")


def data_identifier(name: str, what: str) -> str:
    """The identifier for a column name found in data (a Parquet file, a query result).

    Simple names get Snowflake's unquoted semantics (upper case), so ``event_id`` in a file
    matches ``EVENT_ID`` in a table; other names are kept as they are (case-sensitive).
    """
    if _SIMPLE.match(name) and len(name) <= MAX_IDENTIFIER_LENGTH:
        return name.upper()
    _check_free_text(name, what, name)
    return name


def checked_identifier(name: str, what: str) -> str:
    """A name Snowflake reported (``DESCRIBE``, ``INFORMATION_SCHEMA``): kept exactly, but checked."""
    _check_free_text(name, what, name)
    return name


def quote(identifier: str) -> str:
    """``"identifier"`` with any inner ``"`` doubled (validated names never have one)."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableName:
    """A fully qualified table or view: normalised database, schema and name."""

    database: str
    schema: str
    name: str

    @property
    def sql(self) -> str:
        """``"DB"."SCHEMA"."NAME"`` for SQL text."""
        return ".".join(quote(p) for p in (self.database, self.schema, self.name))

    @property
    def dotted(self) -> str:
        """``DB.SCHEMA.NAME`` for logs and lineage names."""
        return f"{self.database}.{self.schema}.{self.name}"

    def __str__(self) -> str:
        return self.dotted


def parse_table_name(
    value: object, what: str, *, default_database: str | None, default_schema: str | None
) -> TableName:
    """Parse ``TABLE``, ``SCHEMA.TABLE`` or ``DB.SCHEMA.TABLE`` (parts may be double-quoted).

    Missing parts come from the connection's database and schema.

    :raises ValueError: a bad part, more than three parts, or no default for a missing part.
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string like 'DB.SCHEMA.TABLE', got {type(value).__name__}")
    raw_parts = _TABLE_PART.findall(value)
    if not raw_parts or ".".join(raw_parts) != value or len(raw_parts) > 3:
        _check_free_text(value, what, value)
        raise ValueError(
            f"{what} {_shown(value)} is not a table name: use TABLE, SCHEMA.TABLE or DB.SCHEMA.TABLE; {_HOW}"
        )
    parts = [normalize_identifier(p, what) for p in raw_parts]
    defaults = [default_database, default_schema]
    missing = 3 - len(parts)
    filled: list[str] = []
    for label, default in zip(("database", "schema"), defaults[:missing], strict=False):
        if not default:
            raise ValueError(
                f"{what} {_shown(value)} has no {label} and the Snowflake connection sets none: "
                "write it as DB.SCHEMA.TABLE"
            )
        filled.append(normalize_identifier(default, f"the connection's default {label}"))
    database, schema, name = [*filled, *parts]
    return TableName(database, schema, name)


def string_literal(value: object, what: str) -> str:
    """A single-quoted SQL string literal for a short code value such as a CDC delete marker.

    Only letters, digits, spaces and ``_ . : + -`` (1-64 characters) are accepted, so the literal
    needs no escaping in any SQL dialect.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    text = str(value)
    if not _LITERAL.match(text):
        raise ValueError(
            f"{what} {_shown(text)} is refused: use 1-64 letters, digits, spaces or _ . : + - "
            "(a CDC operation code such as 'd' or 'DELETE')"
        )
    return f"'{text}'"
