"""Open a Delta table with delta-rs, the one way every lakeops reader does (the MERGE, GX, Glue).

A Delta table is read through its log, never by listing its folder: the folder also holds files a
``replaceWhere`` or an ``OPTIMIZE`` removed, which stay until ``VACUUM``. S3 credentials, endpoint and
region come from the Airflow AWS connection (:func:`~.lake.delta_storage_options`).
Errors name the operator argument that was wrong. deltalake is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options, is_s3_uri

__all__ = ["delta_uri", "open_delta_table", "partition_filters"]

DeltaFilter = tuple[str, str, Any]


def delta_uri(value: object, *, argument: str = "location") -> str:
    """The URI delta-rs opens: ``s3a://``/``s3n://`` written ``s3://``, ``file://`` as a local path.

    :raises ValueError: an empty value.
    """
    text = str(value or "").strip()
    if not text:
        raise ValueError(f"{argument} is empty after templating: give s3://bucket/table or a local folder")
    for scheme in ("s3a://", "s3n://"):
        if text.lower().startswith(scheme):
            text = "s3://" + text[len(scheme) :]
    return text.removeprefix("file://").rstrip("/") or "/"


def partition_filters(partitions: object, *, argument: str = "partitions") -> list[DeltaFilter]:
    """``{"dt": "2025-10-31"}`` as delta-rs filters (``=``; a list of values means ``in``).

    :raises TypeError: not a mapping.
    :raises ValueError: an empty column name or an empty list of values.
    """
    if partitions is None:
        return []
    if not isinstance(partitions, Mapping):
        raise TypeError(
            f"{argument} must be a dict {{partition column: value}}, got {type(partitions).__name__}"
        )
    filters: list[DeltaFilter] = []
    for column, value in partitions.items():
        name = str(column or "").strip()
        if not name:
            raise ValueError(f"{argument} has an empty partition column name")
        if isinstance(value, (list, tuple, set, frozenset)):
            values = sorted(str(v) for v in value)
            if not values:
                raise ValueError(f"{argument}[{name!r}] is an empty list")
            filters.append((name, "in", values))
        else:
            filters.append((name, "=", str(value)))
    return filters


def open_delta_table(
    uri: str,
    *,
    argument: str = "location",
    aws_conn_id: str | None = "aws_default",
    version: int | None = None,
    version_argument: str = "version",
    filters: Sequence[DeltaFilter] = (),
    filters_argument: str = "partitions",
    not_found_hint: str = "",
) -> Any:
    """The delta-rs ``DeltaTable`` at ``uri`` (``version``, default the latest), ``filters`` checked
    against its partition columns.

    :raises FileNotFoundError: not a Delta table (no ``_delta_log`` there, or no access).
    :raises ValueError: a table delta-rs cannot open, a version it lacks, a filter on a column the
        table is not partitioned by.
    """
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    options = delta_storage_options(aws_lake_access(aws_conn_id)) if is_s3_uri(uri) else None
    try:
        table = DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        raise FileNotFoundError(
            f"{argument} {uri!r} is not a Delta table (no _delta_log there, or no access){not_found_hint}"
        ) from None
    except (DeltaError, OSError) as exc:
        raise ValueError(
            f"{argument} {uri!r} could not be opened as a Delta table ({type(exc).__name__})"
        ) from None
    if version is not None and version != table.version():
        latest = table.version()
        try:
            table.load_as_version(version)
        except (DeltaError, OSError, ValueError):
            raise ValueError(
                f"{version_argument} {version} is not a version of {uri} (versions 0..{latest}, "
                "unless older ones were cleaned up)"
            ) from None
    partition_columns = list(table.metadata().partition_columns)
    unknown = [c for c, _, _ in filters if c not in partition_columns]
    if unknown:
        raise ValueError(
            f"{filters_argument} names {unknown}, but {uri} is partitioned by "
            f"{partition_columns or 'nothing'}: filter on partition columns only"
        )
    return table
