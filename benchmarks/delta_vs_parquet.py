"""Benchmark: the PII job writing its masked silver rows as Delta vs as Parquet (target: Delta <= 1.3x).

The real job (``airflow_provider_lakeops.spark_apps.pii_masking_job.run``: read JSON lines, mask with
the example policy, leak guard, write) over the same generated events
(:mod:`airflow_provider_lakeops.sample_data`), the same partitions (one run per day, ``dt`` from
``partition_values``, as the daily DAG does), in one local SparkSession with the lake's jars
(``build/jvm/spark-lake``, ``make jvm-deps``):

* ``parquet`` - ``partitionOverwriteMode=dynamic`` into a Parquet folder;
* ``delta``   - ``replaceWhere`` on ``dt`` into a Delta table partitioned by ``dt`` (one atomic commit).

One untimed warm-up round creates both tables and warms the JIT; then ``--repeat`` timed rounds,
interleaved (parquet, delta, parquet, ...), each replacing every day's partition in both. The best
and the median round of each are printed, and the ratios. ``--s3`` writes to ``s3://`` on a moto
server the benchmark starts itself (S3A through the same settings the operators pass); by default
a local folder (``.lakeops/bench/delta-vs-parquet``).

Delta reads its log with ``spark.databricks.delta.snapshotPartitions`` tasks: Delta's default is 50;
the job sets ``min(50, 2 x default parallelism)`` unless the submit sets it
(``pii_masking_job.size_delta_state``), and so does this benchmark; ``--snapshot-partitions`` overrides
it (``50``: Delta's default).

Measured (2 cores shared with other Spark jobs, OpenJDK 17, Spark 4.2.0, Delta 4.4.0, local folder,
``python benchmarks/delta_vs_parquet.py --repeat N``, 1,000,000 rows in 2 partitions):

======================  ==========  ==========  ================  ==============
run (load average)      parquet s   delta s     Delta/Parquet     Delta/Parquet
                        best        best        best              median
======================  ==========  ==========  ================  ==============
``--repeat 3`` (8-12)   17.52       26.76       1.53x             1.34x
``--repeat 3`` (1.6-3)  16.62       24.73       1.49x             1.45x
``--repeat 4`` (2.5-8)  17.10       17.95       1.05x             1.25x
======================  ==========  ==========  ================  ==============

On ``s3://`` (moto, ``--s3 --rows 200000 --repeat 2``): parquet 9.94 s, delta 15.84 s best, 1.59x best /
1.49x median (smaller partitions: the fixed per-commit cost weighs more).

Target <= 1.3x: met by the median of one run of three, not reliably. With Delta's default of 50
snapshot partitions (before ``size_delta_state``; 200,000 rows) it was 3.5x; with stats collection
off (``--conf spark.databricks.delta.stats.collect=false``, not what the job does: readers lose data
skipping) 1.12x best / 1.14x median. Where the rest goes (100,000 rows, one run, Spark UI): the write
job itself costs 1.19 s vs 1.01 s (per-file column statistics), plus ~0.4 s of Delta log snapshot
jobs and ~0.6 s of driver-side commit work (log listing, commit, ``DESCRIBE HISTORY``) per run: a fixed
~1 s a partition that larger partitions amortise.

Run: ``python benchmarks/delta_vs_parquet.py [--rows 1000000] [--days 2] [--repeat 3] [--s3]
[--snapshot-partitions N] [--conf KEY=VALUE] [--master local[2]]``.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
POLICY_FILE = REPO / "example_dags" / "policies" / "customer_events_pii.yaml"
JARS_DIR = REPO / "build" / "jvm" / "spark-lake"
KEY = b"benchmark-hmac-key-not-a-secret-0123456789-abcdef"
FORMATS = ("parquet", "delta")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _session(args: argparse.Namespace) -> Any:
    from pyspark.sql import SparkSession

    from airflow_provider_lakeops.spark_apps.pii_masking_job import size_delta_state
    from airflow_provider_lakeops.utils.lake import DELTA_SPARK_CONF

    jars = sorted(str(p) for p in JARS_DIR.glob("*.jar"))
    if not jars:
        sys.exit(f"no jars in {JARS_DIR}: run 'make jvm-deps'")
    builder = (
        SparkSession.builder.master(args.master)
        .appName("lakeops-bench-delta-vs-parquet")
        .config("spark.jars", ",".join(jars))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.host", "127.0.0.1")
    )
    for key, value in DELTA_SPARK_CONF.items():
        builder = builder.config(key, value)
    if args.snapshot_partitions:
        builder = builder.config("spark.databricks.delta.snapshotPartitions", str(args.snapshot_partitions))
    for item in args.conf or []:  # experiments, e.g. spark.databricks.delta.stats.collect=false
        key, _, value = item.partition("=")
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    size_delta_state(spark)  # what the job's main() does (unless the option above set it)
    return spark


def _start_moto(spark: Any) -> tuple[Any, str]:
    """A moto server on loopback, the bucket, and the session's S3A settings pointed at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    from airflow_provider_lakeops.spark_apps.lake_session import apply_s3a_credentials
    from airflow_provider_lakeops.utils.lake import AwsLakeAccess, spark_lake_settings

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    access = AwsLakeAccess(
        region="us-east-1", endpoint_url=endpoint, access_key="bench", secret_key="bench-secret"
    )
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench-secret",
    ).create_bucket(Bucket="bench-lake")
    settings = spark_lake_settings(paths=["s3://bench-lake/"], table_format="delta", access=access, jars="")
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in settings.conf.items():
        if key.startswith("spark.hadoop."):
            hadoop.set(key[len("spark.hadoop.") :], value)
    apply_s3a_credentials(spark, settings.env)
    return server, "s3://bench-lake/silver"


