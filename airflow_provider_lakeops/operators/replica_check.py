"""Check that a replica equals its source table, row by row: counts and an order-independent checksum.

:class:`TableParityCheckOperator` reads the same columns from two tables (for example the
PostgreSQL table Debezium captures and the Snowflake table the CDC MERGE maintains, or the silver
Delta table on S3 that ``DeltaMergeOperator`` maintains), turns every
value into a canonical text (numbers normalised, so ``NUMERIC 10.50`` equals ``FLOAT 10.5``;
timestamps in UTC; ``NULL`` distinct from ``''``), hashes each row and adds the hashes up (mod
2^64), so the checksum does not depend on row order. It reports counts only: rows missing from the
replica, rows only in the replica and rows whose values differ, by key, never a value.

Underneath: each connection's own hook (``Connection.get_hook()``: ``PostgresHook``,
``MySqlHook``, ``SnowflakeHook`` ...), rows fetched in batches with ``fetchmany``; a Delta replica
is read with delta-rs (``deltalake``, imported when the task runs) through
:func:`airflow_provider_lakeops.utils.lake.delta_storage_options` of ``aws_conn_id``, in Arrow
record batches of the compared columns only.

.. seealso:: ``docs/operators/replica_check.md``
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context
    from airflow.sdk.types import RuntimeTaskInstanceProtocol

    from airflow_provider_lakeops.lineage.naming import DatasetName

__all__ = ["TableParityCheckOperator", "canonical_value", "row_digest"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_MASK64 = (1 << 64) - 1
_ON_MISMATCH = ("fail", "warn")


def canonical_value(value: object) -> str:
    """The text a value hashes as, equal across engines for equal data."""
    if value is None:
        return "\x00"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        try:
            number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        except InvalidOperation:
            return str(value)
        if not number.is_finite():
            return str(number)
        text = format(number.normalize(), "f")
        return "0" if text in {"-0", "0"} else text
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def row_digest(values: Sequence[object]) -> int:
    """A 64-bit hash of one row's canonical values."""
    text = "\x1f".join(canonical_value(v) for v in values)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


