"""Kafka (or a JSON landing folder) -> bronze Parquet or Delta with Spark Structured Streaming, exactly once.

Submitted by ``KafkaStreamingSubmitOperator``; runnable by hand with ``spark-submit`` too
(``--help`` lists the arguments). Imports nothing from Airflow.

What one run does:

1. **Source.** ``kafka``: Spark's Kafka source (``subscribe``, ``startingOffsets``,
   ``maxOffsetsPerTrigger``, ``failOnDataLoss``, ``kafka.isolation.level`` (``read_committed`` by
   default) and the ``kafka.*`` client/security options read from ``--kafka-options-file``, so no
   secret is ever on the command line); it needs the ``spark-sql-kafka-0-10`` jars of the same Spark
   release in ``spark.jars`` (checked at start: ``streaming_options.check_spark_kafka_jars``). ``file``: a
   folder of JSON-lines files (Spark's file source; dot-files are ignored, so publish files atomically: write
   ``.name.tmp``, then rename). Both end in the same columns - ``value`` plus the source position - and share
   every step below.
2. **Parse** each record against the explicit schema of ``--schema-file``. A record that is not a
   JSON object, lacks a required field, or has a value that does not fit its field's type is
   **quarantined** with its raw text, the reasons (field names, never values) and its source
   position (topic/partition/offset, or file). Nothing is dropped silently and no bad record
   stops the stream.
3. **Debezium** (``--debezium``): the change-event envelope (``op``, ``before``/``after``,
   ``ts_ms``, optionally inside ``payload``) is unwrapped; a delete keeps its key from ``before``
   and lands with ``op = 'd'`` for the warehouse MERGE's delete branch. Every row carries
   ``_source_position`` (a fixed-width string whose order is the source database's change order:
   PostgreSQL LSNs, MySQL/MariaDB binlog file/pos/row, snapshot reads first; see
   ``streaming_options.debezium_position``) and ``_source_ts`` (``source.ts_ms``). Tombstones (null
   values after a delete) are skipped and counted.
4. **Write** bronze (``--table-format``: Parquet folders, or a Delta table) under
   ``ingest_date=YYYY-MM-DD/batch=<batch id>-<query id>/`` with
   the ingestion metadata (``_ingested_at``, ``_kafka_topic/_partition/_offset/_timestamp`` or
   ``_source_file``/``_source_file_ts``), and the quarantine (JSON lines) the same way, from one
   ``foreachBatch``: pass 1 writes bronze and counts every row (observed metrics, no cache); only a batch
   with bad records makes a pass 2, which caches those rows and writes the quarantine.
5. **Exactly once.** The checkpoint records each batch's offsets before the batch runs and a
   commit after it. Parquet: each batch overwrites only its own partitions (dynamic partition
   overwrite), and a replayed batch reads the same offsets with the same batch timestamp, so a batch
   re-run after a crash replaces its own output instead of adding to it. Delta: each batch is one
   append commit carrying Delta's idempotent-write transaction (``txnAppId`` = the query id,
   ``txnVersion`` = the batch id), so Delta itself skips a replayed batch that already committed;
   the app sees that commit (its ``userMetadata``) before the write and only recounts the batch.
   Readers of a Delta bronze never see a half-written batch. The query id in the partition name
   keeps a new checkpoint from overwriting an old checkpoint's batches. A bronze path that holds
   the other format (a Delta log for Parquet, plain Parquet for Delta) is refused before the stream
   starts. ``s3://`` paths are read through S3A with the credentials of the process environment
   (``lake_session.apply_s3a_credentials``).
6. **Report**: a JSON progress report (batches, rows in, bronze rows, quarantined rows and why,
   start and end offsets) printed after ``LAKEOPS_STREAMING_REPORT`` and written to ``--report-path``.

Triggers: ``availableNow`` (default: process what has arrived, then stop - for scheduled runs)
or ``processingTime`` (a long-running stream; ``--stop-after-seconds`` bounds it).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from functools import reduce
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

# run by spark-submit, the package comes from the --py-files zip (or the installed provider)
from airflow_provider_lakeops.spark_apps import streaming_options as opts
from airflow_provider_lakeops.spark_apps.lake_session import apply_s3a_credentials, spark_path

__all__ = [
    "BatchWriter",
    "BronzeFormatError",
    "CheckpointMismatchError",
    "KafkaSourceUnavailableError",
    "check_bronze_format",
    "check_versions",
    "files_to_raw",
    "kafka_to_raw",
    "main",
    "parse_records",
    "read_source",
    "run",
    "source_options",
]

#: where a record was read: Kafka coordinates, or the landing file (file source)
SOURCE_COLUMNS = (
    "_kafka_topic",
    "_kafka_partition",
    "_kafka_offset",
    "_kafka_timestamp",
    "_source_file",
    "_source_file_ts",
)
#: Debezium: the change's position and commit time in the source database (null otherwise)
POSITION_COLUMNS = ("_source_position", "_source_ts")
METADATA_COLUMNS = ("op", "op_ts", *POSITION_COLUMNS, "_ingested_at", *SOURCE_COLUMNS)
PARTITION_COLUMNS = ("ingest_date", "batch")
QUARANTINE_COLUMNS = ("_reason", "_raw", "op", "_source_position", "_ingested_at", *SOURCE_COLUMNS)
_SOURCE_FIELDS = ["lsn", "sequence", "file", "pos", "row", "snapshot", "ts_ms"]
_CORRUPT = "_corrupt_record"
_PARSE = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT}
_MAX_BATCH_DETAILS = 20


class CheckpointMismatchError(RuntimeError):
    """The checkpoint belongs to a different query (other topics, landing folder or outputs)."""


class BronzeFormatError(ValueError):
    """The bronze path holds the other table format (plain Parquet for a Delta bronze, or a Delta log)."""


class KafkaSourceUnavailableError(RuntimeError):
    """Spark has no Kafka source: the spark-sql-kafka package is not on the classpath."""


# ------------------------------------------------------------------------- Hadoop file system
def _fs(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)  # type: ignore[union-attr]
    fs = p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # type: ignore[union-attr]
    if fs.getScheme() == "file":  # the raw local file system: no .crc files beside ours
        fs = fs.getRawFileSystem()
    return fs, p


def read_text(spark: SparkSession, path: str) -> str | None:
    """A small file's text through Hadoop's file system (local, HDFS, S3A...), or None if absent."""
    fs, p = _fs(spark, path)
    if not fs.exists(p):
        return None
    stream = fs.open(p)
    try:
        return str(spark.sparkContext._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))  # type: ignore[union-attr]
    finally:
        stream.close()


def write_text(spark: SparkSession, path: str, text: str) -> None:
    """Write a small file atomically where the file system allows it (temp file, then rename)."""
    fs, p = _fs(spark, path)
    tmp = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(p.getParent(), f".{p.getName()}.tmp")  # type: ignore[union-attr]
    out = fs.create(tmp, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()
    if fs.exists(p):
        fs.delete(p, False)
    if not fs.rename(tmp, p):
        raise OSError(f"could not rename {tmp} to {p}")


def _latest_number(spark: SparkSession, folder: str) -> int | None:
    fs, p = _fs(spark, folder)
    if not fs.exists(p):
        return None
    numbers = [int(s.getPath().getName()) for s in fs.listStatus(p) if s.getPath().getName().isdigit()]
    return max(numbers) if numbers else None


def committed_offsets(spark: SparkSession, checkpoint: str) -> tuple[int | None, Any]:
    """(last committed batch id, its end offsets) read from the checkpoint, or (None, None)."""
    batch = _latest_number(spark, f"{checkpoint.rstrip('/')}/commits")
    if batch is None:
        return None, None
    text = read_text(spark, f"{checkpoint.rstrip('/')}/offsets/{batch}") or ""
    lines = text.splitlines()
    # offset log: "v1", the batch metadata, then one line per source
    return batch, json.loads(lines[2]) if len(lines) > 2 and lines[2] not in ("", "-") else None


def resolve_local_file(path: str) -> str:
    """The path itself when it exists (client mode), else the copy shipped with ``--files``."""
    if os.path.isfile(path):
        return path
    from pyspark import SparkFiles

    shipped = SparkFiles.get(os.path.basename(path))
    if os.path.isfile(shipped):
        return shipped
    raise FileNotFoundError(f"{path!r} is neither a local file nor shipped with --files")


# ------------------------------------------------------------------------------------ sources
def source_options(config: Any) -> dict[str, str]:
    """The Spark source options of ``config`` (a ``StreamConfig``)."""
    if config.source == "kafka":
        with open(resolve_local_file(config.kafka_options_file), encoding="utf-8") as fh:
            client = json.load(fh)
        return dict(
            opts.kafka_source_options(
                client_options=client,
                topics=config.topics,
                starting_offsets=config.starting_offsets,
                max_offsets_per_trigger=config.max_offsets_per_trigger,
                fail_on_data_loss=config.fail_on_data_loss,
                isolation_level=config.isolation_level,
            )
        )
    options = {}
    if config.max_files_per_trigger is not None:
        options["maxFilesPerTrigger"] = str(config.max_files_per_trigger)
    return options


def kafka_to_raw(df: DataFrame) -> DataFrame:
    """Kafka records (the Kafka source's schema) -> ``value`` + source position columns."""
    return df.select(
        F.col("value").cast("string").alias("value"),
        F.col("topic").cast("string").alias("_kafka_topic"),
        F.col("partition").cast("int").alias("_kafka_partition"),
        F.col("offset").cast("long").alias("_kafka_offset"),
        F.col("timestamp").cast("timestamp").alias("_kafka_timestamp"),
        F.lit(None).cast("string").alias("_source_file"),
        F.lit(None).cast("timestamp").alias("_source_file_ts"),
    )


def files_to_raw(df: DataFrame) -> DataFrame:
    """Lines of the text source -> ``value`` + source position (file path and modification time)."""
    return df.select(
        F.col("value"),
        F.lit(None).cast("string").alias("_kafka_topic"),
        F.lit(None).cast("int").alias("_kafka_partition"),
        F.lit(None).cast("long").alias("_kafka_offset"),
        F.lit(None).cast("timestamp").alias("_kafka_timestamp"),
        F.col("_metadata.file_path").alias("_source_file"),
        F.col("_metadata.file_modification_time").cast("timestamp").alias("_source_file_ts"),
    )


def read_source(spark: SparkSession, config: Any) -> DataFrame:
    """The streaming DataFrame of raw records for ``config.source``."""
    options = source_options(config)
    if config.source == "kafka":
        try:
            stream = spark.readStream.format("kafka").options(**options).load()
        except Exception as exc:
            if "DATA_SOURCE_NOT_FOUND" in str(exc) or "Failed to find data source" in str(exc):
                raise KafkaSourceUnavailableError(
                    f"Spark {spark.version} has no Kafka source: pass the jars of "
                    f"{opts.kafka_package(spark.version)} (and its token provider, kafka-clients, "
                    "commons-pool2) in spark.jars ('make jvm-deps' copies them to build/jvm/spark-kafka/)"
                ) from None
            raise
        return kafka_to_raw(stream)
    fs, landing = _fs(spark, config.landing_path)
    if not fs.exists(landing):  # nothing has landed yet: an empty folder reads as "no new data"
        print(
            f"kafka_customer_events: landing folder {config.landing_path} did not exist; created it empty",
            file=sys.stderr,
        )
        fs.mkdirs(landing)
    return files_to_raw(spark.readStream.format("text").options(**options).load(config.landing_path))


# ------------------------------------------------------------------------------------ parsing
def _loose(names: Sequence[str]) -> T.StructType:
    """Every field as a string: Spark's JSON parser keeps any value's text, so types are checked per field."""
    return T.StructType(
        [T.StructField(n, T.StringType()) for n in names] + [T.StructField(_CORRUPT, T.StringType())]
    )


# epoch milliseconds that stay inside Spark's timestamp range (years 1..9999)
_MIN_MS, _MAX_MS = -62_135_596_800_000, 253_402_300_799_999


def _typed(text: Column, type_: str) -> Column:
    """``text`` converted to ``type_``; null when it does not convert.

    Runs per row, so the common case must never take a failing cast: Spark's ``try_cast`` from a
    string to a number raises and catches an exception inside when it fails, which is ~5x slower
    than the whole JSON parse. ISO dates and timestamps have a ``-`` after the year; Debezium's
    numeric forms (epoch milliseconds, days since the epoch) have none, or only as a sign.
    """
    if type_ == "string":
        return text
    iso = F.instr(text, "-") > 1
    if type_ == "timestamp":  # ISO-8601, or epoch milliseconds (Debezium's io.debezium.time.Timestamp)
        millis = text.try_cast("long")
        return F.when(iso, text.try_cast("timestamp")).otherwise(
            F.when(millis.between(_MIN_MS, _MAX_MS), F.timestamp_millis(millis))
        )
    if type_ == "date":  # ISO date, or days since the epoch (Debezium's io.debezium.time.Date)
        days = text.try_cast("int")
        return F.when(iso, text.try_cast("date")).otherwise(
            F.when(days.between(-719_162, 2_932_896), F.date_from_unix_date(days))
        )
    return text.try_cast(opts.SCHEMA_TYPES[type_])


def parse_records(raw: DataFrame, spec: Any, debezium: bool = False) -> DataFrame:
    """Parse ``value`` against ``spec`` (a ``SchemaSpec``); flag bad records with ``_reason``.

    Output: the schema's typed fields, ``op``, ``op_ts``, ``_source_position``, ``_source_ts``,
    ``_raw`` (bad records only), ``_reason`` (``;``-separated, null for good records), ``_skip``
    (Debezium tombstones) and the source columns.
    """
    value = F.col("value")
    blank = value.isNull() | (F.trim(value) == "")
    if debezium:
        # one JSON parse per record: the envelope with `before`/`after` as records of strings (any value's
        # text) and `source` as strings; `payload` holds the same when the converter has schemas.enable=true
        record_type = _loose(spec.names)
        change = [
            T.StructField("before", record_type),
            T.StructField("after", record_type),
            T.StructField("op", T.StringType()),
            T.StructField("ts_ms", T.StringType()),
            T.StructField("source", T.StructType([T.StructField(n, T.StringType()) for n in _SOURCE_FIELDS])),
        ]
        envelope = T.StructType(
            [T.StructField("payload", T.StructType(change)), *change, T.StructField(_CORRUPT, T.StringType())]
        )
        df = raw.withColumn("_env", F.from_json(value, envelope, _PARSE))
        inner = F.col("_env.payload").isNotNull()

        def pick(name: str) -> Column:
            return F.when(inner, F.col(f"_env.payload.{name}")).otherwise(F.col(f"_env.{name}"))

        df = df.select(
            "*",
            pick("op").alias("op"),
            pick("ts_ms").alias("_ts_ms"),
            pick("source").alias("_src"),
            (~blank & (F.col(f"_env.{_CORRUPT}").isNotNull() | F.col("_env").isNull())).alias(
                "_bad_envelope"
            ),
        )
        op = F.col("op")
        known = op.isin(*opts.DEBEZIUM_OPS)
        df = df.withColumn(
            "_rec",
            F.when(
                ~F.col("_bad_envelope") & known,
                F.when(op == opts.DELETE_OP, pick("before")).otherwise(pick("after")),
            ),
        )
        df = _with_position(df)
        envelope_checks = [
            (F.col("_bad_envelope"), "malformed_json"),
            (~blank & ~F.col("_bad_envelope") & op.isNull(), "debezium_missing_op"),
            (op.isNotNull() & ~known, "debezium_unknown_op"),
            (known & (op == opts.DELETE_OP) & F.col("_rec").isNull(), "debezium_missing_before"),
            (known & (op != opts.DELETE_OP) & F.col("_rec").isNull(), "debezium_missing_after"),
            (known & F.col("_bad_position"), "debezium_bad_position"),
        ]
        skip = blank  # tombstones follow deletes; they carry no row
        is_delete = op == opts.DELETE_OP
        record = F.col("_rec").isNotNull()
        malformed = F.lit(False)  # a `before`/`after` that is not an object makes the envelope malformed
    else:
        df = raw.select(
            "*",
            F.lit(None).cast("string").alias("op"),
            F.lit(None).cast("string").alias("_ts_ms"),
            F.when(~blank, value).alias("_record"),
            F.lit(None).cast("string").alias("_position"),
            F.lit(None).cast("string").alias("_src_ts_ms"),
        )
        df = df.withColumn("_rec", F.from_json(F.col("_record"), _loose(spec.names), _PARSE))
        envelope_checks = [(blank, "empty_record")]
        skip = F.lit(False)
        is_delete = F.lit(False)
        record = F.col("_record").isNotNull()
        malformed = record & (F.col("_rec").isNull() | F.col(f"_rec.{_CORRUPT}").isNotNull())
    # typed values in their own projection: each conversion runs once per row, however often it is checked
    df = df.select("*", *[_typed(F.col(f"_rec.{f.name}"), f.type).alias(f"_t_{f.name}") for f in spec.fields])
    parsed = record & ~malformed
    checks: list[tuple[Column, str]] = [*envelope_checks, (malformed, "malformed_json")]
    key = set(spec.key)
    for f in spec.fields:
        text, typed = F.col(f"_rec.{f.name}"), F.col(f"_t_{f.name}")
        if f.required:
            missing = (
                text.isNull() | (F.trim(text) == "")
                if f.type == "string"
                else typed.isNull() & (text.isNull() | (F.trim(text) == ""))
            )
            must = F.lit(True) if f.name in key else ~is_delete  # deletes only carry the key for sure
            checks.append((parsed & must & missing, f"missing_required:{f.name}"))
        if f.type != "string":
            present = (
                text.isNotNull() & ~(typed.isNull() & (F.trim(text) == ""))
                if f.required
                else text.isNotNull()
            )
            checks.append((parsed & present & typed.isNull(), f"type_mismatch:{f.name}"))
    any_bad = reduce(lambda a, b: a | b, [condition for condition, _ in checks])
    # the reason text is built for bad records only
    reasons = F.when(any_bad, F.concat_ws(";", *[F.when(c, F.lit(r)) for c, r in checks])).otherwise(
        F.lit("")
    )
    df = df.select("*", reasons.alias("_reasons"))
    bad = F.col("_reasons") != ""
    return df.select(
        *[F.col(f"_t_{f.name}").alias(f.name) for f in spec.fields],
        F.col("op"),
        _typed(F.col("_ts_ms"), "timestamp").alias("op_ts"),
        F.when(~bad, F.col("_position")).alias("_source_position"),
        _typed(F.col("_src_ts_ms"), "timestamp").alias("_source_ts"),
        *[F.col(c) for c in SOURCE_COLUMNS],
        F.when(bad, F.col("_reasons")).alias("_reason"),
        (skip & ~bad).alias("_skip"),
        F.when(bad, F.col("value")).alias("_raw"),  # kept for bad records only
    )


def _digits(text: Column, width: int) -> Column:
    """``text`` is a non-negative integer of at most ``width`` digits."""
    return text.rlike(f"^[0-9]{{1,{width}}}$")


def _with_position(df: DataFrame) -> DataFrame:
    """``_position`` (``_source_position``), ``_bad_position`` and ``_src_ts_ms`` from ``_src``.

    The Spark form of ``streaming_options.debezium_position`` (same layout, tested to agree).
    """
    src = F.col("_src")
    snapshot = F.lower(F.coalesce(src["snapshot"], F.lit("false"))).isin(*opts.SNAPSHOT_VALUES)
    phase = F.when(snapshot, F.lit("0")).otherwise(F.lit("1"))
    lsn, sequence = src["lsn"], src["sequence"]
    # sequence is '["<previous commit lsn>","<lsn>"]' or '[null,"<lsn>"]': its first element,
    # without a JSON parse
    first = F.regexp_extract(F.coalesce(sequence, F.lit("")), r'^\[\s*"?([^",\]\s]*)', 1)
    previous = F.when((first != "") & (first != "null"), first)
    number = F.regexp_extract(F.coalesce(src["file"], F.lit("")), r"\.([0-9]+)$", 1)
    pos, row = src["pos"], src["row"]
    is_pg = lsn.isNotNull()
    is_binlog = ~is_pg & src["file"].isNotNull() & pos.isNotNull()

    def pad(text: Column, width: int) -> Column:
        return F.lpad(F.coalesce(text, F.lit("0")), width, "0")

    pg = F.concat_ws("-", phase, pad(previous, 20), pad(lsn, 20), F.lit("0" * 10))
    binlog = F.concat_ws("-", phase, pad(number, 20), pad(pos, 20), pad(row, 10))
    bad = (is_pg & (~_digits(lsn, 20) | (previous.isNotNull() & ~_digits(previous, 20)))) | (
        is_binlog & (~_digits(number, 20) | ~_digits(pos, 20) | (row.isNotNull() & ~_digits(row, 10)))
    )
    return df.select(
        "*",
        F.when(is_pg, pg).when(is_binlog, binlog).alias("_position"),
        F.coalesce(bad, F.lit(False)).alias("_bad_position"),
        src["ts_ms"].alias("_src_ts_ms"),
    )


def add_ingest_columns(parsed: DataFrame) -> DataFrame:
    """``_ingested_at`` and ``ingest_date``: in a stream, ``current_timestamp()`` is the batch's
    timestamp, which the offset log keeps, so a replayed batch lands in the same partition."""
    return parsed.withColumn("_ingested_at", F.current_timestamp()).withColumn(
        "ingest_date", F.date_format(F.col("_ingested_at"), "yyyy-MM-dd")
    )


# ------------------------------------------------------------------------------------ writing
class BatchWriter:
    """The ``foreachBatch`` function: bronze + quarantine of one micro-batch, idempotent by batch id."""

    def __init__(self, config: Any, spec: Any) -> None:
        self.config = config
        self.spec = spec
        self.batches: list[dict[str, Any]] = []
        self._query_id: str | None = None
        self._replay_checked = False

    def query_id(self, spark: SparkSession) -> str:
        if self._query_id is None:
            text = read_text(spark, f"{self.config.checkpoint_path.rstrip('/')}/metadata") or "{}"
            self._query_id = str(json.loads(text).get("id") or "")
            if not self._query_id:
                raise RuntimeError(f"no query id in {self.config.checkpoint_path}/metadata")
        return self._query_id

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        batch = f"{batch_id:010d}-{self.query_id(df.sparkSession)[:8]}"
        df = df.withColumn("batch", F.lit(batch))
        bad = F.col("_reason").isNotNull()
        good = ~bad & ~F.col("_skip")
        # pass 1: bronze, counting every row on the way (no cache: the batch is read once for bronze)
        observation = Observation(f"lakeops_batch_{batch_id}_{uuid.uuid4().hex[:8]}")
        counted = df.observe(
            observation,
            F.count(F.lit(1)).alias("rows_in"),
            F.sum(bad.cast("long")).alias("quarantined"),
            F.sum(F.col("_skip").cast("long")).alias("skipped"),
            F.sum((good & F.col("op").isNotNull() & F.col("_source_position").isNull()).cast("long")).alias(
                "no_position"
            ),
            *[F.sum((good & (F.col("op") == op)).cast("long")).alias(f"op_{op}") for op in opts.DEBEZIUM_OPS],
        )
        columns = [*self.spec.names, *METADATA_COLUMNS, *PARTITION_COLUMNS]
        replayed = False
        if self.config.table_format == "delta":
            replayed = self._append_delta(counted.filter(good).select(*columns), batch_id, df.sparkSession)
        else:
            self._overwrite(counted.filter(good).select(*columns), self.config.bronze_path, "parquet")
        metrics = observation.get
        bronze_seconds = time.monotonic() - started
        rows_in, quarantined, skipped, no_position = (
            int(metrics.get(k) or 0) for k in ("rows_in", "quarantined", "skipped", "no_position")
        )
        ops = {op: int(metrics.get(f"op_{op}") or 0) for op in opts.DEBEZIUM_OPS}
        reasons: Counter[str] = Counter()
        if quarantined:  # pass 2, only when there is something to quarantine: the bad rows, cached
            rejected = (
                df.filter(bad)
                .select(*QUARANTINE_COLUMNS, *PARTITION_COLUMNS)
                .persist(StorageLevel.MEMORY_AND_DISK)
            )
            try:
                for row in rejected.groupBy("_reason").count().collect():
                    for one in row["_reason"].split(";"):
                        reasons[one] += row["count"]
                self._overwrite(rejected, self.config.quarantine_path, "json")
            finally:
                rejected.unpersist()
        self.batches.append(
            {
                "batch_id": batch_id,
                "partition": batch,
                "rows_in": rows_in,
                "rows_bronze": rows_in - quarantined - skipped,
                "rows_quarantined": quarantined,
                "rows_skipped": skipped,
                "rows_without_position": no_position,
                "quarantine_reasons": dict(reasons),
                "operations": {op: n for op, n in ops.items() if n},
                "seconds": round(time.monotonic() - started, 3),
                "bronze_seconds": round(bronze_seconds, 3),
                **({"replayed_commit": True} if replayed else {}),
            }
        )

    def _marker(self, spark: SparkSession, batch_id: int) -> str:
        return f"lakeops-stream {self.query_id(spark)} batch {batch_id}"

    def _append_delta(self, df: DataFrame, batch_id: int, spark: SparkSession) -> bool:
        """Append one batch to the Delta bronze as one commit; return whether it had committed already.

        Delta's idempotent writes (``txnAppId``/``txnVersion``) skip a batch whose transaction is in the
        log *without running the plan*, so the observed counts would never arrive: a replay (only the
        first batch of a run can be one) is found first by its commit's ``userMetadata`` and only
        counted (Spark's ``noop`` sink), never written twice.
        """
        marker = self._marker(spark, batch_id)
        if not self._replay_checked:
            self._replay_checked = True
            if _delta_commit_exists(spark, self.config.bronze_path, marker):
                df.write.format("noop").mode("overwrite").save()
                return True
        (
            df.write.format("delta")
            .mode("append")
            .option("txnAppId", self.query_id(spark))
            .option("txnVersion", str(batch_id))
            .option("userMetadata", marker)
            .partitionBy(*PARTITION_COLUMNS)
            .save(spark_path(self.config.bronze_path))
        )
        return False

    @staticmethod
    def _overwrite(df: DataFrame, path: str, fmt: str) -> None:
        # dynamic: replace only this batch's (ingest_date, batch) partition, atomically per partition
        (
            df.write.mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .partitionBy(*PARTITION_COLUMNS)
            .format(fmt)
            .save(path)
        )


# -------------------------------------------------------------------------------------- run
def _sql_path(path: str) -> str:
    return "delta.`" + spark_path(path).replace("`", "``") + "`"


def _delta_commit_exists(spark: SparkSession, path: str, marker: str, depth: int = 20) -> bool:
    """Whether one of the Delta table's last ``depth`` commits carries ``marker`` as its userMetadata."""
    if not is_delta_table(spark, path):
        return False
    rows = (
        spark.sql(f"DESCRIBE HISTORY {_sql_path(path)} LIMIT {int(depth)}").select("userMetadata").collect()
    )
    return any(r["userMetadata"] == marker for r in rows)


def is_delta_table(spark: SparkSession, path: str) -> bool:
    """Whether ``path`` holds a Delta table (a ``_delta_log`` folder)."""
    fs, p = _fs(spark, f"{spark_path(path).rstrip('/')}/_delta_log")
    return bool(fs.exists(p))


def _has_content(spark: SparkSession, path: str) -> bool:
    fs, p = _fs(spark, spark_path(path))
    if not fs.exists(p):
        return False
    return any(not s.getPath().getName().startswith((".", "_")) for s in fs.listStatus(p))


def check_bronze_format(spark: SparkSession, config: Any) -> None:
    """Refuse a bronze path that holds the other table format, before anything is written.

    :raises BronzeFormatError: a Delta log under a Parquet bronze, or plain files under a Delta bronze.
    """
    delta = is_delta_table(spark, config.bronze_path)
    if config.table_format == "parquet" and delta:
        raise BronzeFormatError(
            f"bronze_path {config.bronze_path} is a Delta table: use table_format='delta', or another "
            "bronze_path for a Parquet bronze"
        )
    if config.table_format == "delta" and not delta and _has_content(spark, config.bronze_path):
        raise BronzeFormatError(
            f"bronze_path {config.bronze_path} holds plain Parquet (no _delta_log): use "
            "table_format='parquet', convert it (CONVERT TO DELTA) or give another bronze_path"
        )


def check_fingerprint(spark: SparkSession, config: Any) -> None:
    """Refuse a checkpoint that belongs to another query; record this query's fingerprint if new."""
    current = config.fingerprint()
    text = read_text(spark, config.fingerprint_path)
    if text:
        diffs = opts.fingerprint_mismatches(json.loads(text), current)
        if diffs:
            raise CheckpointMismatchError(
                f"checkpoint {config.checkpoint_path} belongs to "
                f"another query (different {', '.join(diffs)}): "
                "use a new checkpoint location for a new query"
            )
        return
    write_text(spark, config.fingerprint_path, json.dumps(current, sort_keys=True))


def check_versions(spark: SparkSession, config: Any) -> None:
    """The running Spark satisfies ``SPARK_REQUIREMENT`` and the Kafka jars in ``spark.jars`` match it.

    The operator checks the worker's pyspark before it submits; this checks the Spark that really
    runs the app (a cluster may differ). Jars given some other way (``--packages``, the cluster's
    classpath) are not seen here.
    """
    opts.check_spark_version(spark.version, "the running Spark")
    if config.source != "kafka":
        return
    jars = opts.parse_jar_list(spark.sparkContext.getConf().get("spark.jars", ""))
    if any("spark-sql-kafka" in j for j in jars):
        for warning in opts.check_spark_kafka_jars(jars, spark.version, what="the running Spark"):
            print(f"kafka_customer_events: {warning}", file=sys.stderr)


def run(spark: SparkSession, config: Any) -> dict[str, Any]:
    """Run the stream described by ``config`` (a validated ``StreamConfig``); return the report."""
    config.validate()
    check_versions(spark, config)
    started = time.monotonic()
    spec = opts.load_schema_spec(resolve_local_file(config.schema_file))
    check_bronze_format(spark, config)
    check_fingerprint(spark, config)
    _, start_offsets = committed_offsets(spark, config.checkpoint_path)
    writer = BatchWriter(config, spec)
    stream = add_ingest_columns(parse_records(read_source(spark, config), spec, config.debezium))
    builder = stream.writeStream.foreachBatch(writer).option("checkpointLocation", config.checkpoint_path)
    if config.trigger == "availableNow":
        builder = builder.trigger(availableNow=True)
    else:
        builder = builder.trigger(processingTime=config.processing_time)
    query = builder.start()
    error: BaseException | None = None
    try:
        if config.trigger == "processingTime" and config.stop_after_seconds:
            query.awaitTermination(config.stop_after_seconds)
            query.stop()
        else:
            query.awaitTermination()
    except Exception as exc:
        error = exc
    finally:
        if query.isActive:
            query.stop()
    end_batch, end_offsets = committed_offsets(spark, config.checkpoint_path)
    report = _report(
        config,
        writer,
        str(query.id),
        str(query.runId),
        start_offsets,
        end_offsets,
        end_batch,
        time.monotonic() - started,
        error,
    )
    text = json.dumps(report, sort_keys=True, default=str)
    if config.report_path:
        write_text(spark, config.report_path, text)
    print(opts.REPORT_MARKER + text, flush=True)
    if error is not None:
        raise error
    return report


def _report(
    config: Any,
    writer: BatchWriter,
    query_id: str,
    run_id: str,
    start_offsets: Any,
    end_offsets: Any,
    end_batch: int | None,
    seconds: float,
    error: BaseException | None,
) -> dict[str, Any]:
    batches = writer.batches
    reasons: Counter[str] = Counter()
    ops: Counter[str] = Counter()
    for b in batches:
        reasons.update(b["quarantine_reasons"])
        ops.update(b["operations"])
    report: dict[str, Any] = {
        "status": "failed" if error is not None else "succeeded",
        "source": config.source,
        "topics": list(config.topics) if config.source == "kafka" else None,
        "landing_path": config.landing_path if config.source == "file" else None,
        "trigger": config.trigger,
        "query_id": query_id,
        "run_id": run_id,
        "batches": len(batches),
        "batch_ids": [b["batch_id"] for b in batches][-_MAX_BATCH_DETAILS:],
        "last_committed_batch": end_batch,
        "rows_in": sum(b["rows_in"] for b in batches),
        "rows_bronze": sum(b["rows_bronze"] for b in batches),
        "rows_quarantined": sum(b["rows_quarantined"] for b in batches),
        "rows_skipped": sum(b["rows_skipped"] for b in batches),
        "rows_without_position": sum(b["rows_without_position"] for b in batches),
        "quarantine_reasons": dict(sorted(reasons.items())),
        "operations": dict(sorted(ops.items())),
        "start_offsets": start_offsets,
        "end_offsets": end_offsets,
        "bronze_path": config.bronze_path,
        "table_format": config.table_format,
        "quarantine_path": config.quarantine_path,
        "checkpoint_path": config.checkpoint_path,
        "duration_seconds": round(seconds, 3),
        "batch_details": batches[-_MAX_BATCH_DETAILS:],
    }
    if error is not None:
        report["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:500] if str(error) else ''}"
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """spark-submit entry point; exit code 0 on success, 2 on a bad configuration, 1 on a failed stream."""
    try:
        config = opts.StreamConfig.from_args(argv)
    except ValueError as exc:
        print(f"kafka_customer_events: {exc}", file=sys.stderr)
        return 2
    spark = SparkSession.builder.appName("lakeops-kafka-customer-events").getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")  # ingest_date is a UTC date
    apply_s3a_credentials(spark)  # s3:// through S3A: the credentials come from the environment
    try:
        run(spark, config)
        return 0
    except (
        CheckpointMismatchError,
        BronzeFormatError,
        KafkaSourceUnavailableError,
        ValueError,
        FileNotFoundError,
    ) as exc:
        print(f"kafka_customer_events: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"kafka_customer_events: the stream failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
