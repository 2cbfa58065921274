"""Submit the Kafka -> bronze Structured Streaming app with checkpoints made safe for scheduled runs.

.. seealso:: ``docs/operators/spark_streaming.md``
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from airflow.sdk import BaseHook, BaseOperator

from airflow_provider_lakeops.exceptions import StreamingJobError
from airflow_provider_lakeops.spark_apps import app_path, apps_dir, build_py_files_zip, streaming_options
from airflow_provider_lakeops.utils import storage
from airflow_provider_lakeops.utils.lake import spark_lake_settings, validate_table_format

if TYPE_CHECKING:
    from types import ModuleType

    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_lakeops.utils.lake import SparkLakeSettings

__all__ = ["KafkaStreamingSubmitOperator", "find_spark_apps_dir", "load_streaming_options"]

#: Comma-separated ``spark.jars`` of Spark's Kafka source, used when ``jars`` is not given
#: (the local stack sets it to the jars ``make jvm-deps`` copied to ``build/jvm/spark-kafka/``).
KAFKA_JARS_ENV = "LAKEOPS_SPARK_KAFKA_JARS"
APP_FILE = "kafka_customer_events.py"
OPTIONS_FILE = "streaming_options.py"
DEFAULT_SCHEMA = "schemas/customer_event.json"


def find_spark_apps_dir() -> Path:
    """Deprecated: use :func:`airflow_provider_lakeops.spark_apps.apps_dir` (or ``app_path``)."""
    warnings.warn(
        "find_spark_apps_dir() is deprecated: use airflow_provider_lakeops.spark_apps.apps_dir()",
        DeprecationWarning,
        stacklevel=2,
    )
    return apps_dir()


def load_streaming_options(folder: Path | None = None) -> ModuleType:
    """Deprecated: ``import airflow_provider_lakeops.spark_apps.streaming_options`` (returned here;
    ``folder`` is ignored)."""
    warnings.warn(
        "load_streaming_options() is deprecated: import "
        "airflow_provider_lakeops.spark_apps.streaming_options",
        DeprecationWarning,
        stacklevel=2,
    )
    return streaming_options


def _jar_list(value: Any) -> list[str]:
    """A ``spark.jars`` value (comma-separated) as a list."""
    return [j.strip() for j in str(value or "").split(",") if j.strip()]


class _CheckpointFiles:
    """Reads and removes the small files the app keeps in its checkpoint folder (local or S3),
    through :mod:`airflow_provider_lakeops.utils.storage`.

    A local path must be reachable from the Airflow worker and from the Spark driver (true for
    client mode and for shared file systems); S3 goes through the amazon provider's ``S3Hook``.
    """

    def __init__(self, aws_conn_id: str | None) -> None:
        self.aws_conn_id = aws_conn_id
        self._s3: Any = None

    @staticmethod
    def check(name: str, uri: str) -> None:
        scheme = urlparse(uri).scheme
        if scheme in ("s3", "s3a", "s3n", "file") or (not scheme and uri.startswith("/")):
            return
        raise ValueError(
            f"{name} must be an absolute path, a file:// URI or an S3 URI (s3://bucket/key), got {uri!r}"
        )

    def _client(self, uri: str) -> Any:
        if self._s3 is None and urlparse(uri).scheme in storage.S3_SCHEMES:
            try:
                self._s3 = storage.s3_client(aws_conn_id=self.aws_conn_id)
            except ImportError as exc:
                raise ImportError(
                    "an S3 checkpoint needs the amazon provider: pip install "
                    "'airflow-provider-lakeops[amazon]'"
                ) from exc
        return self._s3

    def read(self, uri: str) -> str | None:
        return storage.read_text(uri, s3=self._client(uri))

    def has_folder(self, uri: str) -> bool:
        return storage.folder_exists(uri, s3=self._client(uri))

    def delete(self, uri: str) -> None:
        storage.delete_file(uri, s3=self._client(uri))  # locally with Hadoop's checksum, if any

    def has_content(self, uri: str) -> bool:
        """Whether the folder holds anything (on S3: any object; locally: a data file, by the one
        rule of :func:`~airflow_provider_lakeops.utils.storage.is_data_file`)."""
        if urlparse(uri).scheme in storage.S3_SCHEMES:
            return self.has_folder(uri)
        try:
            return bool(storage.list_data_files(storage.parse_location(uri, argument="bronze_path")))
        except FileNotFoundError:
            return False


class KafkaStreamingSubmitOperator(BaseOperator):
    """Land Kafka topics (or a JSON landing folder) in bronze Parquet or Delta with Spark Structured
    Streaming.

    Submits ``airflow_provider_lakeops/spark_apps/kafka_customer_events.py`` through the official
    ``SparkSubmitHook`` (composed, built when the task runs, so DAG parsing never imports the Spark
    provider's operator).
    Each run resumes from the checkpoint: with ``trigger="availableNow"`` (the default) it processes
    everything that arrived since the last run and stops; with ``"processingTime"`` it runs a
    long-lived stream. Bad records go to the quarantine path with their reason and source position.
    The app's JSON progress report is returned (XCom ``return_value``).

    ``table_format="delta"`` writes the bronze as a Delta table: each micro-batch is one Delta commit
    made idempotent by Delta's transaction ids (``txnAppId`` = the query, ``txnVersion`` = the batch),
    so readers never see a partial batch and a replayed batch is never appended twice. A bronze path
    holding the other format is refused before anything is submitted. ``s3://`` paths (bronze,
    quarantine, checkpoint) get their Spark settings from
    :func:`airflow_provider_lakeops.utils.lake.spark_lake_settings` (``aws_conn_id``'s endpoint and
    region as Spark properties, its credentials in the ``spark-submit`` environment only).

    Before anything is submitted the operator refuses a checkpoint that belongs to another query
    (different source, topics, landing folder, outputs or Debezium mode; Spark's guide calls such
    changes unpredictable), reading the fingerprint the app keeps at ``<checkpoint>/_lakeops/query.json``.

    Brokers and client security come from the Kafka provider's connection (type ``kafka``; extra
    ``{"bootstrap.servers": ..., "security.protocol": ..., "sasl.*": ...}``), read with
    ``BaseHook.get_connection`` (the Kafka provider need not be installed). They reach the app in a
    private file shipped with ``--files``, never on the command line.

    Spark's Kafka source comes from jars passed as ``spark.jars`` (``jars``, else the
    ``LAKEOPS_SPARK_KAFKA_JARS`` environment variable), never resolved with Ivy at run time. Before
    submitting, their version is checked against the Spark that will load them (``spark_version``,
    default the installed pyspark) and the app checks the running Spark again.

    :param bronze_path: output folder of the bronze Parquet (templated).
    :param checkpoint_path: the stream's checkpoint folder; one per query (templated).
    :param source: ``kafka`` (production) or ``file`` (a folder of JSON-lines files; local runs).
    :param topics: Kafka topics, a list or a comma-separated string (templated).
    :param landing_path: the JSON landing folder of the file source (templated).
    :param quarantine_path: folder for bad records; default ``<bronze_path>_quarantine`` (templated).
    :param kafka_conn_id: the Kafka provider's connection with ``bootstrap.servers``.
    :param kafka_options: extra non-secret ``kafka.*`` client options (templated); secrets belong in
        the connection's extra.
    :param starting_offsets: ``earliest`` (default), ``latest`` or JSON; used only by a new checkpoint
        (templated).
    :param max_offsets_per_trigger: cap of Kafka records per micro-batch (templated).
    :param max_files_per_trigger: cap of files per micro-batch, file source (templated).
    :param fail_on_data_loss: fail when Kafka offsets were deleted before they were read.
    :param isolation_level: ``read_committed`` (default: records of aborted transactions never land, open
        transactions are read once committed) or ``read_uncommitted`` (templated).
    :param debezium: unwrap Debezium's full change-event envelope (``op``, ``before``/``after``, ``ts_ms``; no
        ``ExtractNewRecordState`` transform on the connector); deletes land with ``op = 'd'``.
    :param trigger: ``availableNow`` or ``processingTime`` (templated).
    :param processing_time: the interval of ``processingTime``, e.g. ``"1 minute"`` (templated).
    :param stop_after_seconds: stop a ``processingTime`` stream after this many seconds.
    :param schema_path: the record schema file; default the bundled ``customer_event.json`` (templated).
    :param spark_conn_id: the Spark connection (master, deploy mode).
    :param jars: the jars of Spark's Kafka source (``spark-sql-kafka-0-10``, its token provider,
        ``kafka-clients``, ``commons-pool2``), a list or a comma-separated string of paths or URIs,
        passed as ``spark.jars``; default ``$LAKEOPS_SPARK_KAFKA_JARS`` (templated).
    :param spark_version: Spark version of the cluster, checked against the jars; default the
        installed pyspark's.
    :param kafka_package: instead of ``jars``: a Maven coordinate passed with ``--packages`` (Spark's
        Ivy resolves it at every submit: only where Ivy reaches a repository), or ``""`` when the
        cluster's classpath already has the Kafka source.
    :param scala_version: Scala version of the cluster's Spark (``2.13``).
    :param conf: extra Spark properties (templated).
    :param table_format: the bronze format, ``parquet`` (default) or ``delta`` (templated).
    :param aws_conn_id: the AWS connection of the lake: S3A settings and credentials for ``s3://``
        paths, and the operator's own reads of S3 checkpoints and reports.
    :param lake_jars: ``spark.jars`` of S3A and Delta (a list or a comma-separated string), merged with
        the Kafka jars; default ``$LAKEOPS_SPARK_LAKE_JARS``; ``""`` when the cluster has them (templated).
    :param openlineage_inject_parent_job_info: pass this task as the OpenLineage parent of the Spark
        job (``spark.openlineage.parent*`` properties, as the Spark provider does).
    :param openlineage_inject_transport_info: pass the OpenLineage transport to the Spark job too.
    :param submit_kwargs: more ``SparkSubmitHook`` arguments (``driver_memory``, ``keytab`` ...).
    :raises ValueError: a bad rendered value (``table_format`` included), no lake jars for ``s3://`` or
        Delta, or no / missing / mismatched Kafka jars (before any submit).
    :raises StreamingJobError: a checkpoint of another query, a bronze path of the other table
        format, a failed submit, or no report.
    """

    template_fields: Sequence[str] = (
        "bronze_path",
        "checkpoint_path",
        "quarantine_path",
        "topics",
        "landing_path",
        "kafka_options",
        "starting_offsets",
        "max_offsets_per_trigger",
        "max_files_per_trigger",
        "trigger",
        "processing_time",
        "schema_path",
        "conf",
        "jars",
        "isolation_level",
        "table_format",
        "lake_jars",
    )
    template_fields_renderers = {"conf": "json", "kafka_options": "json"}
    ui_color = "#fde2e4"

    def __init__(
        self,
        *,
        bronze_path: str,
        checkpoint_path: str,
        source: str = "kafka",
        topics: str | list[str] | None = None,
        landing_path: str | None = None,
        quarantine_path: str | None = None,
        kafka_conn_id: str = "kafka_default",
        kafka_options: dict[str, str] | None = None,
        starting_offsets: str = "earliest",
        max_offsets_per_trigger: int | str | None = None,
        max_files_per_trigger: int | str | None = None,
        fail_on_data_loss: bool = True,
        isolation_level: str = "read_committed",
        debezium: bool = False,
        trigger: str = "availableNow",
        processing_time: str | None = None,
        stop_after_seconds: float | None = None,
        schema_path: str | None = None,
        spark_conn_id: str = "spark_default",
        jars: str | list[str] | None = None,
        spark_version: str | None = None,
        kafka_package: str | None = None,
        scala_version: str = "2.13",
        conf: dict[str, Any] | None = None,
        aws_conn_id: str | None = "aws_default",
        table_format: str = "parquet",
        lake_jars: str | list[str] | None = None,
        openlineage_inject_parent_job_info: bool = True,
        openlineage_inject_transport_info: bool = False,
        submit_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if source not in ("kafka", "file"):
            raise ValueError(f"source must be 'kafka' or 'file', got {source!r}")
        if source == "kafka" and not topics:
            raise ValueError("topics is required when source='kafka'")
        if source == "file" and not landing_path:
            raise ValueError("landing_path is required when source='file'")
        reserved = {
            "application",
            "application_args",
            "conn_id",
            "files",
            "py_files",
            "packages",
            "jars",
            "name",
        }
        if jars and kafka_package is not None:
            raise ValueError("give either jars (spark.jars) or kafka_package (--packages), not both")
        clash = sorted(reserved & set(submit_kwargs or {}))
        if clash:
            raise ValueError(f"submit_kwargs cannot set {clash}: the operator sets them")
        self.bronze_path = bronze_path
        self.checkpoint_path = checkpoint_path
        self.source = source
        self.topics = topics
        self.landing_path = landing_path
        self.quarantine_path = quarantine_path
        self.kafka_conn_id = kafka_conn_id
        self.kafka_options = kafka_options or {}
        self.starting_offsets = starting_offsets
        self.max_offsets_per_trigger = max_offsets_per_trigger
        self.max_files_per_trigger = max_files_per_trigger
        self.fail_on_data_loss = fail_on_data_loss
        self.isolation_level = isolation_level
        self.debezium = debezium
        self.trigger = trigger
        self.processing_time = processing_time
        self.stop_after_seconds = stop_after_seconds
        self.schema_path = schema_path
        self.spark_conn_id = spark_conn_id
        self.jars = jars
        self.spark_version = spark_version
        self.kafka_package = kafka_package
        self.scala_version = scala_version
        self.conf = conf or {}
        self.aws_conn_id = aws_conn_id
        self.table_format = table_format
        self.lake_jars = lake_jars
        self.openlineage_inject_parent_job_info = openlineage_inject_parent_job_info
        self.openlineage_inject_transport_info = openlineage_inject_transport_info
        self.submit_kwargs = submit_kwargs or {}
        self._hook: SparkSubmitHook | None = None
        self._bootstrap: str | None = None
        self._report: dict[str, Any] | None = None
        self._schema_fields: list[tuple[str, str]] = []
        self._config: Any = None
        self._lake: SparkLakeSettings | None = None

    # ---------------------------------------------------------------- validation
    @staticmethod
    def _positive_int(name: str, value: int | str | None) -> int | None:
        if value is None or value == "":
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a positive integer, got {value!r}") from None
        if number < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        return number

    def build_config(self, opts: ModuleType, apps_dir: Path, report_path: str | None = None) -> Any:
        """The app's ``StreamConfig`` from the rendered fields, validated (``ValueError`` if bad)."""
        table_format = validate_table_format(self.table_format)
        topics = self.topics or ()
        if isinstance(topics, str):
            topics = [t.strip() for t in topics.split(",") if t.strip()]
        for name in ("bronze_path", "checkpoint_path", "quarantine_path", "landing_path"):
            value = getattr(self, name)
            if value:
                _CheckpointFiles.check(name, str(value))
        if self.source == "file" and not self.landing_path:
            raise ValueError("landing_path rendered empty: give the JSON landing folder")
        schema = str(self.schema_path or apps_dir / DEFAULT_SCHEMA)
        spec = opts.load_schema_spec(schema)
        self._schema_fields = [(f.name, f.spark_type) for f in spec.fields]
        config = opts.StreamConfig(
            source=self.source,
            bronze_path=str(self.bronze_path),
            checkpoint_path=str(self.checkpoint_path),
            quarantine_path=str(self.quarantine_path or ""),
            schema_file=schema,
            topics=tuple(str(t) for t in topics) if self.source == "kafka" else (),
            kafka_options_file="kafka-options.json" if self.source == "kafka" else None,
            starting_offsets=str(self.starting_offsets),
            max_offsets_per_trigger=self._positive_int(
                "max_offsets_per_trigger", self.max_offsets_per_trigger
            )
            if self.source == "kafka"
            else None,
            fail_on_data_loss=bool(self.fail_on_data_loss),
            isolation_level=str(self.isolation_level),
            landing_path=str(self.landing_path) if self.source == "file" else None,
            max_files_per_trigger=self._positive_int("max_files_per_trigger", self.max_files_per_trigger)
            if self.source == "file"
            else None,
            debezium=bool(self.debezium),
            trigger=str(self.trigger),
            processing_time=str(self.processing_time) if self.processing_time else None,
            stop_after_seconds=self.stop_after_seconds,
            report_path=report_path,
            table_format=table_format,
        )
        return config.validate()

    def kafka_client_options(self, opts: ModuleType) -> dict[str, str]:
        """``kafka.*`` options from the Kafka connection plus ``kafka_options``; secrets are masked."""
        from airflow.sdk.log import mask_secret

        conn = BaseHook.get_connection(self.kafka_conn_id)
        extra = conn.extra_dejson
        for key, value in extra.items():
            if opts.is_secret_option(str(key)) and value:
                mask_secret(str(value))
        bootstrap, options, ignored = opts.kafka_client_options_from_connection(extra)
        if ignored:
            self.log.info(
                "Kafka connection settings Spark manages itself, not passed: %s", ", ".join(ignored)
            )
        for key, value in (self.kafka_options or {}).items():
            if not str(key).startswith("kafka."):
                raise ValueError(f"kafka_options keys must start with 'kafka.', got {key!r}")
            if str(key) == "kafka.isolation.level":
                raise ValueError("set the isolation level with isolation_level, not kafka_options")
            if opts.is_secret_option(str(key)):
                raise ValueError(
                    f"kafka_options[{key!r}] looks secret: put it in the {self.kafka_conn_id!r} "
                    "connection's extra, never in a templated field"
                )
            options[str(key)] = str(value)
        for key, value in options.items():
            if opts.is_secret_option(key):
                mask_secret(value)
        self._bootstrap = bootstrap
        return options

    def log_source_options(self, opts: ModuleType, config: Any, client_options: dict[str, str]) -> None:
        """Build the Kafka source's option map as the app will (validating it) and log it, secrets hidden."""
        source = opts.kafka_source_options(
            client_options=client_options,
            topics=config.topics,
            starting_offsets=config.starting_offsets,
            max_offsets_per_trigger=config.max_offsets_per_trigger,
            fail_on_data_loss=config.fail_on_data_loss,
            isolation_level=config.isolation_level,
        )
        shown = {k: ("***" if opts.is_secret_option(k) else v) for k, v in sorted(source.items())}
        self.log.info("Kafka source options: %s", shown)

    def check_checkpoint(self, opts: ModuleType, config: Any) -> None:
        """Raise :class:`StreamingJobError` if the checkpoint belongs to another query."""
        files = _CheckpointFiles(self.aws_conn_id)
        stored = files.read(config.fingerprint_path)
        if stored is None:
            if files.has_folder(f"{config.checkpoint_path.rstrip('/')}/offsets"):
                self.log.warning(
                    "Checkpoint %s has no lakeops fingerprint (made outside lakeops): it is "
                    "adopted for this query",
                    config.checkpoint_path,
                )
            return
        try:
            recorded = json.loads(stored)
        except json.JSONDecodeError:
            raise StreamingJobError(
                f"{config.fingerprint_path} is not valid JSON: remove it or the checkpoint"
            ) from None
        diffs = opts.fingerprint_mismatches(recorded, config.fingerprint())
        if diffs:
            detail = "; ".join(
                f"{k}: checkpoint has {recorded.get(k)!r}, this task has {config.fingerprint().get(k)!r}"
                for k in diffs
            )
            raise StreamingJobError(
                f"checkpoint {config.checkpoint_path} belongs to another query ({detail}). Spark cannot "
                "resume it safely: use a new checkpoint_path for the new query"
            )

    def check_bronze_format(self, config: Any) -> None:
        """Raise :class:`StreamingJobError` if the bronze path holds the other table format."""
        files = _CheckpointFiles(self.aws_conn_id)
        bronze = config.bronze_path.rstrip("/")
        delta = files.has_folder(f"{bronze}/_delta_log")
        if config.table_format == "parquet" and delta:
            raise StreamingJobError(
                f"bronze_path {bronze} is a Delta table: use table_format='delta', or another bronze_path "
                "for a Parquet bronze"
            )
        if config.table_format == "delta" and not delta and files.has_content(bronze):
            raise StreamingJobError(
                f"bronze_path {bronze} holds plain Parquet (no _delta_log): use table_format='parquet', "
                "convert it (CONVERT TO DELTA) or give another bronze_path"
            )

    def lake_settings(self, config: Any) -> SparkLakeSettings:
        """The S3A/Delta Spark settings of the bronze, quarantine and checkpoint (``ValueError``: no jars)."""
        from airflow.sdk.log import mask_secret

        settings = spark_lake_settings(
            paths=[config.bronze_path, config.quarantine_path, config.checkpoint_path],
            table_format=config.table_format,
            aws_conn_id=self.aws_conn_id,
            jars=self.lake_jars,
        )
        for value in settings.env.values():
            mask_secret(value)
        return settings

    # -------------------------------------------------------------------- execute
    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        app = app_path(APP_FILE)
        opts = streaming_options
        checkpoint = str(self.checkpoint_path).rstrip("/")
        report_path = f"{checkpoint}/{opts.REPORT_DIR}/{uuid.uuid4().hex}.json"
        config = self.build_config(opts, apps_dir(), report_path)
        client_options = self.kafka_client_options(opts) if self.source == "kafka" else {}
        if client_options:
            self.log_source_options(opts, config, client_options)
        self._config = config
        jars, packages = self.kafka_source_jars(opts)
        self._lake = self.lake_settings(config)
        self.check_checkpoint(opts, config)
        self.check_bronze_format(config)

        workdir = Path(tempfile.mkdtemp(prefix="lakeops-streaming-"))
        try:
            files = [config.schema_file]
            if client_options:
                options_file = workdir / "kafka-options.json"
                fd = os.open(options_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(client_options, fh)
                config.kafka_options_file = str(options_file)
                files.append(str(options_file))
            py_files = build_py_files_zip(workdir)
            self._hook = self._make_hook(context, config, jars, packages, ",".join(files), str(py_files))
            self.log.info(
                "Submitting %s (%s source, trigger %s) -> %s (%s)",
                APP_FILE,
                config.source,
                config.trigger,
                config.bronze_path,
                config.table_format,
            )
            self._submit(app, config, report_path)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

        report = self._take_report(report_path)
        if report is None:
            raise StreamingJobError(f"the streaming app finished but wrote no report at {report_path}")
        self._report = report
        self.log.info(
            "Stream %s: %s batch(es), %s rows in, %s to bronze, "
            "%s quarantined %s, %s skipped; end offsets %s",
            report.get("query_id"),
            report.get("batches"),
            report.get("rows_in"),
            report.get("rows_bronze"),
            report.get("rows_quarantined"),
            report.get("quarantine_reasons") or "",
            report.get("rows_skipped"),
            json.dumps(report.get("end_offsets")),
        )
        self._emit_metrics(context, report, time.monotonic() - started)
        return report

    def kafka_source_jars(self, opts: ModuleType) -> tuple[list[str], str | None]:
        """``(spark.jars entries, --packages coordinate)`` for the Kafka source, version-checked.

        :raises ValueError: no jars, a missing jar file, or jars of another Spark release (the message
            names the installed pyspark and the jars' version).
        """
        if self.source != "kafka":
            return [], None
        if self.kafka_package is not None:  # explicit: Ivy at submit, or nothing (on the cluster already)
            return [], self.kafka_package or None
        jars = opts.parse_jar_list(self.jars) or opts.parse_jar_list(os.environ.get(KAFKA_JARS_ENV))
        if not jars:
            raise ValueError(
                "source='kafka' needs the jars of Spark's Kafka "
                "source: pass jars=[...] (the spark-sql-kafka-0-10 "
                "jars of your Spark; 'make jvm-deps' copies them "
                f"to build/jvm/spark-kafka/), set {KAFKA_JARS_ENV}, "
                "or kafka_package='' when the cluster already has them"
            )
        missing = [j for j in jars if "://" not in j and not Path(j).is_file()]
        if missing:
            raise ValueError(
                f"jars: {', '.join(missing)} do not exist (run 'make jvm-deps', or fix the paths)"
            )
        version, what = self.spark_version, "spark_version"
        if not version:
            try:
                from importlib.metadata import version as dist_version

                version, what = dist_version("pyspark"), "the installed pyspark"
            except Exception:
                raise ValueError(
                    "spark_version is required to check the Kafka jars "
                    "(pyspark is not installed on this worker)"
                ) from None
        for warning in opts.check_spark_kafka_jars(jars, str(version), self.scala_version, what=what):
            self.log.warning("%s", warning)
        return jars, None

    def _make_hook(
        self, context: Context, config: Any, jars: list[str], packages: str | None, files: str, py_files: str
    ) -> SparkSubmitHook:
        from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

        lake = self._lake.conf if self._lake is not None else {}
        conf = {**lake, **{str(k): v for k, v in self.conf.items()}}  # the user's properties win
        # spark.jars: the same as --jars; the user's, the Kafka source's and the lake's, merged
        merged = [*_jar_list(self.conf.get("spark.jars")), *jars, *_jar_list(lake.get("spark.jars"))]
        if merged:
            conf["spark.jars"] = ",".join(dict.fromkeys(merged))
        if self.openlineage_inject_parent_job_info and context.get("ti") is not None:
            from airflow.providers.common.compat.openlineage.utils.spark import (
                inject_parent_job_information_into_spark_properties,
            )

            conf = inject_parent_job_information_into_spark_properties(conf, context)
        if self.openlineage_inject_transport_info and context.get("ti") is not None:
            from airflow.providers.common.compat.openlineage.utils.spark import (
                inject_transport_information_into_spark_properties,
            )

            conf = inject_transport_information_into_spark_properties(conf, context)
        return SparkSubmitHook(
            conf=conf,
            conn_id=self.spark_conn_id,
            files=files,
            py_files=py_files,
            packages=packages,
            name=f"lakeops-{self.dag_id}-{self.task_id}" if self.has_dag() else f"lakeops-{self.task_id}",
            application_args=config.to_args(),
            **self.submit_kwargs,
        )

    def _submit(self, app: Path, config: Any, report_path: str) -> None:
        from airflow.providers.common.compat.sdk import AirflowException

        if self._hook is None:
            raise RuntimeError("the Spark hook was not built")
        env = dict(os.environ, **self._lake.env) if self._lake is not None and self._lake.env else None
        try:
            self._hook.submit(str(app), **({"env": env} if env is not None else {}))
        except AirflowException as exc:
            if type(exc) is not AirflowException:  # timeouts and skips keep their meaning
                raise
            report = self._take_report(report_path)
            cause = f" The app reported: {report['error']}" if report and report.get("error") else ""
            raise StreamingJobError(f"the streaming job failed.{cause} {exc}") from exc

    def _take_report(self, report_path: str) -> dict[str, Any] | None:
        files = _CheckpointFiles(self.aws_conn_id)
        text = files.read(report_path)
        if text is None:
            return None
        files.delete(report_path)
        report: dict[str, Any] = json.loads(text)
        return report

    def _emit_metrics(self, context: Context, report: dict[str, Any], seconds: float) -> None:
        from airflow_provider_lakeops.notifications.metrics import emit_operator_metrics

        emit_operator_metrics(
            self,
            context,
            {
                "batches": float(report.get("batches") or 0),
                "rows_in": float(report.get("rows_in") or 0),
                "rows_bronze": float(report.get("rows_bronze") or 0),
                "rows_quarantined": float(report.get("rows_quarantined") or 0),
                "duration_seconds": round(seconds, 3),
            },
        )

    def on_kill(self) -> None:
        if self._hook is not None:
            self._hook.on_kill()

    # -------------------------------------------------------------------- lineage
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Inputs: the Kafka topics (or the landing folder); outputs: bronze and quarantine."""
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import OutputDataset
        from openlineage.client.facet_v2 import output_statistics_output_dataset as stats
        from openlineage.client.facet_v2 import schema_dataset

        from airflow_provider_lakeops.lineage.naming import kafka_dataset, location_dataset

        if self.source == "kafka":
            if not self._bootstrap:
                return OperatorLineage()
            topics = self.topics if isinstance(self.topics, list) else str(self.topics or "").split(",")
            inputs = [kafka_dataset(self._bootstrap, t.strip()).to_openlineage() for t in topics if t.strip()]
        else:
            inputs = [location_dataset(str(self.landing_path)).to_openlineage()]
        report = self._report or {}
        fields = [
            *self._schema_fields,
            ("op", "string"),
            ("op_ts", "timestamp"),
            ("_source_position", "string"),
            ("_source_ts", "timestamp"),
            ("_ingested_at", "timestamp"),
            ("_kafka_topic", "string"),
            ("_kafka_partition", "int"),
            ("_kafka_offset", "bigint"),
            ("_kafka_timestamp", "timestamp"),
            ("_source_file", "string"),
            ("_source_file_ts", "timestamp"),
            ("ingest_date", "string"),
            ("batch", "string"),
        ]
        schema = schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in fields]
        )
        quarantine = (
            self._config.quarantine_path
            if self._config is not None
            else str(self.quarantine_path or f"{str(self.bronze_path).rstrip('/')}_quarantine")
        )
        outputs = []
        for path, rows, with_schema in (
            (str(self.bronze_path), report.get("rows_bronze"), True),
            (quarantine, report.get("rows_quarantined"), False),
        ):
            name = location_dataset(path)
            facets: dict[str, Any] = {"schema": schema} if with_schema else {}
            output_facets: dict[str, Any] = (
                {}
                if rows is None
                else {"outputStatistics": stats.OutputStatisticsOutputDatasetFacet(rowCount=int(rows))}
            )
            outputs.append(
                OutputDataset(
                    namespace=name.namespace, name=name.name, facets=facets, outputFacets=output_facets
                )
            )
        return OperatorLineage(inputs=inputs, outputs=outputs)
