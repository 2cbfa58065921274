"""Find the Parquet files of a merge source and read their schema (no data is read).

Files are listed by :mod:`airflow_provider_lakeops.utils.storage` (the package's one rule for what
a data file is); a sub-folder that is not ``column=value`` is refused here (the MERGE's policy).
Local files are linked, S3 objects downloaded (through the amazon provider's ``S3Hook``), into a
folder of lakeops' own with safe names (``part-00000.parquet`` ...), so the ``PUT`` statement
never carries a user-supplied path. pyarrow and boto3 are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow_provider_lakeops.lineage.naming import table_root
from airflow_provider_lakeops.operators._snowflake.identifiers import data_identifier
from airflow_provider_lakeops.operators._snowflake.sql import Column
from airflow_provider_lakeops.utils.storage import (
    DataFile,
    download_to_folder,
    folder_exists,
    list_data_files,
    parse_location,
    s3_client,
)

__all__ = ["collect_parquet", "parquet_columns", "type_from_arrow"]

_SUFFIXES = (".parquet",)


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
    if (
        t.is_list(arrow_type)
        or t.is_large_list(arrow_type)
        or t.is_struct(arrow_type)
        or t.is_map(arrow_type)
    ):
        return "VARIANT"
    raise ValueError(
        f"Parquet column {column!r} has type {arrow_type}, which lakeops cannot stage; "
        "cast it when writing the files"
    )


_REFUSED = (
    "source_parquet {location!r}: {folder} is not a column=value partition folder; point source_parquet "
    "at the table's root or at one partition"
)


def _partitioned(location: str, files: Sequence[DataFile]) -> list[tuple[DataFile, dict[str, str]]]:
    """Each file with its partition values; a folder that is not ``column=value`` is refused."""
    found = []
    for data_file in files:
        values = data_file.partition_values
        if values is None:
            folder = "/".join(data_file.folders)
            raise ValueError(_REFUSED.format(location=location, folder=folder))
        found.append((data_file, values))
    return found


_DELTA = (
    "source_parquet {location!r} is in the Delta table {root}: its folder keeps files the Delta log removed "
    "(until VACUUM), which would be merged too; use source_delta={root!r} (with source_partitions)"
)


def _refuse_delta(location: str, s3: Any = None) -> None:
    """A Delta table (or one of its partition folders) must be read through its log."""
    root = table_root(location)
    if root.startswith(("s3://", "s3a://", "s3n://")):
        found = folder_exists(parse_location(root, argument="source_parquet").join("_delta_log/"), s3=s3)
    else:
        found = (Path(root) / "_delta_log").is_dir()
    if found:
        raise ValueError(_DELTA.format(location=location, root=root))


def collect_parquet(location: str, dest: Path, aws_conn_id: str | None, log: Any) -> list[Path]:
    """Local paths (in ``dest``) of the Parquet files at ``location``; empty when it holds none.

    :param location: a file, a folder or ``s3://bucket/prefix/``. A folder's ``*.parquet`` files are
        taken, and those of its Hive-style partition folders (``dt=2025-10-31/``, nested too), whose
        ``column=value`` pairs become columns of the rows (as strings; ``__HIVE_DEFAULT_PARTITION__``
        is NULL). What counts as a data file is :func:`~airflow_provider_lakeops.utils.storage.is_data_file`
        (hidden ``_*``/``.*`` files and folders and empty files are skipped); a folder that is
        neither hidden nor ``column=value`` is refused (it would be silently ignored otherwise).
    :raises FileNotFoundError: a local ``location`` does not exist.
    :raises ValueError: a non-partition sub-folder holds data files, a partition column is also a
        column of the files, or ``location`` is (a partition of) a Delta table.
    """
    dest.mkdir(parents=True)
    if location.startswith(("s3://", "s3a://")):
        return _download_s3(location, dest, aws_conn_id, log)
    path = Path(location[len("file://") :] if location.startswith("file://") else location)
    if not path.exists():
        raise FileNotFoundError(f"source_parquet {location!r} does not exist")
    _refuse_delta(str(path if path.is_dir() else path.parent))
    if path.is_file():
        found: list[tuple[Path, dict[str, str]]] = [(path, {})]
    else:
        root = parse_location(str(path), argument="source_parquet")
        found = [
            (root.local_path / f.relative, values)
            for f, values in _partitioned(location, list_data_files(root, suffixes=_SUFFIXES))
        ]
    files = [
        _materialise(src, values, dest / f"part-{i:05d}.parquet") for i, (src, values) in enumerate(found)
    ]
    partitions = {tuple(sorted(v)) for _, v in found if v}
    log.info(
        "Found %s Parquet file(s) in %s%s",
        len(files),
        location,
        f" (partition columns {', '.join(sorted({c for p in partitions for c in p}))})" if partitions else "",
    )
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
            raise ValueError(
                f"partition column {column!r} of {src.parent.name} is also a column of the files"
            )
        text = None if value == "__HIVE_DEFAULT_PARTITION__" else value
        table = table.append_column(column, pa.array([text] * table.num_rows, type=pa.string()))
    pq.write_table(table, target)
    return target


def _download_s3(location: str, dest: Path, aws_conn_id: str | None, log: Any) -> list[Path]:
    bucket, _, prefix = location.split("://", 1)[1].partition("/")
    if not bucket:
        raise ValueError(f"source_parquet {location!r} has no bucket: use s3://bucket/prefix/")
    s3 = s3_client(aws_conn_id=aws_conn_id)
    _refuse_delta(location.rsplit("/", 1)[0] if prefix.endswith(_SUFFIXES) else location, s3)
    download = dest.parent / "downloads"
    if prefix.endswith(_SUFFIXES):  # one object
        single = parse_location(location, argument="source_parquet", folder=False)
        folder, _, name = single.uri.rpartition("/")
        matches = [f for f in list_data_files(folder + "/", recursive=False, s3=s3) if f.relative == name]
        raws = download_to_folder(folder + "/", matches, download, s3=s3)
        found: list[tuple[Path, dict[str, str]]] = [(raw, {}) for raw in raws]
    else:
        # a folder: never match the sibling 'dt=2025-10-3' of 'dt=2025-10-31' (the location ends in '/')
        root = parse_location(location, argument="source_parquet")
        listed = _partitioned(location, list_data_files(root, suffixes=_SUFFIXES, s3=s3))
        raws = download_to_folder(root, [f for f, _ in listed], download, s3=s3)
        found = [(raw, values) for raw, (_, values) in zip(raws, listed, strict=True)]
    files = [
        _materialise(raw, values, dest / f"part-{i:05d}.parquet") for i, (raw, values) in enumerate(found)
    ]
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
                raise ValueError(
                    f"Parquet columns {originals[name]!r} and {field.name!r} both become {name} in "
                    "Snowflake; rename one of them"
                )
            if name in columns and columns[name] != sf_type:
                raise ValueError(
                    f"Parquet column {field.name!r} is {columns[name]} in {first_seen[name]} but "
                    f"{sf_type} in {path.resolve().name}; write the files with one schema"
                )
            columns.setdefault(name, sf_type)
            originals.setdefault(name, field.name)
            first_seen.setdefault(name, path.resolve().name)
    return [Column(n, t) for n, t in columns.items()], originals
