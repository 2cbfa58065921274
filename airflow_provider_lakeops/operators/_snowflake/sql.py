"""Pure SQL building for :class:`~airflow_provider_lakeops.operators.snowflake.SnowflakeMergeOperator`.

Nothing here talks to Snowflake: functions take validated, normalised names (see
:mod:`.identifiers`) and return SQL text, so every statement the operator runs can be
unit-tested and read. Every identifier is quoted; the only literal ever written is the CDC delete
marker, which :func:`~.identifiers.string_literal` restricts to a safe alphabet.

The statements of one batch (their number never depends on the row count):

* ``precheck``: one ``GROUP BY`` over the source keys -> source rows, rows with a NULL key,
  duplicate keys and surplus rows;
* ``merge`` / ``append``: one ``MERGE`` (Snowflake runs a single statement atomically);
* ``overwrite``: ``BEGIN``, ``DELETE``, ``INSERT ... SELECT``, ``COMMIT`` (readers see the old
  or the new contents, never an empty or half-written table).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_lakeops.exceptions import MergeError, SchemaEvolutionError
from airflow_provider_lakeops.operators._snowflake.identifiers import TableName, quote

__all__ = [
    "MODES",
    "OP_ALIAS",
    "Column",
    "ColumnPlan",
    "MergeSpec",
    "add_column_sql",
    "columns_query",
    "copy_into_staging_sql",
    "create_staging_sql",
    "create_table_sql",
    "deduplicated_source",
    "drop_table_sql",
    "merge_sql",
    "overwrite_statements",
    "parse_merge_counts",
    "plan_columns",
    "precheck_sql",
    "put_sql",
    "type_from_metadata",
    "write_statements",
]

MODES = ("merge", "append", "overwrite")
#: The alias the CDC operation column gets inside the MERGE source (a target column may not use it).
OP_ALIAS = "_LAKEOPS_OP"

# snowflake.connector.constants.FIELD_ID_TO_NAME, for the types a column can have
_TYPE_CODES: dict[int, str] = {
    0: "NUMBER",
    1: "FLOAT",
    2: "VARCHAR",
    3: "DATE",
    4: "TIMESTAMP_NTZ",
    5: "VARIANT",
    6: "TIMESTAMP_LTZ",
    7: "TIMESTAMP_TZ",
    8: "TIMESTAMP_NTZ",
    9: "OBJECT",
    10: "ARRAY",
    11: "BINARY",
    12: "TIME",
    13: "BOOLEAN",
    14: "GEOGRAPHY",
    15: "GEOMETRY",
}
_WITH_SCALE = {"TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "TIMESTAMP_TZ", "TIME"}


@dataclass(frozen=True)
class Column:
    """A column: normalised name (unquoted form) and Snowflake type, e.g. ``NUMBER(38,0)``."""

    name: str
    type: str


def type_from_metadata(type_code: int, precision: int | None, scale: int | None) -> str:
    """The Snowflake type of a result column described by the connector (``cursor.describe``)."""
    name = _TYPE_CODES.get(type_code)
    if name is None:
        raise ValueError(
            f"unsupported Snowflake column type code {type_code} (e.g. VECTOR); cast it in a source query"
        )
    if name == "NUMBER":
        return f"NUMBER({precision if precision else 38},{scale or 0})"
    if name in _WITH_SCALE and scale is not None:
        return f"{name}({min(max(scale, 0), 9)})"
    return name


@dataclass(frozen=True)
class ColumnPlan:
    """What the source provides and how it lands in the target (all names normalised).

    :ivar pairs: ``(source column, target column)`` for every column written.
    :ivar to_add: target columns to add (schema drift with ``add_new_columns``).
    :ivar to_create: the columns of a target to create (empty when it exists).
    :ivar untouched: target columns the source does not provide.
    """

    pairs: tuple[tuple[str, str], ...]
    keys: tuple[str, ...]
    update_columns: tuple[str, ...]
    insert_columns: tuple[str, ...]
    source_types: Mapping[str, str] = field(default_factory=dict)
    to_add: tuple[Column, ...] = ()
    to_create: tuple[Column, ...] = ()
    untouched: tuple[str, ...] = ()
    ordering_target: str | None = None

    def source_of(self, target_column: str) -> str:
        return next(s for s, t in self.pairs if t == target_column)


def _names(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "(none)"


def plan_columns(
    *,
    target: TableName,
    source_columns: Sequence[Column],
    target_columns: Sequence[Column] | None,
    keys: Sequence[str],
    column_mapping: Mapping[str, str],
    update_columns: Sequence[str] | None,
    insert_columns: Sequence[str] | None,
    operation_column: str | None,
    ordering_column: str | None,
    add_new_columns: bool,
    create_target: bool,
) -> ColumnPlan:
    """Check the source against the target and the arguments; nothing is written.

    :param target_columns: the target's columns, or ``None`` when the target does not exist.
    :raises ValueError: a named column is missing, mapped twice or a key is not provided.
    :raises SchemaEvolutionError: the source has columns the target lacks (without ``add_new_columns``).
    :raises MergeError: the target does not exist (without ``create_target``).
    """
    source_names = [c.name for c in source_columns]
    dupes = sorted({n for n in source_names if source_names.count(n) > 1})
    if dupes:
        raise ValueError(f"the source has duplicate column names {dupes}; alias them in a source query")
    types = {c.name: c.type for c in source_columns}
    for what, name in (("operation_column", operation_column), ("ordering_column", ordering_column)):
        if name is not None and name not in types:
            raise ValueError(
                f"{what} {name!r} is not a source column (source columns: {_names(source_names)})"
            )
    unknown = [s for s in column_mapping if s not in types]
    if unknown:
        raise ValueError(
            f"column_mapping names source columns that do not exist: {unknown} "
            f"(source columns: {_names(source_names)})"
        )
    pairs = tuple((s, column_mapping.get(s, s)) for s in source_names if s != operation_column)
    targets = [t for _, t in pairs]
    clash = sorted({t for t in targets if targets.count(t) > 1})
    if clash:
        raise ValueError(f"several source columns land in the same target column {clash}; fix column_mapping")
    if OP_ALIAS in targets:
        raise ValueError(f"the column name {OP_ALIAS} is reserved by lakeops; rename it in column_mapping")
    missing_keys = [k for k in keys if k not in targets]
    if missing_keys:
        raise ValueError(
            f"key column(s) {missing_keys} are not provided by the source "
            f"(it provides: {_names(targets)}); map them with column_mapping"
        )

    to_add: tuple[Column, ...] = ()
    to_create: tuple[Column, ...] = ()
    untouched: tuple[str, ...] = ()
    if target_columns is None:
        if not create_target:
            raise MergeError(
                f"the target table {target} does not exist (or the role cannot see it); "
                "create it first or pass create_target_if_missing=True"
            )
        to_create = tuple(Column(t, types[s]) for s, t in pairs)
    else:
        existing = {c.name for c in target_columns}
        new = tuple(Column(t, types[s]) for s, t in pairs if t not in existing)
        untouched = tuple(c.name for c in target_columns if c.name not in set(targets))
        if new and not add_new_columns:
            diff = [{"column": c.name, "change": "missing_in_target", "type": c.type} for c in new]
            raise SchemaEvolutionError(
                f"the source has {len(new)} column(s) that {target} lacks: "
                f"{', '.join(f'{c.name} {c.type}' for c in new)}; add them to the table, map or drop them "
                "in a source query, or pass add_new_columns=True",
                diff=diff,
            )
        to_add = new

    non_keys = [t for t in targets if t not in keys]
    if update_columns is None:
        updates = tuple(non_keys)
    else:
        bad = [c for c in update_columns if c not in non_keys]
        if bad:
            raise ValueError(
                f"update_columns {bad} are keys or not provided by the source (updatable: {_names(non_keys)})"
            )
        updates = tuple(update_columns)
    if insert_columns is None:
        inserts = tuple(targets)
    else:
        bad = [c for c in insert_columns if c not in targets]
        if bad:
            raise ValueError(
                f"insert_columns {bad} are not provided by the source (it provides: {_names(targets)})"
            )
        lacking = [k for k in keys if k not in insert_columns]
        if lacking:
            raise ValueError(f"insert_columns must include every key column; missing {lacking}")
        inserts = tuple(insert_columns)
    ordering_target = dict(pairs).get(ordering_column) if ordering_column else None
    return ColumnPlan(
        pairs=pairs,
        keys=tuple(keys),
        update_columns=updates,
        insert_columns=inserts,
        source_types=types,
        to_add=to_add,
        to_create=to_create,
        untouched=untouched,
        ordering_target=ordering_target,
    )


@dataclass(frozen=True)
class MergeSpec:
    """Everything the write statements need; ``source`` is SQL (a quoted table or ``(query)``).

    :ivar delete_literal: the CDC delete marker as a SQL literal (``'d'``), with ``operation_column``.
    :ivar stale_guard: a target column; matched rows change only when the source's value of it is
        not older (the ordering column, when it is also a target column and ``only_newer``).
    """

    target: TableName
    source: str
    plan: ColumnPlan
    operation_column: str | None = None
    delete_literal: str | None = None
    ordering_column: str | None = None
    dedupe: bool = True
    stale_guard: str | None = None

    @property
    def source_keys(self) -> tuple[str, ...]:
        return tuple(self.plan.source_of(k) for k in self.plan.keys)


def _src(alias: str, name: str) -> str:
    return f"{quote(alias)}.{quote(name)}"


def deduplicated_source(spec: MergeSpec) -> str:
    """The source rows to apply: no NULL keys, one row per key (the latest), target column names."""
    keys = spec.source_keys
    inner_cols = list(
        dict.fromkeys(
            [s for s, _ in spec.plan.pairs]
            + ([spec.operation_column] if spec.operation_column else [])
            + ([spec.ordering_column] if spec.ordering_column else [])
        )
    )
    not_null = " AND ".join(f"{_src('SRC', k)} IS NOT NULL" for k in keys)
    inner = (
        f'SELECT {", ".join(_src("SRC", c) for c in inner_cols)} FROM {spec.source} AS "SRC" WHERE {not_null}'
    )
    if spec.dedupe:
        if not spec.ordering_column:
            raise ValueError("de-duplication needs an ordering column")
        inner += (
            f" QUALIFY ROW_NUMBER() OVER (PARTITION BY {', '.join(_src('SRC', k) for k in keys)} "
            f"ORDER BY {_src('SRC', spec.ordering_column)} DESC NULLS LAST) = 1"
        )
    projection = [f"{_src('D', s)} AS {quote(t)}" for s, t in spec.plan.pairs]
    if spec.operation_column:
        projection.append(f"{_src('D', spec.operation_column)} AS {quote(OP_ALIAS)}")
    return f'SELECT {", ".join(projection)} FROM ({inner}) AS "D"'


def precheck_sql(spec: MergeSpec) -> str:
    """One row: ``SOURCE_ROWS, NULL_KEY_ROWS, DUPLICATE_KEYS, DUPLICATE_ROWS`` (counts, no values)."""
    keys = spec.source_keys
    group = ", ".join(_src("SRC", k) for k in keys)
    null_key = " OR ".join(f"{_src('SRC', k)} IS NULL" for k in keys)
    return (
        'SELECT COALESCE(SUM("N"), 0) AS "SOURCE_ROWS", '
        'COALESCE(SUM(IFF("NULL_KEY", "N", 0)), 0) AS "NULL_KEY_ROWS", '
        'COUNT_IF(NOT "NULL_KEY" AND "N" > 1) AS "DUPLICATE_KEYS", '
        'COALESCE(SUM(IFF(NOT "NULL_KEY" AND "N" > 1, "N" - 1, 0)), 0) AS "DUPLICATE_ROWS" '
        f'FROM (SELECT ({null_key}) AS "NULL_KEY", COUNT(*) '
        f'AS "N" FROM {spec.source} AS "SRC" GROUP BY {group})'
    )


def _not_delete(spec: MergeSpec) -> str:
    if spec.operation_column and spec.delete_literal:
        return f"{_src('S', OP_ALIAS)} IS DISTINCT FROM {spec.delete_literal}"
    return ""


def _insert_clause(spec: MergeSpec) -> str:
    cond = _not_delete(spec)
    cols = spec.plan.insert_columns
    return (
        f"WHEN NOT MATCHED{' AND ' + cond if cond else ''} THEN INSERT ({', '.join(quote(c) for c in cols)}) "
        f"VALUES ({', '.join(_src('S', c) for c in cols)})"
    )


def merge_sql(spec: MergeSpec, mode: str = "merge") -> str:
    """The ``MERGE`` of ``merge`` mode (delete / update changed rows / insert) or ``append`` (insert only)."""
    if mode not in ("merge", "append"):
        raise ValueError(f"merge_sql builds 'merge' or 'append', not {mode!r}")
    on = " AND ".join(f"{_src('T', k)} = {_src('S', k)}" for k in spec.plan.keys)
    clauses: list[str] = []
    if mode == "merge":
        guard = ""
        if spec.stale_guard:
            g = spec.stale_guard
            guard = f" AND ({_src('T', g)} IS NULL OR {_src('S', g)} >= {_src('T', g)})"
        if spec.operation_column and spec.delete_literal:
            clauses.append(
                f"WHEN MATCHED AND {_src('S', OP_ALIAS)} = {spec.delete_literal}{guard} THEN DELETE"
            )
        if spec.plan.update_columns:
            not_delete = _not_delete(spec)
            changed = " OR ".join(
                f"{_src('T', c)} IS DISTINCT FROM {_src('S', c)}" for c in spec.plan.update_columns
            )
            sets = ", ".join(f"{quote(c)} = {_src('S', c)}" for c in spec.plan.update_columns)
            clauses.append(
                f"WHEN MATCHED{guard}{' AND ' + not_delete if not_delete else ''} AND ({changed}) "
                f"THEN UPDATE SET {sets}"
            )
    clauses.append(_insert_clause(spec))
    return (
        f'MERGE INTO {spec.target.sql} AS "T" USING ({deduplicated_source(spec)}) AS "S" ON {on} '
        + " ".join(clauses)
    )


def overwrite_statements(spec: MergeSpec) -> list[str]:
    """``BEGIN; DELETE; INSERT ... SELECT; COMMIT``: one transaction replaces the contents."""
    cols = spec.plan.insert_columns
    cond = _not_delete(spec)
    insert = (
        f"INSERT INTO {spec.target.sql} ({', '.join(quote(c) for c in cols)}) "
        f'SELECT {", ".join(_src("S", c) for c in cols)} FROM ({deduplicated_source(spec)}) AS "S"'
        + (f" WHERE {cond}" if cond else "")
    )
    return ["BEGIN", f"DELETE FROM {spec.target.sql}", insert, "COMMIT"]


def write_statements(spec: MergeSpec, mode: str) -> list[str]:
    """The statements that change the target, for ``mode``."""
    if mode == "overwrite":
        return overwrite_statements(spec)
    return [merge_sql(spec, mode)]


def parse_merge_counts(column_names: Sequence[str], row: Sequence[Any] | None) -> dict[str, int]:
    """``{inserted, updated, deleted}`` from a DML result (``number of rows inserted`` ... columns)."""
    counts = {"inserted": 0, "updated": 0, "deleted": 0}
    if row is None:
        return counts
    for name, value in zip(column_names, row, strict=False):
        label = name.lower().strip()
        for op in counts:
            if label == f"number of rows {op}":
                counts[op] = int(value or 0)
    return counts


# ------------------------------------------------------------------- metadata and DDL
def columns_query(table: TableName) -> tuple[str, dict[str, str]]:
    """The table's columns in order (empty when it does not exist), with bind parameters."""
    return (
        f"SELECT column_name, data_type FROM {quote(table.database)}.INFORMATION_SCHEMA.COLUMNS "
        "WHERE table_schema = %(schema)s AND table_name = %(table)s ORDER BY ordinal_position",
        {"schema": table.schema, "table": table.name},
    )


