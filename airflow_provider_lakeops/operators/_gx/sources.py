"""File sources of :class:`~airflow_provider_lakeops.operators.great_expectations.GXValidateOperator`.

:class:`FileSource` reads Parquet, CSV or JSON-lines files from a local folder or S3, or a Delta
table, for GX's pandas or Spark engine. The pandas engine downloads S3 files through the amazon
provider's ``S3Hook`` and reads Delta tables with delta-rs; the Spark engine reads ``s3://`` and
``s3a://`` itself with the lake's S3A settings
(:func:`~airflow_provider_lakeops.utils.lake.spark_lake_settings`), credentials and endpoint coming
from the AWS connection either way. What counts as a data file (no ``_*``/``.*`` part, not empty) is
:func:`~airflow_provider_lakeops.utils.storage.is_data_file`, as everywhere in lakeops; sub-folders
are read whatever their names. SQL sources live in :mod:`~airflow_provider_lakeops.operators._gx.sql`.

Nothing here imports pandas, pyarrow, pyspark, boto3 or GX at module level.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_lakeops.lineage.naming import DatasetName, location_dataset
from airflow_provider_lakeops.operators._gx.delta import delta_guard, open_delta, partition_filters
from airflow_provider_lakeops.utils.lake import is_s3_uri, spark_lake_settings
from airflow_provider_lakeops.utils.storage import (
    download_to_folder,
    is_data_file,
    list_data_files,
    parse_location,
    s3_client,
)

__all__ = ["FORMATS", "FileSource", "SourceStats", "normalise_format"]

log = logging.getLogger(__name__)

FORMATS = ("parquet", "csv", "jsonl", "delta")
_EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_WILDCARDS = ("*", "?", "[")
_SCHEMA_SAMPLE_LINES = 200


def normalise_format(fmt: str | None) -> str | None:
    """``parquet`` | ``csv`` | ``jsonl`` (``json`` means JSON lines) | ``delta``; ``None`` = infer."""
    if fmt is None or fmt == "":
        return None
    value = str(fmt).lower().lstrip(".")
    value = {"json": "jsonl", "ndjson": "jsonl", "pq": "parquet"}.get(value, value)
    if value not in FORMATS:
        raise ValueError(f"data_format must be one of {', '.join(FORMATS)} (or empty to infer), got {fmt!r}")
    return value


def _pick_format(names: list[str], fmt: str | None, location: str) -> tuple[list[str], str]:
    """Keep the data files of ``fmt`` (inferred from the extensions when ``None``)."""
    kinds = {name: _EXTENSIONS.get(os.path.splitext(name)[1].lower()) for name in names}
    if fmt is None:
        found = {k for k in kinds.values() if k}
        if len(found) != 1:
            what = f"several formats ({', '.join(sorted(found))})" if found else "no known file extension"
            raise ValueError(
                f"data_path {location!r} holds {what}: set data_format to one of {', '.join(FORMATS)}"
            )
        fmt = found.pop()
    if fmt == "delta":
        raise ValueError(f"data_path {location!r}: a Delta table is read through its log, not as files")
    chosen = [name for name, kind in kinds.items() if kind == fmt or kind is None]
    return chosen, fmt


@dataclass
class SourceStats:
    """What was read (counts only, never values)."""

    rows: int | None = None
    files: int | None = None
    bytes: int | None = None


class FileSource:
    """Files or a Delta table on a local path or S3, read whole into pandas or Spark.

    :param location: a file, a folder (all data files below it) or a glob; ``s3://bucket/prefix`` too;
        or a Delta table's root.
    :param fmt: ``parquet``, ``csv``, ``jsonl``, ``delta`` or ``None`` to infer (from the extensions,
        or ``delta`` when ``location`` is a Delta table).
    :param engine: ``pandas`` or ``spark``.
    :param aws_conn_id: the AWS connection for S3 locations (the amazon provider's ``S3Hook``).
    :param read_options: passed to the reader (pyarrow's CSV ``ParseOptions`` fields or Spark options).
    :param spark_conn_id: the Spark connection whose master a new SparkSession uses.
    :param partitions: with ``delta``: ``{partition column: value}`` (a list means any of them).
    :param lake_jars: ``spark.jars`` (S3A, Delta) of a new SparkSession; default ``$LAKEOPS_SPARK_LAKE_JARS``.
    """

    kind = "file"

    def __init__(
        self,
        location: str,
        fmt: str | None,
        *,
        engine: str = "pandas",
        aws_conn_id: str | None = "aws_default",
        read_options: Mapping[str, Any] | None = None,
        spark_conn_id: str | None = "spark_default",
        app_name: str = "lakeops-gx",
        partitions: Mapping[str, Any] | None = None,
        lake_jars: str | Sequence[str] | None = None,
    ) -> None:
        self.location = location
        self.fmt = fmt
        self.engine = engine
        self.aws_conn_id = aws_conn_id
        self.read_options = dict(read_options or {})
        self.spark_conn_id = spark_conn_id
        self.app_name = app_name
        self.partitions = partitions
        self.lake_jars = lake_jars
        self.files: list[str] = []
        self._filters: list[tuple[str, str, Any]] = []
        self._delta: Any = None
        self.stats = SourceStats()
        self._spark: Any = None
        self._own_spark = False

    @property
    def is_s3(self) -> bool:
        return is_s3_uri(self.location)

    def describe(self) -> str:
        return f"{self.fmt or 'files'} at {self.location} ({self.engine})"

    def check(self) -> None:
        """Static checks of the rendered arguments (nothing is read)."""
        if not self.location or not self.location.strip():
            raise ValueError("data_path is empty after templating: give a file, folder, glob or s3:// URI")
        self.fmt = normalise_format(self.fmt)
        self._filters = partition_filters(self.partitions)
        if self._filters and self.fmt not in (None, "delta"):
            raise ValueError(
                f"data_partitions filters a Delta table: set data_format='delta' (got {self.fmt!r}), "
                "or point data_path at the partition's folder"
            )
        if self._filters and any(ch in self.location for ch in _WILDCARDS):
            raise ValueError("data_partitions needs a Delta table's root as data_path, not a glob")

    # ---------------------------------------------------------------- listing
    def prepare(self, workdir: Path) -> None:
        """Find the data files (downloading S3 objects into ``workdir`` for the pandas engine); open a
        Delta table (its log only)."""
        if not any(ch in self.location for ch in _WILDCARDS):
            self.fmt = delta_guard(self.location, self.fmt, self.aws_conn_id)
        if self._filters and self.fmt != "delta":
            raise ValueError(f"data_partitions needs a Delta table: {self.location!r} is not one")
        if self.fmt == "delta":
            self._prepare_delta()
            return
        if self.is_s3 and self.engine == "pandas":
            names = self._download_s3(workdir)
        elif self.engine == "spark" and "://" in self.location and not self.location.startswith("file://"):
            self.files = [self.location]  # a cluster path (s3a://, hdfs://): Spark lists it itself
            self.fmt = self.fmt or _EXTENSIONS.get(os.path.splitext(self.location.rstrip("/*"))[1].lower())
            if self.fmt is None:
                raise ValueError(f"set data_format for {self.location!r}: it cannot be inferred")
            return
        else:
            names = self._list_local()
        self.files, self.fmt = _pick_format(names, self.fmt, self.location)
        if not self.files:
            raise FileNotFoundError(f"no {self.fmt} files at {self.location}")
        self.stats.files = len(self.files)
        self.stats.bytes = sum(os.path.getsize(f) for f in self.files)

    def _prepare_delta(self) -> None:
        if self.engine == "spark":
            self.files = [self.location]  # Spark reads the log itself (format("delta"))
            return
        self._delta = open_delta(self.location, self._filters, self.aws_conn_id)
        self.files = list(self._delta.file_uris(file_pruning_predicate=self._filters or None))
        self.stats.files = len(self.files)
        log.info(
            "Delta table %s version %s: %d file(s)", self.location, self._delta.version(), len(self.files)
        )

    def _list_local(self) -> list[str]:
        location = self.location.removeprefix("file://")
        path = Path(location)
        if any(ch in location for ch in _WILDCARDS):
            base = os.path.dirname(location[: min(location.index(ch) for ch in _WILDCARDS if ch in location)])
            names = sorted(p for p in glob.glob(location, recursive=True) if os.path.isfile(p))
            return [
                n
                for n in names
                if is_data_file(Path(os.path.relpath(n, base or ".")).as_posix(), os.path.getsize(n))
            ]
        if path.is_file():
            return [str(path)]
        if path.is_dir():
            root = parse_location(str(path), argument="data_path")
            return [str(root.local_path / f.relative) for f in list_data_files(root)]
        raise FileNotFoundError(f"data_path {self.location!r} does not exist")

    def _download_s3(self, workdir: Path) -> list[str]:
        s3 = s3_client(aws_conn_id=self.aws_conn_id)
        target = parse_location(self.location, argument="data_path", folder=False)
        bucket, key = str(target.bucket), target.key
        if any(ch in key for ch in _WILDCARDS):
            prefix = key[: min(key.index(ch) for ch in _WILDCARDS if ch in key)]
            base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
            root = parse_location(f"s3://{bucket}/{base}", argument="data_path")
            files = [f for f in list_data_files(root, s3=s3) if fnmatch.fnmatch(root.key + f.relative, key)]
        else:
            base, _, name = key.rpartition("/")
            root = parse_location(f"s3://{bucket}/{base}", argument="data_path")
            files = (
                [f for f in list_data_files(root, recursive=False, s3=s3) if f.relative == name]
                if name
                else []
            )
            if not files:  # not one object: a folder
                base = key.rstrip("/")
                root = parse_location(f"s3://{bucket}/{base}", argument="data_path")
                files = list_data_files(root, s3=s3)
        if not files:
            raise FileNotFoundError(f"no objects at {self.location}")
        names = [str(p) for p in download_to_folder(root, files, workdir / "s3" / bucket / root.key, s3=s3)]
        log.info("Downloaded %d object(s) from s3://%s/%s", len(names), bucket, base)
        return names

    # ---------------------------------------------------------------- schema
    def columns(self) -> list[str]:
        """Column names, read from file footers / headers / the first lines only."""
        if self.engine == "spark":
            return list(self.spark_frame().columns)
        if self._delta is not None:
            return [f.name for f in self._delta.schema().fields]
        cols: dict[str, None] = {}
        for name in self.files:
            for col in self._file_columns(name):
                cols.setdefault(col, None)
            if self.fmt != "parquet":
                break  # text formats: the first file's header / lines stand for all
        return list(cols)

    def _file_columns(self, name: str) -> list[str]:
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(name).names)
        if self.fmt == "csv":
            import pyarrow.csv as pacsv

            with pacsv.open_csv(
                name, parse_options=pacsv.ParseOptions(**self._csv_parse_options())
            ) as reader:
                return list(reader.schema.names)
        cols: dict[str, None] = {}
        with open(name, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= _SCHEMA_SAMPLE_LINES:
                    break
                if line.strip():
                    row = json.loads(line)
                    if isinstance(row, dict):
                        cols.update(dict.fromkeys(row))
        return list(cols)

    def _csv_parse_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.read_options.items() if k in {"delimiter", "quote_char", "escape_char"}}

    # ---------------------------------------------------------------- data
    def load(self) -> Any:
        """The whole data set as a pandas or Spark DataFrame."""
        if self.engine == "spark":
            return self.spark_frame()
        import pyarrow as pa

        if self._delta is not None:
            from deltalake.exceptions import DeltaProtocolError

            try:
                dataset = self._delta.to_pyarrow_dataset(file_pruning_predicate=self._filters or None)
            except DeltaProtocolError as exc:  # e.g. deletion vectors: never read around them
                raise ValueError(
                    f"data_path {self.location!r} cannot be read by delta-rs here: {exc}"
                ) from None
            frame = dataset.to_table()
            frame = frame.to_pandas()
            self.stats.rows = len(frame)
            return frame
        tables = [self._read_table(name) for name in self.files]
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
        frame = table.to_pandas()
        self.stats.rows = len(frame)
        return frame

    def _read_table(self, name: str) -> Any:
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(name)
        if self.fmt == "csv":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(name, parse_options=pacsv.ParseOptions(**self._csv_parse_options()))
        import pyarrow.json as pajson

        return pajson.read_json(name, read_options=pajson.ReadOptions(block_size=8 << 20))

    def spark_frame(self) -> Any:
        if getattr(self, "_frame", None) is None:
            spark = self._session()
            fmt = {"jsonl": "json"}.get(self.fmt or "", self.fmt)
            options = {"header": "true", "inferSchema": "true"} if fmt == "csv" else {}
            options.update({k: str(v) for k, v in self.read_options.items()})
            if fmt == "delta":
                from pyspark.sql import functions as F

                frame = spark.read.format("delta").options(**options).load(self.files[0])
                for column, op, value in self._filters:
                    if column not in frame.columns:
                        raise ValueError(f"data_partitions names {column!r}, which {self.location} lacks")
                    frame = frame.where(F.col(column).isin(value) if op == "in" else F.col(column) == value)
                self._frame = frame
            else:
                self._frame = spark.read.format(fmt).options(**options).load(self.files)
        return self._frame

    def _session(self) -> Any:
        from pyspark.sql import SparkSession

        from airflow_provider_lakeops.spark_apps.lake_session import apply_s3a_credentials

        table_format = "delta" if self.fmt == "delta" else "parquet"
        active = SparkSession.getActiveSession()
        if active is not None:
            # a running session's jars are fixed: only its Hadoop (S3A) settings can change
            settings = spark_lake_settings(
                paths=[self.location], table_format=table_format, aws_conn_id=self.aws_conn_id, jars=""
            )
            hadoop = active.sparkContext._jsc.hadoopConfiguration()
            for key, value in settings.conf.items():
                if key.startswith("spark.hadoop."):
                    hadoop.set(key[len("spark.hadoop.") :], value)
            apply_s3a_credentials(active, settings.env)
            self._spark = active
            return active
        settings = spark_lake_settings(
            paths=[self.location],
            table_format=table_format,
            aws_conn_id=self.aws_conn_id,
            jars=self.lake_jars,
        )
        master = "local[*]"
        if self.spark_conn_id:
            from airflow.sdk import BaseHook

            conn = BaseHook.get_connection(self.spark_conn_id)
            host = conn.host or "local[*]"
            master = f"{host}:{conn.port}" if conn.port and host.startswith(("spark://", "k8s://")) else host
        log.info("Starting a SparkSession (master %s) for validation", master)
        builder = SparkSession.builder.master(master).appName(self.app_name)
        for key, value in settings.conf.items():
            builder = builder.config(key, value)
        self._spark = builder.getOrCreate()
        self._own_spark = True
        apply_s3a_credentials(self._spark, settings.env)
        return self._spark

    def add_batch(self, context: Any, name: str, data: Any) -> tuple[Any, dict[str, Any]]:
        sources = context.data_sources
        datasource = sources.add_spark(name) if self.engine == "spark" else sources.add_pandas(name)
        asset = datasource.add_dataframe_asset(name=f"{name}_data")
        return asset.add_batch_definition_whole_dataframe(f"{name}_batch"), {"dataframe": data}

    def datasets(self) -> list[DatasetName]:
        location = self.location
        if any(ch in location for ch in _WILDCARDS):
            location = location[: min(location.index(ch) for ch in _WILDCARDS if ch in location)]
            location = location.rsplit("/", 1)[0] or "/"
        return [location_dataset(location)]

    def close(self) -> None:
        self._frame = None
        self._delta = None
        if self._own_spark and self._spark is not None:
            self._spark.stop()
        self._spark = None
