"""CDC changes of a bronze table (Delta or Parquet) -> MERGE into a silver Delta table, latest change per key.

Submitted by ``DeltaMergeOperator`` (``--config <json> --report <file>``); imports nothing from Airflow, and
pyspark only inside the functions that run on the driver, so the operator imports :class:`MergeConfig` to
validate a job before it submits it (what it checks is what Spark runs).

What one run does:

1. **Read** the whole bronze (a Delta source at its latest version, recorded in the report; Parquet
   with its Hive partitions) and check the columns: keys, ordering columns, tie breaker and delete
   column must exist; no key or ordering value may be null.
2. **Ties.** Two changes of one key with the same ordering values (plus ``tie_breaker``, if given)
   that *differ* are refused: which one is the latest would be arbitrary. Identical copies (the same
   change delivered twice, as at-least-once CDC does after a connector restart) are one change.
3. **Latest per key**: the change with the greatest ``(ordering_columns, tie_breaker)``.
4. **Only newer**: the latest change is applied only when its ordering values are greater than the
   silver row's (lexicographically); a key absent from silver is inserted unless its latest change is
   a delete. Deletes remove the row. A rerun over the same bronze has nothing newer: no MERGE runs, no
   silver version is written, the counts are 0/0/0.
5. **Replays cannot resurrect a deleted row** because every run reads *all* of bronze: a replayed old
   change is one more row beside the delete that follows it, and the delete stays the latest. The
   cost: each run scans the whole bronze (bounded by how much bronze keeps, so bronze must keep every
   change); silver needs no hidden tombstones and readers see plain rows.
6. **MERGE** (Delta SQL ``MERGE INTO``, one commit) of the changes that pass the guard; the first run
   creates silver (one commit, version 0) from the latest non-deleted rows. The silver schema is the
   bronze's minus ``exclude_columns`` (the CDC metadata; the ordering columns stay, they are the guard).
7. **Report** (JSON, ``--report``): counts from Delta's MERGE metrics (``numTargetRowsInserted`` /
   ``Updated`` / ``Deleted``), the silver version, the source version; never a data value.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.spark_apps.lake_session import write_report_file

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "CDC_METADATA_COLUMNS",
    "MergeConfig",
    "MergeInputError",
    "main",
    "run",
]

#: The bronze columns of ``kafka_customer_events`` that silver does not keep by default: the operation,
#: the ingestion and Kafka/file coordinates, the bronze partitions. ``_source_position`` and
#: ``_source_ts`` stay (the position is the only-newer guard).
CDC_METADATA_COLUMNS = (
    "op",
    "op_ts",
    "_ingested_at",
    "_kafka_topic",
    "_kafka_partition",
    "_kafka_offset",
    "_kafka_timestamp",
    "_source_file",
    "_source_file_ts",
    "ingest_date",
    "batch",
)
SOURCE_FORMATS = ("delta", "parquet")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_DELETE = "__lakeops_delete"
_CONTENT = "__lakeops_content"
_RANK = "__lakeops_rank"


class MergeInputError(ValueError):
    """The input cannot be merged as it is (missing columns, nulls, ties, a target of another format)."""


def _names(value: Sequence[str] | None, what: str, *, required: bool) -> list[str]:
    if value is None:
        value = []
    if isinstance(value, str):
        raise ValueError(f"{what} must be a list of column names, got a string: {value!r}")
    names = [str(v).strip() for v in value]
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise ValueError(f"{what}: {bad} are not plain column names (letters, digits, _)")
    if required and not names:
        raise ValueError(f"{what} must name at least one column")
    if len({n.lower() for n in names}) != len(names):
        raise ValueError(f"{what} names a column twice: {names}")
    return names


def _norm(path: str) -> str:
    p = re.sub(r"^s3[an]://", "s3://", str(path).strip())
    if p.startswith("file://"):
        p = "/" + p[len("file://") :].lstrip("/")
    return p.rstrip("/") or "/"


def _check_location(name: str, value: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValueError(f"{name} is required")
    lowered = text.lower()
    if not (lowered.startswith(("s3://", "s3a://", "s3n://", "file://")) or text.startswith("/")):
        raise ValueError(f"{name} must be an s3:// URI or an absolute path, got {text!r}")
    return text


@dataclass
class MergeConfig:
    """Every setting of one MERGE (see the module docstring); :meth:`validate` names the first bad one."""

    source_path: str
    target_path: str
    keys: list[str]
    ordering_columns: list[str]
    source_format: str = "delta"
    tie_breaker: list[str] = field(default_factory=list)
    delete_column: str | None = "op"
    delete_values: list[str] = field(default_factory=lambda: ["d"])
    exclude_columns: list[str] = field(default_factory=lambda: list(CDC_METADATA_COLUMNS))

    def validate(self) -> MergeConfig:
        """Raise ``ValueError`` naming the first bad setting and how to fix it; return ``self``."""
        self.source_format = str(self.source_format or "").strip().lower()
        if self.source_format not in SOURCE_FORMATS:
            raise ValueError(
                f"source_format must be one of {', '.join(SOURCE_FORMATS)}, got {self.source_format!r}"
            )
        self.source_path = _check_location("source_path", self.source_path)
        self.target_path = _check_location("target_path", self.target_path)
        a, b = _norm(self.source_path), _norm(self.target_path)
        if a == b or a.startswith(b + "/") or b.startswith(a + "/"):
            raise ValueError(
                f"source_path ({self.source_path!r}) and target_path ({self.target_path!r}) overlap: "
                "give separate folders"
            )
        self.keys = _names(self.keys, "keys", required=True)
        self.ordering_columns = _names(self.ordering_columns, "ordering_columns", required=True)
        self.tie_breaker = _names(self.tie_breaker, "tie_breaker", required=False)
        self.exclude_columns = _names(self.exclude_columns, "exclude_columns", required=False)
        groups = {
            "keys": self.keys,
            "ordering_columns": self.ordering_columns,
            "tie_breaker": self.tie_breaker,
        }
        seen: dict[str, str] = {}
        for what, names in groups.items():
            for n in names:
                if n.lower() in seen:
                    raise ValueError(f"{n!r} is in both {seen[n.lower()]} and {what}")
                seen[n.lower()] = what
        kept = {*(n.lower() for n in self.keys), *(n.lower() for n in self.ordering_columns)}
        dropped = [n for n in self.exclude_columns if n.lower() in kept]
        if dropped:
            raise ValueError(
                f"exclude_columns cannot drop {dropped}: silver keeps its keys and ordering columns "
                "(the only-newer guard compares them)"
            )
        if self.delete_column is not None:
            self.delete_column = str(self.delete_column).strip()
            if not _NAME.match(self.delete_column):
                raise ValueError(f"delete_column {self.delete_column!r} is not a plain column name")
            if self.delete_column.lower() in kept:
                raise ValueError(f"delete_column {self.delete_column!r} cannot be a key or ordering column")
            if isinstance(self.delete_values, str) or not self.delete_values:
                raise ValueError("delete_values must be a non-empty list, e.g. ['d'] (Debezium's delete op)")
            self.delete_values = [str(v) for v in self.delete_values]
        return self

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MergeConfig:
        return cls(**json.loads(text)).validate()


# ------------------------------------------------------------------------------------ helpers
def _quote(name: str) -> str:
    return f"`{name}`"


def _sql_path(path: str) -> str:
    from airflow_provider_lakeops.spark_apps.lake_session import spark_path

    return "delta.`" + spark_path(path).replace("`", "``") + "`"


def _fs_exists(spark: SparkSession, path: str) -> tuple[bool, bool]:
    """(``path`` holds a Delta log, ``path`` holds anything that is not hidden)."""
    from airflow_provider_lakeops.spark_apps.lake_session import spark_path

    jvm = spark.sparkContext._jvm
    root = jvm.org.apache.hadoop.fs.Path(spark_path(path))  # type: ignore[union-attr]
    fs = root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # type: ignore[union-attr]
    if not fs.exists(root):
        return False, False
    delta = bool(fs.exists(jvm.org.apache.hadoop.fs.Path(root, "_delta_log")))  # type: ignore[union-attr]
    content = any(not s.getPath().getName().startswith((".", "_")) for s in fs.listStatus(root))
    return delta, delta or content


def _latest_commit(spark: SparkSession, path: str) -> dict[str, Any]:
    row = spark.sql(f"DESCRIBE HISTORY {_sql_path(path)} LIMIT 1").collect()[0]
    return {
        "version": int(row["version"]),
        "operation": row["operation"],
        "metrics": dict(row["operationMetrics"] or {}),
    }


def _newer(ordering: Sequence[str], s: str = "s", t: str = "t") -> str:
    """SQL: ``s``'s ordering values are lexicographically greater than ``t``'s."""
    terms = []
    for i, col in enumerate(ordering):
        equal = [f"{s}.{_quote(c)} = {t}.{_quote(c)}" for c in ordering[:i]]
        terms.append("(" + " AND ".join([*equal, f"{s}.{_quote(col)} > {t}.{_quote(col)}"]) + ")")
    return "(" + " OR ".join(terms) + ")"


def _read_source(spark: SparkSession, config: MergeConfig) -> tuple[DataFrame, int | None]:
    from airflow_provider_lakeops.spark_apps.lake_session import spark_path

    delta, content = _fs_exists(spark, config.source_path)
    if config.source_format == "delta":
        if not delta:
            what = (
                "holds plain files (no _delta_log): use source_format='parquet'"
                if content
                else "does not exist"
            )
            raise MergeInputError(f"source_path {config.source_path} {what}")
        version = _latest_commit(spark, config.source_path)["version"]
        frame = spark.read.format("delta").option("versionAsOf", version).load(spark_path(config.source_path))
        return frame, version
    if delta:
        raise MergeInputError(
            f"source_path {config.source_path} is a Delta table: use source_format='delta' (plain Parquet "
            "reads would include files the Delta log has removed)"
        )
    if not content:
        raise MergeInputError(f"source_path {config.source_path} does not exist or is empty")
    return spark.read.format("parquet").load(spark_path(config.source_path)), None


def _check_columns(frame: DataFrame, config: MergeConfig) -> list[str]:
    """The silver columns (bronze minus exclusions), after checking the required ones exist."""
    present = {c.lower(): c for c in frame.columns}
    needed = [*config.keys, *config.ordering_columns, *config.tie_breaker]
    if config.delete_column:
        needed.append(config.delete_column)
    missing = [n for n in needed if n.lower() not in present]
    if missing:
        raise MergeInputError(f"source_path {config.source_path} has no column(s) {missing}")
    excluded = {n.lower() for n in config.exclude_columns}
    return [c for c in frame.columns if c.lower() not in excluded]


def _any_null(columns: Sequence[str]) -> Column:
    from functools import reduce

    from pyspark.sql import functions as F

    return reduce(lambda a, b: a | b, [F.col(c).isNull() for c in columns])


def _ties(frame: DataFrame, keys: list[str], group: list[str], data_columns: list[str]) -> int:
    """Keys with two or more *different* changes at the same ``group`` values (keys + order)."""
    from pyspark.sql import functions as F

    content = F.sha2(
        F.to_json(F.struct(F.col(_DELETE), *[F.col(c) for c in data_columns]), {"ignoreNullFields": "false"}),
        256,
    )
    return int(
        frame.groupBy(*group)
        .agg(F.countDistinct(content).alias("n"))
        .filter(F.col("n") > 1)
        .select(*keys)
        .distinct()
        .count()
    )


# ---------------------------------------------------------------------------------------- run
def run(spark: SparkSession, config: MergeConfig) -> dict[str, Any]:
    """MERGE the latest change per key of ``config.source_path`` into ``config.target_path``; the report.

    :raises MergeInputError: the input cannot be merged (nothing is written).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    started = time.monotonic()
    config.validate()
    target_delta, target_content = _fs_exists(spark, config.target_path)
    if target_content and not target_delta:
        raise MergeInputError(
            f"target_path {config.target_path} holds files but no Delta table: give an empty folder or a "
            "Delta table"
        )
    source, source_version = _read_source(spark, config)
    columns = _check_columns(source, config)
    present = {c.lower(): c for c in source.columns}
    keys = [present[k.lower()] for k in config.keys]
    ordering = [present[c.lower()] for c in config.ordering_columns]
    tie = [present[c.lower()] for c in config.tie_breaker]
    if config.delete_column:
        flag = F.coalesce(
            F.col(present[config.delete_column.lower()]).cast("string").isin(*config.delete_values),
            F.lit(False),
        )
    else:
        flag = F.lit(False)
    frame = source.select(
        *[F.col(c) for c in dict.fromkeys([*columns, *keys, *ordering, *tie])], flag.alias(_DELETE)
    )
    frame = frame.persist()
    try:
        source_rows = int(frame.count())
        nulls = int(frame.filter(_any_null([*keys, *ordering])).count())
        if nulls:
            raise MergeInputError(
                f"{nulls} change(s) in {config.source_path} have a null key or ordering value "
                f"({', '.join([*keys, *ordering])}): they cannot be ordered"
            )
        ties = _ties(frame, keys, [*keys, *ordering, *tie], columns)
        if ties:
            hint = "a finer tie_breaker" if tie else "tie_breaker=[...] (e.g. ['_kafka_offset'])"
            raise MergeInputError(
                f"{ties} key(s) have different changes with the same ordering values "
                f"({', '.join([*ordering, *tie])}): which one is the latest would be arbitrary; give {hint}"
            )
        rank = Window.partitionBy(*keys).orderBy(*[F.col(c).desc() for c in [*ordering, *tie]])
        latest = frame.withColumn(_RANK, F.row_number().over(rank)).filter(F.col(_RANK) == 1).drop(_RANK)
        report: dict[str, Any] = {
            "status": "ok",
            "source_path": config.source_path,
            "source_format": config.source_format,
            "source_version": source_version,
            "source_rows": source_rows,
            "target_path": config.target_path,
            "columns": columns,
        }
        if not target_delta:
            rows = latest.filter(~F.col(_DELETE)).select(*columns)
            rows.write.format("delta").mode("errorifexists").save(_plain_path(config.target_path))
            commit = _latest_commit(spark, config.target_path)
            inserted = int(commit["metrics"].get("numOutputRows") or 0)
            report.update(
                created=True,
                merged=True,
                changes=inserted,
                rows_inserted=inserted,
                rows_updated=0,
                rows_deleted=0,
            )
        else:
            report.update(_merge(spark, config, latest, columns, keys, ordering))
            commit = _latest_commit(spark, config.target_path)
        report["silver_version"] = commit["version"]
        schema = spark.read.format("delta").load(_plain_path(config.target_path)).schema
        report["schema"] = [{"name": f.name, "type": f.dataType.simpleString()} for f in schema.fields]
        report["duration_seconds"] = round(time.monotonic() - started, 3)
        return report
    finally:
        frame.unpersist()


