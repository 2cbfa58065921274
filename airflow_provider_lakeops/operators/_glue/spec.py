"""Argument validation for Glue registration, and the botocore retry configuration.

Everything here runs at the top of ``execute()``, on rendered template values, before any call
that writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.operators._glue.schema import Column, parse_columns, validate_glue_name
from airflow_provider_lakeops.operators._glue.storage import Location, parse_location
from airflow_provider_lakeops.operators._glue.types import normalize_hive_type

if TYPE_CHECKING:
    from botocore.config import Config

__all__ = ["FILE_FORMATS", "RegistrationSpec", "check_open_table_spec", "retry_config", "validate_spec"]

#: accepted ``file_format`` values -> the format used
FILE_FORMATS = {"parquet": "parquet", "csv": "csv", "json": "json", "jsonl": "json", "ndjson": "json"}
_MAX_DESCRIPTION = 2048


@dataclass(frozen=True)
class RegistrationSpec:
    """The validated, rendered arguments of one registration."""

    database: str
    table: str
    location: Location
    fmt: str
    columns: list[Column] | None
    type_overrides: dict[str, str]
    partition_keys: list[Column] | None
    projection: dict[str, dict[str, Any]] | None
    description: str | None
    parameters: dict[str, str]
    source: Location | None
    table_format: str | None = None

    @property
    def name(self) -> str:
        return f"{self.database}.{self.table}"


def validate_spec(
    *,
    database: Any,
    table: Any,
    location: Any,
    file_format: Any,
    columns: Any = None,
    type_overrides: Any = None,
    partition_keys: Any = None,
    projection: Any = None,
    description: Any = None,
    table_parameters: Any = None,
    source_path: Any = None,
    table_format: Any = None,
) -> RegistrationSpec:
    """Validate the rendered arguments; every error names the argument, the bad value and the fix.

    :raises ValueError: on the first bad argument.
    """
    from airflow_provider_lakeops.operators._glue.table_formats import validate_table_format

    kind = validate_table_format(table_format)
    database = validate_glue_name("database", database)
    table = validate_glue_name("table", table)
    fmt = FILE_FORMATS.get(str(file_format).strip().lower())
    if fmt is None:
        raise ValueError(f"file_format {file_format!r} is not supported: use one of {sorted(FILE_FORMATS)}")
    target = parse_location(location)
    source = None
    if source_path:
        source = parse_location(source_path, argument="source_path")
        if source.is_s3 or not target.is_s3:
            raise ValueError(
                "source_path stages a local folder to an s3:// location: give a local "
                f"source_path and an s3:// location (got {source_path!r} -> {location!r})"
            )
    explicit = parse_columns(columns) if columns is not None else None
    if explicit is not None and not explicit:
        raise ValueError("columns is empty: give at least one column, or None to infer the schema")
    if type_overrides is not None and not isinstance(type_overrides, Mapping):
        raise ValueError("type_overrides must be a {column: glue type} mapping")
    overrides = {
        validate_glue_name("type_overrides column", str(k).lower()): normalize_hive_type(v)
        for k, v in (type_overrides or {}).items()
    }
    keys = None
    if partition_keys is not None:
        if isinstance(partition_keys, str) or not isinstance(partition_keys, (list, tuple)):
            raise ValueError("partition_keys must be a list of names or {'name', 'type'} dicts")
        raw = [{"name": k, "type": "string"} if isinstance(k, str) else k for k in partition_keys]
        keys = parse_columns(raw, argument="partition_keys")
    if explicit and keys:
        clash = {c.name for c in explicit} & {k.name for k in keys}
        if clash:
            raise ValueError(
                f"{sorted(clash)} are both columns and partition keys; list them in one place only"
            )
    if projection is not None and not (
        isinstance(projection, Mapping) and all(isinstance(v, Mapping) for v in projection.values())
    ):
        raise ValueError("projection must be a {key: {setting: value}} mapping")
    params: dict[str, str] = {}
    if table_parameters is not None and not isinstance(table_parameters, Mapping):
        raise ValueError("table_parameters must be a {name: value} mapping")
    for key, value in (table_parameters or {}).items():
        if (
            not isinstance(key, str)
            or not key
            or isinstance(value, (dict, list, tuple, set))
            or value is None
        ):
            raise ValueError(f"table_parameters needs string keys and scalar values, got {key!r}: {value!r}")
        params[key] = str(value).lower() if isinstance(value, bool) else str(value)
    text = None if description is None else str(description)
    if text is not None and len(text) > _MAX_DESCRIPTION:
        raise ValueError(
            f"description is {len(text)} characters long; Glue allows at most {_MAX_DESCRIPTION}"
        )
    settings = {str(k).lower(): dict(v) for k, v in projection.items()} if projection else None
    return RegistrationSpec(
        database, table, target, fmt, explicit, overrides, keys, settings, text, params, source, kind
    )


def check_open_table_spec(
    spec: RegistrationSpec, table_format: str, *, partition_mode: str = "register"
) -> None:
    """Arguments that a Delta or Iceberg table does not take: its own metadata is the schema.

    :raises ValueError: naming the first such argument.
    """
    name = {"delta": "Delta log", "iceberg": "Iceberg metadata"}[table_format]
    given = [
        arg
        for arg, value in (
            ("columns", spec.columns),
            ("type_overrides", spec.type_overrides),
            ("partition_keys", spec.partition_keys),
            ("projection", spec.projection),
            ("source_path", spec.source),
        )
        if value
    ]
    if partition_mode != "register":
        given.append(f"partition_mode={partition_mode!r}")
    if given:
        raise ValueError(
            f"{spec.location.uri} is a {table_format.capitalize()} table: its schema and partitions come "
            f"from the {name}, so {', '.join(given)} cannot be used; leave them out (write the schema "
            f"into the table instead)"
        )


def retry_config(connection_config: Config | None, overrides: Mapping[str, Any] | None) -> Config:
    """The connection's botocore config + ``overrides``, with ``standard`` retries (5 attempts)
    unless one of them sets a retry mode."""
    from botocore.config import Config

    config = connection_config or Config()
    if overrides:
        config = config.merge(Config(**overrides))
    retries = dict(config.retries or {})
    if not retries.get("mode"):
        retries.setdefault("max_attempts", 5)
        config = config.merge(Config(retries={**retries, "mode": "standard"}))
    return config
