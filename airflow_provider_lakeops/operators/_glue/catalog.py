"""Catalog side of Glue registration: table inputs, change detection, projection, batched partitions.

The functions build plain ``TableInput`` / ``PartitionInput`` dicts as the Glue API documents them;
the writes go through :mod:`airflow_provider_lakeops.hooks.glue_catalog` (``LakeopsGlueCatalogHook``,
a ``GlueCatalogHook``); ``glue`` is that hook or its boto3 Glue client.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.hooks import glue_catalog
from airflow_provider_lakeops.hooks.glue_catalog import MAX_BATCH, PartitionReport, collect_batch_errors

if TYPE_CHECKING:
    from airflow_provider_lakeops.operators._glue.schema import Column

__all__ = [
    "FORMATS",
    "check_partition_keys",
    "create_table",
    "plan_update",
    "MAX_BATCH",
    "PartitionReport",
    "build_table_input",
    "collect_batch_errors",
    "existing_partition_values",
    "metadata_changes",
    "partition_inputs",
    "projection_parameters",
    "register_partitions",
    "table_input_from_table",
    "table_kind",
    "validate_partition_values",
]

_TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
FORMATS: dict[str, dict[str, Any]] = {
    "parquet": {
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            "Parameters": {"serialization.format": "1"},
        },
        "positional": False,
    },
    "csv": {
        "InputFormat": _TEXT_INPUT,
        "OutputFormat": _TEXT_OUTPUT,
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            "Parameters": {"field.delim": ",", "serialization.format": ","},
        },
        "positional": True,
    },
    "json": {
        "InputFormat": _TEXT_INPUT,
        "OutputFormat": _TEXT_OUTPUT,
        "SerdeInfo": {
            "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
            "Parameters": {"paths": ""},
        },
        "positional": False,
    },
}

# the keys UpdateTable accepts in TableInput (GetTable returns more, read-only ones)
_TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "LastAccessTime",
    "LastAnalyzedTime",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "ViewOriginalText",
    "ViewExpandedText",
    "TableType",
    "Parameters",
    "TargetTable",
    "ViewDefinition",
)


def build_table_input(
    *,
    name: str,
    fmt: str,
    location: str,
    columns: Sequence[Column],
    partition_keys: Sequence[Column],
    parameters: Mapping[str, str],
    description: str | None,
    csv_delimiter: str = ",",
) -> dict[str, Any]:
    """The ``TableInput`` lakeops wants for an external table."""
    spec = FORMATS[fmt]
    serde = copy.deepcopy(spec["SerdeInfo"])
    table_params = {"classification": fmt, "EXTERNAL": "TRUE"}
    if fmt == "csv":
        serde["Parameters"] = {"field.delim": csv_delimiter, "serialization.format": csv_delimiter}
        table_params["skip.header.line.count"] = "1"
    if fmt == "json":
        serde["Parameters"] = {"paths": ",".join(c.name for c in columns)}
    table_params.update(parameters)
    table: dict[str, Any] = {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": table_params,
        "PartitionKeys": [c.to_glue() for c in partition_keys],
        "StorageDescriptor": {
            "Columns": [c.to_glue() for c in columns],
            "Location": location,
            "InputFormat": spec["InputFormat"],
            "OutputFormat": spec["OutputFormat"],
            "SerdeInfo": serde,
            "Compressed": False,
            "StoredAsSubDirectories": False,
        },
    }
    if description is not None:
        table["Description"] = description
    return table


def table_input_from_table(table: Mapping[str, Any]) -> dict[str, Any]:
    """A ``TableInput`` from a ``GetTable`` result (read-only fields dropped)."""
    return {k: copy.deepcopy(table[k]) for k in _TABLE_INPUT_KEYS if k in table}


def metadata_changes(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Non-column differences: location, formats, SerDe, table type, description, parameters.

    Parameters and SerDe parameters are compared as a subset: keys set by others (crawlers,
    Lake Formation, Glue itself) do not count as a change.
    """
    changes: list[dict[str, Any]] = []
    old_sd, new_sd = existing.get("StorageDescriptor", {}), desired["StorageDescriptor"]

    def add(what: str, old: Any, new: Any, schema: bool) -> None:
        changes.append(
            {
                "column": f"({what})",
                "change": f"{what}_changed",
                "old_type": old,
                "new_type": new,
                "breaking": schema,
            }
        )

    if str(old_sd.get("Location", "")).rstrip("/") != new_sd["Location"].rstrip("/"):
        add("location", old_sd.get("Location"), new_sd["Location"], True)
    for key in ("InputFormat", "OutputFormat"):
        if key in new_sd and old_sd.get(key) != new_sd[key]:
            add("format", old_sd.get(key), new_sd[key], True)
            break
    old_serde, new_serde = old_sd.get("SerdeInfo", {}), new_sd.get("SerdeInfo")
    if new_serde is None:  # Iceberg: the metadata file says how the data is stored
        pass
    elif old_serde.get("SerializationLibrary") != new_serde["SerializationLibrary"]:
        add("serde", old_serde.get("SerializationLibrary"), new_serde["SerializationLibrary"], True)
    elif any(old_serde.get("Parameters", {}).get(k) != v for k, v in new_serde["Parameters"].items()):
        add("serde_parameters", old_serde.get("Parameters"), new_serde["Parameters"], False)
    old_kind, new_kind = table_kind(existing), table_kind(desired)
    if existing.get("TableType") != desired["TableType"] or old_kind != new_kind:
        add(
            "table_type",
            old_kind if old_kind != new_kind else existing.get("TableType"),
            new_kind if old_kind != new_kind else desired["TableType"],
            True,
        )
    if "Description" in desired and existing.get("Description", "") != desired["Description"]:
        add("description", existing.get("Description"), desired["Description"], False)
    old_params = existing.get("Parameters", {})
    stale = {k: v for k, v in desired["Parameters"].items() if old_params.get(k) != v}
    if stale:
        add("parameters", {k: old_params.get(k) for k in stale}, stale, False)
    return changes


