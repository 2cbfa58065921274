"""Read a Delta table (one version, optionally some partitions) for the MERGE, through delta-rs.

A Delta table must be read through its log: the folder also holds files a ``replaceWhere`` or an
``OPTIMIZE`` removed from the table, which stay until ``VACUUM``, so listing its Parquet files would
merge stale rows. The rows the log names are written to one Parquet file in lakeops' own folder,
which the MERGE then stages like any Parquet source. S3 credentials, endpoint and region come from
the AWS connection (:func:`~airflow_provider_lakeops.utils.lake.delta_storage_options`).
deltalake and pyarrow are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_lakeops.utils.delta import delta_uri as _delta_uri
from airflow_provider_lakeops.utils.delta import open_delta_table
from airflow_provider_lakeops.utils.delta import partition_filters as _partition_filters

__all__ = ["DeltaBatch", "delta_uri", "partition_filters", "read_delta", "validated_version"]


@dataclass(frozen=True)
class DeltaBatch:
    """What was read: the Parquet files written, the table version, rows and partition columns."""

    files: list[Path]
    version: int
    rows: int
    partition_columns: list[str] = field(default_factory=list)


def delta_uri(value: object) -> str:
    """The URI delta-rs opens for ``source_delta`` (:func:`airflow_provider_lakeops.utils.delta.delta_uri`).

    :raises ValueError: an empty value.
    """
    return _delta_uri(value, argument="source_delta")


def validated_version(value: object) -> int | None:
    """``source_version`` as a non-negative int (a rendered ``"3"`` is accepted); ``None`` = latest.

    :raises ValueError: anything else.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"source_version must be a non-negative integer, got {value!r}")
    try:
        version = int(str(value).strip())
    except ValueError:
        raise ValueError(f"source_version must be a non-negative integer, got {value!r}") from None
    if version < 0:
        raise ValueError(f"source_version must be a non-negative integer, got {value!r}")
    return version


def partition_filters(partitions: object) -> list[tuple[str, str, Any]]:
    """``source_partitions`` as delta-rs filters (:func:`~..utils.delta.partition_filters`)."""
    return _partition_filters(partitions, argument="source_partitions")


def read_delta(
    uri: str,
    dest: Path,
    *,
    partitions: Mapping[str, Any] | None = None,
    version: int | None = None,
    aws_conn_id: str | None = "aws_default",
    log: Any = None,
) -> DeltaBatch:
    """Read one version of the Delta table at ``uri`` (the partitions of ``partitions`` only) into
    ``dest/part-00000.parquet`` (no file when no row matches).

    :raises FileNotFoundError: ``uri`` is not a Delta table.
    :raises ValueError: a partition column the table is not partitioned by, or a version it lacks.
    """
    import pyarrow.parquet as pq

    filters = partition_filters(partitions)
    table = open_delta_table(
        uri,
        argument="source_delta",
        aws_conn_id=aws_conn_id,
        version=version,
        version_argument="source_version",
        filters=filters,
        filters_argument="source_partitions",
        not_found_hint="; for plain Parquet files use source_parquet",
    )
    partition_columns = list(table.metadata().partition_columns)
    columns = [f.name for f in table.schema().fields]
    from deltalake.exceptions import DeltaProtocolError

    try:
        dataset = table.to_pyarrow_dataset(file_pruning_predicate=filters or None)
    except DeltaProtocolError as exc:  # e.g. deletion vectors: never read around them
        raise ValueError(f"source_delta {uri!r} cannot be read by delta-rs here: {exc}") from None
    data = dataset.to_table(columns=columns)
    dest.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    if data.num_rows:
        target = dest / "part-00000.parquet"
        pq.write_table(data, target)
        files.append(target)
    if log is not None:
        log.info(
            "Read %s row(s) from Delta table %s version %s%s",
            data.num_rows,
            uri,
            table.version(),
            f" (partitions {', '.join(f'{c} {op} {v}' for c, op, v in filters)})" if filters else "",
        )
    return DeltaBatch(
        files=files, version=int(table.version()), rows=data.num_rows, partition_columns=partition_columns
    )
