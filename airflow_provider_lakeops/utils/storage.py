"""The one storage layer: locations, what a data file is, listing, small text files and downloads.

Every capability (Glue registration, the Snowflake MERGE, GX file sources, GX result files, the
streaming checkpoint guard) reaches S3 and local folders through this module, so they agree on
what a data file is: :func:`is_data_file` is the only rule in the package.

S3 goes through the amazon provider's ``S3Hook`` (credentials, endpoint and retries come from the
Airflow connection; moto included), imported when an S3 location is first used. A caller may hand
in its own ``S3Hook`` or boto3 S3 client instead (``s3=``), e.g. one that counts API calls.
Nothing here imports boto3, botocore or the amazon provider at module level.

What a caller does with sub-folders that are not ``column=value`` partitions is its own policy
(the MERGE refuses them, Glue reports them, GX reads them): :attr:`DataFile.partition_values` is
``None`` for such files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

__all__ = [
    "S3_SCHEMES",
    "DataFile",
    "Location",
    "delete_file",
    "download_to_folder",
    "folder_exists",
    "is_data_file",
    "list_data_files",
    "parse_location",
    "partition_folder",
    "read_text",
    "s3_client",
    "write_text",
]

#: URI schemes read as S3 (``s3a``/``s3n`` are Hadoop's names for the same objects).
S3_SCHEMES = ("s3", "s3a", "s3n")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_AMAZON_HINT = "S3 locations need the amazon provider: pip install 'airflow-provider-lakeops[amazon]'"


# --------------------------------------------------------------------------- the rule
def _hidden(part: str) -> bool:
    return part.startswith(("_", "."))


def is_data_file(relative_path: str, size: int, *, suffixes: Sequence[str] | None = None) -> bool:
    """Whether a file under a location holds data: the one rule every lakeops operator applies.

    Not data: a path with a hidden part, i.e. one starting with ``_`` or ``.`` (Spark/Hadoop's
    ``_SUCCESS``, ``_spark_metadata/``, ``_temporary/``, ``_delta_log/``, ``.part-0.crc``, and any
    ``..``), a Hadoop checksum (``*.crc``), a folder marker (``.../``), an empty file; with
    ``suffixes``, a name that ends in none of them (compared as given, e.g. ``(".parquet",)``).

    :param relative_path: the path below the location, ``/``-separated.
    :param size: the size in bytes.
    :param suffixes: keep only names ending in one of these.
    """
    if not relative_path or relative_path.endswith("/") or size <= 0:
        return False
    parts = [p for p in relative_path.split("/") if p]
    if any(_hidden(p) for p in parts) or relative_path.endswith(".crc"):
        return False
    return suffixes is None or relative_path.endswith(tuple(suffixes))


def partition_folder(segment: str) -> tuple[str, str] | None:
    """``(column, value)`` of a Hive ``column=value`` folder (URL-unescaped, as Hive writes them);
    ``None`` when the folder is not one (no ``=``, empty column or value)."""
    column, sep, value = segment.partition("=")
    if not sep or not column or not value:
        return None
    return unquote(column), unquote(value)


# --------------------------------------------------------------------------- locations
@dataclass(frozen=True)
class Location:
    """An S3 or local location: a folder (``uri`` ends in ``/``) or a file.

    :param uri: ``s3://bucket/key`` (``s3a``/``s3n`` normalised to ``s3``) or ``file:///abs/path``.
    :param bucket: the S3 bucket; ``None`` for a local location.
    :param prefix: the S3 key (a folder's ends in ``/``; ``""`` for the bucket root).
    :param path: the absolute local path; ``None`` for S3.
    """

    uri: str
    bucket: str | None = None
    prefix: str = ""
    path: Path | None = None

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    @property
    def key(self) -> str:
        """The S3 key (same as ``prefix``)."""
        return self.prefix

    def child(self, relative: str) -> str:
        """The URI of ``relative`` below this folder."""
        return self.uri + relative

    def join(self, relative: str) -> Location:
        """The location of ``relative`` (``/``-separated) below this folder."""
        relative = relative.lstrip("/")
        if self.is_s3:
            return Location(self.uri + relative, bucket=self.bucket, prefix=self.prefix + relative)
        path = self.local_path / relative
        return Location(path.as_uri() + ("/" if relative.endswith("/") else ""), path=path)

    def describe(self, relative: str = "") -> str:
        """``relative`` below this location as a user reads it (a URI on S3, a path locally)."""
        return (
            self.uri + relative
            if self.is_s3
            else str(self.local_path / relative if relative else self.local_path)
        )

    @property
    def local_path(self) -> Path:
        if self.path is None:
            raise ValueError(f"{self.uri} is not a local location")
        return self.path


def parse_location(value: object, *, argument: str = "location", folder: bool = True) -> Location:
    """Parse ``s3://``, ``s3a://``, ``s3n://``, ``file://`` URIs and local paths.

    :param value: the location.
    :param argument: the argument name for error messages.
    :param folder: a folder (a trailing ``/`` is added, ``//`` collapsed) or, with ``False``, a file.
    :raises ValueError: empty value, unsupported scheme, invalid bucket name.
    """
    text = str(value or "").strip()
    if not text:
        raise ValueError(f"{argument} is empty: give s3://bucket/prefix/ or a local folder")
    parsed = urlparse(text)
    if parsed.scheme in S3_SCHEMES:
        if not parsed.netloc or not _BUCKET_RE.match(parsed.netloc):
            raise ValueError(f"{argument} {text!r} has no valid bucket name (3-63 of a-z 0-9 . -)")
        if folder:
            prefix = parsed.path.strip("/")
            prefix = f"{prefix}/" if prefix else ""
        else:
            prefix = parsed.path.lstrip("/")
        return Location(f"s3://{parsed.netloc}/{prefix}", bucket=parsed.netloc, prefix=prefix)
    if parsed.scheme not in ("", "file"):
        raise ValueError(
            f"{argument} {text!r}: scheme {parsed.scheme!r} is not supported (use s3:// or a local folder)"
        )
    path = Path(unquote(parsed.path) if parsed.scheme == "file" else text).expanduser().resolve()
    uri = path.as_uri()
    return Location(uri.rstrip("/") + "/" if folder else uri, path=path)


def _as_location(location: Location | str, *, folder: bool) -> Location:
    return location if isinstance(location, Location) else parse_location(location, folder=folder)


# --------------------------------------------------------------------------- S3 access
def s3_client(s3: Any = None, aws_conn_id: str | None = "aws_default") -> Any:
    """A boto3 S3 client: ``s3`` itself (a client), its ``get_conn()`` (an ``S3Hook``), or a new
    ``S3Hook(aws_conn_id)``'s client.

    :raises ImportError: the amazon provider is not installed.
    """
    if s3 is not None:
        return s3 if hasattr(s3, "get_paginator") else s3.get_conn()
    try:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    except ImportError as exc:
        raise ImportError(_AMAZON_HINT) from exc
    return S3Hook(aws_conn_id=aws_conn_id).get_conn()


def _error_code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


# --------------------------------------------------------------------------- listing
@dataclass(frozen=True)
class DataFile:
    """A data file under a location; ``relative`` uses ``/`` and has no leading slash."""

    relative: str
    size: int
    etag: str | None = None

    @property
    def folders(self) -> list[str]:
        return self.relative.split("/")[:-1]

    @property
    def partition_values(self) -> dict[str, str] | None:
        """``{column: value}`` of its ``column=value`` folders (``{}`` directly in the location);
        ``None`` when one of its folders is not a ``column=value`` folder."""
        values: dict[str, str] = {}
        for segment in self.folders:
            pair = partition_folder(segment)
            if pair is None:
                return None
            values[pair[0]] = pair[1]
        return values


def list_data_files(
    location: Location | str,
    *,
    suffixes: Sequence[str] | None = None,
    recursive: bool = True,
    s3: Any = None,
    aws_conn_id: str | None = "aws_default",
) -> list[DataFile]:
    """The data files (:func:`is_data_file`) under a folder, sorted by relative path.

    :param location: the folder (``s3://bucket/prefix/`` or local).
    :param suffixes: keep only names ending in one of these (e.g. ``(".parquet",)``).
    :param recursive: include sub-folders (hidden ones are never entered).
    :param s3: an ``S3Hook`` or boto3 S3 client to use (default: a new ``S3Hook(aws_conn_id)``).
    :raises FileNotFoundError: the bucket or folder does not exist.
    """
    location = _as_location(location, folder=True)
    files: list[DataFile] = []
    if location.is_s3:
        client = s3_client(s3, aws_conn_id)
        extra = {} if recursive else {"Delimiter": "/"}
        try:
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=location.bucket, Prefix=location.prefix, **extra
            ):
                for obj in page.get("Contents", []):
                    relative, size = obj["Key"][len(location.prefix) :], int(obj.get("Size", 0))
                    if is_data_file(relative, size, suffixes=suffixes):
                        files.append(DataFile(relative, size, str(obj.get("ETag", "")).strip('"') or None))
        except Exception as exc:
            if _error_code(exc) == "NoSuchBucket":
                raise FileNotFoundError(
                    f"location {location.uri}: bucket {location.bucket!r} does not exist"
                ) from None
            raise
    else:
        root = location.local_path
        if not root.is_dir():
            raise FileNotFoundError(f"location {location.uri}: folder {root} does not exist")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if recursive and not _hidden(d)]  # never holds data files
            for name in filenames:
                full = Path(dirpath) / name
                relative = full.relative_to(root).as_posix()
                if full.is_file() and is_data_file(relative, full.stat().st_size, suffixes=suffixes):
                    files.append(DataFile(relative, full.stat().st_size))
    return sorted(files, key=lambda f: f.relative)


def download_to_folder(
    location: Location | str,
    files: Iterable[DataFile],
    folder: Path,
    *,
    s3: Any = None,
    aws_conn_id: str | None = "aws_default",
) -> list[Path]:
    """Local paths of ``files`` (listed under ``location``), in their order: local files where they
    are, S3 objects downloaded to ``folder/<relative path>``.

    :raises ValueError: a relative path would leave ``folder``.
    """
    location = _as_location(location, folder=True)
    if not location.is_s3:
        return [location.local_path / f.relative for f in files]
    client = s3_client(s3, aws_conn_id)
    root = folder.resolve()
    paths = []
    for data_file in files:
        target = (root / data_file.relative).resolve()
        if not target.is_relative_to(root):
            raise ValueError(f"{location.uri}{data_file.relative}: the key leaves the download folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(location.bucket, location.prefix + data_file.relative, str(target))
        paths.append(target)
    return paths


# --------------------------------------------------------------------------- small text files
def read_text(
    location: Location | str, *, s3: Any = None, aws_conn_id: str | None = "aws_default"
) -> str | None:
    """The UTF-8 text of a file, or ``None`` when it does not exist."""
    location = _as_location(location, folder=False)
    if location.is_s3:
        client = s3_client(s3, aws_conn_id)
        try:
            body = client.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        except Exception as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return bytes(body).decode("utf-8")
    path = location.local_path
    return path.read_text(encoding="utf-8") if path.is_file() else None


def write_text(
    location: Location | str, text: str, *, s3: Any = None, aws_conn_id: str | None = "aws_default"
) -> str:
    """Write (replace) a UTF-8 text file; locally through a temporary file and an atomic rename.

    :return: the location's URI (S3) or path (local).
    """
    location = _as_location(location, folder=False)
    if location.is_s3:
        s3_client(s3, aws_conn_id).put_object(
            Bucket=location.bucket, Key=location.key, Body=text.encode("utf-8")
        )
        return location.uri
    path = location.local_path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return str(path)


def delete_file(location: Location | str, *, s3: Any = None, aws_conn_id: str | None = "aws_default") -> None:
    """Delete a file if it exists (locally with Hadoop's ``.<name>.crc`` checksum beside it)."""
    location = _as_location(location, folder=False)
    if location.is_s3:
        s3_client(s3, aws_conn_id).delete_object(Bucket=location.bucket, Key=location.key)
        return
    path = location.local_path
    path.unlink(missing_ok=True)
    path.with_name(f".{path.name}.crc").unlink(missing_ok=True)


def folder_exists(
    location: Location | str, *, s3: Any = None, aws_conn_id: str | None = "aws_default"
) -> bool:
    """Whether a folder exists (on S3: whether any object has the folder's prefix)."""
    location = _as_location(location, folder=True)
    if location.is_s3:
        response = s3_client(s3, aws_conn_id).list_objects_v2(
            Bucket=location.bucket, Prefix=location.prefix, MaxKeys=1
        )
        return bool(response.get("KeyCount") or response.get("Contents"))
    return location.local_path.is_dir()
