"""A data-quality gate on Great Expectations 1.x that fails fast, never leaks PII and emits lineage.

:class:`GXValidateOperator` validates files (Parquet, CSV, JSON lines; local or S3 through the
amazon provider's ``S3Hook``) or a Delta table (read through its log) with GX's pandas or Spark
engine (which reads ``s3://`` with the lake's S3A settings), or a table / query behind any
Airflow SQL connection inside the database (GX's SQL datasource built from the connection's own
hook). Expectations come from a YAML/JSON suite file or an inline list, each with a severity:
``error`` fails the task, ``warn`` only reports.

Great Expectations takes seconds to import: it is imported inside :meth:`execute` only.

.. seealso:: ``docs/operators/great_expectations.md``
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator, BaseOperatorLink

from airflow_provider_lakeops.operators._gx.context import ephemeral_context, import_gx, run_time
from airflow_provider_lakeops.operators._gx.docs import build_data_docs, result_document
from airflow_provider_lakeops.operators._gx.templates import (
    FileTemplate,
    TextTemplate,
    as_bool,
    needs_own_loader,
)

if TYPE_CHECKING:
    import jinja2
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

    from airflow_provider_lakeops.lineage.naming import DatasetName
    from airflow_provider_lakeops.operators._gx.results import ValidationOutcome
    from airflow_provider_lakeops.operators._gx.sources import FileSource
    from airflow_provider_lakeops.operators._gx.sql import SqlSource
    from airflow_provider_lakeops.operators._gx.suite import SuiteSpec

__all__ = ["DATA_DOCS_XCOM_KEY", "GXDataDocsLink", "GXValidateOperator"]

DATA_DOCS_XCOM_KEY = "gx_data_docs_url"
ON_FAILURE = ("fail", "warn", "skip")
ENGINES = ("pandas", "spark")
MAX_SAMPLES = 20
_FILE_FIELDS = ("suite", "sql")
_SUITE_EXTENSIONS = (".yaml", ".yml", ".json")


class GXDataDocsLink(BaseOperatorLink):
    """Extra link to the GX Data Docs page built by :class:`GXValidateOperator` (``data_docs_dir``)."""

    name = "GX Data Docs"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        url = getattr(operator, "_data_docs_url", None)
        if url:
            return str(url)
        from airflow.sdk.execution_time.xcom import XCom

        return str(XCom.get_value(ti_key=ti_key, key=DATA_DOCS_XCOM_KEY) or "")


class GXValidateOperator(BaseOperator):
    """Validate a data set with Great Expectations 1.x and gate the pipeline on the outcome.

    Give exactly one data source: ``data_path`` (files) or ``conn_id`` with ``table`` or ``sql``;
    and exactly one of ``suite`` or ``expectations``. The suite is checked (types, arguments,
    columns) before any data is read. The result format is GX's ``SUMMARY`` with
    ``partial_unexpected_count=unexpected_samples`` (0 by default: counts and percentages, no values).

    :param suite: a suite file (``.yaml``/``.yml``/``.json``; relative to the DAG folder or
        absolute), YAML/JSON text, or a mapping (templated, file contents too).
    :param expectations: an inline list of expectation mappings instead of ``suite``.
    :param suite_name: the suite's name when the suite does not give one (default: the task id).
    :param data_path: a file, folder, glob or ``s3://`` URI of Parquet / CSV / JSON-lines files, or a
        Delta table's root (templated).
    :param data_format: ``parquet``, ``csv``, ``jsonl`` or ``delta``; empty = infer from the extensions
        (``delta`` when ``data_path`` is a Delta table) (templated). A Delta table (or one of its
        partition folders) is never read as Parquet: its folder keeps files the log removed.
    :param data_partitions: with ``delta``: ``{partition column: value}`` (a list of values means any
        of them), e.g. ``{"dt": "{{ ds }}"}``; pushed down to delta-rs / Spark (templated).
    :param read_options: reader options (CSV ``delimiter``/``quote_char``; Spark reader options).
    :param aws_conn_id: AWS connection for ``s3://`` data and results (the amazon provider's ``S3Hook``).
    :param conn_id: an Airflow SQL connection (Snowflake, Postgres, SQLite, ...) (templated).
    :param table: the table to validate, ``table`` or ``schema.table`` (templated).
    :param schema: the table's schema when not part of ``table`` (templated).
    :param sql: a query to validate (templated; ``.sql`` files are read as templates).
    :param engine: ``pandas`` (default) or ``spark`` for files too big for pandas.
    :param spark_conn_id: Spark connection whose master a new SparkSession uses (an active one is
        reused, with the S3A settings of ``aws_conn_id`` added to its Hadoop configuration).
    :param lake_jars: ``spark.jars`` (S3A, Delta) of a new SparkSession reading ``s3://`` or Delta;
        default ``$LAKEOPS_SPARK_LAKE_JARS``, ``""`` when the cluster already has them.
    :param on_failure: ``fail`` (default; ``AirflowFailException``), ``warn`` (log and succeed) or
        ``skip`` (``AirflowSkipException``: downstream tasks are skipped).
    :param result_location: a folder (``{suite}.json`` is written in it) or ``.json`` path, local
        or ``s3://``, for the full PII-safe result (templated). Overwritten on rerun.
    :param data_docs_dir: a local folder to build GX Data Docs into; exposed as the
        "GX Data Docs" extra link (templated).
    :param unexpected_samples: number of sample failing values to report, 0..20, each masked to
        its shape (letters -> ``x``, digits -> ``9``). Default 0.
    :param expose_observed_values: report observed values (min, max, ...) that may be raw data.
        Off by default: only counts, proportions and column names are reported.
    :param fail_on_warn: treat failed ``warn`` expectations as blocking too (templated, e.g.
        ``"{{ params.fail_on_warn }}"``; ``true``/``false`` strings are accepted).
    :raises AirflowFailException: an ``error`` expectation failed or raised (``on_failure='fail'``).
    :raises ValueError: a bad argument, an invalid suite or a column missing from the data.

    .. seealso:: ``docs/operators/great_expectations.md``
    """

    template_fields: Sequence[str] = (
        "suite",
        "data_path",
        "data_format",
        "data_partitions",
        "conn_id",
        "table",
        "schema",
        "sql",
        "result_location",
        "data_docs_dir",
        "fail_on_warn",
    )
    template_ext: Sequence[str] = (".sql", ".yaml", ".yml", ".json")
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "suite": "yaml",
        "sql": "sql",
        "data_partitions": "json",
    }
    operator_extra_links = (GXDataDocsLink(),)
    ui_color = "#ff6f4a"

    def __init__(
        self,
        *,
        suite: str | Mapping[str, Any] | None = None,
        expectations: Sequence[Mapping[str, Any]] | None = None,
        suite_name: str | None = None,
        data_path: str | None = None,
        data_format: str | None = None,
        data_partitions: Mapping[str, Any] | None = None,
        read_options: Mapping[str, Any] | None = None,
        aws_conn_id: str | None = "aws_default",
        conn_id: str | None = None,
        table: str | None = None,
        schema: str | None = None,
        sql: str | None = None,
        engine: str = "pandas",
        spark_conn_id: str | None = "spark_default",
        lake_jars: str | Sequence[str] | None = None,
        on_failure: str = "fail",
        result_location: str | None = None,
        data_docs_dir: str | None = None,
        unexpected_samples: int = 0,
        expose_observed_values: bool = False,
        fail_on_warn: bool | str = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (suite is None) == (expectations is None):
            raise ValueError("give exactly one of suite (a file, text or mapping) or expectations (a list)")
        if expectations is not None and (
            isinstance(expectations, (str, bytes, Mapping)) or not isinstance(expectations, Sequence)
        ):
            raise TypeError("expectations must be a list of mappings; use suite= for a file or text")
        if (data_path is None) == (conn_id is None):
            raise ValueError("give exactly one data source: data_path (files) or conn_id (+ table or sql)")
        if conn_id is not None and (table is None) == (sql is None):
            raise ValueError("with conn_id give exactly one of table or sql")
        if conn_id is None and (table is not None or sql is not None or schema is not None):
            raise ValueError("table, schema and sql need conn_id (a SQL connection)")
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if engine == "spark" and data_path is None:
            raise ValueError(
                "engine='spark' validates files: give data_path (SQL is validated in the database)"
            )
        if on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure must be one of {', '.join(ON_FAILURE)}, got {on_failure!r}")
        if (
            isinstance(unexpected_samples, bool)
            or not isinstance(unexpected_samples, int)
            or not 0 <= unexpected_samples <= MAX_SAMPLES
        ):
            raise ValueError(
                f"unexpected_samples must be an int in 0..{MAX_SAMPLES}, got {unexpected_samples!r}"
            )
        if data_partitions is not None and data_path is None:
            raise ValueError(
                "data_partitions filters a Delta table: give data_path (and data_format='delta')"
            )
        if read_options is not None and not isinstance(read_options, Mapping):
            raise TypeError("read_options must be a mapping")
        self.suite = suite
        self.expectations = expectations
        self.suite_name = suite_name
        self.data_path = data_path
        self.data_format = data_format
        self.data_partitions = data_partitions
        self.read_options = dict(read_options or {})
        self.aws_conn_id = aws_conn_id
        self.conn_id = conn_id
        self.table = table
        self.schema = schema
        self.sql = sql
        self.engine = engine
        self.spark_conn_id = spark_conn_id
        self.lake_jars = lake_jars
        self.on_failure = on_failure
        self.result_location = result_location
        self.data_docs_dir = data_docs_dir
        self.unexpected_samples = unexpected_samples
        self.expose_observed_values = expose_observed_values
        self.fail_on_warn = fail_on_warn
        self._suite_source = (
            suite if isinstance(suite, str) and suite.endswith(_SUITE_EXTENSIONS) else "(inline)"
        )
        self._fail_on_warn = False
        self._outcome: ValidationOutcome | None = None
        self._datasets: list[DatasetName] = []
        self._data_docs_url: str | None = None

    # ------------------------------------------------------------ templating
    def resolve_template_files(self) -> None:
        """Read template files for ``suite`` and ``sql`` only; locations are never template files."""
        exts = tuple(self.template_ext)
        for name in _FILE_FIELDS:
            value = getattr(self, name, None)
            if isinstance(value, str) and value.endswith(exts) and not needs_own_loader(value):
                env = self.get_template_env()
                try:
                    setattr(self, name, env.loader.get_source(env, value)[0])  # type: ignore[union-attr]
                except Exception as exc:  # left as a path: reported clearly at render time
                    self.log.debug("Template file %r for %s not loaded at parse time: %s", value, name, exc)
        self.prepare_template()

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        env = jinja_env or self.get_template_env()
        exts = tuple(self.template_ext)
        for name in self.template_fields:
            value = getattr(self, name, None)
            if not isinstance(value, str) or not value.endswith(exts):
                continue
            if name not in _FILE_FIELDS:
                setattr(self, name, TextTemplate(value, env))
            elif needs_own_loader(value):
                setattr(self, name, FileTemplate(value, env))
        super().render_template_fields(context, env)

    # --------------------------------------------------------------- checks
    def _make_source(self) -> FileSource | SqlSource:
        from airflow_provider_lakeops.operators._gx.sources import FileSource
        from airflow_provider_lakeops.operators._gx.sql import SqlSource

        source: FileSource | SqlSource
        if self.data_path is not None:
            source = FileSource(
                str(self.data_path),
                str(self.data_format) if self.data_format else None,
                engine=self.engine,
                aws_conn_id=self.aws_conn_id,
                read_options=self.read_options,
                spark_conn_id=self.spark_conn_id,
                app_name=f"lakeops-gx-{self.task_id}",
                partitions=self.data_partitions,
                lake_jars=self.lake_jars,
            )
        else:
            source = SqlSource(
                str(self.conn_id),
                table=None if self.table is None else str(self.table),
                schema=str(self.schema) if self.schema else None,
                sql=None if self.sql is None else str(self.sql),
            )
        source.check()
        self._fail_on_warn = as_bool("fail_on_warn", self.fail_on_warn)
        for name in ("result_location", "data_docs_dir"):
            value = getattr(self, name)
            if value is not None and not str(value).strip():
                raise ValueError(f"{name} is empty after templating: give a folder (or None)")
        if (
            self.data_docs_dir is not None
            and "://" in str(self.data_docs_dir)
            and not str(self.data_docs_dir).startswith("file://")
        ):
            raise ValueError(
                "data_docs_dir must be a local folder (Data Docs are static HTML; sync it to a "
                "bucket afterwards if you serve them from one)"
            )
        return source

    def _load_suite(self) -> SuiteSpec:
        from airflow_provider_lakeops.operators._gx.suite import parse_suite

        name = self.suite_name or self.task_id.replace(".", "_")
        if self.expectations is not None:
            return parse_suite(list(self.expectations), default_name=name, source="(inline)")
        suite = self.suite
        if isinstance(suite, str) and "\n" not in suite.strip() and suite.strip().endswith(_SUITE_EXTENSIONS):
            path = Path(suite.strip())  # a relative path the template loader did not find
            raise FileNotFoundError(
                f"suite file {str(path)!r} was not found (relative paths are looked up in "
                f"the DAG folder and template_searchpath; or give an absolute path)"
            )
        return parse_suite(suite, default_name=name, source=self._suite_source)

    # --------------------------------------------------------------- execute
    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        source = self._make_source()
        suite = self._load_suite()
        self.log.info(
            "Validating %s against suite %r (%d expectations, on_failure=%s)",
            source.describe(),
            suite.name,
            len(suite.expectations),
            self.on_failure,
        )
        gx = import_gx(self.log)
        from great_expectations.core.run_identifier import RunIdentifier

        from airflow_provider_lakeops.operators._gx.publish import result_target, write_result
        from airflow_provider_lakeops.operators._gx.results import bounded_summary, outcome_from_gx
        from airflow_provider_lakeops.operators._gx.suite import build_gx_suite, check_columns

        gx_context = ephemeral_context(gx)
        gx_suite = build_gx_suite(gx_context, suite)  # unknown types / bad arguments: before any data is read
        with tempfile.TemporaryDirectory(prefix="lakeops-gx-") as workdir:
            try:
                source.prepare(Path(workdir))
                self._mask_source_secrets(source)
                self._datasets = source.datasets()
                check_columns(suite, source.columns(), case_sensitive=source.kind != "sql")
                data = source.load()
                batch_definition, batch_parameters = source.add_batch(gx_context, "lakeops", data)
                validation = gx_context.validation_definitions.add(
                    gx.ValidationDefinition(
                        name=f"{suite.name}_validation", data=batch_definition, suite=gx_suite
                    )
                )
                run_id = str(context.get("run_id") or "manual")
                result = validation.run(
                    batch_parameters=batch_parameters,
                    result_format={
                        "result_format": "SUMMARY",
                        "partial_unexpected_count": self.unexpected_samples,
                    },
                    run_id=RunIdentifier(run_name=run_id, run_time=run_time(context)),
                )
                del data
            finally:
                source.close()
        secrets = getattr(getattr(source, "target", None), "secrets", ())
        outcome = outcome_from_gx(
            result,
            suite,
            samples=self.unexpected_samples,
            expose_observed=self.expose_observed_values,
            secrets=secrets,
        )
        outcome.rows, outcome.files, outcome.bytes = source.stats.rows, source.stats.files, source.stats.bytes
        outcome.fail_on_warn = self._fail_on_warn
        self._outcome = outcome
        source_info = {"kind": source.kind, "description": source.describe()}
        if self.data_docs_dir:
            self._publish_data_docs(context, gx_context, result, outcome)
        if self.result_location:
            outcome.result_location = result_target(str(self.result_location), suite.name)
            document = {
                "lakeops": outcome.full_summary(run_id, source_info),
                "gx_result": result_document(result),
            }
            write_result(outcome.result_location, document, aws_conn_id=self.aws_conn_id)
            self.log.info("Full validation result written to %s", outcome.result_location)
        summary = bounded_summary(outcome.full_summary(run_id, source_info))
        self._emit_metrics(context, outcome, time.monotonic() - started)
        return self._decide(context, outcome, summary)

    def _publish_data_docs(
        self, context: Context, gx_context: Any, result: Any, outcome: ValidationOutcome
    ) -> None:
        """Build Data Docs of the sanitised result; a rendering problem never hides the validation outcome."""
        folder = os.path.abspath(str(self.data_docs_dir).removeprefix("file://"))
        try:
            outcome.data_docs_url = self._data_docs_url = build_data_docs(gx_context, result, folder)
        except Exception as exc:
            self.log.warning(
                "GX Data Docs could not be built in %s (%s); the validation result stands",
                folder,
                type(exc).__name__,
            )
            return
        if self.do_xcom_push:
            context["ti"].xcom_push(key=DATA_DOCS_XCOM_KEY, value=outcome.data_docs_url)
        self.log.info("GX Data Docs: %s", outcome.data_docs_url)

    def _mask_source_secrets(self, source: FileSource | SqlSource) -> None:
        target = getattr(source, "target", None)
        if target is not None:
            from airflow.sdk.log import mask_secret

            mask_secret(target.url)
            for secret in target.secrets:
                mask_secret(secret)

    def _decide(
        self, context: Context, outcome: ValidationOutcome, summary: dict[str, Any]
    ) -> dict[str, Any]:
        message = outcome.message()
        if outcome.passed:
            (self.log.warning if outcome.failed_warnings else self.log.info)("%s", message)
            return summary
        if self.on_failure == "warn":
            self.log.warning("%s\n(on_failure='warn': the task succeeds)", message)
            return summary
        if self.do_xcom_push:
            context["ti"].xcom_push(key="return_value", value=summary)
        headline = message.splitlines()[0]
        if self.on_failure == "skip":
            from airflow.sdk.exceptions import AirflowSkipException

            self.log.warning("%s", message)
            raise AirflowSkipException(f"{headline} (on_failure='skip': downstream tasks are skipped)")
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_lakeops.exceptions import DataQualityError

        cause = DataQualityError(
            message,
            failed=[e.to_dict(details=False) for e in outcome.blocking],
            statistics=outcome.statistics(),
            result_location=outcome.result_location,
        )
        raise AirflowFailException(message) from cause

    def _emit_metrics(self, context: Context, outcome: ValidationOutcome, seconds: float) -> None:
        from airflow_provider_lakeops.notifications.metrics import emit_operator_metrics

        stats = outcome.statistics()
        metrics: dict[str, float] = {
            "dq_expectations_evaluated": stats["evaluated"],
            "dq_expectations_failed_error": stats["failed_error"],
            "dq_expectations_failed_warn": stats["failed_warn"],
            "dq_execution_errors": stats["execution_errors"],
            "dq_success_percent": stats["success_percent"],
            "dq_success": 1.0 if outcome.passed else 0.0,
            "duration_seconds": round(seconds, 3),
        }
        rows = outcome.row_count()
        if rows is not None:
            metrics["rows_validated"] = rows
        emit_operator_metrics(self, context, metrics)

    # --------------------------------------------------------------- lineage
    def _lineage(self) -> OperatorLineage:
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_lakeops.operators._gx.publish import lineage_inputs

        if self._outcome is not None and self._datasets:
            return OperatorLineage(inputs=lineage_inputs(self._datasets, self._outcome))
        return OperatorLineage(inputs=[d.to_openlineage() for d in self._datasets])

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The validated data set as input, with data-quality assertions and metrics facets."""
        return self._lineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """As on complete: a failed gate reports which assertions failed."""
        return self._lineage()
