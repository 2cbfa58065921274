"""Storage side of Glue registration: hive partitions, schema reads, staging.

Locations, data files and listing are :mod:`airflow_provider_lakeops.utils.storage`'s (re-exported
here). Works on ``s3://`` locations through a boto3 S3 client (made by the amazon provider's hook, so
credentials, endpoint and retries come from the Airflow connection; moto included) and on local
folders. Parquet schemas come from the file footers only: one ranged ``GetObject`` per file.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_lakeops.operators._glue.schema import validate_glue_name
from airflow_provider_lakeops.utils.storage import (
    DataFile,
    Location,
    list_data_files,
    parse_location,
    partition_folder,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DataFile",
    "Location",
    "PartitionLayout",
    "discover_partitions",
    "list_files",
    "parse_location",
    "read_schemas",
    "sample_files",
    "sync_to_s3",
]

_FOOTER_GUESS = 64 * 1024
_MD5_KEY = "lakeops-md5"
_T = TypeVar("_T")


def list_files(location: Location, s3: Any = None) -> list[DataFile]:
    """Every data file under ``location``, sorted
    (:func:`~airflow_provider_lakeops.utils.storage.is_data_file`).

    :raises FileNotFoundError: the bucket or folder does not exist.
    """
    return list_data_files(location, s3=s3)


@dataclass(frozen=True)
class PartitionLayout:
    """Hive partitions found under a location: key names, and values -> relative folder."""

    keys: tuple[str, ...] = ()
    partitions: dict[tuple[str, ...], str] = field(default_factory=dict)


def discover_partitions(files: Sequence[DataFile], location: Location) -> PartitionLayout:
    """Read hive-style ``key=value/`` folders (values are URL-unescaped, as Hive writes them).

    :raises ValueError: a non-hive folder, or files at different partition depths or key orders.
    """
    layouts: dict[tuple[str, ...], str] = {}
    partitions: dict[tuple[str, ...], str] = {}
    for data_file in files:
        keys: list[str] = []
        values: list[str] = []
        for segment in data_file.folders:
            pair = partition_folder(segment)
            if pair is None:
                raise ValueError(
                    f"{location.describe(data_file.relative)}: folder {segment!r} is not a hive partition "
                    "(key=value); put data files directly in the location or in key=value folders"
                )
            keys.append(validate_glue_name("partition key", pair[0].lower()))
            values.append(pair[1])
        layouts.setdefault(tuple(keys), data_file.relative)
        if keys:
            partitions.setdefault(tuple(values), "".join(f"{s}/" for s in data_file.folders))
    if len(layouts) > 1:
        shown = "; ".join(f"{'/'.join(k) or '(no partition folders)'} e.g. {ex}" for k, ex in layouts.items())
        raise ValueError(f"files under {location.uri} use different partition layouts: {shown}")
    keys_found = next(iter(layouts), ())
    return PartitionLayout(keys_found, dict(sorted(partitions.items())))


def sample_files(files: Sequence[_T], limit: int | None) -> list[_T]:
    """All files, or ``limit`` of them spread evenly over the sorted list (first and last included)."""
    if limit is None or len(files) <= limit:
        return list(files)
    if limit <= 1:
        return [files[-1]]
    picks = sorted({round(i * (len(files) - 1) / (limit - 1)) for i in range(limit)})
    return [files[i] for i in picks]


# --------------------------------------------------------------------------- schema reads
def _get_range(s3: Any, location: Location, relative: str, byte_range: str) -> bytes:
    response = s3.get_object(Bucket=location.bucket, Key=location.prefix + relative, Range=byte_range)
    return bytes(response["Body"].read())


def _parquet_schema(location: Location, data_file: DataFile, s3: Any) -> pa.Schema:
    import pyarrow as pa
    import pyarrow.parquet as pq

    where = location.describe(data_file.relative)
    try:
        if not location.is_s3:
            return pq.read_schema(str(location.path / data_file.relative))  # type: ignore[operator]
        tail = _get_range(s3, location, data_file.relative, f"bytes=-{_FOOTER_GUESS}")
        if len(tail) < 12 or tail[-4:] != b"PAR1":
            raise ValueError("no PAR1 footer")
        footer_len = struct.unpack("<I", tail[-8:-4])[0]
        if footer_len + 8 > len(tail):
            if footer_len + 12 > data_file.size:
                raise ValueError("footer longer than the file")
            tail = _get_range(s3, location, data_file.relative, f"bytes=-{footer_len + 8}")
        # the reader needs only the footer; the leading magic makes the buffer a valid (empty-bodied) file
        return pq.read_schema(pa.BufferReader(b"PAR1" + tail[-(footer_len + 8) :]))
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ValueError(
            f"{where}: not a readable Parquet file ({exc}); remove it from the location "
            "or choose the right format"
        ) from None


def _text_sample(location: Location, data_file: DataFile, s3: Any, sample_bytes: int) -> bytes:
    gzipped = data_file.relative.endswith(".gz")
    wanted = sample_bytes * 4 if gzipped else sample_bytes
    if location.is_s3:
        raw = _get_range(s3, location, data_file.relative, f"bytes=0-{wanted - 1}")
    else:
        with open(location.path / data_file.relative, "rb") as fh:  # type: ignore[operator]
            raw = fh.read(wanted)
    truncated = len(raw) < data_file.size
    if gzipped:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        raw = decompressor.decompress(raw, sample_bytes)
        truncated = truncated or bool(decompressor.unconsumed_tail)
    elif len(raw) > sample_bytes:
        raw, truncated = raw[:sample_bytes], True
    if truncated and b"\n" in raw:
        raw = raw[: raw.rindex(b"\n") + 1]  # whole lines only
    return raw


def _text_schema(
    location: Location, data_file: DataFile, s3: Any, fmt: str, options: dict[str, Any]
) -> pa.Schema:
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    sample = _text_sample(location, data_file, s3, int(options.get("sample_bytes", 1 << 20)))
    try:
        if fmt == "csv":
            parse = pacsv.ParseOptions(delimiter=options.get("delimiter", ","))
            return pacsv.read_csv(io.BytesIO(sample), parse_options=parse).schema
        return pajson.read_json(io.BytesIO(sample)).schema
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{location.describe(data_file.relative)}: not readable as {fmt} ({exc})") from None


def read_schemas(
    entries: Sequence[tuple[Location, DataFile]],
    fmt: str,
    s3: Any = None,
    *,
    options: dict[str, Any] | None = None,
    threads: int = 8,
) -> list[tuple[str, pa.Schema]]:
    """Arrow schemas of the ``(location, file)`` entries (in their order), read in parallel: footers
    for Parquet, a leading sample (default 1 MiB, whole lines) for CSV and JSON lines."""
    opts = options or {}

    def read(entry: tuple[Location, DataFile]) -> tuple[str, pa.Schema]:
        location, data_file = entry
        where = location.describe(data_file.relative)
        if fmt == "parquet":
            return where, _parquet_schema(location, data_file, s3)
        return where, _text_schema(location, data_file, s3, fmt, opts)

    if len(entries) <= 1:
        return [read(e) for e in entries]
    with ThreadPoolExecutor(max_workers=min(threads, len(entries)), thread_name_prefix="glue-schema") as pool:
        return list(pool.map(read, entries))


# --------------------------------------------------------------------------- staging
@dataclass(frozen=True)
class SyncResult:
    uploaded: list[str]
    unchanged: int


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sync_to_s3(source: Location, target: Location, s3: Any, remote: Sequence[DataFile]) -> SyncResult:
    """Upload the data files of a local folder to an S3 location, idempotently.

    A file is uploaded only when the object is missing or differs (size, then the ETag or the
    MD5 we stored in the object's metadata, so multipart and SSE-KMS uploads compare too).
    Nothing is deleted. ``remote`` is the target's current listing.
    """
    existing = {f.relative: f for f in remote}
    uploaded: list[str] = []
    unchanged = 0
    for data_file in list_files(source):
        path = source.path / data_file.relative  # type: ignore[operator]
        digest = _md5(path)
        known = existing.get(data_file.relative)
        if known is not None and known.size == data_file.size:
            if known.etag == digest:
                unchanged += 1
                continue
            head = s3.head_object(Bucket=target.bucket, Key=target.prefix + data_file.relative)
            if head.get("Metadata", {}).get(_MD5_KEY) == digest:
                unchanged += 1
                continue
        s3.upload_file(
            str(path),
            target.bucket,
            target.prefix + data_file.relative,
            ExtraArgs={"Metadata": {_MD5_KEY: digest}},
        )
        uploaded.append(data_file.relative)
    return SyncResult(uploaded, unchanged)
