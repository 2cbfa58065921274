"""Glue Data Catalog writes lakeops needs beyond the amazon provider's ``GlueCatalogHook``.

:class:`LakeopsGlueCatalogHook` is a ``GlueCatalogHook`` (same ``aws`` connection, region, botocore
config, retries) with create-or-update of a table (creating the database when missing), a
table lookup that returns ``None`` for a missing table, and ``BatchCreatePartition`` /
``BatchDeletePartition`` in chunks of 100 with per-partition errors collected.

The amazon provider (and with it boto3) is imported only when the class is first used: importing
this module stays cheap (``tests/unit/test_import_cost.py``). The same operations are available as
functions taking a boto3 Glue client (:func:`create_or_update_table` ...), which the hook's methods
call with its ``conn``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

__all__ = [
    "MAX_BATCH",
    "LakeopsGlueCatalogHook",
    "PartitionReport",
    "batch_create_partitions",
    "batch_delete_partitions",
    "collect_batch_errors",
    "create_or_update_table",
    "get_table_or_none",
]

#: BatchCreatePartition accepts at most 100 partitions per call, BatchDeletePartition 25.
MAX_BATCH = 100
_MAX_DELETE_BATCH = 25


@dataclass
class PartitionReport:
    """Outcome of :func:`batch_create_partitions`: counts and per-partition failures."""

    added: int = 0
    already_present: int = 0
    batches: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)


def _log(log: Any, message: str, *args: Any) -> None:
    if log is not None:
        log.info(message, *args)


def get_table_or_none(glue: Any, database: str, name: str) -> dict[str, Any] | None:
    """``GetTable``'s table, or ``None`` when the table (or the database) does not exist."""
    try:
        return dict(glue.get_table(DatabaseName=database, Name=name)["Table"])
    except glue.exceptions.EntityNotFoundException:
        return None


def create_or_update_table(
    glue: Any,
    database: str,
    table_input: Mapping[str, Any],
    *,
    existing: Mapping[str, Any] | None,
    skip_archive: bool = False,
    log: Any = None,
) -> Literal["created", "updated"]:
    """``CreateTable`` when ``existing`` is ``None`` (``CreateDatabase`` first if the database is
    missing), else ``UpdateTable`` guarded by the existing ``VersionId`` (a concurrent change fails
    instead of being overwritten).

    :param existing: the table as :func:`get_table_or_none` returned it.
    """
    if existing is not None:
        kwargs: dict[str, Any] = {"VersionId": existing["VersionId"]} if existing.get("VersionId") else {}
        glue.update_table(
            DatabaseName=database, TableInput=dict(table_input), SkipArchive=skip_archive, **kwargs
        )
        return "updated"
    try:
        glue.create_table(DatabaseName=database, TableInput=dict(table_input))
        return "created"
    except glue.exceptions.EntityNotFoundException:  # the database is missing
        pass
    try:
        glue.create_database(
            DatabaseInput={"Name": database, "Description": "Created by lakeops GlueRegisterTableOperator"}
        )
        _log(log, "Created Glue database %s", database)
    except glue.exceptions.AlreadyExistsException:
        _log(log, "Glue database %s was created concurrently", database)
    glue.create_table(DatabaseName=database, TableInput=dict(table_input))
    return "created"


def collect_batch_errors(
    batch: Sequence[Mapping[str, Any]], response: Mapping[str, Any]
) -> tuple[int, int, list[dict[str, Any]]]:
    """Split one ``BatchCreatePartition`` response into (added, already present, failures).

    ``AlreadyExistsException`` counts as success (another run or writer registered it first).
    """
    already = 0
    failed = []
    for error in response.get("Errors", []) or []:
        detail = error.get("ErrorDetail", {})
        if detail.get("ErrorCode") == "AlreadyExistsException":
            already += 1
        else:
            failed.append(
                {
                    "values": list(error.get("PartitionValues", [])),
                    "code": detail.get("ErrorCode"),
                    "message": detail.get("ErrorMessage"),
                }
            )
    return len(batch) - already - len(failed), already, failed