class TableParityCheckOperator(BaseOperator):
    """Fail unless the replica holds exactly the rows of ``source_table`` (over ``columns``).

    The replica is a SQL table (``target_conn_id`` + ``target_table``) or a Delta table
    (``target_delta_path``, on S3 or local).

    :param source_conn_id: connection of the source database (any SQL hook). (templated)
    :param source_table: ``[db.]schema.table`` of the source. (templated)
    :param target_conn_id: connection of the replica. (templated)
    :param target_table: ``[db.]schema.table`` of the replica. (templated)
    :param target_delta_path: instead of a SQL replica: the Delta table, ``s3://bucket/path`` or an
        absolute path; column names match case-insensitively. (templated)
    :param aws_conn_id: the AWS connection of an ``s3://`` Delta replica (region, endpoint,
        credentials).
    :param keys: the key columns; differences are counted per key. (templated)
    :param columns: the columns to compare (keys included or not); default: every source column.
        Unquoted names, compared case-insensitively as both engines fold them. (templated)
    :param on_mismatch: ``fail`` (the default: ``AirflowFailException``, a retry cannot fix data) or
        ``warn`` (log and return the report).
    :param max_rows: refuse tables larger than this (rows are held by key in memory: 1M rows ~ 150 MB).
    :return: ``{"equal", "source_rows", "target_rows", "source_checksum", "target_checksum",
        "missing_in_target", "extra_in_target", "different", "columns"}`` (counts only).
    :raises ValueError: a bad table or column name, or a table larger than ``max_rows``.
    :raises AirflowFailException: the tables differ and ``on_mismatch="fail"``.
    """

    template_fields: Sequence[str] = (
        "source_conn_id",
        "source_table",
        "target_conn_id",
        "target_table",
        "target_delta_path",
        "keys",
        "columns",
    )
    ui_color = "#e8f4d9"

    def __init__(
        self,
        *,
        source_conn_id: str,
        source_table: str,
        target_conn_id: str | None = None,
        target_table: str | None = None,
        keys: Sequence[str],
        target_delta_path: str | None = None,
        aws_conn_id: str | None = "aws_default",
        columns: Sequence[str] | None = None,
        on_mismatch: str = "fail",
        max_rows: int = 1_000_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if on_mismatch not in _ON_MISMATCH:
            raise ValueError(f"on_mismatch must be one of {', '.join(_ON_MISMATCH)}, got {on_mismatch!r}")
        if max_rows < 1:
            raise ValueError("max_rows must be a positive number of rows")
        sql_target = target_conn_id is not None or target_table is not None
        if target_delta_path is not None and sql_target:
            raise ValueError(
                "give target_conn_id + target_table (a SQL replica) or target_delta_path, not both"
            )
        if target_delta_path is None and (target_conn_id is None or target_table is None):
            raise ValueError("give target_conn_id and target_table, or target_delta_path (a Delta replica)")
        self.source_conn_id = source_conn_id
        self.source_table = source_table
        self.target_conn_id = target_conn_id
        self.target_table = target_table
        self.target_delta_path = target_delta_path
        self.aws_conn_id = aws_conn_id
        self.keys = keys
        self.columns = columns
        self.on_mismatch = on_mismatch
        self.max_rows = max_rows
        self._checked: list[str] = []

    # --------------------------------------------------------------------------- validation
    @staticmethod
    def _table(value: object, what: str) -> str:
        if not isinstance(value, str) or not _NAME.match(value.strip()):
            raise ValueError(f"{what} {value!r} must be [db.]schema.table with unquoted identifiers")
        return value.strip()

    @staticmethod
    def _column_list(value: object, what: str) -> list[str]:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ValueError(f"{what} must be a list of column names, got {type(value).__name__}")
        names = [str(v).strip().lower() for v in value]
        bad = [n for n in names if not _COLUMN.match(n)]
        if bad or not names:
            raise ValueError(f"{what} must name unquoted columns, got {list(value)!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"{what} names a column twice: {list(value)!r}")
        return names

    # ---------------------------------------------------------------------------- execute
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_lakeops._compat import AirflowFailException

        source_table = self._table(self.source_table, "source_table")
        delta_path = self._delta_path(self.target_delta_path) if self.target_delta_path is not None else None
        target_table = self._table(self.target_table, "target_table") if delta_path is None else delta_path
        keys = self._column_list(self.keys, "keys")
        chosen = self._column_list(self.columns, "columns") if self.columns is not None else None
        source = self._hook(self.source_conn_id)
        target = self._hook(str(self.target_conn_id)) if delta_path is None else None
        columns = chosen if chosen is not None else self._source_columns(source, source_table)
        columns = keys + [c for c in columns if c not in keys]
        self._checked = columns
        src_rows, src_sum, src_keys = self._scan(
            self._rows(source, source_table, columns), columns, len(keys), source_table, "source_table"
        )
        target_rows = (
            self._rows(target, target_table, columns)
            if delta_path is None
            else self._delta_rows(delta_path, columns)
        )
        tgt_rows, tgt_sum, tgt_keys = self._scan(
            target_rows,
            columns,
            len(keys),
            target_table,
            "target_delta_path" if delta_path else "target_table",
        )
        missing = sum(1 for k in src_keys if k not in tgt_keys)
        extra = sum(1 for k in tgt_keys if k not in src_keys)
        different = sum(1 for k, h in src_keys.items() if k in tgt_keys and tgt_keys[k] != h)
        report = {
            "equal": src_rows == tgt_rows and src_sum == tgt_sum and not (missing or extra or different),
            "source_rows": src_rows,
            "target_rows": tgt_rows,
            "source_checksum": f"{src_sum:016x}",
            "target_checksum": f"{tgt_sum:016x}",
            "missing_in_target": missing,
            "extra_in_target": extra,
            "different": different,
            "columns": columns,
        }
        if report["equal"]:
            self.log.info(
                "%s equals %s: %s rows, checksum %s over %s column(s)",
                target_table,
                source_table,
                src_rows,
                report["source_checksum"],
                len(columns),
            )
            return report
        message = (
            f"{target_table} differs from {source_table}: {src_rows} source row(s), {tgt_rows} replica "
            f"row(s); {missing} key(s) missing from the replica, {extra} only in the replica, {different} "
            f"with other values (checksums {report['source_checksum']} / {report['target_checksum']})"
        )
        if self.on_mismatch == "warn":
            self.log.warning("%s", message)
            return report
        raise AirflowFailException(message)

    @staticmethod
    def _delta_path(value: object) -> str:
        text = str(value or "").strip()
        if not (text.lower().startswith(("s3://", "s3a://", "s3n://", "file://")) or text.startswith("/")):
            raise ValueError(f"target_delta_path must be an s3:// URI or an absolute path, got {value!r}")
        return text.rstrip("/")

    def _delta_rows(self, path: str, columns: list[str]) -> Iterator[Sequence[Any]]:
        """The rows of a Delta table (``columns``, matched case-insensitively) read with delta-rs."""
        try:
            from deltalake import DeltaTable
            from deltalake.exceptions import TableNotFoundError
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "a Delta replica needs deltalake: pip install 'airflow-provider-lakeops[delta]'"
            ) from exc
        from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options, is_s3_uri

        options = delta_storage_options(aws_lake_access(self.aws_conn_id)) if is_s3_uri(path) else None
        uri = "s3://" + path.split("://", 1)[1] if is_s3_uri(path) else path.removeprefix("file://")
        try:
            table = DeltaTable(uri, storage_options=options)
        except TableNotFoundError:
            raise ValueError(f"target_delta_path {path} is not a Delta table") from None
        dataset = table.to_pyarrow_dataset()
        names = {n.lower(): n for n in dataset.schema.names}
        missing = [c for c in columns if c not in names]
        if missing:
            raise ValueError(f"the Delta replica {path} has no column(s) {missing}")
        self.log.info("Reading the Delta replica %s at version %s", path, table.version())
        for batch in dataset.to_batches(columns=[names[c] for c in columns], batch_size=10_000):
            yield from zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True)

    @staticmethod
    def _hook(conn_id: str) -> Any:
        from airflow.sdk import BaseHook

        hook = BaseHook.get_connection(conn_id).get_hook()
        if not hasattr(hook, "get_conn"):
            raise ValueError(f"connection {conn_id!r} has no SQL hook (got {type(hook).__name__})")
        return hook

    def _source_columns(self, hook: Any, table: str) -> list[str]:
        conn = hook.get_conn()
        try:
            cur = conn.cursor()
            cur.execute(f"SELECT * FROM {table} WHERE 1 = 0")  # identifiers validated above
            return [str(d[0]).lower() for d in cur.description]
        finally:
            conn.close()

    def _scan(
        self, values_iter: Iterator[Sequence[Any]], columns: list[str], n_keys: int, table: str, what: str
    ) -> tuple[int, int, dict[tuple[str, ...], int]]:
        rows, total, by_key = 0, 0, {}
        for values in values_iter:
            rows += 1
            if rows > self.max_rows:
                raise ValueError(
                    f"{what} {table} has more than max_rows={self.max_rows} rows; raise max_rows"
                )
            digest = row_digest(values)
            total = (total + digest) & _MASK64
            by_key[tuple(canonical_value(v) for v in values[:n_keys])] = digest
        return rows, total, by_key

    @staticmethod
    def _rows(hook: Any, table: str, columns: list[str]) -> Iterator[Sequence[Any]]:
        conn = hook.get_conn()
        try:
            cur = conn.cursor()
            cur.execute(f"SELECT {', '.join(columns)} FROM {table}")  # identifiers validated above
            while batch := cur.fetchmany(10_000):
                yield from batch
        finally:
            conn.close()

    # ---------------------------------------------------------------------------- lineage
    def get_openlineage_facets_on_complete(
        self, task_instance: RuntimeTaskInstanceProtocol
    ) -> OperatorLineage:
        """Inputs: both tables, named by each connection's OpenLineage namespace where it has one."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_lakeops.lineage.naming import location_dataset

        inputs = []
        sides = [(self.source_conn_id, self.source_table)]
        if self.target_delta_path is None:
            sides.append((str(self.target_conn_id), str(self.target_table)))
        for conn_id, table in sides:
            dataset = _table_dataset(str(conn_id), str(table))
            if dataset is not None:
                inputs.append(dataset.to_openlineage())
        if self.target_delta_path is not None:
            inputs.append(location_dataset(str(self.target_delta_path)).to_openlineage())
        return OperatorLineage(inputs=inputs)


def _table_dataset(conn_id: str, table: str) -> DatasetName | None:
    """The OpenLineage name of ``table`` on a PostgreSQL, MySQL or Snowflake connection (else ``None``)."""
    from airflow.sdk import BaseHook

    from airflow_provider_lakeops.lineage.naming import DatasetName, mysql_dataset, snowflake_dataset

    conn = BaseHook.get_connection(conn_id)
    parts = table.split(".")
    if conn.conn_type == "postgres":
        database = parts[0] if len(parts) == 3 else (conn.schema or "postgres")
        schema, name = (parts[-2], parts[-1]) if len(parts) >= 2 else ("public", parts[-1])
        return DatasetName(
            f"postgres://{conn.host}:{conn.port or 5432}", f"{database}.{schema}.{name}".lower()
        )
    if conn.conn_type == "mysql" and len(parts) >= 2:
        return mysql_dataset(conn.host or "", conn.port, parts[-2], parts[-1])
    if conn.conn_type == "snowflake":
        extra = conn.extra_dejson
        database = parts[0] if len(parts) == 3 else str(extra.get("database") or "")
        schema = parts[-2] if len(parts) >= 2 else str(conn.schema or extra.get("schema") or "")
        # unquoted Snowflake identifiers fold to upper case, as the MERGE operator's lineage names them
        return snowflake_dataset(
            str(extra.get("account") or ""),
            database.upper(),
            schema.upper(),
            parts[-1].upper(),
            extra.get("region"),
        )
    return None