def _plain_path(path: str) -> str:
    from airflow_provider_lakeops.spark_apps.lake_session import spark_path

    return spark_path(path)


def _merge(
    spark: SparkSession,
    config: MergeConfig,
    latest: DataFrame,
    columns: list[str],
    keys: list[str],
    ordering: list[str],
) -> dict[str, Any]:
    from pyspark.sql import functions as F

    target = spark.read.format("delta").load(_plain_path(config.target_path))
    tcols = {c.lower(): c for c in target.columns}
    lacking = [c for c in columns if c.lower() not in tcols]
    extra = [c for c in target.columns if c.lower() not in {x.lower() for x in columns}]
    if lacking or extra:
        raise MergeInputError(
            f"the silver table {config.target_path} and the bronze columns differ (bronze only: {lacking}, "
            f"silver only: {extra}): evolve silver first, or set exclude_columns"
        )
    current = target.select(*[F.col(tcols[c.lower()]).alias(f"__t_{c}") for c in [*keys, *ordering]])
    joined = latest.join(current, on=[F.col(k) == F.col(f"__t_{k}") for k in keys], how="left")
    newer = F.lit(False)
    for i, col in enumerate(ordering):
        term = F.col(col) > F.col(f"__t_{col}")
        for prior in ordering[:i]:
            term = term & (F.col(prior) == F.col(f"__t_{prior}"))
        newer = newer | term
    absent = F.col(f"__t_{keys[0]}").isNull()
    changes = joined.filter((absent & ~F.col(_DELETE)) | (~absent & newer)).select(*columns, _DELETE)
    changes = changes.localCheckpoint()  # evaluated once: counted, then merged
    count = int(changes.count())
    if count == 0:
        return {
            "created": False,
            "merged": False,
            "changes": 0,
            "rows_inserted": 0,
            "rows_updated": 0,
            "rows_deleted": 0,
        }
    view = f"lakeops_merge_changes_{int(time.time() * 1000)}"
    changes.createOrReplaceTempView(view)
    on = " AND ".join(f"t.{_quote(k)} = s.{_quote(k)}" for k in keys)
    guard = _newer(ordering)
    assignments = ", ".join(f"t.{_quote(c)} = s.{_quote(c)}" for c in columns if c not in keys)
    names = ", ".join(_quote(c) for c in columns)
    values = ", ".join(f"s.{_quote(c)}" for c in columns)
    update = (
        f"WHEN MATCHED AND NOT s.{_DELETE} AND {guard} THEN UPDATE SET {assignments} " if assignments else ""
    )
    spark.sql(
        f"MERGE INTO {_sql_path(config.target_path)} t USING {view} s ON {on} "
        f"WHEN MATCHED AND s.{_DELETE} AND {guard} THEN DELETE "
        f"{update}"
        f"WHEN NOT MATCHED AND NOT s.{_DELETE} THEN INSERT ({names}) VALUES ({values})"
    )
    spark.catalog.dropTempView(view)
    metrics = _latest_commit(spark, config.target_path)["metrics"]
    return {
        "created": False,
        "merged": True,
        "changes": count,
        "rows_inserted": int(metrics.get("numTargetRowsInserted") or 0),
        "rows_updated": int(metrics.get("numTargetRowsUpdated") or 0),
        "rows_deleted": int(metrics.get("numTargetRowsDeleted") or 0),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """spark-submit entry point: 0 merged, 2 a configuration or input error, 1 a failed job."""
    parser = argparse.ArgumentParser(prog="delta_merge_job", description="bronze CDC -> silver Delta MERGE")
    parser.add_argument("--config", required=True, help="the MergeConfig as JSON")
    parser.add_argument("--report", help="local file for the JSON run report")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        config = MergeConfig.from_json(args.config)
    except (ValueError, TypeError) as exc:
        write_report_file({"status": "config_error", "error": str(exc)}, args.report)
        print(f"delta_merge_job: {exc}", file=sys.stderr)
        return 2
    from pyspark.sql import SparkSession

    from airflow_provider_lakeops.spark_apps.lake_session import apply_s3a_credentials

    spark = SparkSession.builder.appName("lakeops-delta-merge").getOrCreate()
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    apply_s3a_credentials(spark)
    try:
        report = run(spark, config)
        write_report_file(report, args.report)
        print("LAKEOPS_DELTA_MERGE_REPORT " + json.dumps(report, sort_keys=True, default=str), flush=True)
        return 0
    except MergeInputError as exc:
        write_report_file({"status": "input_error", "error": str(exc)}, args.report)
        print(f"delta_merge_job: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        message = f"{type(exc).__name__}: {str(exc).splitlines()[0][:500] if str(exc) else ''}"
        write_report_file({"status": "failed", "error": message}, args.report)
        print(f"delta_merge_job: the MERGE failed: {message}", file=sys.stderr)
        return 1
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
