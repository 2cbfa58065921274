"""Upsert a batch into a Snowflake table with one ``MERGE``: composite keys, CDC deletes,
de-duplication, idempotent reruns, schema drift, lineage.

The official Snowflake provider has no MERGE operator, and the usual hand-written ``MERGE``
breaks on the first duplicate key in a batch ("Duplicate row detected during DML action").
:class:`SnowflakeMergeOperator` checks the source first (one ``GROUP BY``), keeps the latest row
per key or fails with counts (never values), updates only rows whose values changed (null-safe
``IS DISTINCT FROM``), so a rerun of the same batch reports ``0/0/0``, and reports the MERGE's own
counts.

Underneath: the official ``SnowflakeHook`` (``snowflake_default``), one connection per run; for
Parquet on S3 the amazon provider's ``S3Hook``; for a Delta table delta-rs (read through its log, so
files a ``replaceWhere`` removed are never merged). Parquet files (and the rows read from a Delta
table) are loaded with ``PUT`` + ``COPY INTO`` into a transient staging table, which is dropped
afterwards.

.. seealso:: ``docs/operators/snowflake_merge.md``
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_lakeops.exceptions import MergeError
from airflow_provider_lakeops.operators._snowflake import sql as msql
from airflow_provider_lakeops.operators._snowflake.files import collect_parquet, parquet_columns
from airflow_provider_lakeops.operators._snowflake.identifiers import (
    TableName,
    checked_identifier,
    normalize_identifier,
    parse_table_name,
    string_literal,
)
from airflow_provider_lakeops.utils.redaction import scrub_literals, scrub_text

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

__all__ = ["SnowflakeMergeOperator"]

_ON_DUPLICATES = ("dedupe_latest", "fail")
_ON_NULL_KEYS = ("skip", "fail")
_EMPTY_HINT = "Pass require_data=False if an empty batch is expected"
_QUERY_START = re.compile(r"^\s*(\(|select\b|with\b)", re.IGNORECASE)


def _names(value: Any, what: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{what} must be a list of column names, got {type(value).__name__}")
    names = tuple(normalize_identifier(v, what) for v in value)
    if not names and not allow_empty:
        raise ValueError(f"{what} must name at least one column")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} names a column twice: {list(value)}")
    return names


def _redacted(exc: Exception) -> str:
    """The first line of the Snowflake error, scrubbed of credentials and personal data
    (:func:`~airflow_provider_lakeops.utils.redaction.scrub_text`), and without quoted values
    (``'***'``) when it is a data error (SQLSTATE 22/23)."""
    msg = str(getattr(exc, "msg", None) or exc).strip()
    if not msg:
        return type(exc).__name__
    state = str(getattr(exc, "sqlstate", "") or "")
    if state.startswith(("22", "23")):  # a quoted value may span lines: cut literals before the first line
        msg = scrub_literals(msg[:20_000], "'***'")
    return scrub_text(msg.splitlines()[0][:2000])[:500]


class _Session:
    """Runs the statements of one batch on one connection and keeps their query ids."""

    def __init__(self, conn: Any, log: Any) -> None:
        self.cursor = conn.cursor()
        self.log = log
        self.query_ids: list[str] = []
        self.statements = 0

    def _record(self, label: str) -> None:
        self.statements += 1
        qid = getattr(self.cursor, "sfqid", None)
        if qid:
            self.query_ids.append(str(qid))
        self.log.info("%s: Snowflake query id %s", label, qid)

    def run(self, sql: str, params: Mapping[str, Any] | None = None, *, label: str) -> Any:
        self.log.info("%s:\n%s", label, sql if len(sql) <= 4000 else sql[:4000] + " ...")
        try:
            self.cursor.execute(sql, params)
        except Exception as exc:
            qid = getattr(exc, "sfqid", None) or getattr(self.cursor, "sfqid", None)
            raise MergeError(f"{label} failed: {_redacted(exc)} (query id {qid})") from None
        self._record(label)
        return self.cursor

    def describe(self, sql: str, *, label: str) -> list[Any]:
        try:
            meta = self.cursor.describe(sql)
        except Exception as exc:
            raise MergeError(f"{label} failed: {_redacted(exc)}") from None
        self._record(label)
        return list(meta or [])


class SnowflakeMergeOperator(BaseOperator):
    """Merge a batch (table, view, query, Parquet files or a Delta table) into a Snowflake table by key.

    :param target_table: ``DB.SCHEMA.TABLE``, ``SCHEMA.TABLE`` or ``TABLE`` (the connection's
        database and schema fill the gaps); quote a case-sensitive part: ``'DB.SCHEMA."Events"'`` (templated).
    :param keys: the key columns of the target (composite keys welcome).
    :param source_table: a table or view to merge from (templated).
    :param source_sql: a ``SELECT`` (or ``WITH``) query to merge from; ``.sql`` files allowed (templated).
    :param source_parquet: a local Parquet file or folder, or ``s3://bucket/prefix/``; the files
        (``*.parquet``, not ``_*``/``.*``, not empty) are staged to a transient table with
        ``PUT`` + ``COPY INTO`` (templated). Hive-style partition folders (``dt=.../``) are read
        too, their values as (string) columns. Not for a Delta table (its folder keeps removed files):
        use ``source_delta``.
    :param source_delta: a Delta table, ``s3://bucket/path`` or a local folder, read through its log
        with delta-rs (templated); the rows are staged like Parquet files.
    :param source_partitions: with ``source_delta``: ``{partition column: value}`` (a list of values
        means any of them), e.g. ``{"dt": "{{ ds }}"}``, pushed down to delta-rs (templated).
    :param source_version: with ``source_delta``: the table version to read (default: the latest;
        templated). The version read is returned as ``delta_version``.
    :param mode: ``merge`` (upsert + CDC deletes), ``append`` (insert keys the target lacks) or
        ``overwrite`` (replace the contents in one transaction).
    :param update_columns: target columns a match may update (default: every non-key column the source has).
    :param insert_columns: target columns an insert fills (default: every column the source has).
    :param column_mapping: ``{source column: target column}`` for columns whose names differ (templated).
    :param operation_column: the source's CDC operation column (never written to the target).
    :param delete_value: the operation value that deletes the key's row (templated); a delete for
        a key the target lacks is ignored.
    :param ordering_column: the source column that orders versions of a key (e.g. ``updated_at``).
    :param on_duplicates: ``dedupe_latest`` (keep the latest row per key by ``ordering_column``) or
        ``fail`` (fail with the number of duplicate keys and the key column names).
    :param on_null_keys: rows with a NULL key can never match: ``skip`` them with a warning, or ``fail``.
    :param only_newer: when ``ordering_column`` is also a target column, a matched row is only
        updated or deleted by a source row that is not older (replaying an old batch changes nothing).
    :param add_new_columns: add source columns the target lacks (``ALTER TABLE ... ADD COLUMN``)
        instead of failing.
    :param create_target_if_missing: create the target from the source's columns and types.
    :param require_data: fail when ``source_parquet`` holds no data file or ``source_delta`` (its
        ``source_partitions``) no row (the default: a folder that
        should hold a batch but is empty is a broken upstream, not a quiet success); ``False`` when an
        empty batch is expected.
    :param snowflake_conn_id: the Snowflake connection (the official provider's ``snowflake`` type).
    :param aws_conn_id: the AWS connection used to read ``s3://`` Parquet files and Delta tables.
    :return: ``{"inserted", "updated", "deleted", "query_ids", "statements"}`` (XCom): the MERGE's own
        counts, the Snowflake query ids and the number of statements the batch ran; with
        ``source_delta`` also ``delta_version``, the table version read.
    :raises ValueError: bad names, arguments or columns, a partition column the Delta table is not
        partitioned by, or a version it lacks (before anything is written).
    :raises FileNotFoundError: ``source_parquet`` does not exist, or ``source_delta`` is not a Delta table.
    :raises SchemaEvolutionError: the source has columns the target lacks (``diff`` attached).
    :raises MergeError: duplicate or NULL keys under ``fail``, a missing target, or a failed statement
        (the write is rolled back; the message carries the query id).

    .. seealso:: ``docs/operators/snowflake_merge.md``
    """

    template_fields: Sequence[str] = (
        "target_table",
        "source_table",
        "source_sql",
        "source_parquet",
        "source_delta",
        "source_partitions",
        "source_version",
        "column_mapping",
        "delete_value",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"source_sql": "sql", "column_mapping": "json", "source_partitions": "json"}
    ui_color = "#99e3ff"

    def __init__(
        self,
        *,
        target_table: str,
        keys: Sequence[str],
        source_table: str | None = None,
        source_sql: str | None = None,
        source_parquet: str | None = None,
        source_delta: str | None = None,
        source_partitions: Mapping[str, Any] | None = None,
        source_version: int | str | None = None,
        mode: str = "merge",
        update_columns: Sequence[str] | None = None,
        insert_columns: Sequence[str] | None = None,
        column_mapping: Mapping[str, str] | None = None,
        operation_column: str | None = None,
        delete_value: str = "d",
        ordering_column: str | None = None,
        on_duplicates: str = "dedupe_latest",
        on_null_keys: str = "skip",
        only_newer: bool = True,
        add_new_columns: bool = False,
        create_target_if_missing: bool = False,
        require_data: bool = True,
        snowflake_conn_id: str = "snowflake_default",
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        given = [
            n
            for n, v in (
                ("source_table", source_table),
                ("source_sql", source_sql),
                ("source_parquet", source_parquet),
                ("source_delta", source_delta),
            )
            if v is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of source_table, source_sql, source_parquet, source_delta "
                f"(got {given or 'none'})"
            )
        if source_delta is None and (source_partitions is not None or source_version is not None):
            raise ValueError("source_partitions and source_version need source_delta (a Delta table)")
        if mode not in msql.MODES:
            raise ValueError(f"mode must be one of {msql.MODES}, got {mode!r}")
        if on_duplicates not in _ON_DUPLICATES:
            raise ValueError(f"on_duplicates must be one of {_ON_DUPLICATES}, got {on_duplicates!r}")
        if on_null_keys not in _ON_NULL_KEYS:
            raise ValueError(f"on_null_keys must be one of {_ON_NULL_KEYS}, got {on_null_keys!r}")
        if on_duplicates == "dedupe_latest" and ordering_column is None:
            raise ValueError(
                "on_duplicates='dedupe_latest' keeps the latest row per key: pass ordering_column "
                "(e.g. 'updated_at'), or on_duplicates='fail'"
            )
        self._keys = _names(keys, "keys")
        self._update = (
            None if update_columns is None else _names(update_columns, "update_columns", allow_empty=True)
        )
        self._insert = None if insert_columns is None else _names(insert_columns, "insert_columns")
        self._op = (
            None if operation_column is None else normalize_identifier(operation_column, "operation_column")
        )
        self._ordering = (
            None if ordering_column is None else normalize_identifier(ordering_column, "ordering_column")
        )
        self.target_table = target_table
        self.keys = list(keys)
        self.source_table = source_table
        self.source_sql = source_sql
        self.source_parquet = source_parquet
        self.source_delta = source_delta
        self.source_partitions = source_partitions
        self.source_version = source_version
        self.mode = mode
        self.update_columns = update_columns
        self.insert_columns = insert_columns
        self.column_mapping = column_mapping
        self.operation_column = operation_column
        self.delete_value = delete_value
        self.ordering_column = ordering_column
        self.on_duplicates = on_duplicates
        self.on_null_keys = on_null_keys
        self.only_newer = only_newer
        self.add_new_columns = add_new_columns
        self.create_target_if_missing = create_target_if_missing
        self.require_data = require_data
        self.snowflake_conn_id = snowflake_conn_id
        self.aws_conn_id = aws_conn_id
        self._lineage: dict[str, Any] | None = None

    # ------------------------------------------------------------- validation
    def _validated_mapping(self) -> dict[str, str]:
        mapping = self.column_mapping or {}
        if not isinstance(mapping, Mapping):
            raise TypeError(
                "column_mapping must be a dict {source column: "
                f"target column}}, got {type(mapping).__name__}"
            )
        return {
            normalize_identifier(s, "column_mapping key"): normalize_identifier(t, "column_mapping value")
            for s, t in mapping.items()
        }

    def _validated_query(self) -> str:
        query = str(self.source_sql).strip().rstrip(";").strip()
        if not _QUERY_START.match(query):
            raise ValueError(
                "source_sql must be a single SELECT or WITH query (one statement, no DML); "
                f"it starts with {query[:30]!r}"
            )
        return query

    def _validated_delta(self) -> tuple[str, int | None, dict[str, Any]]:
        from airflow_provider_lakeops.operators._snowflake.delta import (
            delta_uri,
            partition_filters,
            validated_version,
        )

        partition_filters(self.source_partitions)  # the type and the names: before connecting
        return (
            delta_uri(self.source_delta),
            validated_version(self.source_version),
            dict(self.source_partitions or {}),
        )

    # ---------------------------------------------------------------- execute
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

        started = time.monotonic()
        mapping = self._validated_mapping()
        delete_literal = string_literal(self.delete_value, "delete_value") if self._op else None
        query = self._validated_query() if self.source_sql is not None else None
        delta = self._validated_delta() if self.source_delta is not None else None
        hook = SnowflakeHook(snowflake_conn_id=self.snowflake_conn_id)
        with closing(hook.get_conn()) as conn, tempfile.TemporaryDirectory(prefix="lakeops-merge-") as tmp:
            defaults = {"default_database": conn.database, "default_schema": conn.schema}
            target = parse_table_name(self.target_table, "target_table", **defaults)
            source_table = (
                parse_table_name(self.source_table, "source_table", **defaults)
                if self.source_table is not None
                else None
            )
            session = _Session(conn, self.log)
            region = hook.get_connection(self.snowflake_conn_id).extra_dejson.get("region") or None
            self._lineage = {
                "account": conn.account,
                "region": region,
                "target": target,
                "source_table": source_table,
                "query": query,
                "defaults": defaults,
            }
            staging: TableName | None = None
            try:
                if self.source_parquet is not None or delta is not None:
                    files = (
                        self._read_delta(delta, Path(tmp) / "files")
                        if delta is not None
                        else collect_parquet(
                            str(self.source_parquet), Path(tmp) / "files", self.aws_conn_id, self.log
                        )
                    )
                    if not files:
                        if self.require_data:
                            raise MergeError(f"{self._empty_source()}; nothing was written. " + _EMPTY_HINT)
                        self.log.warning("%s: nothing to merge", self._empty_source())
                        return self._finish(context, session, {}, started)
                    columns, originals = parquet_columns(files)
                    self._lineage["parquet_columns"] = originals
                    name = TableName(target.database, target.schema, self._staging_name(context, target))
                    spec = self._plan(session, target, name.sql, columns, mapping, delete_literal)
                    staging = name  # validated: now load the files
                    session.run(
                        msql.create_staging_sql(staging, columns), label=f"Create staging table {staging}"
                    )
                    session.run(
                        msql.put_sql(str(Path(tmp) / "files"), staging), label=f"PUT {len(files)} file(s)"
                    )
                    session.run(msql.copy_into_staging_sql(staging), label=f"COPY INTO {staging}")
                else:
                    source_sql = source_table.sql if source_table is not None else f"({query})"
                    meta = session.describe(
                        f'SELECT * FROM {source_sql} AS "SRC"', label="Describe the source"
                    )
                    columns = [
                        msql.Column(
                            checked_identifier(m.name, "source column"),
                            msql.type_from_metadata(m.type_code, m.precision, m.scale),
                        )
                        for m in meta
                    ]
                    spec = self._plan(session, target, source_sql, columns, mapping, delete_literal)
                counts = self._apply(session, spec)
            finally:
                if staging is not None:
                    try:
                        session.run(msql.drop_table_sql(staging), label=f"Drop staging table {staging}")
                    except MergeError as exc:
                        self.log.warning("Could not drop the staging table: %s", exc)
        return self._finish(context, session, counts, started)

    def _plan(
        self,
        session: _Session,
        target: TableName,
        source_sql: str,
        columns: list[msql.Column],
        mapping: dict[str, str],
        delete_literal: str | None,
    ) -> msql.MergeSpec:
        """Read the target's columns and check everything against them; nothing is written."""
        sql, params = msql.columns_query(target)
        rows = session.run(sql, params, label=f"Read the columns of {target}").fetchall()
        target_columns = [
            msql.Column(checked_identifier(r[0], "target column"), str(r[1])) for r in rows
        ] or None
        plan = msql.plan_columns(
            target=target,
            source_columns=columns,
            target_columns=target_columns,
            keys=self._keys,
            column_mapping=mapping,
            update_columns=self._update,
            insert_columns=self._insert,
            operation_column=self._op,
            ordering_column=self._ordering,
            add_new_columns=self.add_new_columns,
            create_target=self.create_target_if_missing,
        )
        if plan.untouched:
            self.log.info(
                "Target columns the source lacks (kept on update, NULL on insert): %s", plan.untouched
            )
        spec = msql.MergeSpec(
            target=target,
            source=source_sql,
            plan=plan,
            operation_column=self._op,
            delete_literal=delete_literal,
            ordering_column=self._ordering,
            dedupe=self.on_duplicates == "dedupe_latest",
            stale_guard=plan.ordering_target if self.only_newer else None,
        )
        self._lineage = {
            **(self._lineage or {}),
            "plan": plan,
            "target_columns": [(c.name, c.type) for c in (target_columns or plan.to_create)]
            + [(c.name, c.type) for c in plan.to_add],
        }
        return spec

    def _apply(self, session: _Session, spec: msql.MergeSpec) -> dict[str, int]:
        """Check the source keys, then create / evolve the target and write."""
        plan, target = spec.plan, spec.target
        row = session.run(msql.precheck_sql(spec), label="Check the source keys").fetchone()
        source_rows, null_keys, dup_keys, dup_rows = (int(v or 0) for v in row)
        key_names = ", ".join(plan.keys)
        self.log.info(
            "Source: %s row(s), %s with a NULL key, %s duplicate key(s) (%s surplus row(s))",
            source_rows,
            null_keys,
            dup_keys,
            dup_rows,
        )
        if null_keys and self.on_null_keys == "fail":
            raise MergeError(
                f"{null_keys} source row(s) have a NULL in a key column ({key_names}); nothing was "
                "written. Fix the source or pass on_null_keys='skip'"
            )
        if null_keys:
            self.log.warning(
                "Skipping %s source row(s) with a NULL in a key column (%s)", null_keys, key_names
            )
        if dup_keys and self.on_duplicates == "fail":
            raise MergeError(
                f"the source has {dup_keys} duplicate key(s) ({dup_rows} surplus row(s)) on "
                f"({key_names}); nothing was written. De-duplicate upstream or pass "
                "on_duplicates='dedupe_latest' with an ordering_column"
            )
        if dup_keys:
            self.log.info("Keeping the latest row of %s duplicate key(s) by %s", dup_keys, self._ordering)
        if source_rows - null_keys == 0:
            self.log.info("The source is empty: nothing to merge into %s", target)
            return {}

        if plan.to_create:
            session.run(msql.create_table_sql(target, plan.to_create), label=f"Create {target}")
        for column in plan.to_add:
            session.run(msql.add_column_sql(target, column), label=f"Add column {column.name} to {target}")
        return self._write(session, spec)

    def _write(self, session: _Session, spec: msql.MergeSpec) -> dict[str, int]:
        if self.mode != "overwrite":
            cur = session.run(
                msql.merge_sql(spec, self.mode), label=f"MERGE into {spec.target} ({self.mode})"
            )
            names = [d[0] for d in cur.description or []]
            return msql.parse_merge_counts(names, cur.fetchone())
        begin, delete, insert, commit = msql.overwrite_statements(spec)
        session.run(begin, label="BEGIN")
        try:
            cur = session.run(delete, label=f"Delete the contents of {spec.target}")
            deleted = msql.parse_merge_counts([d[0] for d in cur.description or []], cur.fetchone())[
                "deleted"
            ]
            cur = session.run(insert, label=f"Insert the new contents of {spec.target}")
            inserted = msql.parse_merge_counts([d[0] for d in cur.description or []], cur.fetchone())[
                "inserted"
            ]
            session.run(commit, label="COMMIT")
        except BaseException as exc:
            try:
                session.run("ROLLBACK", label="ROLLBACK")
            except MergeError as rollback_error:
                self.log.error("ROLLBACK failed too: %s", rollback_error)
            if isinstance(exc, Exception):
                raise MergeError(
                    f"overwrite of {spec.target} was rolled back, the table is unchanged: {exc}"
                ) from None
            raise
        return {"inserted": inserted, "updated": 0, "deleted": deleted}

    def _finish(
        self, context: Context, session: _Session, counts: dict[str, int], started: float
    ) -> dict[str, Any]:
        from airflow_provider_lakeops.notifications.metrics import emit_operator_metrics

        inserted, updated, deleted = (int(counts.get(k, 0)) for k in ("inserted", "updated", "deleted"))
        result: dict[str, Any] = {
            "inserted": inserted,
            "updated": updated,
            "deleted": deleted,
            "query_ids": list(session.query_ids),
            "statements": session.statements,
        }
        if (self._lineage or {}).get("delta_version") is not None:
            result["delta_version"] = int((self._lineage or {})["delta_version"])
        if self._lineage is not None:
            self._lineage["counts"] = result
        self.log.info(
            "Merged into %s (%s): %s inserted, %s updated, %s deleted in %s statement(s)",
            (self._lineage or {}).get("target"),
            self.mode,
            inserted,
            updated,
            deleted,
            session.statements,
        )
        emit_operator_metrics(
            self,
            context,
            {
                "rows_inserted": inserted,
                "rows_updated": updated,
                "rows_deleted": deleted,
                "statements": session.statements,
                "duration_seconds": time.monotonic() - started,
            },
        )
        return result

    # ---------------------------------------------------------------- files
    def _read_delta(self, delta: tuple[str, int | None, dict[str, Any]], dest: Path) -> list[Path]:
        from airflow_provider_lakeops.operators._snowflake.delta import read_delta

        uri, version, partitions = delta
        batch = read_delta(
            uri, dest, partitions=partitions, version=version, aws_conn_id=self.aws_conn_id, log=self.log
        )
        if self._lineage is not None:
            self._lineage["delta_version"] = batch.version
        return batch.files

    def _empty_source(self) -> str:
        if self.source_delta is None:
            return f"no Parquet files under {self.source_parquet}"
        where = f" in partitions {sorted(self.source_partitions)}" if self.source_partitions else ""
        version = (self._lineage or {}).get("delta_version")
        return f"no rows in Delta table {self.source_delta} (version {version}){where}"

    def _staging_name(self, context: Context, target: TableName) -> str:
        ti = context.get("ti")
        run_id = context.get("run_id") or uuid.uuid4().hex
        seed = f"{self.dag_id}|{self.task_id}|{run_id}|{getattr(ti, 'map_index', -1)}|{target.dotted}"
        return "LAKEOPS_STG_" + hashlib.sha256(seed.encode()).hexdigest()[:20].upper()

    # ---------------------------------------------------------------- lineage
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Input: the source table, the tables a source query reads, the Parquet location or the Delta
        table (its root, with the version read);
        output: the target with schema, column lineage (from the mapping) and row statistics."""
        from airflow_provider_lakeops.operators._snowflake.lineage import build_lineage

        return build_lineage(self, self._lineage, complete=True)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """The same datasets, without output statistics."""
        from airflow_provider_lakeops.operators._snowflake.lineage import build_lineage

        return build_lineage(self, self._lineage, complete=False)
