"""Glue (Hive DDL) type strings: validation, canonical form, and mapping from Arrow types.

``pyarrow`` is imported inside :func:`arrow_type_to_glue` only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["VOID", "arrow_type_to_glue", "comparable", "normalize_hive_type"]

#: A column whose type the sample could not tell (all values null); any other type wins over it.
VOID = "void"

_PRIMITIVES = {
    "boolean": "boolean",
    "tinyint": "tinyint",
    "smallint": "smallint",
    "int": "int",
    "integer": "int",
    "bigint": "bigint",
    "float": "float",
    "double": "double",
    "string": "string",
    "binary": "binary",
    "date": "date",
    "timestamp": "timestamp",
}


# --------------------------------------------------------------------------- Hive type strings
class _TypeParser:
    """Recursive-descent parser of Hive DDL types (``array<struct<a:int,b:decimal(10,2)>>``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.src = text.strip().lower()
        self.pos = 0

    def fail(self, why: str) -> ValueError:
        return ValueError(
            f"invalid Glue column type {self.text!r}: {why} (expected e.g. bigint, string, decimal(10,2), "
            "array<string>, map<string,int>, struct<a:int,b:string>)"
        )

    def skip_ws(self) -> None:
        while self.pos < len(self.src) and self.src[self.pos].isspace():
            self.pos += 1

    def word(self) -> str:
        self.skip_ws()
        match = re.compile(r"[a-z0-9_]+").match(self.src, self.pos)
        if not match:
            raise self.fail(f"a name was expected at position {self.pos}")
        self.pos = match.end()
        return match.group(0)

    def expect(self, char: str) -> None:
        self.skip_ws()
        if not self.src.startswith(char, self.pos):
            raise self.fail(f"{char!r} was expected at position {self.pos}")
        self.pos += 1

    def peek(self, char: str) -> bool:
        self.skip_ws()
        return self.src.startswith(char, self.pos)

    def integers(self) -> list[int]:
        self.expect("(")
        values = [int(self.word())]
        while self.peek(","):
            self.expect(",")
            values.append(int(self.word()))
        self.expect(")")
        return values

    def parse(self) -> str:
        result = self.type_()
        self.skip_ws()
        if self.pos != len(self.src):
            raise self.fail(f"unexpected text at position {self.pos}")
        return result

    def type_(self) -> str:
        name = self.word()
        if name in _PRIMITIVES:
            return _PRIMITIVES[name]
        try:
            if name == "decimal":
                if not self.peek("("):
                    return "decimal(10,0)"
                args = self.integers()
                precision, scale = args[0], args[1] if len(args) > 1 else 0
                if len(args) > 2 or not 1 <= precision <= 38 or not 0 <= scale <= precision:
                    raise self.fail("decimal needs 1 <= precision <= 38 and 0 <= scale <= precision")
                return f"decimal({precision},{scale})"
            if name in ("char", "varchar"):
                args = self.integers()
                if len(args) != 1 or args[0] < 1:
                    raise self.fail(f"{name} needs one positive length")
                return f"{name}({args[0]})"
        except (IndexError, ValueError) as exc:
            if isinstance(exc, ValueError) and str(exc).startswith("invalid Glue column type"):
                raise
            raise self.fail(f"bad arguments for {name}") from None
        if name == "array":
            self.expect("<")
            inner = self.type_()
            self.expect(">")
            return f"array<{inner}>"
        if name == "map":
            self.expect("<")
            key = self.type_()
            self.expect(",")
            value = self.type_()
            self.expect(">")
            return f"map<{key},{value}>"
        if name == "struct":
            self.expect("<")
            fields = []
            while True:
                field_name = self.word()
                self.expect(":")
                fields.append(f"{field_name}:{self.type_()}")
                if not self.peek(","):
                    break
                self.expect(",")
            self.expect(">")
            return f"struct<{','.join(fields)}>"
        raise self.fail(f"unknown type {name!r}")


def normalize_hive_type(text: Any) -> str:
    """Validate a Glue/Hive type string and return its canonical form (lower case, no spaces)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"invalid Glue column type {text!r}: give a type such as 'bigint' or 'string'")
    return _TypeParser(text).parse()


def comparable(type_text: str) -> str:
    """A type string in canonical form, or squeezed lower case when it is outside our grammar."""
    try:
        return normalize_hive_type(type_text)
    except ValueError:
        return re.sub(r"\s+", "", type_text.lower())


def arrow_type_to_glue(arrow_type: pa.DataType, *, where: str, text_format: bool = False) -> str:
    """Map an Arrow type to a Glue/Hive type string.

    :param where: the column (and file) for error messages.
    :param text_format: CSV/JSON: timestamps become ``string`` (the text SerDes parse only
        ``yyyy-MM-dd HH:mm:ss``, not ISO-8601) and all-null columns become :data:`VOID`.
    :raises ValueError: for types Glue cannot express (time, duration, intervals, a null-typed
        Parquet column); the message says to declare the column in ``type_overrides``.
    """
    import pyarrow.types as pt

    t = arrow_type
    if pt.is_dictionary(t):
        return arrow_type_to_glue(t.value_type, where=where, text_format=text_format)
    if pt.is_null(t) and text_format:
        return VOID
    simple = [
        (pt.is_boolean, "boolean"),
        (pt.is_int8, "tinyint"),
        (pt.is_int16, "smallint"),
        (pt.is_int32, "int"),
        (pt.is_int64, "bigint"),
        (pt.is_uint8, "smallint"),
        (pt.is_uint16, "int"),
        (pt.is_uint32, "bigint"),
        (pt.is_uint64, "decimal(20,0)"),
        (pt.is_float16, "float"),
        (pt.is_float32, "float"),
        (pt.is_float64, "double"),
        (pt.is_string, "string"),
        (pt.is_large_string, "string"),
        (pt.is_binary, "binary"),
        (pt.is_large_binary, "binary"),
        (pt.is_fixed_size_binary, "binary"),
        (pt.is_date, "date"),
    ]
    for check, glue_type in simple:
        if check(t):
            return glue_type
    if pt.is_timestamp(t):
        return "string" if text_format else "timestamp"
    if pt.is_decimal(t):
        if t.precision > 38:
            raise ValueError(
                f"{where}: decimal({t.precision},{t.scale}) exceeds Glue's precision of 38; "
                "declare the column in type_overrides"
            )
        return f"decimal({t.precision},{t.scale})"
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t):
        inner = arrow_type_to_glue(t.value_type, where=where, text_format=text_format)
        return f"array<{'string' if inner == VOID else inner}>"
    if pt.is_map(t):
        key = arrow_type_to_glue(t.key_type, where=where, text_format=text_format)
        value = arrow_type_to_glue(t.item_type, where=where, text_format=text_format)
        return f"map<{key},{'string' if value == VOID else value}>"
    if pt.is_struct(t):
        fields = []
        for i in range(t.num_fields):
            field: pa.Field = t.field(i)
            inner = arrow_type_to_glue(field.type, where=f"{where}.{field.name}", text_format=text_format)
            fields.append(f"{field.name.lower()}:{'string' if inner == VOID else inner}")
        return f"struct<{','.join(fields)}>"
    raise ValueError(
        f"{where}: Arrow type {t} has no Glue equivalent; declare the column's type in "
        "type_overrides (e.g. {'col': 'string'})"
    )
