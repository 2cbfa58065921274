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

from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options, is_s3_uri

__all__ = ["DeltaBatch", "delta_uri", "partition_filters", "read_delta", "validated_version"]


@dataclass(frozen=True)
class DeltaBatch:
    """What was read: the Parquet files written, the table version, rows and partition columns."""

    files: list[Path]
    version: int
    rows: int
    partition_columns: list[str] = field(default_factory=list)


def delta_uri(value: object) -> str:
    """The URI delta-rs opens: ``s3a://``/``s3n://`` written ``s3://``, ``file://`` as a local path.

    :raises ValueError: an empty value.
    """
    text = str(value or "").strip()
    if not text:
        raise ValueError("source_delta is empty after templating: give s3://bucket/table or a local folder")
    for scheme in ("s3a://", "s3n://"):
        if text.lower().startswith(scheme):
            text = "s3://" + text[len(scheme) :]
    if text.startswith("file://"):
        text = text[len("file://") :]
    return text.rstrip("/") or "/"


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
    """``{"dt": "2025-10-31"}`` as delta-rs filters (``=``; a list of values means ``in``).

    :raises TypeError: not a mapping.
    :raises ValueError: an empty column name or an empty list of values.
    """
    if partitions is None:
        return []
    if not isinstance(partitions, Mapping):
        raise TypeError(
            f"source_partitions must be a dict {{partition column: value}}, got {type(partitions).__name__}"
        )
    filters: list[tuple[str, str, Any]] = []
    for column, value in partitions.items():
        name = str(column or "").strip()
        if not name:
            raise ValueError("source_partitions has an empty partition column name")
        if isinstance(value, (list, tuple, set, frozenset)):
            values = sorted(str(v) for v in value)
            if not values:
                raise ValueError(f"source_partitions[{name!r}] is an empty list")
            filters.append((name, "in", values))
        else:
            filters.append((name, "=", str(value)))
    return filters


def _open(uri: str, version: int | None, aws_conn_id: str | None) -> Any:
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    options = delta_storage_options(aws_lake_access(aws_conn_id)) if is_s3_uri(uri) else None
    try:
        table = DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        raise FileNotFoundError(
            f"source_delta {uri!r} is not a Delta table (no _delta_log there, or no access); "
            "for plain Parquet files use source_parquet"
        ) from None
    except (DeltaError, OSError) as exc:
        raise ValueError(
            f"source_delta {uri!r} could not be opened as a Delta table ({type(exc).__name__})"
        ) from None
    if version is not None and version != table.version():
        latest = table.version()
        try:
            table.load_as_version(version)
        except (DeltaError, OSError, ValueError):
            raise ValueError(
                f"source_version {version} is not a version of {uri} (versions 0..{latest}, "
                "unless older ones were cleaned up)"
            ) from None
    return table


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
    table = _open(uri, version, aws_conn_id)
    partition_columns = list(table.metadata().partition_columns)
    unknown = [c for c, _, _ in filters if c not in partition_columns]
    if unknown:
        raise ValueError(
            f"source_partitions names {unknown}, but {uri} is partitioned by "
            f"{partition_columns or 'nothing'}: filter on partition columns only"
        )
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
