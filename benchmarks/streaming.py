"""Benchmark: the streaming app (file source, availableNow) against a plain batch read -> write.

    .venv/bin/python benchmarks/streaming.py [--rows 1000000] [--files 8]

Both sides read the same JSON-lines files (generated once with the project's sample generator,
then reused from ``.lakeops/bench/``) in one local[2] SparkSession:

* **batch floor**: ``spark.read.schema(typed).json(files).write.parquet(out)`` - parse and write,
  nothing else;
* **streaming**: ``kafka_customer_events.run`` with ``trigger=availableNow`` and a fresh checkpoint -
  parse against the schema file, per-field checks and quarantine, ingestion metadata, the
  checkpoint's offset/commit logs, and the idempotent ``foreachBatch`` write of bronze + quarantine.

It prints rows/s of each and the ratio streaming/floor (target: within 2x). No timing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from airflow_provider_lakeops.sample_data import write_events  # noqa: E402
from spark_apps import kafka_customer_events as app  # noqa: E402
from spark_apps.streaming_options import StreamConfig, load_schema_spec  # noqa: E402

SCHEMA = REPO / "spark_apps" / "schemas" / "customer_event.json"


def events(rows: int, files: int) -> Path:
    """The benchmark input, generated once (the generator writes ~30k rows/s)."""
    folder = REPO / ".lakeops" / "bench" / f"streaming-events-{rows}-{files}"
    marker = folder / "_generated.json"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        summary = write_events(folder / "dt=2025-10-31", rows, rows_per_file=-(-rows // files), seed=42)
        marker.write_text(json.dumps(summary.to_dict()["defects"]))
        print(f"generated {rows:,} events in {time.perf_counter() - started:.1f} s -> {folder}", flush=True)
    return folder


def batch_floor(spark, landing: Path, out: Path) -> float:
    from pyspark.sql import types as T

    spec = load_schema_spec(SCHEMA)
    types = {"string": T.StringType(), "long": T.LongType(), "double": T.DoubleType(),
             "timestamp": T.TimestampType(), "date": T.DateType(), "integer": T.IntegerType(),
             "boolean": T.BooleanType()}
    schema = T.StructType([T.StructField(f.name, types[f.type]) for f in spec.fields])
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    spark.read.schema(schema).json(str(landing)).write.mode("overwrite").parquet(str(out))
    return time.perf_counter() - started


def streaming(spark, landing: Path, work: Path) -> tuple[float, dict]:
    shutil.rmtree(work, ignore_errors=True)
    cfg = StreamConfig(source="file", landing_path=str(landing), bronze_path=str(work / "bronze"),
                       checkpoint_path=str(work / "checkpoint"), schema_file=str(SCHEMA))
    started = time.perf_counter()
    report = app.run(spark, cfg)
    return time.perf_counter() - started, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=8)
    args = parser.parse_args()

    from pyspark.sql import SparkSession

    landing = events(args.rows, args.files)
    warm = events(20_000, 2)
    work = REPO / ".lakeops" / "bench" / "streaming-out"
    spark = (SparkSession.builder.master("local[2]").appName("lakeops-bench-streaming")
             .config("spark.driver.memory", "3g").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "2").config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.host", "127.0.0.1").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        batch_floor(spark, warm, work / "warm-batch")  # JIT and codegen warm-up for both paths
        streaming(spark, warm, work / "warm-stream")
        floor_s = batch_floor(spark, landing, work / "batch")
        stream_s, report = streaming(spark, landing, work / "stream")
    finally:
        spark.stop()
    rows = report["rows_in"]
    result = {
        "rows": rows,
        "files": args.files,
        "batch_floor_seconds": round(floor_s, 2),
        "batch_floor_rows_per_s": round(rows / floor_s),
        "streaming_seconds": round(stream_s, 2),
        "streaming_rows_per_s": round(rows / stream_s),
        "ratio_streaming_over_floor": round(stream_s / floor_s, 2),
        "target": "ratio <= 2.0",
        "rows_bronze": report["rows_bronze"],
        "rows_quarantined": report["rows_quarantined"],
        "batches": report["batches"],
    }
    print(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
