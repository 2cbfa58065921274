"""spark-submit entry point of ``DeltaMaintenanceOperator``: ``OPTIMIZE`` (compaction, optional
Z-order) and ``VACUUM`` of one Delta table, behind a retention guard.

Usage (the operator builds this command; ``--py-files`` carries the ``airflow_provider_lakeops.spark_apps``
package, the AWS credentials travel in the environment, see
:func:`airflow_provider_lakeops.spark_apps.lake_session.apply_s3a_credentials`)::

    spark-submit --py-files lakeops_spark_apps.zip delta_maintenance_job.py \\
        --table s3://lake/silver/customer_behavior --optimize --optimize-where "dt >= '2025-10-01'" \\
        --vacuum --report /tmp/report.json

Steps, every check before any change: the path must be a Delta table; the Z-order columns must be
data columns of it; with ``--vacuum`` the retention (``--retention-hours``, default the table's own
``delta.deletedFileRetentionDuration``, 168 h when unset) must not be shorter than the table's
retention. Then ``OPTIMIZE`` (one commit, none when there is nothing to compact: a rerun on a
compacted table changes nothing) and ``VACUUM`` (with Delta's own
``spark.databricks.delta.retentionDurationCheck.enabled`` forced on, and vacuum logging on, so the
history records ``VACUUM START``/``VACUUM END`` with the number of deleted files).

Exit codes: 0 ok, 1 unexpected error, 2 bad arguments, 5 not a Delta table, 6 retention refused.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_lakeops.spark_apps.lake_session import (
    apply_s3a_credentials,
    size_delta_state,
    spark_path,
    write_report_file,
)

__all__ = [
    "DEFAULT_RETENTION_HOURS",
    "EXIT_CODES",
    "RETENTION_PROPERTY",
    "MaintenanceArgumentError",
    "MaintenanceOptions",
    "NotDeltaTableError",
    "RetentionRefusedError",
    "build_parser",
    "main",
    "parse_interval_hours",
    "run",
]

#: Delta's retention when a table does not set ``delta.deletedFileRetentionDuration`` (1 week).
DEFAULT_RETENTION_HOURS = 168.0
RETENTION_PROPERTY = "delta.deletedFileRetentionDuration"
EXIT_CODES = {"ok": 0, "error": 1, "argument_error": 2, "not_delta": 5, "retention_refused": 6}
_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
_LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"
_UNIT_HOURS = {
    "week": 168.0,
    "day": 24.0,
    "hour": 1.0,
    "minute": 1 / 60,
    "second": 1 / 3600,
    "millisecond": 1 / 3_600_000,
    "microsecond": 1 / 3_600_000_000,
}
_INTERVAL_PART = re.compile(r"'?(\d+(?:\.\d+)?)'?\s*([a-z]+?)s?\b")


class MaintenanceArgumentError(ValueError):
    """An argument does not fit the table (unknown or partition Z-order column, bad predicate)."""


class NotDeltaTableError(RuntimeError):
    """The path is not a Delta table (no ``_delta_log``)."""


class RetentionRefusedError(RuntimeError):
    """VACUUM would keep fewer hours of history than the table's configured retention."""


def parse_interval_hours(text: str) -> float:
    """Hours of a Delta interval property: ``interval 1 week``, ``interval 7 days``, ``168 hours``,
    ``interval 2 days 12 hours``.

    :raises ValueError: the text is not such an interval.
    """
    value = str(text).strip().lower().removeprefix("interval").strip()
    parts = _INTERVAL_PART.findall(value)
    rest = _INTERVAL_PART.sub("", value).strip()
    if not parts or rest or any(unit not in _UNIT_HOURS for _, unit in parts):
        raise ValueError(f"cannot read the interval {text!r} (expected e.g. 'interval 7 days')")
    return sum(float(number) * _UNIT_HOURS[unit] for number, unit in parts)


@dataclass
class MaintenanceOptions:
    """What one maintenance run does."""

    table: str
    optimize: bool = True
    optimize_where: str | None = None
    zorder_by: list[str] = field(default_factory=list)
    vacuum: bool = False
    retention_hours: float | None = None

    def validate(self) -> None:
        problems = []
        if not self.table.strip():
            problems.append("--table is empty")
        if "`" in self.table:
            problems.append("--table must not contain a backtick")
        if not self.optimize and not self.vacuum:
            problems.append("nothing to do: give --optimize and/or --vacuum")
        if not self.optimize and (self.optimize_where or self.zorder_by):
            problems.append("--optimize-where and --zorder-by need --optimize")
        if self.retention_hours is not None and self.retention_hours < 0:
            problems.append(f"--retention-hours must be >= 0, got {self.retention_hours}")
        if len({c.casefold() for c in self.zorder_by}) != len(self.zorder_by):
            problems.append(f"--zorder-by names a column twice: {self.zorder_by}")
        if problems:
            raise MaintenanceArgumentError("; ".join(problems))


