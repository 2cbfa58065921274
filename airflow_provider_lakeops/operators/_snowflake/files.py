"""Find the Parquet files of a merge source and read their schema (no data is read).

Local files are linked, S3 objects downloaded (through the amazon provider's ``S3Hook``), into a
folder of lakeops' own with safe names (``part-00000.parquet`` ...), so the ``PUT`` statement
never carries a user-supplied path. pyarrow and boto3 are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow_provider_lakeops.operators._snowflake.identifiers import data_identifier
from airflow_provider_lakeops.operators._snowflake.sql import Column

__all__ = ["collect_parquet", "parquet_columns", "type_from_arrow"]


def type_from_arrow(arrow_type: Any, column: str = "?") -> str:
    """The Snowflake type to stage a Parquet (Arrow) column as."""
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if t.is_boolean(arrow_type):
        return "BOOLEAN"
    if t.is_integer(arrow_type):
        return "NUMBER(38,0)"
    if t.is_floating(arrow_type):
        return "FLOAT"
    if t.is_decimal(arrow_type):
        if arrow_type.precision > 38:
            raise ValueError(f"Parquet column {column!r}: decimal precision {arrow_type.precision} > 38")
        return f"NUMBER({arrow_type.precision},{arrow_type.scale})"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or arrow_type == pa.string_view():
        return "VARCHAR"
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type) or t.is_fixed_size_binary(arrow_type):
        return "BINARY"
    if t.is_date(arrow_type):
        return "DATE"
    scales = {"s": 0, "ms": 3, "us": 6, "ns": 9}
    if t.is_timestamp(arrow_type):
        kind = "TIMESTAMP_TZ" if arrow_type.tz else "TIMESTAMP_NTZ"
        return f"{kind}({scales[arrow_type.unit]})"
    if t.is_time(arrow_type):
        return f"TIME({scales[arrow_type.unit]})"
    if t.is_null(arrow_type):
        return "VARCHAR"
    if t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_struct(arrow_type) or t.is_map(arrow_type):
        return "VARIANT"
    raise ValueError(f"Parquet column {column!r} has type {arrow_type}, which lakeops cannot stage; "
                     "cast it when writing the files")


def _is_data_file(name: str) -> bool:
    return name.endswith(".parquet") and not name.startswith(("_", "."))


def _hidden(part: str) -> bool:
    return part.startswith(("_", "."))


def _partition_values(relative: Path) -> dict[str, str] | None:
    """``{column: value}`` of the ``column=value`` folders of a file's relative path; ``None`` when a
    folder is hidden (``_*``/``.*``, e.g. ``_spark_metadata``) or is not a ``column=value`` folder."""
    from urllib.parse import unquote

    values: dict[str, str] = {}
    for part in relative.parts[:-1]:
        if _hidden(part) or "=" not in part:
            return None
        column, _, value = part.partition("=")
        values[unquote(column)] = unquote(value)
    return values


def collect_parquet(location: str, dest: Path, aws_conn_id: str | None, log: Any) -> list[Path]:
    """Local paths (in ``dest``) of the Parquet files at ``location``; empty when it holds none.

    :param location: a file, a folder or ``s3://bucket/prefix/``. A folder's ``*.parquet`` files are
        taken, and those of its Hive-style partition folders (``dt=2025-10-31/``, nested too), whose
        ``column=value`` pairs become columns of the rows (as strings; ``__HIVE_DEFAULT_PARTITION__``
        is NULL). Hidden ``_*``/``.*`` files and folders and empty files are skipped; a folder that is
        neither hidden nor ``column=value`` is refused (it would be silently ignored otherwise).
    :raises FileNotFoundError: a local ``location`` does not exist.
    :raises ValueError: a non-partition sub-folder holds data files, or a partition column is also a
        column of the files.
    """
    dest.mkdir(parents=True)
    if location.startswith(("s3://", "s3a://")):
        return _download_s3(location, dest, aws_conn_id, log)
    path = Path(location[len("file://"):] if location.startswith("file://") else location)
    if not path.exists():
        raise FileNotFoundError(f"source_parquet {location!r} does not exist")
    if path.is_file():
        found: list[tuple[Path, dict[str, str]]] = [(path, {})]
    else:
        found = []
        for file in sorted(p for p in path.rglob("*.parquet") if p.is_file()):
            relative = file.relative_to(path)
            if any(_hidden(part) for part in relative.parts) or file.stat().st_size == 0:
                continue
            values = _partition_values(relative)
            if values is None:
                raise ValueError(f"source_parquet {location!r}: {relative.parent} is not a column=value partition "
                                 "folder; point source_parquet at the table's root or at one partition")
            found.append((file, values))
    files = [_materialise(src, values, dest / f"part-{i:05d}.parquet") for i, (src, values) in enumerate(found)]
    partitions = {tuple(sorted(v)) for _, v in found if v}
    log.info("Found %s Parquet file(s) in %s%s", len(files), location,
             f" (partition columns {', '.join(sorted({c for p in partitions for c in p}))})" if partitions else "")
    return files


def _materialise(src: Path, partition: dict[str, str], target: Path) -> Path:
    """Link a plain file; write a partitioned file's rows with its partition columns appended."""
    if not partition:
        target.symlink_to(src.resolve())
        return target
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    for column, value in partition.items():
        if column in table.column_names:
            raise ValueError(f"partition column {column!r} of {src.parent.name} is also a column of the files")
        text = None if value == "__HIVE_DEFAULT_PARTITION__" else value
        table = table.append_column(column, pa.array([text] * table.num_rows, type=pa.string()))
    pq.write_table(table, target)
    return target


