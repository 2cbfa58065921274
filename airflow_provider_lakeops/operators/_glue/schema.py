"""Glue table schemas: names, columns, merging the files' schemas, and evolution diffs.

Pure functions used by :class:`~airflow_provider_lakeops.operators.glue.GlueRegisterTableOperator`.
``pyarrow`` is imported inside the functions that need it, never at module level.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_lakeops.exceptions import SchemaEvolutionError
from airflow_provider_lakeops.operators._glue.types import (
    VOID,
    arrow_type_to_glue,
    comparable,
    normalize_hive_type,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "Column",
    "Evolution",
    "arrow_schema_to_columns",
    "columns_from_glue",
    "diff_columns",
    "evolve",
    "format_diff",
    "merge_file_schemas",
    "parse_columns",
    "validate_glue_name",
]

EvolutionPolicy = Literal["additive", "strict", "replace"]

_NAME_RE = re.compile(r"^[a-z0-9_]+$")
_MAX_NAME = 255


def validate_glue_name(kind: str, value: Any) -> str:
    """Return ``value`` if it is a valid Glue/Athena name, else raise ``ValueError`` saying how to fix it.

    Glue (as Athena and Hive read it) takes lowercase letters, digits and underscores, 1-255 characters.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{kind} name is empty: give a name of lowercase letters, digits and underscores")
    if len(value) > _MAX_NAME:
        raise ValueError(
            f"{kind} name {value[:40]!r}... is {len(value)} characters long; Glue allows at most {_MAX_NAME}"
        )
    if not _NAME_RE.match(value):
        hint = re.sub(r"[^a-z0-9_]", "_", value.lower())
        raise ValueError(
            f"{kind} name {value!r} is not a valid Glue name: use lowercase letters, digits and "
            f"underscores only (e.g. {hint!r})"
        )
    return value


# --------------------------------------------------------------------------- columns
@dataclass(frozen=True)
class Column:
    """One Glue column (or partition key)."""

    name: str
    type: str
    comment: str | None = None

    def to_glue(self) -> dict[str, str]:
        out = {"Name": self.name, "Type": self.type}
        if self.comment:
            out["Comment"] = self.comment
        return out


