"""Put test data into the local stack's lake (moto S3): landing files and Delta tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["upload_folder", "write_delta"]


def upload_folder(s3: Any, folder: Path, uri: str) -> list[str]:
    """Upload every file below ``folder`` to ``uri`` (``s3://bucket/prefix``), keeping relative paths."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    keys = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        key = f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}".lstrip("/")
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


def write_delta(uri: str, table: Any, *, partition_by: list[str] | None = None, mode: str = "append") -> int:
    """Write an Arrow table to the Delta table at ``uri`` with delta-rs (S3 through ``aws_default``);
    return the table version."""
    from deltalake import DeltaTable, write_deltalake

    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options, is_s3_uri

    options = delta_storage_options(aws_lake_access("aws_default")) if is_s3_uri(uri) else None
    write_deltalake(uri, table, partition_by=partition_by, mode=mode, storage_options=options)
    return int(DeltaTable(uri, storage_options=options).version())