def table_kind(table: Mapping[str, Any]) -> str:
    """``DELTA``, ``ICEBERG`` or ``EXTERNAL_TABLE`` (plain files): the ``table_type`` parameter engines
    read, so that re-pointing a Parquet table to a Delta or Iceberg one counts as a format change."""
    params = {str(k).lower(): str(v) for k, v in (table.get("Parameters") or {}).items()}
    kind = params.get("table_type", "").upper()
    if kind in ("DELTA", "ICEBERG"):
        return kind
    return "DELTA" if params.get("spark.sql.sources.provider", "").lower() == "delta" else "EXTERNAL_TABLE"


def check_partition_keys(existing: Mapping[str, Any], keys: Sequence[Column], name: str) -> None:
    """Partition keys cannot change in place (the registered partitions would no longer match).

    :raises SchemaEvolutionError: with a ``partition_keys_changed`` diff entry.
    """
    from airflow_provider_lakeops.exceptions import SchemaEvolutionError
    from airflow_provider_lakeops.operators._glue.schema import columns_from_glue, format_diff

    old = columns_from_glue(existing.get("PartitionKeys", []))
    if [(k.name, k.type) for k in old] == [(k.name, k.type) for k in keys]:
        return
    diff = [
        {
            "column": "(partition_keys)",
            "change": "partition_keys_changed",
            "old_type": ",".join(f"{k.name}:{k.type}" for k in old) or None,
            "new_type": ",".join(f"{k.name}:{k.type}" for k in keys) or None,
        }
    ]
    raise SchemaEvolutionError(
        f"partition keys of {name} cannot change in place:\n{format_diff(diff)}\n"
        "Delete the table (and its partitions) to re-register it with the new keys.",
        diff=diff,
    )


