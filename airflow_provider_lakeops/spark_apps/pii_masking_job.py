"""spark-submit entry point: mask PII columns by policy, guard against leaks, write Parquet or Delta.

Usage (``PiiMaskingOperator`` builds this command; ``--py-files`` carries the
``airflow_provider_lakeops.spark_apps`` package, see
:func:`airflow_provider_lakeops.spark_apps.build_py_files_zip`)::

    LAKEOPS_PII_HMAC_KEY=... spark-submit --py-files lakeops_spark_apps.zip pii_masking_job.py \\
        --input /lake/landing/customer_events/dt=2025-10-31 --input-format json \\
        --output /lake/silver/customer_behavior --partition-by dt --partition-value dt=2025-10-31 \\
        --policy-json '{"columns": {...}}' --report /tmp/report.json

``--partition-value NAME=VALUE`` adds a constant column (the run's partition); ``--derive
NEW=SOURCE`` copies an output column instead.

Steps: validate the policy (before Spark starts) -> copy the AWS credentials of the environment into
the Hadoop configuration (``s3://`` paths, see :mod:`~airflow_provider_lakeops.spark_apps.lake_session`)
-> check what already exists at the output (a Delta table for ``--table-format delta`` with the same
partition columns, never a Delta table for ``parquet``) -> read the input -> check the policy against
its columns -> apply native masking expressions -> leak guard on a sample -> write -> JSON run report.
Nothing is written when a check fails.

Writes:

* ``parquet`` (default): ``partitionOverwriteMode=dynamic``: only the partitions present in this run
  are replaced, so a rerun replaces and never duplicates; without partitions the output folder is
  replaced. Not atomic: a reader listing the folder during the write can see a partition half
  replaced.
* ``delta``: one atomic Delta commit (a reader sees the old or the new rows, never a mix). The first
  run creates the table partitioned by ``--partition-by``; then, with ``--partition-value``, the
  rows matching those constants are replaced (``replaceWhere``); without them, the partitions present
  in this run are replaced (Delta's dynamic partition overwrite); without partitions the table's rows
  are replaced. A rerun gives the same rows in a new table version.

The HMAC key is read by the driver from ``--key-source``: ``env:NAME`` (default
``env:LAKEOPS_PII_HMAC_KEY``; the variable is removed from the driver's environment once read),
``file:/path`` (mode 0600) or ``aws-secretsmanager:<secret id or ARN>`` (boto3, e.g. on EMR).
It never appears in argv, the report or the query plan.

Exit codes: 0 ok, 1 unexpected error, 2 bad arguments or policy, 3 leak detected,
4 HMAC key problem, 5 unreadable input, 6 output location of another format or partitioning.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.spark_apps.lake_session import (
    apply_s3a_credentials,
    size_delta_state,
    write_report_file,
)
from airflow_provider_lakeops.spark_apps.pii_policy import (
    HmacKeyError,
    PiiPolicy,
    PolicyError,
    check_hmac_key,
    key_fingerprint,
    load_policy,
    parse_policy,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "EXIT_CODES",
    "TABLE_FORMATS",
    "JobInputError",
    "JobOptions",
    "JobOutputError",
    "OutputState",
    "inspect_output",
    "build_parser",
    "load_hmac_key",
    "main",
    "options_from_args",
    "run",
]

DEFAULT_KEY_SOURCE = "env:LAKEOPS_PII_HMAC_KEY"
INPUT_FORMATS = ("parquet", "json", "csv")
#: The output formats (the same list as :data:`airflow_provider_lakeops.utils.lake.TABLE_FORMATS`).
TABLE_FORMATS = ("parquet", "delta")
EXIT_CODES = {
    "ok": 0,
    "error": 1,
    "policy_error": 2,
    "leak_detected": 3,
    "key_error": 4,
    "input_error": 5,
    "output_error": 6,
}
MAX_REPORTED_PARTITIONS = 1000


class JobInputError(RuntimeError):
    """The input cannot be read (missing path, unreadable files)."""


class JobOutputError(RuntimeError):
    """The output location holds a dataset this run must not write into (another table format,
    other partition columns). Raised before anything is written."""


@dataclass
class JobOptions:
    """Everything a run needs except the key."""

    input_path: str
    output_path: str
    policy: PiiPolicy
    input_format: str = "parquet"
    input_options: dict[str, str] = field(default_factory=dict)
    partition_by: list[str] = field(default_factory=list)
    derive: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    compression: str = "snappy"
    table_format: str = "parquet"

    def validate(self) -> None:
        problems = []
        if not self.input_path.strip():
            problems.append("--input is empty")
        if not self.output_path.strip():
            problems.append("--output is empty")
        if self.input_format not in INPUT_FORMATS:
            problems.append(
                f"--input-format must be one of {', '.join(INPUT_FORMATS)}, got {self.input_format!r}"
            )
        if self.table_format not in TABLE_FORMATS:
            problems.append(
                f"--table-format must be one of {', '.join(TABLE_FORMATS)}, got {self.table_format!r}"
            )
        if _norm(self.input_path) == _norm(self.output_path):
            problems.append("--output must differ from --input (the job would overwrite what it reads)")
        if len(set(self.partition_by)) != len(self.partition_by):
            problems.append(f"--partition-by names a column twice: {self.partition_by}")
        for name, value in self.constants.items():
            if not value:
                problems.append(f"--partition-value {name}= has an empty value")
        both = {n.casefold() for n in self.derive} & {n.casefold() for n in self.constants}
        if both:
            problems.append(f"column(s) {sorted(both)} are both derived and constant")
        if problems:
            raise PolicyError(problems)


def _norm(path: str) -> str:
    return path.rstrip("/").removeprefix("file://")


# -------------------------------------------------------------------------------------- key
def load_hmac_key(source: str) -> bytes:
    """Read the HMAC key from ``env:NAME``, ``file:/path`` or ``aws-secretsmanager:ID``.

    :raises HmacKeyError: the source is unknown, empty, unreadable, or the key is too short.
    """
    kind, _, where = source.partition(":")
    if not where:
        raise HmacKeyError(
            f"--key-source must look like env:NAME, file:/path or aws-secretsmanager:ID, got {source!r}"
        )
    if kind == "env":
        value = os.environ.pop(where, None)  # do not leave it for child processes of the driver
        if not value:
            raise HmacKeyError(f"the environment variable {where} holding the HMAC key is not set")
        return check_hmac_key(value)
    if kind == "file":
        try:
            mode = os.stat(where).st_mode
            if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise HmacKeyError(f"the key file {where} is readable by other users: chmod 600 it")
            with open(where, "rb") as fh:
                return check_hmac_key(fh.read().rstrip(b"\r\n"))
        except OSError as exc:
            raise HmacKeyError(f"cannot read the key file {where}: {exc.strerror or exc}") from None
    if kind == "aws-secretsmanager":
        import boto3

        try:
            secret = boto3.client("secretsmanager").get_secret_value(SecretId=where)
        except Exception as exc:  # botocore errors name the secret, never its value
            raise HmacKeyError(f"cannot read the HMAC key secret {where}: {type(exc).__name__}") from None
        value = secret.get("SecretBinary") or secret.get("SecretString")
        return check_hmac_key(value)
    raise HmacKeyError(f"unknown key source {kind!r}: use env:NAME, file:/path or aws-secretsmanager:ID")


# -------------------------------------------------------------------------------------- run
def _read(spark: SparkSession, options: JobOptions) -> Any:
    from pyspark.errors import AnalysisException

    reader = spark.read
    opts = dict(options.input_options)
    if options.input_format == "csv":
        opts = {"header": "true", **opts}
    if opts:
        reader = reader.options(**opts)
    try:
        if options.input_format == "json":
            return reader.json(options.input_path)
        if options.input_format == "csv":
            return reader.csv(options.input_path)
        return reader.parquet(options.input_path)
    except AnalysisException as exc:
        # path-not-found / schema-inference errors name paths, not data
        raise JobInputError(f"cannot read {options.input_format} input {options.input_path}: {exc}") from None


def _columns_report(
    policy: PiiPolicy, columns: Sequence[str], derive: dict[str, str], constants: dict[str, str]
) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for name in columns:
        if name in derive:
            report[name] = {"strategy": "keep", "source": derive[name], "derived": True}
            continue
        if name in constants:
            report[name] = {"strategy": "constant", "source": None, "derived": True}
            continue
        rule = policy.rule_for(name)
        report[name] = {"strategy": rule.strategy if rule else "passthrough", "source": name}
    return report


def _add_columns(masked: Any, options: JobOptions) -> Any:
    """Add the derived (copied) and constant columns after masking; they never overwrite a column."""
    from pyspark.sql import functions as F

    existing = {c.casefold() for c in masked.columns}
    problems = []
    for new, src in options.derive.items():
        if new.casefold() in existing:
            problems.append(f"--derive {new}={src}: column {new!r} already exists")
        elif src.casefold() not in existing:
            problems.append(f"--derive {new}={src}: source column {src!r} is not in the input")
    for name in options.constants:
        if name.casefold() in existing:
            problems.append(f"--partition-value {name}: column {name!r} already exists")
    if problems:
        raise PolicyError(problems)
    for new, src in options.derive.items():
        masked = masked.withColumn(new, masked[src])
    for name, value in options.constants.items():
        masked = masked.withColumn(name, F.lit(value))
    return masked


@dataclass(frozen=True)
class OutputState:
    """What already exists at an output location (checked before anything is written).

    :param exists: the location has at least one entry.
    :param delta: it has a ``_delta_log`` folder (a Delta table).
    :param data_files: it has entries besides ``_delta_log`` and hidden/marker files (``_SUCCESS``,
        ``.crc``): data a plain Parquet dataset is made of.
    :param partition_columns: the Delta table's partition columns (``None`` when not Delta).
    """

    exists: bool
    delta: bool
    data_files: bool
    partition_columns: list[str] | None = None


def _quoted_path(path: str) -> str:
    """``delta.`path``` for Spark SQL (a backtick inside the path is doubled)."""
    return "delta.`" + path.replace("`", "``") + "`"


def inspect_output(spark: SparkSession, path: str, *, partition_columns: bool = True) -> OutputState:
    """List ``path`` through the session's Hadoop file system: a Delta table (and, with
    ``partition_columns``, its partition columns: that needs Delta's SQL extension), plain files, or
    nothing."""
    sc: Any = spark.sparkContext
    hadoop_path = sc._jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(sc._jsc.hadoopConfiguration())
    if not fs.exists(hadoop_path) or not fs.getFileStatus(hadoop_path).isDirectory():
        exists = bool(fs.exists(hadoop_path))
        return OutputState(exists=exists, delta=False, data_files=exists)
    names = [status.getPath().getName() for status in fs.listStatus(hadoop_path)]
    delta = "_delta_log" in names
    data = any(not n.startswith(("_", ".")) for n in names)
    columns = _delta_partition_columns(spark, path) if delta and partition_columns else None
    return OutputState(exists=bool(names), delta=delta, data_files=data, partition_columns=columns)


def _delta_partition_columns(spark: SparkSession, path: str) -> list[str]:
    """The partition columns of the Delta table at ``path``, from its metadata only: ``DESCRIBE
    TABLE`` lists them under ``# Partition Information`` (``DESCRIBE DETAIL`` would also count the
    table's files, a full state reconstruction of the log before the write)."""
    rows = spark.sql(f"DESCRIBE TABLE {_quoted_path(path)}").collect()
    columns: list[str] = []
    section = False
    for row in rows:
        name = (row["col_name"] or "").strip()
        if name == "# Partition Information":
            section = True
        elif section and name.startswith("#"):
            if name != "# col_name":
                break
        elif section:
            if not name:
                break
            columns.append(name)
    return columns


