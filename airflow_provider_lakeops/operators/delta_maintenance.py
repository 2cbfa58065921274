"""Keep a Delta table fast and its storage bounded: ``DeltaMaintenanceOperator`` (OPTIMIZE + VACUUM).

The work is the Spark job ``airflow_provider_lakeops/spark_apps/delta_maintenance_job.py``, submitted
with the official ``SparkSubmitHook`` the way ``PiiMaskingOperator`` submits its job (the same
``--py-files`` zip, the same client-mode rule), with the S3A/Delta settings of
:func:`airflow_provider_lakeops.utils.lake.spark_lake_settings` (credentials in the ``spark-submit``
environment only).

.. seealso:: ``docs/operators/delta_maintenance.md``
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_lakeops.operators.pii import lake_settings, read_run_report, spark_submit_hook
from airflow_provider_lakeops.spark_apps import app_path, build_py_files_zip

if TYPE_CHECKING:
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

__all__ = ["DeltaMaintenanceOperator", "delta_maintenance_arguments"]

_JOB_FILE = "delta_maintenance_job.py"
_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
#: job statuses where a retry cannot help
_FINAL_STATUSES = ("argument_error", "not_delta", "retention_refused")


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None or value == "":
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def delta_maintenance_arguments(
    *,
    table_path: str,
    optimize: bool = True,
    optimize_where: str | None = None,
    zorder_by: str | Sequence[str] | None = None,
    vacuum: bool = False,
    retention_hours: float | str | None = None,
) -> list[str]:
    """The command-line arguments of ``delta_maintenance_job.py``.

    :raises ValueError: an argument is empty or malformed (every problem named).
    """
    problems = []
    if not str(table_path or "").strip():
        problems.append("table_path is empty: give the Delta table's location")
    if not optimize and not vacuum:
        problems.append("nothing to do: set optimize=True and/or vacuum=True")
    columns = _as_list(zorder_by)
    if not optimize and (optimize_where or columns):
        problems.append("optimize_where and zorder_by need optimize=True")
    if any(not c.strip() for c in columns):
        problems.append(f"zorder_by has an empty column name: {columns}")
    hours: float | None = None
    if retention_hours is not None and str(retention_hours).strip() != "":
        try:
            hours = float(retention_hours)
        except (TypeError, ValueError):
            problems.append(f"retention_hours must be a number of hours, got {retention_hours!r}")
        else:
            if hours < 0 or hours != hours:
                problems.append(f"retention_hours must be >= 0, got {retention_hours!r}")
        if not vacuum:
            problems.append("retention_hours needs vacuum=True")
    if problems:
        raise ValueError("; ".join(problems))
    args = ["--table", str(table_path).strip()]
    if optimize:
        args.append("--optimize")
    if optimize_where:
        args += ["--optimize-where", str(optimize_where)]
    for column in columns:
        args += ["--zorder-by", column.strip()]
    if vacuum:
        args.append("--vacuum")
    if hours is not None:
        args += ["--retention-hours", repr(hours)]
    return args


class DeltaMaintenanceOperator(BaseOperator):
    """Compact (``OPTIMIZE``, optionally Z-ordered) and clean (``VACUUM``) one Delta table with Spark.

    Every check runs before any change: the path must be a Delta table, the Z-order columns data
    columns of it, and ``VACUUM``'s retention at least the table's own
    ``delta.deletedFileRetentionDuration`` (168 h when unset). There is no flag to go below it (lower
    the table property deliberately instead), and Delta's own
    ``spark.databricks.delta.retentionDurationCheck.enabled`` cannot be turned off through
    ``spark_conf``. ``OPTIMIZE`` on a compacted table changes nothing (no new version), so a rerun is
    safe. The run report (versions before/after, files added/removed by ``OPTIMIZE``, files deleted
    by ``VACUUM``: counts only) is returned, so it goes to XCom.

    :param table_path: the Delta table, e.g. ``s3://lake/silver/customer_behavior`` (templated).
    :param optimize: run ``OPTIMIZE`` (bin-packing compaction).
    :param optimize_where: a partition predicate limiting ``OPTIMIZE``, e.g.
        ``"dt >= '{{ macros.ds_add(ds, -7) }}'"``: only partition columns may appear (templated).
    :param zorder_by: data column(s) to Z-order by (templated). Z-ordering rewrites the selected
        files on every run: limit it with ``optimize_where``.
    :param vacuum: run ``VACUUM`` after ``OPTIMIZE``.
    :param retention_hours: hours of history ``VACUUM`` keeps; default the table's retention
        (templated). Lower than the table's retention is refused.
    :param aws_conn_id: the Airflow AWS connection of ``s3://`` tables.
    :param lake_jars: ``spark.jars`` for S3A and Delta; default ``$LAKEOPS_SPARK_LAKE_JARS``; ``""``
        when the cluster has them (templated).
    :param spark_conn_id: the Spark connection naming the master; ``None`` runs on ``local[*]``.
    :param spark_conf: extra Spark configuration; it wins over the lake settings (templated). It is
        argv: never put secrets here.
    :param driver_memory: e.g. ``2g``.
    :param executor_memory: e.g. ``4g``.
    :param application_name: the Spark application name (default ``lakeops-delta-<dag>-<task>``).
    :raises AirflowFailException: bad arguments, not a Delta table, retention refused (no retry).
    """

    template_fields: Sequence[str] = (
        "table_path",
        "optimize_where",
        "zorder_by",
        "retention_hours",
        "lake_jars",
        "spark_conf",
    )
    template_fields_renderers = {"spark_conf": "json", "optimize_where": "sql"}
    ui_color = "#dbeafe"

    def __init__(
        self,
        *,
        table_path: str,
        optimize: bool = True,
        optimize_where: str | None = None,
        zorder_by: str | list[str] | None = None,
        vacuum: bool = False,
        retention_hours: float | str | None = None,
        aws_conn_id: str | None = "aws_default",
        lake_jars: str | list[str] | None = None,
        spark_conn_id: str | None = None,
        spark_conf: dict[str, Any] | None = None,
        driver_memory: str | None = None,
        executor_memory: str | None = None,
        application_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table_path = table_path
        self.optimize = optimize
        self.optimize_where = optimize_where
        self.zorder_by = zorder_by
        self.vacuum = vacuum
        self.retention_hours = retention_hours
        self.aws_conn_id = aws_conn_id
        self.lake_jars = lake_jars
        self.spark_conn_id = spark_conn_id
        self.spark_conf = spark_conf or {}
        self.driver_memory = driver_memory
        self.executor_memory = executor_memory
        self.application_name = application_name
        self._hook: SparkSubmitHook | None = None

    def _arguments(self) -> list[str]:
        try:
            check = str(self.spark_conf.get(_RETENTION_CHECK, "true")).strip().lower()
            if check != "true":
                raise ValueError(
                    f"spark_conf sets {_RETENTION_CHECK}={check}: Delta's retention check stays on "
                    "(lower the table's delta.deletedFileRetentionDuration deliberately instead)"
                )
            return delta_maintenance_arguments(
                table_path=self.table_path,
                optimize=self.optimize,
                optimize_where=self.optimize_where,
                zorder_by=self.zorder_by,
                vacuum=self.vacuum,
                retention_hours=self.retention_hours,
            )
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc

    def execute(self, context: Context) -> dict[str, Any]:
        args = self._arguments()
        try:
            lake = lake_settings(
                [self.table_path], table_format="delta", aws_conn_id=self.aws_conn_id, jars=self.lake_jars
            )
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        name = self.application_name or f"lakeops-delta-{context['ti'].dag_id}-{context['ti'].task_id}"
        self.log.info("Delta maintenance of %s: %s", self.table_path, " ".join(args[2:]) or "-")
        with tempfile.TemporaryDirectory(prefix="lakeops-delta-") as tmp:
            report_file = Path(tmp) / "report.json"
            self._hook = spark_submit_hook(
                self.spark_conn_id,
                conf={"spark.sql.session.timeZone": "UTC", **lake.conf, **self.spark_conf},
                py_files=str(build_py_files_zip(tmp)),
                application_args=[*args, "--report", str(report_file)],
                name=name,
                driver_memory=self.driver_memory,
                executor_memory=self.executor_memory,
            )
            env = {**os.environ, **lake.env}  # AWS credentials: the child's environment only
            try:
                self._hook.submit(str(app_path(_JOB_FILE)), env=env)
            except Exception as exc:
                report = read_run_report(report_file)
                if report and report.get("status") in _FINAL_STATUSES:
                    raise AirflowFailException(
                        f"Delta maintenance of {self.table_path}: {report['status']}: {report.get('error')}"
                    ) from exc
                raise
            finally:
                del env
            report = read_run_report(report_file)
        if report is None or report.get("status") != "ok":
            raise AirflowFailException(
                "the Delta maintenance job finished without an ok run report "
                f"(got {report and report.get('status')!r})"
            )
        optimize, vacuum = report["optimize"], report["vacuum"]
        self.log.info(
            "Delta table %s: version %s -> %s; OPTIMIZE %s; VACUUM %s",
            self.table_path,
            report["version_before"],
            report["version_after"],
            optimize.get("message", "not run"),
            f"deleted {vacuum.get('files_deleted')} files (retention {vacuum.get('retention_hours')} h)"
            if vacuum.get("ran")
            else "not run",
        )
        self._emit_metrics(context, report)
        return report

    def _emit_metrics(self, context: Context, report: dict[str, Any]) -> None:
        from airflow_provider_lakeops.notifications.metrics import emit_operator_metrics

        emit_operator_metrics(
            self,
            context,
            {
                "files_added": report["optimize"].get("files_added") or 0,
                "files_removed": report["optimize"].get("files_removed") or 0,
                "files_deleted": report["vacuum"].get("files_deleted") or 0,
                "duration_seconds": report["duration_seconds"],
            },
        )

    def on_kill(self) -> None:
        if self._hook is not None:
            self._hook.on_kill()

    # ------------------------------------------------------------------- lineage
    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        """The table is both input and output: maintenance rewrites files, never the rows."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_lakeops.lineage.naming import location_dataset

        table = location_dataset(str(self.table_path))
        return OperatorLineage(inputs=[table.to_openlineage()], outputs=[table.to_openlineage()])

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        return self.get_openlineage_facets_on_start()
