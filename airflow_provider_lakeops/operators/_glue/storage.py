"""Storage side of Glue registration: locations, file listing, hive partitions, schema reads, staging.

Works on ``s3://`` locations through a boto3 S3 client (made by the amazon provider's hook, so
credentials, endpoint and retries come from the Airflow connection; moto included) and on local
folders. Parquet schemas come from the file footers only: one ranged ``GetObject`` per file.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlparse

from airflow_provider_lakeops.operators._glue.schema import validate_glue_name

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

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_FOOTER_GUESS = 64 * 1024
_MD5_KEY = "lakeops-md5"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Location:
    """A table location: ``s3://bucket/prefix/`` or a local folder (``file:///abs/path/``)."""

    uri: str
    bucket: str | None = None
    prefix: str = ""
    path: Path | None = None

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    def child(self, relative: str) -> str:
        return self.uri + relative

    def describe(self, relative: str) -> str:
        return self.uri + relative if self.is_s3 else str(self.path / relative)  # type: ignore[operator]


def parse_location(value: Any, *, argument: str = "location") -> Location:
    """Parse and normalise a location (``s3a://``/``s3n://`` become ``s3://``; a trailing ``/`` is added).

    :raises ValueError: empty value, unsupported scheme, invalid bucket name.
    """
    text = str(value or "").strip()
    if not text:
        raise ValueError(f"{argument} is empty: give s3://bucket/prefix/ or a local folder")
    parsed = urlparse(text)
    if parsed.scheme in ("s3", "s3a", "s3n"):
        if not parsed.netloc or not _BUCKET_RE.match(parsed.netloc):
            raise ValueError(f"{argument} {text!r} has no valid bucket name (3-63 of a-z 0-9 . -)")
        prefix = parsed.path.strip("/")
        prefix = f"{prefix}/" if prefix else ""
        return Location(f"s3://{parsed.netloc}/{prefix}", bucket=parsed.netloc, prefix=prefix)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"{argument} {text!r}: scheme {parsed.scheme!r} is not supported (use s3:// or a local folder)")
    path = Path(parsed.path if parsed.scheme == "file" else text).expanduser().resolve()
    return Location(path.as_uri().rstrip("/") + "/", path=path)


@dataclass(frozen=True)
class DataFile:
    """A data file under a location; ``relative`` uses ``/`` and has no leading slash."""

    relative: str
    size: int
    etag: str | None = None

    @property
    def folders(self) -> list[str]:
        return self.relative.split("/")[:-1]


def _is_data(relative: str, size: int) -> bool:
    parts = relative.split("/")
    if relative.endswith("/") or size == 0:
        return False  # folder markers and empty files (e.g. _SUCCESS) carry no data
    return not any(p.startswith(("_", ".")) for p in parts) and not relative.endswith(".crc")


def list_files(location: Location, s3: Any = None) -> list[DataFile]:
    """Every data file under ``location``, sorted; hidden files (``_*``, ``.*``, ``*.crc``) skipped.

    :raises FileNotFoundError: the bucket or folder does not exist.
    """
    files: list[DataFile] = []
    if location.is_s3:
        from botocore.exceptions import ClientError

        paginator = s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=location.bucket, Prefix=location.prefix):
                for obj in page.get("Contents", []):
                    relative = obj["Key"][len(location.prefix):]
                    if _is_data(relative, int(obj.get("Size", 0))):
                        files.append(DataFile(relative, int(obj["Size"]), str(obj.get("ETag", "")).strip('"')))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                raise FileNotFoundError(f"location {location.uri}: bucket {location.bucket!r} does not exist") from None
            raise
    else:
        root = location.path
        if root is None or not root.is_dir():
            raise FileNotFoundError(f"location {location.uri}: folder {root} does not exist")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
            for name in filenames:
                full = Path(dirpath) / name
                relative = full.relative_to(root).as_posix()
                size = full.stat().st_size
                if _is_data(relative, size):
                    files.append(DataFile(relative, size))
    return sorted(files, key=lambda f: f.relative)


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
            key, sep, value = segment.partition("=")
            if not sep or not key or not value:
                raise ValueError(
                    f"{location.describe(data_file.relative)}: folder {segment!r} is not a hive partition "
                    "(key=value); put data files directly in the location or in key=value folders"
                )
            keys.append(validate_glue_name("partition key", unquote(key).lower()))
            values.append(unquote(value))
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
        return pq.read_schema(pa.BufferReader(b"PAR1" + tail[-(footer_len + 8):]))
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ValueError(f"{where}: not a readable Parquet file ({exc}); remove it from the location "
                         "or choose the right format") from None


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


def _text_schema(location: Location, data_file: DataFile, s3: Any, fmt: str, options: dict[str, Any]) -> pa.Schema:
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
    entries: Sequence[tuple[Location, DataFile]], fmt: str, s3: Any = None, *,
    options: dict[str, Any] | None = None, threads: int = 8,
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
        s3.upload_file(str(path), target.bucket, target.prefix + data_file.relative,
                       ExtraArgs={"Metadata": {_MD5_KEY: digest}})
        uploaded.append(data_file.relative)
    return SyncResult(uploaded, unchanged)
