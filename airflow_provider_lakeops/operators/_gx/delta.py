"""Delta tables for :class:`~airflow_provider_lakeops.operators._gx.sources.FileSource`.

A Delta table is read through its log (delta-rs for the pandas engine, ``format("delta")`` for Spark):
its folder also holds files a ``replaceWhere`` or ``OPTIMIZE`` removed, which stay until ``VACUUM``, so
validating its Parquet files would count rows twice. :func:`delta_guard` finds a Delta table behind
a ``data_path`` so that such a read is refused (or, with no ``data_format``, read as Delta).
deltalake is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_provider_lakeops.lineage.naming import table_root
from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options, is_s3_uri
from airflow_provider_lakeops.utils.storage import folder_exists, parse_location

__all__ = ["delta_guard", "open_delta", "partition_filters"]


def partition_filters(partitions: object) -> list[tuple[str, str, Any]]:
    """``{"dt": "2025-10-31"}`` as delta-rs filters (``=``; a list of values means ``in``).

    :raises TypeError: not a mapping.
    :raises ValueError: an empty column name or an empty list of values.
    """
    if partitions is None:
        return []
    if not isinstance(partitions, Mapping):
        raise TypeError(
            f"data_partitions must be a dict {{partition column: value}}, got {type(partitions).__name__}"
        )
    filters: list[tuple[str, str, Any]] = []
    for column, value in partitions.items():
        name = str(column or "").strip()
        if not name:
            raise ValueError("data_partitions has an empty partition column name")
        if isinstance(value, (list, tuple, set, frozenset)):
            values = sorted(str(v) for v in value)
            if not values:
                raise ValueError(f"data_partitions[{name!r}] is an empty list")
            filters.append((name, "in", values))
        else:
            filters.append((name, "=", str(value)))
    return filters


def _uri(location: str) -> str:
    for scheme in ("s3a://", "s3n://"):
        if location.lower().startswith(scheme):
            location = "s3://" + location[len(scheme) :]
    return location.removeprefix("file://").rstrip("/") or "/"


def _has_log(root: str, aws_conn_id: str | None) -> bool:
    if is_s3_uri(root):
        location = parse_location(root, argument="data_path").join("_delta_log/")
        return folder_exists(location, aws_conn_id=aws_conn_id)
    return (Path(root.removeprefix("file://")) / "_delta_log").is_dir()


def delta_guard(location: str, fmt: str | None, aws_conn_id: str | None) -> str | None:
    """The format to read ``location`` as, given a Delta table there or around it.

    ``fmt`` unchanged when no Delta table is involved; ``"delta"`` when ``fmt`` is ``None`` and
    ``location`` is a Delta table.

    :raises ValueError: ``location`` is a Delta table read as ``parquet``, or a partition folder of one.
    """
    if fmt == "delta":
        return fmt
    root = table_root(location)
    if root.rstrip("/") != location.rstrip("/") and _has_log(root, aws_conn_id):
        raise ValueError(
            f"data_path {location!r} is a partition folder of the Delta table {root}: its files include "
            "ones the Delta log removed; give data_path={root!r}, data_format='delta' and "
            "data_partitions={{column: value}}"
        )
    if fmt in (None, "parquet") and _has_log(location.rstrip("/"), aws_conn_id):
        if fmt is None:
            return "delta"
        raise ValueError(
            f"data_path {location!r} is a Delta table: its Parquet files include ones the Delta log "
            "removed; set data_format='delta'"
        )
    return fmt


def open_delta(location: str, filters: list[tuple[str, str, Any]], aws_conn_id: str | None) -> Any:
    """The delta-rs ``DeltaTable`` at ``location`` (latest version), ``filters`` checked against its
    partition columns.

    :raises FileNotFoundError: not a Delta table.
    :raises ValueError: a filter on a column the table is not partitioned by.
    """
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    uri = _uri(location)
    options = delta_storage_options(aws_lake_access(aws_conn_id)) if is_s3_uri(uri) else None
    try:
        table = DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        raise FileNotFoundError(
            f"data_path {location!r} is not a Delta table (no _delta_log there, or no access)"
        ) from None
    except (DeltaError, OSError) as exc:
        raise ValueError(
            f"data_path {location!r} could not be opened as a Delta table ({type(exc).__name__})"
        ) from None
    partition_columns = list(table.metadata().partition_columns)
    unknown = [c for c, _, _ in filters if c not in partition_columns]
    if unknown:
        raise ValueError(
            f"data_partitions names {unknown}, but {location} is partitioned by "
            f"{partition_columns or 'nothing'}: filter on partition columns only"
        )
    return table
