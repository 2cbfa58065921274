"""Benchmark: the streaming app against Spark's plain batch read -> write of the same input.

    .venv/bin/python benchmarks/streaming.py [--case all | file kafka freshness cdc] [--rows 1000000]
        [--files 8] [--messages 200000] [--freshness-seconds 40] [--trigger "1 second"]

Every case runs in one local[2] SparkSession and prints one JSON document. No timing is asserted.

* **file**: JSON-lines files (generated once with the project's sample generator, reused from
  ``.lakeops/bench/``). Floor: ``spark.read.schema(typed).json(files).write.parquet(out)``.
* **kafka**: ``--messages`` Debezium-shaped PostgreSQL change events in a topic of a REAL Kafka
  broker (the local stack's KRaft broker, or ``$LAKEOPS_KAFKA_BOOTSTRAP``), read through Spark's
  Kafka source (``spark-sql-kafka`` jars in ``spark.jars``). Floor: ``spark.read.format("kafka")``
  of the same topic, ``from_json`` of the envelope with the typed row schema, written as Parquet.
* **freshness**: a ``processingTime`` stream (``--trigger``) while a producer commits one change
  every 100 ms; for each change, the time from its commit (``source.ts_ms``) until its row is
  visible in bronze (the batch's partition folder appears), p50/p95/max. The events are
  Debezium-shaped and produced by this script, not by a real Debezium connector.
* **cdc**: the same measurement end to end through the real servers: a row committed in the
  stack's PostgreSQL, captured by Debezium 3.6.1 on a real Kafka Connect worker into the real
  broker, streamed by the app (``processingTime``), until its row is visible in bronze.

The streaming side is ``kafka_customer_events.run`` with a fresh checkpoint: parse against the
schema file, per-field checks and quarantine, Debezium unwrap and ``_source_position``, ingestion
metadata, the checkpoint's offset/commit logs and the idempotent ``foreachBatch`` write.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.spark_apps import apps_dir
from airflow_provider_lakeops.spark_apps import kafka_customer_events as app
from airflow_provider_lakeops.spark_apps.streaming_options import StreamConfig, load_schema_spec

REPO = Path(__file__).resolve().parents[1]
SCHEMA = apps_dir() / "schemas" / "customer_event.json"


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
    types = {
        "string": T.StringType(),
        "long": T.LongType(),
        "double": T.DoubleType(),
        "timestamp": T.TimestampType(),
        "date": T.DateType(),
        "integer": T.IntegerType(),
        "boolean": T.BooleanType(),
    }
    schema = T.StructType([T.StructField(f.name, types[f.type]) for f in spec.fields])
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    spark.read.schema(schema).json(str(landing)).write.mode("overwrite").parquet(str(out))
    return time.perf_counter() - started


def streaming(spark, landing: Path, work: Path) -> tuple[float, dict]:
    shutil.rmtree(work, ignore_errors=True)
    cfg = StreamConfig(
        source="file",
        landing_path=str(landing),
        bronze_path=str(work / "bronze"),
        checkpoint_path=str(work / "checkpoint"),
        schema_file=str(SCHEMA),
    )
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the app's one-line report: the summary says it all
        report = app.run(spark, cfg)
    return time.perf_counter() - started, report


# ------------------------------------------------------------------------------- Kafka cases
KAFKA_STACK_HOME = REPO / ".lakeops" / "bench" / "kafka-stack"
T0 = 1_764_806_400_000


def change_event(n: int, lsn: int, ts_ms: int | None = None) -> bytes:
    """A Debezium PostgreSQL insert of row ``n`` (pgoutput, JsonConverter without schemas)."""
    ts = T0 + n if ts_ms is None else ts_ms
    after = {
        "event_id": f"evt-{n:09d}",
        "customer_id": n % 50_000,
        "session_id": f"s-{n % 9000}",
        "event_type": "page_view",
        "event_ts": ts,
        "updated_at": ts,
        "page": "/home",
        "amount": 12.5,
        "currency": "USD",
        "email": f"user{n}@example.com",
        "phone": "+1-555-0100",
        "ssn": "123-45-6789",
        "full_name": f"User {n}",
        "ip_address": "10.0.0.1",
        "event_date": 20_426,
    }
    source = {
        "version": "3.6.1.Final",
        "connector": "postgresql",
        "name": "bench",
        "ts_ms": ts,
        "snapshot": "false",
        "db": "postgres",
        "sequence": json.dumps([str(lsn - 8), str(lsn)]),
        "schema": "public",
        "table": "customer_events",
        "txId": 1000 + n,
        "lsn": lsn,
        "xmin": None,
    }
    return json.dumps({"before": None, "after": after, "source": source, "op": "c", "ts_ms": ts + 3}).encode()


def kafka_bootstrap(stack_holder: list[Any]) -> tuple[str, list[str]]:
    """The broker and the Spark Kafka jars: from the environment, or a broker started here."""
    bootstrap, jars = os.environ.get("LAKEOPS_KAFKA_BOOTSTRAP"), os.environ.get("LAKEOPS_SPARK_KAFKA_JARS")
    if bootstrap and jars:
        return bootstrap, jars.split(",")
    from airflow_provider_lakeops.testing.stack import LocalStack

    stack = LocalStack(KAFKA_STACK_HOME, moto=False, snowflake=False, kafka=True).start()
    stack_holder.append(stack)
    return str(stack.kafka_bootstrap), stack.spark_kafka_jars()


def new_topic(bootstrap: str, name: str, partitions: int = 2) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"{name}.{int(time.time() * 1000)}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(30)
    return topic


def fill_topic(bootstrap: str, topic: str, messages: int) -> float:
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 500_000,
        }
    )
    started = time.perf_counter()
    for n in range(messages):
        producer.produce(topic, key=str(n).encode(), value=change_event(n, 1_000_000 + 16 * n))
        if n % 10_000 == 0:
            producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("messages were not delivered")
    return time.perf_counter() - started


def kafka_floor(spark, bootstrap: str, topic: str, out: Path) -> float:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    spec = load_schema_spec(SCHEMA)
    types = {
        "string": T.StringType(),
        "long": T.LongType(),
        "double": T.DoubleType(),
        "timestamp": T.LongType(),
        "date": T.IntegerType(),
        "integer": T.IntegerType(),
        "boolean": T.BooleanType(),
    }  # Debezium sends timestamps/dates as numbers
    row = T.StructType([T.StructField(f.name, types[f.type]) for f in spec.fields])
    envelope = T.StructType(
        [
            T.StructField("after", row),
            T.StructField("op", T.StringType()),
            T.StructField("ts_ms", T.LongType()),
        ]
    )
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("kafka.isolation.level", "read_committed")
        .load()
        .select(
            F.from_json(F.col("value").cast("string"), envelope).alias("e"), "topic", "partition", "offset"
        )
        .select("e.after.*", "e.op", "topic", "partition", "offset")
        .write.mode("overwrite")
        .parquet(str(out))
    )
    return time.perf_counter() - started


def kafka_streaming(spark, bootstrap: str, topic: str, work: Path, **config: Any) -> tuple[float, dict]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    options = work / "kafka-options.json"
    options.write_text(json.dumps({"kafka.bootstrap.servers": bootstrap}))
    cfg = StreamConfig(
        source="kafka",
        topics=(topic,),
        kafka_options_file=str(options),
        debezium=True,
        bronze_path=str(work / "bronze"),
        checkpoint_path=str(work / "checkpoint"),
        schema_file=str(SCHEMA),
        **config,
    )
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the app's one-line report: the summary says it all
        report = app.run(spark, cfg)
    return time.perf_counter() - started, report


def kafka_case(spark, bootstrap: str, messages: int, work: Path) -> dict[str, Any]:
    warm = new_topic(bootstrap, "bench.warm")
    fill_topic(bootstrap, warm, 20_000)
    kafka_floor(spark, bootstrap, warm, work / "warm-floor")  # JIT and codegen warm-up for both paths
    kafka_streaming(spark, bootstrap, warm, work / "warm-stream")
    topic = new_topic(bootstrap, "bench.public.customer_events")
    produce_s = fill_topic(bootstrap, topic, messages)
    floor_s = kafka_floor(spark, bootstrap, topic, work / "kafka-floor")
    stream_s, report = kafka_streaming(spark, bootstrap, topic, work / "kafka-stream")
    return {
        "case": "kafka (real broker, Debezium-shaped PostgreSQL events, availableNow)",
        "messages": messages,
        "partitions": 2,
        "produce_seconds": round(produce_s, 2),
        **ratio_fields(floor_s, stream_s, messages, report),
    }


def ratio_fields(floor_s: float, stream_s: float, rows: int, report: dict[str, Any]) -> dict[str, Any]:
    """The figures every throughput case prints: both timings, rates, the ratio, the app's report."""
    return {
        "batch_floor_seconds": round(floor_s, 2),
        "batch_floor_rows_per_s": round(rows / floor_s),
        "streaming_seconds": round(stream_s, 2),
        "streaming_rows_per_s": round(rows / stream_s),
        "ratio_streaming_over_floor": round(stream_s / floor_s, 2),
        "target": "ratio <= 2.0",
        "streaming_batch_seconds": round(sum(b["seconds"] for b in report["batch_details"]), 2),
        "rows_bronze": report["rows_bronze"],
        "rows_quarantined": report["rows_quarantined"],
        "batches": report["batches"],
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def watch_bronze(
    bronze: Path,
    stream: threading.Thread,
    committed: dict[str, float],
    visible: dict[str, float],
    done: threading.Event,
) -> threading.Thread:
    """A thread noting when each event id first appears in a bronze file (``visible``)."""
    import pyarrow.parquet as pq

    seen: set[str] = set()

    def watch() -> None:
        while stream.is_alive() and (len(visible) < len(committed) or not done.is_set()):
            now = time.time()
            for f in bronze.glob("ingest_date=*/batch=*/*.parquet") if bronze.is_dir() else []:
                if str(f) not in seen:
                    seen.add(str(f))
                    for event_id in pq.read_table(f, columns=["event_id"]).column("event_id").to_pylist():
                        visible.setdefault(event_id, now)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def freshness_case(spark, bootstrap: str, seconds: float, trigger: str, work: Path) -> dict[str, Any]:
    """Commit -> visible in bronze, for changes committed every 100 ms into a running stream."""
    from confluent_kafka import Producer

    topic = new_topic(bootstrap, "bench.fresh.customer_events")
    bronze = work / "fresh" / "bronze"
    result: dict[str, Any] = {}
    stream = threading.Thread(
        target=lambda: result.update(
            report=kafka_streaming(
                spark,
                bootstrap,
                topic,
                work / "fresh",
                trigger="processingTime",
                processing_time=trigger,
                stop_after_seconds=seconds + 25,
            )[1]
        ),
        daemon=True,
    )
    stream.start()
    time.sleep(12)  # the query's start (first, empty batch) is not what is measured
    committed: dict[str, float] = {}
    visible: dict[str, float] = {}
    done = threading.Event()
    watcher = watch_bronze(bronze, stream, committed, visible, done)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    n, lsn, end = 0, 5_000_000, time.monotonic() + seconds
    while time.monotonic() < end:
        now_ms = int(time.time() * 1000)
        producer.produce(topic, key=str(n).encode(), value=change_event(n, lsn, now_ms))
        producer.flush(10)
        committed[f"evt-{n:09d}"] = now_ms / 1000
        n, lsn = n + 1, lsn + 16
        time.sleep(max(0.0, 0.1 - (time.time() - now_ms / 1000)))
    done.set()
    watcher.join(30)
    stream.join(seconds + 60)
    latencies = [visible[k] - t for k, t in committed.items() if k in visible]
    return {
        "case": f"freshness (processingTime '{trigger}', one committed change every 100 ms, "
        "Debezium-shaped events produced by this benchmark, not a real Debezium connector)",
        "changes": len(committed),
        "visible": len(latencies),
        "commit_to_bronze_p50_s": round(percentile(latencies, 0.50), 3),
        "commit_to_bronze_p95_s": round(percentile(latencies, 0.95), 3),
        "commit_to_bronze_max_s": round(max(latencies), 3),
        "batches": result.get("report", {}).get("batches"),
    }


def cdc_case(spark, seconds: float, trigger: str, work: Path, stacks: list[Any]) -> dict[str, Any]:
    """Commit in PostgreSQL -> Debezium -> Kafka -> the stream -> visible in bronze, p50/p95."""
    import urllib.request

    from airflow_provider_lakeops.testing import cdc
    from airflow_provider_lakeops.testing.stack import LocalStack

    stack = LocalStack(
        REPO / ".lakeops" / "bench" / "cdc-stack",
        moto=False,
        snowflake=False,
        kafka_connect=True,
        postgres=True,
    ).start()
    stacks.append(stack)
    pg = stack.postgres
    cdc.prepare_source(pg)
    cdc.seed(pg, 1)  # the snapshot creates the topic before the stream subscribes
    config = json.loads(
        (REPO / "infra" / "debezium" / "postgres-source.json")
        .read_text()
        .replace("{{ params.topic_prefix }}", "bench")
        .replace("{{ params.table_include_list }}", cdc.SOURCE_TABLE)
        .replace("{{ params.slot_name }}", "bench")
        .replace("{{ params.publication_name }}", "bench")
    )
    config.update(
        {
            "database.hostname": pg.host,
            "database.port": str(pg.port),
            "database.user": pg.cdc_user,
            "database.password": pg.cdc_password,
            "database.dbname": "postgres",
        }
    )
    request = urllib.request.Request(
        f"{stack.kafka_connect_url}/connectors/bench/config",
        method="PUT",
        data=json.dumps(config).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=60).close()
    topic = f"bench.{cdc.SOURCE_TABLE}"
    bronze = work / "cdc" / "bronze"
    deadline = time.monotonic() + 90
    from confluent_kafka.admin import AdminClient

    while (
        topic not in AdminClient({"bootstrap.servers": stack.kafka_bootstrap}).list_topics(timeout=5).topics
    ):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Debezium did not create {topic} within 90 s")
        time.sleep(0.5)
    result: dict[str, Any] = {}
    stream = threading.Thread(
        target=lambda: result.update(
            report=kafka_streaming(
                spark,
                stack.kafka_bootstrap,
                topic,
                work / "cdc",
                trigger="processingTime",
                processing_time=trigger,
                stop_after_seconds=seconds + 25,
            )[1]
        ),
        daemon=True,
    )
    stream.start()
    time.sleep(12)
    committed: dict[str, float] = {}
    visible: dict[str, float] = {}
    done = threading.Event()
    watcher = watch_bronze(bronze, stream, committed, visible, done)
    conn = pg.connect()
    n, end = 100_000, time.monotonic() + seconds
    insert = (
        f"INSERT INTO {cdc.SOURCE_TABLE} ({', '.join(cdc.COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(cdc.COLUMNS))})"
    )
    try:
        while time.monotonic() < end:
            began = time.time()
            with conn.cursor() as cur:
                cur.execute(insert, cdc.source_row(n))
            conn.commit()
            committed[f"evt-{n:08d}"] = time.time()
            n += 1
            time.sleep(max(0.0, 0.1 - (time.time() - began)))
    finally:
        conn.close()
    done.set()
    watcher.join(60)
    stream.join(seconds + 60)
    latencies = [visible[k] - t for k, t in committed.items() if k in visible]
    return {
        "case": f"cdc freshness (real PostgreSQL -> Debezium 3.6.1 on Kafka Connect -> Kafka -> stream with "
        f"processingTime '{trigger}', one committed row every 100 ms)",
        "changes": len(committed),
        "visible": len(latencies),
        "commit_to_bronze_p50_s": round(percentile(latencies, 0.50), 3) if latencies else None,
        "commit_to_bronze_p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
        "commit_to_bronze_max_s": round(max(latencies), 3) if latencies else None,
        "batches": result.get("report", {}).get("batches"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--case", nargs="+", choices=("all", "file", "kafka", "freshness", "cdc"), default=["all"]
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="file case: events")
    parser.add_argument("--files", type=int, default=8, help="file case: JSON-lines files")
    parser.add_argument("--messages", type=int, default=200_000, help="kafka case: messages in the topic")
    parser.add_argument("--freshness-seconds", type=float, default=40, help="freshness case: producing time")
    parser.add_argument("--trigger", default="1 second", help="freshness case: processingTime interval")
    args = parser.parse_args()
    cases = ("file", "kafka", "freshness", "cdc") if "all" in args.case else tuple(args.case)

    from pyspark.sql import SparkSession

    stacks: list[Any] = []
    bootstrap, jars = kafka_bootstrap(stacks) if {"kafka", "freshness", "cdc"} & set(cases) else ("", [])
    work = REPO / ".lakeops" / "bench" / "streaming-out"
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("lakeops-bench-streaming")
        .config("spark.driver.memory", "3g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
    )
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    results = []
    try:
        if "file" in cases:
            results.append(file_case(spark, args.rows, args.files, work))
        if "kafka" in cases:
            results.append(kafka_case(spark, bootstrap, args.messages, work))
        if "freshness" in cases:
            results.append(freshness_case(spark, bootstrap, args.freshness_seconds, args.trigger, work))
        if "cdc" in cases:
            results.append(cdc_case(spark, args.freshness_seconds, args.trigger, work, stacks))
    finally:
        spark.stop()
        for stack in stacks:
            stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    for result in results:
        print(json.dumps(result, indent=2), flush=True)
    return 0


def file_case(spark, rows_wanted: int, files: int, work: Path) -> dict[str, Any]:
    landing = events(rows_wanted, files)
    warm = events(20_000, 2)
    batch_floor(spark, warm, work / "warm-batch")  # JIT and codegen warm-up for both paths
    streaming(spark, warm, work / "warm-stream")
    floor_s = batch_floor(spark, landing, work / "batch")
    stream_s, report = streaming(spark, landing, work / "stream")
    rows = report["rows_in"]
    return {
        "case": "file (JSON-lines landing folder, availableNow)",
        "rows": rows,
        "files": files,
        **ratio_fields(floor_s, stream_s, rows, report),
    }


if __name__ == "__main__":
    raise SystemExit(main())