def check_output(state: OutputState, options: JobOptions) -> None:
    """Refuse an output location this run must not write into.

    :raises JobOutputError: ``delta`` over plain Parquet (no ``_delta_log``), ``parquet`` over a
        Delta table, or a Delta table partitioned by other columns than ``--partition-by``.
    """
    where = options.output_path
    if options.table_format == "delta":
        if not state.delta and state.data_files:
            raise JobOutputError(
                f"{where} holds files but no _delta_log: it is not a Delta table (plain Parquet?). "
                "Write it with table_format='parquet', convert it (CONVERT TO DELTA), or choose "
                "another output path"
            )
        if state.delta:
            existing = state.partition_columns or []
            if [c.casefold() for c in existing] != [c.casefold() for c in options.partition_by]:
                raise JobOutputError(
                    f"the Delta table {where} is partitioned by {existing or 'nothing'}, this run by "
                    f"{options.partition_by or 'nothing'}: use the table's partition columns "
                    "(repartitioning a table is a separate, deliberate rewrite)"
                )
    elif state.delta:
        raise JobOutputError(
            f"{where} is a Delta table (it has a _delta_log): write it with table_format='delta'; "
            "Parquet files written into it would be invisible to Delta readers or corrupt the table"
        )


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def replace_where(constants: dict[str, str]) -> str:
    """The ``replaceWhere`` predicate of a run's constant columns: ```dt` = '2025-10-31'`` joined
    with ``AND``."""
    return " AND ".join(
        f"`{name.replace('`', '``')}` = {_sql_string(value)}" for name, value in sorted(constants.items())
    )