def _column_defs(columns: Sequence[Column]) -> str:
    return ", ".join(f"{quote(c.name)} {c.type}" for c in columns)


def create_table_sql(table: TableName, columns: Sequence[Column]) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with the given columns."""
    return f"CREATE TABLE IF NOT EXISTS {table.sql} ({_column_defs(columns)})"


def add_column_sql(table: TableName, column: Column) -> str:
    """One ``ALTER TABLE ... ADD COLUMN`` (one per column: portable, and DDL commits anyway)."""
    return f"ALTER TABLE {table.sql} ADD COLUMN {quote(column.name)} {column.type}"


def create_staging_sql(table: TableName, columns: Sequence[Column]) -> str:
    """A transient staging table (replaced when a retry finds it)."""
    return f"CREATE OR REPLACE TRANSIENT TABLE {table.sql} ({_column_defs(columns)})"


def _table_stage(table: TableName) -> str:
    # the table stage: @"DB"."SCHEMA".%NAME (lakeops names staging tables LAKEOPS_STG_<HEX>)
    if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", table.name):
        raise ValueError(f"staging table name {table.name!r} must be a simple upper-case identifier")
    return f"@{quote(table.database)}.{quote(table.schema)}.%{table.name}"


def put_sql(local_dir: str, table: TableName) -> str:
    """``PUT`` every ``*.parquet`` of ``local_dir`` (a folder lakeops made) to the table's stage."""
    if not local_dir.startswith("/") or any(c in local_dir for c in "'\";\\ *?\n"):
        raise ValueError(f"unsafe staging folder {local_dir!r}")
    return (
        f"PUT 'file://{local_dir.rstrip('/')}/*.parquet' "
        f"{_table_stage(table)} AUTO_COMPRESS = FALSE OVERWRITE = TRUE"
    )


def copy_into_staging_sql(table: TableName) -> str:
    """Load the staged Parquet files by column name; purge them from the stage."""
    return (
        f"COPY INTO {table.sql} FROM {_table_stage(table)} FILE_FORMAT = (TYPE = PARQUET) "
        "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE FORCE = TRUE PURGE = TRUE"
    )


def drop_table_sql(table: TableName) -> str:
    return f"DROP TABLE IF EXISTS {table.sql}"
