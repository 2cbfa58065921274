"""Delta Lake and Iceberg tables for Glue registration: detection, their own metadata, table inputs.

A Delta table's schema and partition columns come from its transaction log (read with delta-rs),
never from Parquet footers: files the log removed may still be in the folder. An Iceberg table's
come from its latest ``metadata/*.metadata.json`` (read with PyIceberg). What Glue gets:

* **Delta**: the native form AWS engines read: ``table_type=DELTA`` (Athena reads the log itself),
  ``spark.sql.sources.provider=delta`` with the SerDe parameter ``path`` (Spark on EMR / Glue jobs and
  Trino resolve the table as Delta), the real columns and partition keys from the log (Lake
  Formation, views and row/column filters need them), and no Glue partitions;
* **Iceberg**: what PyIceberg's ``GlueCatalog`` writes: ``table_type=ICEBERG``, ``metadata_location``
  (and ``previous_metadata_location`` when it moves), the current schema's columns with their
  ``iceberg.field.*`` parameters, and the table location from the metadata.

deltalake and pyiceberg are imported inside the functions that use them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.operators._glue.catalog import FORMATS, table_kind
from airflow_provider_lakeops.utils.storage import folder_exists, list_data_files

if TYPE_CHECKING:
    from airflow_provider_lakeops.operators._glue.schema import Column
    from airflow_provider_lakeops.utils.storage import Location

__all__ = [
    "DELTA",
    "HIVE",
    "ICEBERG",
    "TABLE_FORMATS",
    "DeltaSnapshot",
    "IcebergSnapshot",
    "check_iceberg_loadable",
    "delta_table_input",
    "detect_table_format",
    "engine_options",
    "iceberg_snapshot",
    "iceberg_table_input",
    "latest_iceberg_metadata",
    "metadata_sequence",
    "read_delta",
    "read_iceberg",
    "registered_format",
    "validate_table_format",
]

DELTA, ICEBERG, HIVE = "delta", "iceberg", "hive"
#: accepted ``table_format`` values (``None``: detect from the location and the registered table)
TABLE_FORMATS = (DELTA, ICEBERG, HIVE)
#: ``TableType``/``table_type`` reported in the XCom per format
TABLE_TYPES = {DELTA: "DELTA", ICEBERG: "ICEBERG", HIVE: "EXTERNAL_TABLE"}
_METADATA_FILE = re.compile(r"^(?:v)?(\d+)(?:[-.].*)?\.metadata\.json$")


def validate_table_format(value: Any) -> str | None:
    """``None`` (detect) or one of :data:`TABLE_FORMATS`, lower-cased.

    :raises ValueError: any other value.
    """
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().lower()
    if text not in TABLE_FORMATS:
        raise ValueError(
            f"table_format must be one of {', '.join(TABLE_FORMATS)} or None (detect), got {value!r}"
        )
    return text


def registered_format(table: Mapping[str, Any] | None) -> str | None:
    """The format a Glue table is registered as: ``delta``, ``iceberg``, ``hive``; ``None`` if no table."""
    if table is None:
        return None
    return {"DELTA": DELTA, "ICEBERG": ICEBERG}.get(table_kind(table), HIVE)


def _exists(folder: Location, s3: Any) -> bool:
    try:
        return folder_exists(folder, s3=s3)
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") == "NoSuchBucket":
            raise FileNotFoundError(
                f"location {folder.uri}: bucket {folder.bucket!r} does not exist"
            ) from None
        raise


def has_delta_log(location: Location, s3: Any) -> bool:
    """Whether ``<location>/_delta_log/`` holds anything (one ``ListObjectsV2`` with ``MaxKeys=1``)."""
    return _exists(location.join("_delta_log/"), s3)


def _metadata_files(location: Location, s3: Any) -> list[tuple[int, str]]:
    folder = location.join("metadata/")
    if not _exists(folder, s3):
        return []
    found = []
    for data_file in list_data_files(folder, suffixes=(".metadata.json",), recursive=False, s3=s3):
        match = _METADATA_FILE.match(data_file.relative)
        if match:
            found.append((int(match.group(1)), folder.child(data_file.relative)))
    return sorted(found)


def detect_table_format(
    location: Location, s3: Any, requested: str | None, existing: Mapping[str, Any] | None
) -> str:
    """The format to register: ``requested``, else what the location holds (``_delta_log/`` -> delta,
    ``metadata/*.metadata.json`` -> iceberg, otherwise data files -> hive). A table registered as Delta
    or Iceberg stays so: its log or metadata must be there.

    :raises FileNotFoundError: a Delta or Iceberg table (asked for, or registered so) whose log or
        metadata is missing: registering its data files would read files the table no longer has.
    """
    if requested in (None, DELTA) and has_delta_log(location, s3):
        return DELTA
    expected = requested or registered_format(existing)
    if expected == DELTA:
        why = "table_format='delta' was given" if requested else "the Glue table is registered as DELTA"
        raise FileNotFoundError(
            f"no Delta log at {location.describe('_delta_log/')} ({why}): without the log no engine can "
            "tell the table's files from files it removed. Write the table with Delta first, or register "
            "plain files with table_format='hive' (and evolution_policy='replace' to re-point a table)"
        )
    if requested in (None, ICEBERG) and _metadata_files(location, s3):
        return ICEBERG
    if expected == ICEBERG:
        why = "table_format='iceberg' was given" if requested else "the Glue table is registered as ICEBERG"
        raise FileNotFoundError(
            f"no Iceberg metadata (*.metadata.json) under {location.describe('metadata/')} ({why}); "
            "write the table with an Iceberg writer first"
        )
    return HIVE


# --------------------------------------------------------------------------- Delta
@dataclass(frozen=True)
class DeltaSnapshot:
    """What the Delta log says of a table at its latest version."""

    version: int
    columns: list[Column]
    partition_keys: list[Column]


def read_delta(location: Location, storage_options: Mapping[str, str]) -> DeltaSnapshot:
    """Schema and partition columns from the Delta log (delta-rs), at the latest version.

    :raises ValueError: the log cannot be read, or a column has no Glue type.
    """
    import pyarrow as pa
    from deltalake import DeltaTable

    from airflow_provider_lakeops.operators._glue.schema import arrow_schema_to_columns

    uri = location.uri.rstrip("/") if location.is_s3 else str(location.local_path)
    where = location.describe("_delta_log/")
    try:
        table = DeltaTable(uri, storage_options=dict(storage_options) if location.is_s3 else None)
        schema = pa.schema(table.schema().to_arrow())
        partition_columns = [c.lower() for c in table.metadata().partition_columns]
        version = int(table.version())
    except Exception as exc:  # delta-rs raises its own TableNotFoundError / DeltaError / OSError
        raise ValueError(f"{where}: the Delta log cannot be read ({type(exc).__name__}: {exc})") from None
    columns = arrow_schema_to_columns(schema, source=f"{where} (version {version})")
    by_name = {c.name: c for c in columns}
    keys = [by_name[name] for name in partition_columns]
    return DeltaSnapshot(version, [c for c in columns if c.name not in partition_columns], keys)


def delta_table_input(
    *,
    name: str,
    location: str,
    columns: Sequence[Column],
    partition_keys: Sequence[Column],
    parameters: Mapping[str, str],
    description: str | None,
) -> dict[str, Any]:
    """The native Delta ``TableInput`` (see the module docstring and ``docs/operators/glue.md``)."""
    spec = FORMATS["parquet"]
    table: dict[str, Any] = {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "table_type": "DELTA",
            "spark.sql.sources.provider": "delta",
            "classification": "delta",
            "EXTERNAL": "TRUE",
            **parameters,
        },
        "PartitionKeys": [c.to_glue() for c in partition_keys],
        "StorageDescriptor": {
            "Columns": [c.to_glue() for c in columns],
            "Location": location,
            "InputFormat": spec["InputFormat"],
            "OutputFormat": spec["OutputFormat"],
            "SerdeInfo": {
                "SerializationLibrary": spec["SerdeInfo"]["SerializationLibrary"],
                "Parameters": {"serialization.format": "1", "path": location},
            },
            "Compressed": False,
            "StoredAsSubDirectories": False,
        },
    }
    if description is not None:
        table["Description"] = description
    return table


# --------------------------------------------------------------------------- Iceberg
@dataclass(frozen=True)
class IcebergSnapshot:
    """An Iceberg table's latest metadata file and what it says."""

    metadata_location: str
    location: str
    sequence: int
    columns: list[Column]
    field_parameters: dict[str, dict[str, str]]


def latest_iceberg_metadata(location: Location, s3: Any) -> tuple[int, str]:
    """``(sequence, uri)`` of the newest ``metadata/NNNNN-*.metadata.json`` (or ``vN.metadata.json``).

    :raises FileNotFoundError: there is none.
    """
    found = _metadata_files(location, s3)
    if not found:
        raise FileNotFoundError(
            f"no Iceberg metadata (*.metadata.json) under {location.describe('metadata/')}"
        )
    newest = found[-1][0]
    tied = [uri for seq, uri in found if seq == newest]
    if len(tied) > 1:
        raise ValueError(
            f"{len(tied)} Iceberg metadata files share the newest sequence number {newest} under "
            f"{location.describe('metadata/')} (two writers committed without a catalog?): {tied}"
        )
    return found[-1]


def metadata_sequence(uri: str) -> int | None:
    """The sequence number in a metadata file name, ``None`` when it has none."""
    match = _METADATA_FILE.match(uri.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None


def read_iceberg(metadata_location: str, sequence: int, properties: Mapping[str, Any]) -> IcebergSnapshot:
    """Read one metadata file with PyIceberg (``StaticTable``): the table location and current schema.

    :raises ValueError: the file cannot be read as Iceberg metadata, or a column has no Glue type.
    """
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    from pyiceberg.table import StaticTable

    from airflow_provider_lakeops.operators._glue.schema import arrow_schema_to_columns

    try:
        table = StaticTable.from_metadata(metadata_location, properties=dict(properties))
        schema = table.schema()
        arrow = schema_to_pyarrow(schema, include_field_ids=False)
    except Exception as exc:  # PyIceberg raises validation, IO and JSON errors
        raise ValueError(
            f"{metadata_location}: not readable as Iceberg metadata ({type(exc).__name__}: {exc})"
        ) from None
    columns = arrow_schema_to_columns(arrow, source=metadata_location)
    fields = {
        f.name.lower(): {
            "iceberg.field.id": str(f.field_id),
            "iceberg.field.optional": str(f.optional).lower(),
            "iceberg.field.current": "true",
        }
        for f in schema.fields
    }
    return IcebergSnapshot(metadata_location, table.metadata.location, sequence, columns, fields)


def iceberg_table_input(
    *,
    name: str,
    snapshot: IcebergSnapshot,
    columns: Sequence[Column],
    existing: Mapping[str, Any] | None,
    parameters: Mapping[str, str],
    description: str | None,
) -> dict[str, Any]:
    """The ``TableInput`` PyIceberg's ``GlueCatalog`` would write for ``snapshot`` (plus lakeops'
    parameters); ``previous_metadata_location`` when an existing registration moves to newer metadata."""
    params = {"table_type": "ICEBERG", "metadata_location": snapshot.metadata_location}
    previous = ((existing or {}).get("Parameters") or {}).get("metadata_location")
    if previous and previous != snapshot.metadata_location:
        params["previous_metadata_location"] = previous
    glue_columns = []
    for column in columns:
        entry: dict[str, Any] = column.to_glue()
        if column.name in snapshot.field_parameters:
            entry["Parameters"] = dict(snapshot.field_parameters[column.name])
        glue_columns.append(entry)
    table: dict[str, Any] = {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {**params, **parameters},
        "PartitionKeys": [],
        "StorageDescriptor": {"Columns": glue_columns, "Location": snapshot.location},
    }
    if description is not None:
        table["Description"] = description
    return table


def iceberg_snapshot(
    location: Location,
    s3: Any,
    properties: Mapping[str, Any],
    existing: Mapping[str, Any] | None,
    *,
    name: str,
) -> IcebergSnapshot:
    """The newest metadata file of the table at ``location``, read with PyIceberg, checked against the
    location and against the metadata the table is registered at (a registration never moves back).

    :raises ValueError: the metadata names another table root, or the registration is newer.
    """
    sequence, uri = latest_iceberg_metadata(location, s3)
    snapshot = read_iceberg(uri, sequence, properties)
    root = re.sub(r"^s3[an]://", "s3://", snapshot.location).rstrip("/")
    wanted = location.uri.rstrip("/")
    if not location.is_s3:
        wanted, root = wanted.removeprefix("file://"), root.removeprefix("file://")
    if root != wanted:
        raise ValueError(
            f"{uri} says the Iceberg table lives at {snapshot.location}, not at {location.uri}; "
            "register it at the location its metadata names"
        )
    current = ((existing or {}).get("Parameters") or {}).get("metadata_location")
    registered = metadata_sequence(current) if current else None
    if current and current != uri and registered is not None and registered > sequence:
        raise ValueError(
            f"{name} is registered at {current}, newer than the newest metadata file found ({uri}); "
            "a registration never moves back"
        )
    return snapshot


def check_iceberg_loadable(
    glue: Any, database: str, table: str, properties: Mapping[str, Any], *, expected: str
) -> None:
    """Load the registered table through PyIceberg's ``GlueCatalog`` (on ``glue``, a boto3 Glue client).

    :raises RuntimeError: PyIceberg cannot load it, or loads another metadata file than ``expected``.
    """
    from pyiceberg.catalog.glue import GlueCatalog

    catalog = GlueCatalog("lakeops", client=glue, **properties)
    try:
        loaded = catalog.load_table((database, table))
    except Exception as exc:
        raise RuntimeError(
            f"{database}.{table} was registered but PyIceberg's Glue catalog cannot load it "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if loaded.metadata_location != expected:
        raise RuntimeError(
            f"{database}.{table}: PyIceberg's Glue catalog loads {loaded.metadata_location}, expected "
            f"{expected} (changed concurrently?)"
        )


def engine_options(
    kind: str, aws_conn_id: str | None, region_name: str | None, *, s3: bool
) -> dict[str, Any]:
    """delta-rs ``storage_options`` (``kind="delta"``) or PyIceberg properties of the connection
    (:mod:`airflow_provider_lakeops.utils.lake`); ``{}`` for a local location. Hold secrets: never log."""
    if not s3:
        return {}
    from dataclasses import replace

    from airflow_provider_lakeops.utils.lake import (
        aws_lake_access,
        delta_storage_options,
        pyiceberg_properties,
    )

    access = aws_lake_access(aws_conn_id)
    if region_name:
        access = replace(access, region=region_name)
    return dict(delta_storage_options(access)) if kind == DELTA else pyiceberg_properties(access)