def _write_delta(spark: SparkSession, out: Any, options: JobOptions, state: OutputState) -> dict[str, Any]:
    """One Delta commit; returns how the table was written and the version of the commit."""
    writer = out.write.format("delta").mode("overwrite")
    if options.partition_by:
        writer = writer.partitionBy(*options.partition_by)
    # the write option always wins over the session's spark.sql.sources.partitionOverwriteMode
    overwrite = "static"
    if not state.delta:
        mode = "create"
    elif options.constants:
        mode = "replace_where"
        writer = writer.option("replaceWhere", replace_where(options.constants))
    elif options.partition_by:
        mode, overwrite = "dynamic_partitions", "dynamic"
    else:
        mode = "replace_table_rows"
    writer = writer.option("partitionOverwriteMode", overwrite)
    writer.save(options.output_path)
    last = spark.sql(f"DESCRIBE HISTORY {_quoted_path(options.output_path)} LIMIT 1").first()
    return {"write_mode": mode, "version": int(last["version"]) if last is not None else None}


def run(spark: SparkSession, options: JobOptions, key: bytes | None = None) -> dict[str, Any]:
    """Mask, guard and write; return the run report. Raises before writing when a check fails.

    :raises PolicyError: the policy or the partition settings do not fit the input.
    :raises airflow_provider_lakeops.spark_apps.leak_guard.LeakDetectedError: the leak guard found PII in an
        unmasked column.
    :raises JobInputError: the input cannot be read.
    :raises JobOutputError: the output location holds another format or partitioning.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from airflow_provider_lakeops.spark_apps import leak_guard, masking

    started = time.monotonic()
    options.validate()
    policy = options.policy
    if policy.uses_hmac:
        key = check_hmac_key(key)
    hkey = masking.hmac_key(spark, key, key_fingerprint(key)) if policy.uses_hmac and key else None

    # before reading: a wrong target fails fast (a Parquet run only needs to know it is not Delta)
    state = inspect_output(spark, options.output_path, partition_columns=options.table_format == "delta")
    check_output(state, options)
    source = _read(spark, options)
    masked = _add_columns(masking.apply_policy(source, policy, hkey), options)  # checks the columns first
    missing = [p for p in options.partition_by if p.casefold() not in {c.casefold() for c in masked.columns}]
    if missing:
        raise PolicyError(
            f"--partition-by column(s) {missing} are not in the "
            f"output (columns: {', '.join(masked.columns)}); "
            "add one with --derive NEW=SOURCE or --partition-value NAME=VALUE"
        )

    # leak guard on the masked rows, before anything is written
    guard_cfg = policy.leak_guard
    masked_names = {c.casefold() for c in policy.masked_columns}
    scanned = [c for c in masked.columns if c.casefold() not in masked_names]
    if guard_cfg.enabled:
        guard = leak_guard.scan(
            masked,
            scanned,
            sample_rows=guard_cfg.sample_rows,
            sample_fraction=guard_cfg.sample_fraction,
            patterns=guard_cfg.patterns,
            ignore=guard_cfg.ignore,
        )
        if guard.findings:
            raise leak_guard.LeakDetectedError(guard)
    else:
        guard = leak_guard.GuardResult(status="skipped", columns_scanned=[], patterns=[])

    # one pass: count the rows (and collect the partitions) while writing. Masking maps every
    # input row to exactly one output row, so one count serves as rows_in and rows_out: a second
    # observation under the masking projection would split its whole-stage-codegen pipeline and
    # copy every input row once more.
    obs_out = Observation("lakeops_pii_out")
    out = masked
    metrics = [F.count(F.lit(1)).alias("rows")]
    if options.partition_by:
        folders = [
            F.concat(F.lit(f"{p}="), F.coalesce(out[p].cast("string"), F.lit("__HIVE_DEFAULT_PARTITION__")))
            for p in options.partition_by
        ]
        metrics.append(F.array_sort(F.collect_set(F.concat_ws("/", *folders))).alias("partitions"))
    out = out.observe(obs_out, *metrics)

    delta: dict[str, Any] = {"write_mode": "dynamic_partitions" if options.partition_by else "replace_folder"}
    if options.table_format == "delta":
        spark.conf.set("spark.sql.parquet.compression.codec", options.compression)
        delta = _write_delta(spark, out, options, state)
    else:
        spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
        writer = out.write.mode("overwrite").option("compression", options.compression)
        if options.partition_by:
            writer = writer.partitionBy(*options.partition_by)
        writer.parquet(options.output_path)

    out_metrics = obs_out.get
    rows_in = int(out_metrics.get("rows", 0))
    partitions = list(out_metrics.get("partitions") or []) if options.partition_by else []
    masked_by_strategy: dict[str, list[str]] = {}
    for column, strategy in policy.masked_columns.items():
        masked_by_strategy.setdefault(strategy, []).append(column)
    return {
        "status": "ok",
        "input": options.input_path,
        "input_format": options.input_format,
        "output": options.output_path,
        "table_format": options.table_format,
        "write_mode": delta["write_mode"],
        "version": delta.get("version"),
        "partition_by": options.partition_by,
        "derived_columns": dict(options.derive),
        "partition_values": dict(options.constants),
        "rows_in": rows_in,
        "rows_out": int(out_metrics.get("rows", 0)),
        "partitions_written": partitions[:MAX_REPORTED_PARTITIONS],
        "partitions_written_count": len(partitions),
        "policy_mode": policy.mode,
        "columns": _columns_report(policy, masked.columns, options.derive, options.constants),
        "masked_columns": masked_by_strategy,
        "schema": [{"name": f.name, "type": f.dataType.simpleString()} for f in masked.schema.fields],
        "leak_guard": guard.to_dict(),
        "key_fingerprint": hkey.fingerprint if hkey else None,
        "spark": {
            "version": spark.version,
            "master": spark.sparkContext.master,
            "application_id": spark.sparkContext.applicationId,
        },
        "duration_seconds": round(time.monotonic() - started, 3),
    }


# ------------------------------------------------------------------------------------- CLI
def _pairs(values: Sequence[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise PolicyError(f"{flag} expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pii_masking_job", description="Mask PII columns by policy.")
    parser.add_argument("--input", required=True)
    parser.add_argument("--input-format", default="parquet", choices=INPUT_FORMATS)
    parser.add_argument("--input-option", action="append", metavar="KEY=VALUE")
    parser.add_argument("--output", required=True)
    policy = parser.add_mutually_exclusive_group(required=True)
    policy.add_argument("--policy-json", help="the policy as JSON text")
    policy.add_argument("--policy", help="a policy file (YAML or JSON)")
    parser.add_argument("--partition-by", action="append", default=[])
    parser.add_argument("--derive", action="append", metavar="NEW=SOURCE")
    parser.add_argument(
        "--partition-value",
        action="append",
        metavar="NAME=VALUE",
        help="add a constant column, e.g. dt=2025-10-31 (the run's partition)",
    )
    parser.add_argument("--compression", default="snappy")
    parser.add_argument("--table-format", default="parquet", choices=TABLE_FORMATS)
    parser.add_argument("--report", help="local file for the JSON run report (driver side)")
    parser.add_argument("--report-uri", help="a Hadoop FS URI for a copy of the report (s3://, hdfs://)")
    parser.add_argument("--key-source", default=DEFAULT_KEY_SOURCE)
    parser.add_argument("--app-name", default="lakeops-pii-masking")
    return parser


def options_from_args(args: argparse.Namespace) -> JobOptions:
    """Build and validate :class:`JobOptions` (the policy is validated here, before Spark starts)."""
    parsed = parse_policy(args.policy_json) if args.policy_json else load_policy(args.policy)
    options = JobOptions(
        input_path=args.input,
        output_path=args.output,
        policy=parsed,
        input_format=args.input_format,
        input_options=_pairs(args.input_option, "--input-option"),
        partition_by=list(args.partition_by),
        derive=_pairs(args.derive, "--derive"),
        constants=_pairs(args.partition_value, "--partition-value"),
        compression=args.compression,
        table_format=args.table_format,
    )
    options.validate()
    return options


def _write_report(report: dict[str, Any], local: str | None, uri: str | None, spark: Any) -> None:
    write_report_file(report, local)
    if uri and spark is not None:
        jvm = spark.sparkContext._jvm
        hadoop_path = jvm.org.apache.hadoop.fs.Path(uri)
        fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        stream = fs.create(hadoop_path, True)
        try:
            stream.write(bytearray(json.dumps(report, indent=2, sort_keys=True, default=str).encode("utf-8")))
        finally:
            stream.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job from the command line; return the process exit code."""
    from airflow_provider_lakeops.spark_apps.leak_guard import LeakDetectedError

    args = build_parser().parse_args(argv)  # exits with code 2 on a malformed command line
    spark = None
    report: dict[str, Any] = {"status": "error", "error": "not started"}
    try:
        options = options_from_args(args)
        key = load_hmac_key(args.key_source) if options.policy.uses_hmac else None
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.appName(args.app_name)
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("WARN")
        apply_s3a_credentials(spark)  # s3:// on executors too, without a secret in --conf
        if options.table_format == "delta":
            size_delta_state(spark)
        report = run(spark, options, key)
        del key
    except PolicyError as exc:
        report = {"status": "policy_error", "error": str(exc), "problems": exc.problems}
    except HmacKeyError as exc:
        report = {"status": "key_error", "error": str(exc)}
    except LeakDetectedError as exc:
        report = {"status": "leak_detected", "error": str(exc), "leak_guard": exc.result.to_dict()}
    except JobInputError as exc:
        report = {"status": "input_error", "error": str(exc)}
    except JobOutputError as exc:
        report = {"status": "output_error", "error": str(exc)}
    except Exception as exc:  # Spark errors may quote data values: the report names the type only
        report = {"status": "error", "error": f"{type(exc).__name__} (see the driver log)"}
        raise
    finally:
        _write_report(report, args.report, args.report_uri, spark)
        if spark is not None:
            spark.stop()
    status = report["status"]
    if status == "ok":
        print(
            f"lakeops-pii-masking: ok rows_in={report['rows_in']} rows_out={report['rows_out']} "
            f"masked_columns={sum(len(v) for v in report['masked_columns'].values())} "
            f"leak_guard={report['leak_guard']['status']} partitions={report['partitions_written_count']} "
            f"table_format={report['table_format']} version={report['version']}"
        )
    else:
        print(f"lakeops-pii-masking: {status}: {report['error']}", file=sys.stderr)
    return EXIT_CODES[status]


if __name__ == "__main__":
    sys.exit(main())
