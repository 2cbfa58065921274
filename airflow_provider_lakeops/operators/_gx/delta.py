"""Delta tables for :class:`~airflow_provider_lakeops.operators._gx.sources.FileSource`.

A Delta table is read through its log (delta-rs for the pandas engine, ``format("delta")`` for Spark):
its folder also holds files a ``replaceWhere`` or ``OPTIMIZE`` removed, which stay until ``VACUUM``, so
validating its Parquet files would count rows twice. :func:`delta_guard` finds a Delta table behind
a ``data_path`` so that such a read is refused (or, with no ``data_format``, read as Delta).
deltalake is imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_lakeops.lineage.naming import table_root
from airflow_provider_lakeops.utils.delta import delta_uri, open_delta_table
from airflow_provider_lakeops.utils.delta import partition_filters as _partition_filters
from airflow_provider_lakeops.utils.lake import is_s3_uri
from airflow_provider_lakeops.utils.storage import folder_exists, parse_location

__all__ = ["delta_guard", "open_delta", "partition_filters"]


def partition_filters(partitions: object) -> list[tuple[str, str, Any]]:
    """``data_partitions`` as delta-rs filters (:func:`~..utils.delta.partition_filters`)."""
    return _partition_filters(partitions, argument="data_partitions")


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
    return open_delta_table(
        delta_uri(location, argument="data_path"),
        argument="data_path",
        aws_conn_id=aws_conn_id,
        filters=filters,
        filters_argument="data_partitions",
    )