def _table_sql(path: str) -> str:
    return "delta.`" + path.replace("`", "``") + "`"


def _last_version(spark: Any, table: str) -> int:
    row = spark.sql(f"DESCRIBE HISTORY {table} LIMIT 1").first()
    return int(row["version"])


def _hours_text(hours: float) -> str:
    return str(int(hours)) if float(hours).is_integer() else repr(float(hours))


def _optimize(spark: Any, table: str, options: MaintenanceOptions) -> dict[str, Any]:
    from pyspark.errors import AnalysisException

    sql = f"OPTIMIZE {table}"
    if options.optimize_where:
        sql += f" WHERE {options.optimize_where}"
    if options.zorder_by:
        sql += " ZORDER BY (" + ", ".join("`" + c.replace("`", "``") + "`" for c in options.zorder_by) + ")"
    try:
        row = spark.sql(sql).first()
    except AnalysisException as exc:  # a bad predicate: Delta names columns, never data
        raise MaintenanceArgumentError(f"OPTIMIZE refused the arguments: {exc}") from None
    metrics = row["metrics"].asDict() if row is not None and row["metrics"] is not None else {}
    added, removed = int(metrics.get("numFilesAdded") or 0), int(metrics.get("numFilesRemoved") or 0)
    return {
        "ran": True,
        "where": options.optimize_where,
        "zorder_by": list(options.zorder_by),
        "files_added": added,
        "files_removed": removed,
        "partitions_optimized": int(metrics.get("partitionsOptimized") or 0),
        "changed": bool(added or removed),
    }


def _vacuum(spark: Any, table: str, retention_hours: float, since_version: int) -> dict[str, Any]:
    spark.conf.set(_RETENTION_CHECK, "true")  # Delta's own guard stays on, whatever the session says
    spark.conf.set("spark.databricks.delta.vacuum.logging.enabled", "true")
    spark.sql(f"VACUUM {table} RETAIN {_hours_text(retention_hours)} HOURS").collect()
    deleted = None
    for row in spark.sql(f"DESCRIBE HISTORY {table}").where(f"version > {since_version}").collect():
        if row["operation"] == "VACUUM END":
            deleted = int((row["operationMetrics"] or {}).get("numDeletedFiles") or 0)
            break
    return {"ran": True, "retention_hours": retention_hours, "files_deleted": deleted}