def parse_columns(value: Any, *, argument: str = "columns") -> list[Column]:
    """Parse explicit columns: a list of ``{"name"/"Name", "type"/"Type", "comment"?}`` dicts or
    ``(name, type)`` pairs, or a ``{name: type}`` mapping. Names and types are validated."""
    if isinstance(value, Mapping):
        items: list[Any] = [{"name": k, "type": v} for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValueError(
            f"{argument} must be a list of {{'name', 'type'}} dicts or a {{name: type}} mapping, "
            f"got {type(value).__name__}"
        )
    columns: list[Column] = []
    for item in items:
        if isinstance(item, Mapping):
            name = item.get("name", item.get("Name"))
            type_ = item.get("type", item.get("Type"))
            comment = item.get("comment", item.get("Comment"))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            name, type_, comment = item[0], item[1], None
        else:
            raise ValueError(f"{argument}: each entry needs a name and a type, got {item!r}")
        name = validate_glue_name(f"{argument} column", name)
        columns.append(Column(name, normalize_hive_type(type_), str(comment) if comment else None))
    _check_unique(columns, argument)
    return columns


def _check_unique(columns: Sequence[Column], what: str) -> None:
    seen: set[str] = set()
    for column in columns:
        if column.name in seen:
            raise ValueError(
                f"{what}: column {column.name!r} appears twice (Glue names are case-insensitive)"
            )
        seen.add(column.name)


def columns_from_glue(entries: Iterable[Mapping[str, Any]]) -> list[Column]:
    """Columns of a Glue ``StorageDescriptor.Columns`` or ``PartitionKeys`` list."""
    return [Column(str(e["Name"]).lower(), str(e.get("Type", "")), e.get("Comment") or None) for e in entries]


def arrow_schema_to_columns(
    schema: pa.Schema,
    *,
    source: str,
    text_format: bool = False,
    type_overrides: Mapping[str, str] | None = None,
) -> list[Column]:
    """Columns of one file's Arrow schema; names lower-cased and validated, overrides applied."""
    overrides = type_overrides or {}
    columns = []
    for field in schema:
        name = field.name.lower()
        try:
            validate_glue_name("column", name)
        except ValueError as exc:
            raise ValueError(
                f"{source}: {exc}; rename the column in the data or give explicit columns"
            ) from None
        if name in overrides:
            columns.append(Column(name, overrides[name]))
        else:
            columns.append(
                Column(
                    name,
                    arrow_type_to_glue(
                        field.type, where=f"{source}: column {name!r}", text_format=text_format
                    ),
                )
            )
    _check_unique(columns, source)
    return columns


_TEXT_WIDENING = {
    frozenset({"bigint", "double"}): "double",
    frozenset({"date", "string"}): "string",
    frozenset({"boolean", "string"}): "string",
    frozenset({"bigint", "string"}): "string",
    frozenset({"double", "string"}): "string",
}


def merge_file_schemas(
    schemas: Sequence[tuple[str, list[Column]]], *, text_format: bool = False
) -> list[Column]:
    """Merge the schemas of the files in one location into the table's columns.

    Columns are unioned in first-seen order (files are given oldest partition first), so files
    written before a column was added are fine. The same column with two types is a conflict,
    except in text formats (CSV/JSON), where a sample-inferred ``bigint`` widens to ``double``
    and mixed text widens to ``string``. CSV is positional: every file must have the same header.

    :raises ValueError: on conflicts, naming the column, the two types and two files.
    """
    merged: dict[str, Column] = {}
    first_seen: dict[str, str] = {}
    conflicts: list[str] = []
    for source, columns in schemas:
        for column in columns:
            known = merged.get(column.name)
            if known is None or known.type == VOID:
                merged[column.name] = column
                first_seen.setdefault(column.name, source)
                continue
            if column.type in (known.type, VOID):
                continue
            widened = _TEXT_WIDENING.get(frozenset({known.type, column.type})) if text_format else None
            if widened:
                merged[column.name] = Column(column.name, widened, known.comment)
            else:
                conflicts.append(
                    f"  column {column.name!r}: {known.type} in {first_seen[column.name]} "
                    f"but {column.type} in {source}"
                )
    if conflicts:
        more = f"\n  ... and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
        raise ValueError(
            "files with conflicting schemas in one location:\n"
            + "\n".join(conflicts[:10])
            + more
            + "\nRewrite the odd files, or pin the types with type_overrides / explicit columns."
        )
    return [Column(c.name, "string" if c.type == VOID else c.type, c.comment) for c in merged.values()]


# --------------------------------------------------------------------------- evolution
@dataclass(frozen=True)
class Evolution:
    """The outcome of comparing the registered columns with the desired ones."""

    columns: list[Column]
    columns_added: list[str]
    diff: list[dict[str, Any]]

    @property
    def changed(self) -> bool:
        return bool(self.diff)


def diff_columns(
    old: Sequence[Column], new: Sequence[Column], *, positional: bool = False
) -> list[dict[str, Any]]:
    """Column-level differences: ``added``, ``removed``, ``type_changed`` and, for positional
    formats (CSV), ``moved`` (a kept column at another position, or a new column not at the end)."""
    old_map = {c.name: c for c in old}
    new_map = {c.name: c for c in new}
    diff: list[dict[str, Any]] = []
    for column in old:
        if column.name not in new_map:
            diff.append(
                {"column": column.name, "change": "removed", "old_type": column.type, "new_type": None}
            )
        elif comparable(column.type) != comparable(new_map[column.name].type):
            diff.append(
                {
                    "column": column.name,
                    "change": "type_changed",
                    "old_type": column.type,
                    "new_type": new_map[column.name].type,
                }
            )
    for column in new:
        if column.name not in old_map:
            diff.append({"column": column.name, "change": "added", "old_type": None, "new_type": column.type})
    if positional:
        old_names = [c.name for c in old]
        new_names = [c.name for c in new]
        for index, name in enumerate(new_names):
            expected = old_names[index] if index < len(old_names) else None
            if name in old_map and expected != name or name not in old_map and index < len(old_names):
                diff.append(
                    {
                        "column": name,
                        "change": "moved",
                        "old_type": old_map[name].type if name in old_map else None,
                        "new_type": new_map[name].type,
                        "old_position": old_names.index(name) if name in old_map else None,
                        "new_position": index,
                    }
                )
    return diff


def evolve(
    old: Sequence[Column],
    new: Sequence[Column],
    *,
    policy: EvolutionPolicy,
    positional: bool = False,
    table: str = "",
) -> Evolution:
    """Apply an evolution policy to the registered (``old``) and desired (``new``) columns.

    ``additive`` appends new columns and refuses anything else; ``strict`` refuses any difference;
    ``replace`` takes the new columns as they are. Comments already in the catalog are kept when
    the new column has none.

    :raises SchemaEvolutionError: with ``diff`` and a readable table of the changes.
    """
    diff = diff_columns(old, new, positional=positional)
    old_map = {c.name: c for c in old}
    if not diff:
        kept = [
            Column(c.name, c.type, new_c.comment or c.comment)
            for c, new_c in zip(old, _ordered(new, old), strict=True)
        ]
        return Evolution(kept, [], [])
    added = [d["column"] for d in diff if d["change"] == "added"]
    if policy == "strict":
        raise SchemaEvolutionError(
            f"schema of {table} differs from the data and evolution_policy='strict' allows no change:\n"
            f"{format_diff(diff)}\nUse evolution_policy='additive' or 'replace' to accept it.",
            diff=diff,
        )
    if policy == "replace":
        columns = [
            Column(c.name, c.type, c.comment or (old_map[c.name].comment if c.name in old_map else None))
            for c in new
        ]
        return Evolution(columns, added, diff)
    breaking = [d for d in diff if d["change"] != "added"]
    if breaking:
        raise SchemaEvolutionError(
            f"schema of {table} cannot evolve additively (only new columns may be appended):\n"
            f"{format_diff(breaking)}\nFix the data, or use "
            "evolution_policy='replace' to take the new schema.",
            diff=diff,
        )
    new_map = {c.name: c for c in new}
    columns = [Column(c.name, c.type, new_map[c.name].comment or c.comment) for c in old]
    columns += [new_map[name] for name in added]
    return Evolution(columns, added, diff)


def _ordered(new: Sequence[Column], old: Sequence[Column]) -> list[Column]:
    by_name = {c.name: c for c in new}
    return [by_name[c.name] for c in old]


def format_diff(diff: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width table: column, change, old type, new type."""
    rows = [("column", "change", "old type", "new type")]
    for entry in diff:
        change = str(entry["change"])
        if change == "moved":
            change = f"moved {entry.get('old_position')}->{entry.get('new_position')}"
        rows.append(
            (
                str(entry["column"]),
                change,
                str(entry.get("old_type") or "-"),
                str(entry.get("new_type") or "-"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}" for row in rows
    )