def _round(spark: Any, landing: Path, out_root: str, fmt: str, days: list[str]) -> float:
    from airflow_provider_lakeops.spark_apps.pii_masking_job import JobOptions, run
    from airflow_provider_lakeops.spark_apps.pii_policy import load_policy

    policy = load_policy(str(POLICY_FILE))
    started = time.perf_counter()
    for day in days:
        options = JobOptions(
            input_path=str(landing / f"dt={day}"),
            output_path=f"{out_root}/{fmt}",
            policy=policy,
            input_format="json",
            partition_by=["dt"],
            constants={"dt": day},
            table_format=fmt,
        )
        report = run(spark, options, KEY)
        if report["rows_out"] <= 0:
            raise RuntimeError(f"{fmt} {day}: no rows written")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in total, over all days")
    parser.add_argument("--days", type=int, default=2, help="partitions (one job run each)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--s3", action="store_true", help="write s3:// on a moto server started here")
    parser.add_argument("--snapshot-partitions", type=int, help="spark.databricks.delta.snapshotPartitions")
    parser.add_argument("--conf", action="append", metavar="KEY=VALUE", help="extra Spark configuration")
    parser.add_argument("--workdir", default=str(REPO / ".lakeops" / "bench" / "delta-vs-parquet"))
    args = parser.parse_args(argv)

    from airflow_provider_lakeops.sample_data import write_events

    work = Path(args.workdir)
    days = [f"2025-10-{d:02d}" for d in range(1, args.days + 1)]
    landing = work / f"landing-{args.rows}-{args.days}"
    if not landing.exists():
        tmp = landing.with_name(landing.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for i, day in enumerate(days):
            write_events(tmp / f"dt={day}", args.rows // args.days, day=day, seed=100 + i)
        tmp.rename(landing)

    spark = _session(args)
    spark_snapshot = spark.conf.get("spark.databricks.delta.snapshotPartitions")
    server = None
    try:
        if args.s3:
            server, out_root = _start_moto(spark)
        else:
            out = work / "silver"
            shutil.rmtree(out, ignore_errors=True)
            out_root = str(out)
        for fmt in FORMATS:  # warm-up: creates both tables, compiles the generated code
            _round(spark, landing, out_root, fmt, days)
        times: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
        for _ in range(args.repeat):
            for fmt in FORMATS:
                times[fmt].append(_round(spark, landing, out_root, fmt, days))
    finally:
        spark.stop()
        if server is not None:
            server.stop()

    where = "s3:// (moto)" if args.s3 else "local folder"
    print(
        f"\n{args.rows:,} rows, {args.days} partitions, {args.master}, {where}, "
        f"snapshotPartitions={spark_snapshot}, best/median of {args.repeat}"
        + (f", --conf {' '.join(args.conf)}" if args.conf else "")
    )
    print(f"{'format':8}  {'best s':>7}  {'median s':>8}  {'rows/s (best)':>13}  rounds")
    for fmt in FORMATS:
        best, median = min(times[fmt]), statistics.median(times[fmt])
        rounds = " ".join(f"{t:.2f}" for t in times[fmt])
        print(f"{fmt:8}  {best:7.2f}  {median:8.2f}  {args.rows / best:13,.0f}  {rounds}")
    ratio_best = min(times["delta"]) / min(times["parquet"])
    ratio_median = statistics.median(times["delta"]) / statistics.median(times["parquet"])
    verdict = "met" if ratio_median <= 1.3 else "NOT met"
    print(f"Delta/Parquet: {ratio_best:.2f}x (best), {ratio_median:.2f}x (median); target <= 1.3x {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