def plan_update(
    existing: Mapping[str, Any],
    desired: Mapping[str, Any],
    *,
    columns_changed: bool,
    policy: str,
    name: str,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The ``TableInput`` for ``UpdateTable`` (``None`` when nothing changed) and the metadata changes.

    The existing table is the base, so fields lakeops does not manage (owner, retention, other
    parameters, bucketing) survive the update.

    :raises SchemaEvolutionError: a location, format or table-type change under a policy other than
        ``replace``.
    """
    from airflow_provider_lakeops.exceptions import SchemaEvolutionError
    from airflow_provider_lakeops.operators._glue.schema import format_diff

    changes = metadata_changes(existing, desired)
    breaking = [c for c in changes if c["breaking"]]
    if breaking and policy != "replace":
        raise SchemaEvolutionError(
            f"{name} is registered with another location or format:\n{format_diff(breaking)}\n"
            "Use evolution_policy='replace' to re-point it.",
            diff=breaking,
        )
    public = [{k: v for k, v in c.items() if k != "breaking"} for c in changes]
    if not changes and not columns_changed:
        return None, public
    merged = table_input_from_table(existing)
    sd = dict(merged.get("StorageDescriptor", {}))
    sd.update(desired["StorageDescriptor"])
    merged.update(
        StorageDescriptor=sd,
        PartitionKeys=desired["PartitionKeys"],
        TableType=desired["TableType"],
        Parameters={**existing.get("Parameters", {}), **desired["Parameters"]},
    )
    if "Description" in desired:
        merged["Description"] = desired["Description"]
    return merged, public


def _client(glue: Any) -> Any:
    """The boto3 Glue client of a :class:`~airflow_provider_lakeops.hooks.glue_catalog.LakeopsGlueCatalogHook`
    (or the client itself)."""
    return glue.conn if hasattr(glue, "batch_create_partitions") else glue


def create_table(glue: Any, database: str, table_input: Mapping[str, Any], log: Any) -> None:
    """``CreateTable``; when the database is missing, ``CreateDatabase`` first and try again
    (:func:`~airflow_provider_lakeops.hooks.glue_catalog.create_or_update_table`)."""
    glue_catalog.create_or_update_table(_client(glue), database, table_input, existing=None, log=log)


# --------------------------------------------------------------------------- partitions
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT_TYPES = {"tinyint", "smallint", "int", "bigint"}


def validate_partition_values(keys: Sequence[Column], partitions: Iterable[tuple[str, ...]]) -> None:
    """Check discovered values against the declared key types (int types, ``date``).

    :raises ValueError: listing up to five bad values per key.
    """
    bad: dict[str, list[str]] = {}
    for values in partitions:
        for key, value in zip(keys, values, strict=True):
            ok = True
            if key.type in _INT_TYPES:
                ok = bool(re.fullmatch(r"-?\d+", value))
            elif key.type == "date":
                try:
                    ok = bool(_DATE_RE.match(value)) and dt.date.fromisoformat(value) is not None
                except ValueError:
                    ok = False
            if not ok and value != "__HIVE_DEFAULT_PARTITION__":
                bad.setdefault(key.name, []).append(value)
    if bad:
        lines = [
            f"  {k} ({next(c.type for c in keys if c.name == k)}): {', '.join(map(repr, v[:5]))}"
            for k, v in bad.items()
        ]
        raise ValueError("partition folder values do not match the partition key types:\n" + "\n".join(lines))


def projection_parameters(
    location: str,
    keys: Sequence[Column],
    partitions: Iterable[tuple[str, ...]],
    projection: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, str]:
    """Athena partition-projection table parameters.

    Keys configured in ``projection`` (``{"dt": {"type": "date", "range": "2025-01-01,NOW", ...}}``)
    are used as given; a key left out is inferred only when every discovered value is a
    ``YYYY-MM-DD`` date (``type=date``, range ``{earliest},NOW``, one day steps), so the
    parameters stay stable as days are added.

    :raises ValueError: a key that cannot be inferred, or a config without ``type``.
    """
    if not keys:
        raise ValueError("partition_mode='projection' needs partition keys (hive folders or partition_keys)")
    config = {k.lower(): dict(v) for k, v in (projection or {}).items()}
    unknown = set(config) - {k.name for k in keys}
    if unknown:
        raise ValueError(
            f"projection names unknown partition keys {sorted(unknown)}; keys are {[k.name for k in keys]}"
        )
    params = {"projection.enabled": "true"}
    values_by_key: dict[str, list[str]] = {k.name: [] for k in keys}
    for values in partitions:
        for key, value in zip(keys, values, strict=True):
            values_by_key[key.name].append(value)
    for key in keys:
        settings = config.get(key.name)
        if settings is None:
            found = values_by_key[key.name]
            if not found or not all(_DATE_RE.match(v) for v in found):
                raise ValueError(
                    f"partition key {key.name!r} needs a projection config (e.g. projection={{'{key.name}': "
                    "{'type': 'enum', 'values': 'a,b'}}); only YYYY-MM-DD date keys are inferred"
                )
            settings = {
                "type": "date",
                "range": f"{min(found)},NOW",
                "format": "yyyy-MM-dd",
                "interval": "1",
                "interval.unit": "DAYS",
            }
        if "type" not in settings:
            raise ValueError(f"projection for {key.name!r} needs a 'type' (enum, integer, date or injected)")
        for name, value in settings.items():
            params[f"projection.{key.name}.{name}"] = str(value)
    params["storage.location.template"] = location + "".join(f"{k.name}=${{{k.name}}}/" for k in keys)
    return params


def partition_inputs(
    table_sd: Mapping[str, Any],
    location: str,
    layout: Mapping[tuple[str, ...], str],
    values: Iterable[tuple[str, ...]],
) -> list[dict[str, Any]]:
    """``PartitionInput`` dicts: the table's storage descriptor with each partition's folder."""
    out = []
    for partition_values in values:
        sd = copy.deepcopy(dict(table_sd))
        sd["Location"] = location + layout[partition_values]
        out.append({"Values": list(partition_values), "StorageDescriptor": sd})
    return out


def existing_partition_values(glue: Any, database: str, table: str) -> set[tuple[str, ...]]:
    """Values of every registered partition (paged ``GetPartitions`` without column schemas)."""
    found: set[tuple[str, ...]] = set()
    paginator = _client(glue).get_paginator("get_partitions")
    for page in paginator.paginate(DatabaseName=database, TableName=table, ExcludeColumnSchema=True):
        found.update(tuple(p["Values"]) for p in page.get("Partitions", []))
    return found


def register_partitions(
    glue: Any,
    database: str,
    table: str,
    inputs: Sequence[Mapping[str, Any]],
    *,
    batch_size: int = MAX_BATCH,
    log: Any = None,
) -> PartitionReport:
    """Register partitions with ``BatchCreatePartition`` in chunks of at most 100
    (:func:`~airflow_provider_lakeops.hooks.glue_catalog.batch_create_partitions`).

    Every batch is attempted even when one fails; per-partition errors and failed calls end up in
    ``PartitionReport.failed`` (values, error code, message) for the caller to report.
    """
    return glue_catalog.batch_create_partitions(
        _client(glue), database, table, inputs, batch_size=batch_size, log=log
    )