def batch_create_partitions(
    glue: Any,
    database: str,
    table: str,
    inputs: Sequence[Mapping[str, Any]],
    *,
    batch_size: int = MAX_BATCH,
    log: Any = None,
) -> PartitionReport:
    """``BatchCreatePartition`` in chunks of at most 100.

    Every batch is attempted even when one fails; per-partition errors and failed calls end up in
    ``PartitionReport.failed`` (values, error code, message); partitions that already exist are
    counted in ``already_present``.

    :raises ValueError: ``batch_size`` is not 1..100.
    """
    from botocore.exceptions import ClientError

    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be 1..{MAX_BATCH}, got {batch_size}")
    report = PartitionReport()
    for start in range(0, len(inputs), batch_size):
        batch = inputs[start : start + batch_size]
        report.batches += 1
        try:
            response = glue.batch_create_partition(
                DatabaseName=database, TableName=table, PartitionInputList=[dict(p) for p in batch]
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            report.failed += [
                {"values": list(p["Values"]), "code": error.get("Code"), "message": error.get("Message")}
                for p in batch
            ]
            if log is not None:
                log.warning("BatchCreatePartition of %s partitions failed: %s", len(batch), error.get("Code"))
            continue
        added, already, failed = collect_batch_errors(batch, response)
        report.added += added
        report.already_present += already
        report.failed += failed
    return report


def batch_delete_partitions(
    glue: Any, database: str, table: str, values: Sequence[Sequence[str]]
) -> list[dict[str, Any]]:
    """``BatchDeletePartition`` in chunks of 25; the per-partition errors (values, code, message)."""
    failed: list[dict[str, Any]] = []
    for start in range(0, len(values), _MAX_DELETE_BATCH):
        chunk = [{"Values": list(v)} for v in values[start : start + _MAX_DELETE_BATCH]]
        response = glue.batch_delete_partition(
            DatabaseName=database, TableName=table, PartitionsToDelete=chunk
        )
        failed += [
            {
                "values": list(e.get("PartitionValues", [])),
                "code": e.get("ErrorDetail", {}).get("ErrorCode"),
                "message": e.get("ErrorDetail", {}).get("ErrorMessage"),
            }
            for e in response.get("Errors", []) or []
        ]
    return failed


class _LakeopsGlueMethods:
    """The methods :class:`LakeopsGlueCatalogHook` adds (on ``self.conn``, the hook's Glue client)."""

    conn: Any

    def get_table_or_none(self, database: str, name: str) -> dict[str, Any] | None:
        """The table, or ``None`` when it (or its database) does not exist."""
        return get_table_or_none(self.conn, database, name)

    def create_or_update_table(
        self,
        database: str,
        table_input: Mapping[str, Any],
        *,
        existing: Mapping[str, Any] | None,
        skip_archive: bool = False,
        log: Any = None,
    ) -> Literal["created", "updated"]:
        """See :func:`create_or_update_table`."""
        return create_or_update_table(
            self.conn, database, table_input, existing=existing, skip_archive=skip_archive, log=log
        )

    def batch_create_partitions(
        self,
        database: str,
        table: str,
        inputs: Sequence[Mapping[str, Any]],
        *,
        batch_size: int = MAX_BATCH,
        log: Any = None,
    ) -> PartitionReport:
        """See :func:`batch_create_partitions`."""
        return batch_create_partitions(self.conn, database, table, inputs, batch_size=batch_size, log=log)

    def delete_partitions(
        self, database: str, table: str, values: Sequence[Sequence[str]]
    ) -> list[dict[str, Any]]:
        """See :func:`batch_delete_partitions`."""
        return batch_delete_partitions(self.conn, database, table, values)


if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    class LakeopsGlueCatalogHook(_LakeopsGlueMethods, GlueCatalogHook):  # type: ignore[misc]
        """The amazon provider's ``GlueCatalogHook`` with lakeops' catalog writes."""

else:

    def __getattr__(name: str) -> Any:
        # the class is built on first use, so importing this module does not import boto3
        if name != "LakeopsGlueCatalogHook":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

        class LakeopsGlueCatalogHook(_LakeopsGlueMethods, GlueCatalogHook):
            """The amazon provider's ``GlueCatalogHook`` (``aws`` connection) with lakeops' catalog
            writes: :meth:`create_or_update_table`, :meth:`get_table_or_none`,
            :meth:`batch_create_partitions` (chunks of 100, duplicates counted as present) and
            :meth:`delete_partitions`."""

        LakeopsGlueCatalogHook.__module__ = __name__
        globals()[name] = LakeopsGlueCatalogHook
        return LakeopsGlueCatalogHook