def run(spark: Any, options: MaintenanceOptions) -> dict[str, Any]:
    """Check, optimize, vacuum; return the run report. Every check runs before any change.

    :raises MaintenanceArgumentError: an argument does not fit the table.
    :raises NotDeltaTableError: the path is not a Delta table.
    :raises RetentionRefusedError: the retention is shorter than the table's.
    """
    started = time.monotonic()
    options.validate()
    path = spark_path(options.table)
    sc: Any = spark.sparkContext
    if not sc._jvm.io.delta.tables.DeltaTable.isDeltaTable(spark._jsparkSession, path):
        raise NotDeltaTableError(
            f"{options.table} is not a Delta table (no _delta_log): DeltaMaintenanceOperator only "
            "maintains Delta tables"
        )
    table = _table_sql(path)
    detail = spark.sql(f"DESCRIBE DETAIL {table}").first()
    properties = dict(detail["properties"] or {})
    partition_columns = list(detail["partitionColumns"] or [])
    configured_text = properties.get(RETENTION_PROPERTY)
    table_retention = parse_interval_hours(configured_text) if configured_text else DEFAULT_RETENTION_HOURS
    retention = options.retention_hours if options.retention_hours is not None else table_retention
    if options.vacuum and retention < table_retention:
        raise RetentionRefusedError(
            f"VACUUM refused: retention_hours={_hours_text(retention)} is shorter than the table's "
            f"{RETENTION_PROPERTY} of {_hours_text(table_retention)} hours; files a reader or a time "
            "travel query may still need would be deleted. Lower the table property deliberately "
            "(ALTER TABLE ... SET TBLPROPERTIES) if that is really intended"
        )
    if options.zorder_by:
        columns = {c.casefold() for c in spark.read.format("delta").load(path).columns}
        partitions = {c.casefold() for c in partition_columns}
        unknown = [c for c in options.zorder_by if c.casefold() not in columns]
        partitioned = [c for c in options.zorder_by if c.casefold() in partitions]
        if unknown or partitioned:
            raise MaintenanceArgumentError(
                "zorder_by: "
                + "; ".join(
                    ([f"{unknown} are not columns of the table"] if unknown else [])
                    + ([f"{partitioned} are partition columns (Z-order data columns)"] if partitioned else [])
                )
            )

    version_before = _last_version(spark, table)
    optimize: dict[str, Any] = {"ran": False}
    if options.optimize:
        optimize = _optimize(spark, table, options)
        optimize["message"] = (
            f"{optimize['files_removed']} files compacted into {optimize['files_added']}"
            if optimize["changed"]
            else "nothing to compact: the table (or the selected partitions) is already compacted; "
            "no new version"
        )
    vacuum: dict[str, Any] = {"ran": False}
    if options.vacuum:
        vacuum = _vacuum(spark, table, retention, _last_version(spark, table))
    vacuum["table_retention_hours"] = table_retention
    return {
        "status": "ok",
        "table": options.table,
        "partition_columns": partition_columns,
        "version_before": version_before,
        "version_after": _last_version(spark, table),
        "optimize": optimize,
        "vacuum": vacuum,
        "spark": {
            "version": spark.version,
            "master": sc.master,
            "application_id": sc.applicationId,
        },
        "duration_seconds": round(time.monotonic() - started, 3),
    }


# ------------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="delta_maintenance_job", description="OPTIMIZE/VACUUM a Delta table."
    )
    parser.add_argument("--table", required=True)
    parser.add_argument("--optimize", action="store_true")
    parser.add_argument("--optimize-where")
    parser.add_argument("--zorder-by", action="append", default=[])
    parser.add_argument("--vacuum", action="store_true")
    parser.add_argument("--retention-hours", type=float)
    parser.add_argument("--report", help="local file for the JSON run report (driver side)")
    parser.add_argument("--app-name", default="lakeops-delta-maintenance")
    return parser


def options_from_args(args: argparse.Namespace) -> MaintenanceOptions:
    options = MaintenanceOptions(
        table=args.table,
        optimize=args.optimize,
        optimize_where=args.optimize_where or None,
        zorder_by=list(args.zorder_by),
        vacuum=args.vacuum,
        retention_hours=args.retention_hours,
    )
    options.validate()
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job from the command line; return the process exit code."""
    args = build_parser().parse_args(argv)
    spark = None
    report: dict[str, Any] = {"status": "error", "error": "not started"}
    try:
        options = options_from_args(args)
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName(args.app_name).getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
        if not spark.sparkContext.getConf().contains(_LISTING_PARALLELISM):
            # VACUUM lists the table with this many tasks (Spark's default: 10,000)
            spark.conf.set(_LISTING_PARALLELISM, str(max(8, 4 * spark.sparkContext.defaultParallelism)))
        apply_s3a_credentials(spark)
        size_delta_state(spark)
        report = run(spark, options)
    except MaintenanceArgumentError as exc:
        report = {"status": "argument_error", "error": str(exc)}
    except NotDeltaTableError as exc:
        report = {"status": "not_delta", "error": str(exc)}
    except RetentionRefusedError as exc:
        report = {"status": "retention_refused", "error": str(exc)}
    except Exception as exc:
        report = {"status": "error", "error": f"{type(exc).__name__} (see the driver log)"}
        raise
    finally:
        write_report_file(report, args.report)
        if spark is not None:
            spark.stop()
    status = report["status"]
    if status == "ok":
        print(
            f"lakeops-delta-maintenance: ok version {report['version_before']} -> {report['version_after']} "
            f"optimize_files_added={report['optimize'].get('files_added')} "
            f"optimize_files_removed={report['optimize'].get('files_removed')} "
            f"vacuum_files_deleted={report['vacuum'].get('files_deleted')}"
        )
    else:
        print(f"lakeops-delta-maintenance: {status}: {report['error']}", file=sys.stderr)
    return EXIT_CODES[status]


if __name__ == "__main__":
    sys.exit(main())
