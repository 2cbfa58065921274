"""MERGE the CDC changes of a bronze table into a silver Delta table: :class:`DeltaMergeOperator`.

The MERGE is the Spark job ``airflow_provider_lakeops/spark_apps/delta_merge_job.py`` (Delta SQL ``MERGE
INTO``), submitted with the official ``SparkSubmitHook`` built in ``execute`` (the ``SparkSubmitOperator``
module is not imported: it would add ~480 ms to every DAG parse). The settings are validated here with the
job's own pure-Python :class:`~airflow_provider_lakeops.spark_apps.delta_merge_job.MergeConfig` before
anything is submitted.

.. seealso:: ``docs/operators/delta_merge.md``
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_lakeops._compat import AirflowFailException
from airflow_provider_lakeops.exceptions import MergeError
from airflow_provider_lakeops.spark_apps import app_path, build_py_files_zip
from airflow_provider_lakeops.spark_apps.delta_merge_job import CDC_METADATA_COLUMNS, MergeConfig
from airflow_provider_lakeops.utils.lake import spark_lake_settings

if TYPE_CHECKING:
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_lakeops.utils.lake import SparkLakeSettings

__all__ = ["CDC_METADATA_COLUMNS", "DeltaMergeFailure", "DeltaMergeOperator"]

_JOB_FILE = "delta_merge_job.py"


class DeltaMergeFailure(MergeError, AirflowFailException):
    """The bronze cannot be merged as it is (ties, nulls, missing columns, a target of another format):
    a :class:`MergeError` that also fails the task without retries (the same input fails the same way).
    Silver is left unchanged."""


def _jar_list(value: Any) -> list[str]:
    return [j.strip() for j in str(value or "").split(",") if j.strip()]


class DeltaMergeOperator(BaseOperator):
    """MERGE the latest CDC change per key of a bronze table (Delta or Parquet) into a silver Delta table.

    Every run reads the whole bronze; per key the change with the greatest ``ordering_columns`` (then
    ``tie_breaker``) wins; a delete (``delete_column`` in ``delete_values``) removes the row; a change
    that is not newer than the silver row changes nothing, so a rerun over the same bronze reports
    0/0/0 and writes no silver version, and a replayed old change cannot resurrect a deleted row (the
    delete that follows it is in bronze too). Two *different* changes of one key with the same ordering
    values are refused (the winner would be arbitrary) unless ``tie_breaker`` orders them; identical
    copies of one change are one change. The first run creates silver: the bronze columns minus
    ``exclude_columns`` (by default the streaming app's CDC metadata; the ordering columns stay).

    ``s3://`` paths and Delta get their Spark settings from
    :func:`airflow_provider_lakeops.utils.lake.spark_lake_settings` (endpoint and region as Spark
    properties, credentials only in the ``spark-submit`` environment); the job reads them with
    ``apply_s3a_credentials``. The run report comes back through a local file, so the driver runs where
    ``spark-submit`` runs (client deploy mode).

    :param source_path: the bronze table, ``s3://...`` or an absolute path (templated).
    :param target_path: the silver Delta table (templated).
    :param keys: the key columns (templated).
    :param ordering_columns: the columns that order the changes of a key, e.g. ``["_source_position"]``
        (templated).
    :param source_format: ``delta`` (default) or ``parquet`` (templated).
    :param tie_breaker: more ordering columns used only to rank changes whose ``ordering_columns`` are
        equal, e.g. ``["_kafka_offset"]`` (templated).
    :param delete_column: the column that marks a delete (``op`` in the streaming bronze); ``None``: no
        deletes (templated).
    :param delete_values: the values of ``delete_column`` that mean delete (``["d"]``: Debezium) (templated).
    :param exclude_columns: bronze columns silver does not keep; default
        :data:`~airflow_provider_lakeops.spark_apps.delta_merge_job.CDC_METADATA_COLUMNS` (templated).
    :param aws_conn_id: the AWS connection of the lake.
    :param lake_jars: ``spark.jars`` of S3A and Delta; default ``$LAKEOPS_SPARK_LAKE_JARS`` (templated).
    :param spark_conn_id: the Spark connection (master; client deploy mode).
    :param conf: extra Spark properties, merged over the lake's (yours win; ``spark.jars`` lists are
        merged) (templated). Never secrets: it is argv.
    :param driver_memory: e.g. ``2g``.
    :param executor_memory: e.g. ``4g``.
    :return: ``{"rows_inserted", "rows_updated", "rows_deleted", "silver_version", "source_version",
        "source_rows", "changes", "created", "merged", ...}`` (counts and names only).
    :raises ValueError: a bad argument (before anything is submitted).
    :raises DeltaMergeFailure: the input cannot be merged (silver unchanged).
    :raises MergeError: the Spark job failed.
    """

    template_fields: Sequence[str] = (
        "source_path",
        "target_path",
        "keys",
        "ordering_columns",
        "source_format",
        "tie_breaker",
        "delete_column",
        "delete_values",
        "exclude_columns",
        "lake_jars",
        "conf",
    )
    template_fields_renderers = {"conf": "json"}
    ui_color = "#dbeafe"

    def __init__(
        self,
        *,
        source_path: str,
        target_path: str,
        keys: Sequence[str],
        ordering_columns: Sequence[str],
        source_format: str = "delta",
        tie_breaker: Sequence[str] | None = None,
        delete_column: str | None = "op",
        delete_values: Sequence[str] = ("d",),
        exclude_columns: Sequence[str] | None = None,
        aws_conn_id: str | None = "aws_default",
        lake_jars: str | list[str] | None = None,
        spark_conn_id: str = "spark_default",
        conf: dict[str, Any] | None = None,
        driver_memory: str | None = None,
        executor_memory: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("keys", keys), ("ordering_columns", ordering_columns)):
            if isinstance(value, str) and "{{" not in value:
                raise ValueError(f"{name} must be a list of column names, got the string {value!r}")
            if not value:
                raise ValueError(f"{name} must name at least one column")
        self.source_path = source_path
        self.target_path = target_path
        self.keys = keys
        self.ordering_columns = ordering_columns
        self.source_format = source_format
        self.tie_breaker = tie_breaker
        self.delete_column = delete_column
        self.delete_values = delete_values
        self.exclude_columns = exclude_columns
        self.aws_conn_id = aws_conn_id
        self.lake_jars = lake_jars
        self.spark_conn_id = spark_conn_id
        self.conf = conf or {}
        self.driver_memory = driver_memory
        self.executor_memory = executor_memory
        self._hook: SparkSubmitHook | None = None
        self._report: dict[str, Any] | None = None

    # ---------------------------------------------------------------- validation
    def build_config(self) -> MergeConfig:
        """The job's settings from the rendered fields, validated (``ValueError`` naming the bad one)."""
        return MergeConfig(
            source_path=str(self.source_path or ""),
            target_path=str(self.target_path or ""),
            keys=list(self.keys) if not isinstance(self.keys, str) else self.keys,  # type: ignore[arg-type]
            ordering_columns=list(self.ordering_columns)
            if not isinstance(self.ordering_columns, str)
            else self.ordering_columns,  # type: ignore[arg-type]
            source_format=str(self.source_format or ""),
            tie_breaker=list(self.tie_breaker or []),
            delete_column=self.delete_column or None,
            delete_values=list(self.delete_values)
            if not isinstance(self.delete_values, str)
            else [self.delete_values],
            exclude_columns=list(
                CDC_METADATA_COLUMNS if self.exclude_columns is None else self.exclude_columns
            ),
        ).validate()

    def lake_settings(self, config: MergeConfig) -> SparkLakeSettings:
        """S3A + Delta settings of both tables (silver is always Delta); credentials masked."""
        from airflow.sdk.log import mask_secret

        settings = spark_lake_settings(
            paths=[config.source_path, config.target_path],
            table_format="delta",
            aws_conn_id=self.aws_conn_id,
            jars=self.lake_jars,
        )
        for value in settings.env.values():
            mask_secret(value)
        return settings

    def _spark_hook(
        self, context: Context, lake: SparkLakeSettings, application_args: list[str], py_files: str
    ) -> SparkSubmitHook:
        from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

        user = {str(k): str(v) for k, v in (self.conf or {}).items()}
        conf = {"spark.sql.session.timeZone": "UTC", **lake.conf, **user}
        jars = [*_jar_list(user.get("spark.jars")), *_jar_list(lake.conf.get("spark.jars"))]
        if jars:
            conf["spark.jars"] = ",".join(dict.fromkeys(jars))
        ti = context.get("ti")
        name = (
            f"lakeops-merge-{ti.dag_id}-{ti.task_id}" if ti is not None else f"lakeops-merge-{self.task_id}"
        )
        return SparkSubmitHook(
            conn_id=self.spark_conn_id,
            conf=conf,
            py_files=py_files,
            application_args=application_args,
            name=name,
            driver_memory=self.driver_memory,
            executor_memory=self.executor_memory,
        )

    # ------------------------------------------------------------------- execute
    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        config = self.build_config()
        lake = self.lake_settings(config)
        job = app_path(_JOB_FILE)
        self.log.info(
            "Merging %s (%s) into %s by %s, ordered by %s",
            config.source_path,
            config.source_format,
            config.target_path,
            ", ".join(config.keys),
            ", ".join([*config.ordering_columns, *config.tie_breaker]),
        )
        with tempfile.TemporaryDirectory(prefix="lakeops-merge-") as tmp:
            report_file = Path(tmp) / "report.json"
            py_files = build_py_files_zip(tmp)
            args = ["--config", config.to_json(), "--report", str(report_file)]
            self._hook = self._spark_hook(context, lake, args, str(py_files))
            env = dict(os.environ, **lake.env) if lake.env else None
            try:
                self._hook.submit(str(job), **({"env": env} if env is not None else {}))
            except Exception as exc:
                report = _read_report(report_file)
                status, error = (report or {}).get("status"), (report or {}).get("error")
                if status in ("input_error", "config_error"):
                    raise DeltaMergeFailure(f"DeltaMergeOperator: {error}") from None
                cause = f": {error}" if error else ""
                raise MergeError(f"the Delta MERGE job failed{cause} ({type(exc).__name__})") from exc
            finally:
                del env
            report = _read_report(report_file)
        if report is None or report.get("status") != "ok":
            raise MergeError(f"the Delta MERGE job finished without an ok report (got {report!r:.200})")
        self._report = report
        self.log.info(
            "Silver %s version %s: %s inserted, %s updated, %s deleted from %s bronze row(s)%s%s",
            config.target_path,
            report.get("silver_version"),
            report.get("rows_inserted"),
            report.get("rows_updated"),
            report.get("rows_deleted"),
            report.get("source_rows"),
            f" (bronze version {report['source_version']})"
            if report.get("source_version") is not None
            else "",
            "" if report.get("merged") else "; nothing newer: no MERGE, no new version",
        )
        self._emit_metrics(context, report, time.monotonic() - started)
        return {k: v for k, v in report.items() if k != "schema"}

    def _emit_metrics(self, context: Context, report: dict[str, Any], seconds: float) -> None:
        from airflow_provider_lakeops.notifications.metrics import emit_operator_metrics

        emit_operator_metrics(
            self,
            context,
            {
                "rows_inserted": float(report.get("rows_inserted") or 0),
                "rows_updated": float(report.get("rows_updated") or 0),
                "rows_deleted": float(report.get("rows_deleted") or 0),
                "source_rows": float(report.get("source_rows") or 0),
                "duration_seconds": round(seconds, 3),
            },
        )

    def on_kill(self) -> None:
        if self._hook is not None:
            self._hook.on_kill()

    # ------------------------------------------------------------------- lineage
    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_lakeops.lineage.naming import location_dataset

        return OperatorLineage(
            inputs=[location_dataset(str(self.source_path)).to_openlineage()],
            outputs=[location_dataset(str(self.target_path)).to_openlineage()],
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Input: the bronze table; output: the silver table with its schema and row-count facets."""
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import OutputDataset
        from openlineage.client.facet_v2 import output_statistics_output_dataset as stats
        from openlineage.client.facet_v2 import schema_dataset

        from airflow_provider_lakeops.lineage.naming import location_dataset

        report = self._report
        if not report:
            return self.get_openlineage_facets_on_start()
        source, target = location_dataset(str(self.source_path)), location_dataset(str(self.target_path))
        schema = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f["type"])
                for f in report.get("schema") or []
            ]
        )
        written = int(report.get("rows_inserted") or 0) + int(report.get("rows_updated") or 0)
        output = OutputDataset(
            namespace=target.namespace,
            name=target.name,
            facets={"schema": schema},
            outputFacets={"outputStatistics": stats.OutputStatisticsOutputDatasetFacet(rowCount=written)},
        )
        return OperatorLineage(inputs=[source.to_openlineage()], outputs=[output])


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None