def _download_s3(location: str, dest: Path, aws_conn_id: str | None, log: Any) -> list[Path]:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, _, prefix = location.split("://", 1)[1].partition("/")
    if not bucket:
        raise ValueError(f"source_parquet {location!r} has no bucket: use s3://bucket/prefix/")
    single = prefix.endswith(".parquet")
    if prefix and not single and not prefix.endswith("/"):
        prefix += "/"  # a folder: never match the sibling 'dt=2025-10-3' of 'dt=2025-10-31'
    client = S3Hook(aws_conn_id=aws_conn_id).get_conn()
    found: list[tuple[str, dict[str, str]]] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if single:
                if key == prefix:
                    found.append((key, {}))
                continue
            relative = Path(key[len(prefix):])
            if not _is_data_file(relative.name) or any(_hidden(p) for p in relative.parts) or not obj.get("Size"):
                continue
            values = _partition_values(relative)
            if values is None:
                raise ValueError(f"source_parquet {location!r}: {relative.parent} is not a column=value partition "
                                 "folder; point source_parquet at the table's root or at one partition")
            found.append((key, values))
    files = []
    download = dest.parent / "downloads"
    download.mkdir(exist_ok=True)
    for i, (key, values) in enumerate(sorted(found)):
        raw = download / f"object-{i:05d}.parquet"
        client.download_file(bucket, key, str(raw))
        files.append(_materialise(raw, values, dest / f"part-{i:05d}.parquet"))
    log.info("Downloaded %s Parquet file(s) from s3://%s/%s", len(files), bucket, prefix)
    return files


def parquet_columns(files: Sequence[Path]) -> tuple[list[Column], dict[str, str]]:
    """The union of the files' columns as Snowflake columns, and ``{column: name in the files}``.

    :raises ValueError: two files disagree on a column's type, or two names collide in Snowflake.
    """
    import pyarrow.parquet as pq

    columns: dict[str, str] = {}
    originals: dict[str, str] = {}
    first_seen: dict[str, str] = {}
    for path in files:
        for field in pq.read_schema(path):
            name = data_identifier(field.name, "Parquet column")
            sf_type = type_from_arrow(field.type, field.name)
            if name in originals and originals[name] != field.name:
                raise ValueError(f"Parquet columns {originals[name]!r} and {field.name!r} both become {name} in "
                                 "Snowflake; rename one of them")
            if name in columns and columns[name] != sf_type:
                raise ValueError(f"Parquet column {field.name!r} is {columns[name]} in {first_seen[name]} but "
                                 f"{sf_type} in {path.resolve().name}; write the files with one schema")
            columns.setdefault(name, sf_type)
            originals.setdefault(name, field.name)
            first_seen.setdefault(name, path.resolve().name)
    return [Column(n, t) for n, t in columns.items()], originals
