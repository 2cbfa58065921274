"""The streaming app in-process on local Spark (the session-wide ``spark`` fixture), file source.

The file source runs the same parsing, quarantine and sink code as the Kafka source; the Kafka
projection itself is checked on a DataFrame with the Kafka source's schema.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pyspark")

from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.spark_apps import kafka_customer_events as app
from airflow_provider_lakeops.spark_apps.streaming_options import StreamConfig

pytestmark = pytest.mark.spark

SCHEMA = str(Path(app.__file__).parent / "schemas" / "customer_event.json")


def publish(folder: Path, name: str, lines: list[str]) -> Path:
    """Write a dot-file, then rename it: the file source never sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    final = folder / name
    tmp.rename(final)
    return final


def config(tmp: Path, **kw) -> StreamConfig:
    values = {
        "source": "file",
        "landing_path": str(tmp / "landing"),
        "bronze_path": str(tmp / "bronze"),
        "checkpoint_path": str(tmp / "checkpoint"),
        "schema_file": SCHEMA,
        "report_path": str(tmp / "report.json"),
    }
    values.update(kw)
    return StreamConfig(**values)


def event(i: int, **over) -> dict:
    row = {
        "event_id": f"evt-x-{i:04d}",
        "customer_id": i,
        "session_id": "s",
        "event_type": "login",
        "event_ts": "2025-10-31T10:00:00.000Z",
        "updated_at": "2025-10-31T10:00:00.000Z",
        "page": "/",
        "amount": None,
        "currency": None,
        "email": "a@example.com",
        "phone": "555-123-4567",
        "ssn": "123-45-6789",
        "full_name": "Ada",
        "ip_address": "10.0.0.1",
        "event_date": "2025-10-31",
    }
    row.update(over)
    return row


BAD_LINES = [
    "this is not json",  # malformed
    "[1, 2, 3]",  # not an object
    json.dumps(event(9001, customer_id="abc")),  # wrong type
    json.dumps({k: v for k, v in event(9002).items() if k != "updated_at"}),  # missing required
    json.dumps(event(9003, event_id="  ", amount="12,50")),  # blank key + wrong type
]


def bronze_rows(spark, cfg: StreamConfig):
    return spark.read.parquet(cfg.bronze_path)


def test_runs_land_new_rows_once_quarantine_bad_ones_and_replay_without_duplicates(spark, tmp_path):
    cfg = config(tmp_path)
    summary = write_events(tmp_path / "landing" / "dt=2025-10-31", 60, seed=7)
    bad_file = publish(tmp_path / "landing" / "dt=2025-10-31", "bad.jsonl", BAD_LINES)
    null_keys = summary.defects["null_key"]

    # run 1 lands everything that has arrived
    r1 = app.run(spark, cfg)
    assert (r1["status"], r1["batches"]) == ("succeeded", 1)
    assert r1["rows_in"] == 60 + len(BAD_LINES)
    assert r1["rows_quarantined"] == null_keys + len(BAD_LINES)
    assert r1["rows_bronze"] == 60 - null_keys
    assert r1["quarantine_reasons"]["malformed_json"] == 2
    assert r1["quarantine_reasons"]["type_mismatch:customer_id"] == 1
    assert r1["quarantine_reasons"]["missing_required:updated_at"] == 1
    assert r1["quarantine_reasons"]["type_mismatch:amount"] == 1
    assert r1["quarantine_reasons"]["missing_required:event_id"] >= 1
    assert r1["end_offsets"] == {"logOffset": 0}
    assert json.loads(Path(cfg.report_path).read_text()) == json.loads(json.dumps(r1, default=str))
    bronze = bronze_rows(spark, cfg)
    assert bronze.count() == r1["rows_bronze"]
    assert bronze.filter("event_id is null or customer_id is null").count() == 0
    row = bronze.filter("_source_file is not null").first()
    assert row["_source_file"].endswith(".jsonl")
    assert row["ingest_date"] is not None
    assert row["_ingested_at"] is not None
    assert row["op"] is None
    assert dict(bronze.schema.jsonValue()["fields"][1])["type"] == "long"  # customer_id typed
    quarantine = spark.read.json(cfg.quarantine_path)
    assert quarantine.count() == r1["rows_quarantined"]
    bad = quarantine.filter(quarantine._source_file.endswith("bad.jsonl")).collect()
    assert sorted(r["_raw"] for r in bad) == sorted(BAD_LINES)
    assert all(r["_reason"] for r in bad)
    assert bad_file.name in bad[0]["_source_file"]

    # run 2: nothing new arrived -> nothing lands (a bounded processingTime stream this time)
    r2 = app.run(
        spark, config(tmp_path, trigger="processingTime", processing_time="1 second", stop_after_seconds=3)
    )
    assert (r2["status"], r2["trigger"]) == ("succeeded", "processingTime")
    assert (r2["batches"], r2["rows_in"], r2["rows_bronze"]) == (0, 0, 0)
    assert r2["start_offsets"] == r2["end_offsets"] == {"logOffset": 0}
    assert bronze_rows(spark, cfg).count() == r1["rows_bronze"]

    # run 3: only the new rows land
    write_events(tmp_path / "landing" / "dt=2025-11-01", 25, day="2025-11-01", seed=8, clean=True)
    r3 = app.run(spark, cfg)
    assert (r3["batches"], r3["rows_in"], r3["rows_bronze"], r3["rows_quarantined"]) == (1, 25, 25, 0)
    total = r1["rows_bronze"] + 25
    assert bronze_rows(spark, cfg).count() == total
    first_landing = (
        bronze_rows(spark, cfg)
        .filter("event_id like 'evt-20251101-%'")
        .select("_ingested_at")
        .distinct()
        .collect()
    )

    # crash after the batch wrote its output but before Spark committed it: the batch replays
    commits = Path(cfg.checkpoint_path) / "commits"
    last = r3["last_committed_batch"]
    (commits / str(last)).unlink()
    (commits / f".{last}.crc").unlink(missing_ok=True)  # Hadoop's checksum of the commit file
    r4 = app.run(spark, cfg)
    assert (r4["batch_ids"], r4["rows_in"]) == ([r3["last_committed_batch"]], 25)
    bronze = bronze_rows(spark, cfg)
    assert bronze.count() == total
    new_rows = bronze.filter("event_id like 'evt-20251101-%'")
    assert new_rows.count() == new_rows.select("event_id").distinct().count() == 25
    # the replay reused the batch timestamp: same partition, same _ingested_at
    assert (
        bronze.filter("event_id like 'evt-20251101-%'").select("_ingested_at").distinct().collect()
        == first_landing
    )


def test_debezium_envelopes_unwrap_with_deletes_and_tombstones(spark, tmp_path):
    cfg = config(tmp_path, debezium=True)
    e1, e2 = event(1), event(2, event_type="purchase", amount=10.5, currency="USD")
    lines = [
        json.dumps(
            {"before": None, "after": e1, "op": "c", "ts_ms": 1761904800000, "source": {"db": "shop"}}
        ),
        json.dumps(
            {
                "before": e1,
                "after": {**e1, "page": "/cart", "updated_at": 1761905000000},
                "op": "u",
                "ts_ms": 1761905000000,
            }
        ),
        json.dumps(
            {
                "schema": {"type": "struct"},  # JsonConverter with schemas.enable=true
                "payload": {"before": None, "after": e2, "op": "r", "ts_ms": 1761904700000},
            }
        ),
        json.dumps(
            {
                "before": {"event_id": e1["event_id"], "customer_id": 1},
                "after": None,
                "op": "d",
                "ts_ms": 1761906000000,
            }
        ),
        "",  # the tombstone that follows a delete
        json.dumps({"before": None, "after": None, "op": "t", "ts_ms": 1761906000001}),  # truncate
        json.dumps({"before": None, "after": None, "op": "c", "ts_ms": 1761906000002}),  # no row
        json.dumps({"before": {"customer_id": 3}, "after": None, "op": "d", "ts_ms": 1}),  # delete w/o key
        json.dumps(e1),  # not an envelope
        "{broken",
    ]
    publish(tmp_path / "landing", "cdc-0001.json", lines)
    report = app.run(spark, cfg)
    assert report["rows_in"] == len(lines)
    assert report["rows_skipped"] == 1
    assert report["operations"] == {"c": 1, "d": 1, "r": 1, "u": 1}
    assert report["quarantine_reasons"] == {
        "debezium_missing_after": 1,
        "debezium_missing_op": 1,
        "debezium_unknown_op": 1,
        "malformed_json": 1,
        "missing_required:event_id": 1,
    }
    rows = {(r["op"], r["event_id"]): r for r in bronze_rows(spark, cfg).collect()}
    assert set(rows) == {
        ("c", e1["event_id"]),
        ("u", e1["event_id"]),
        ("r", e2["event_id"]),
        ("d", e1["event_id"]),
    }
    deleted = rows[("d", e1["event_id"])]
    assert (deleted["customer_id"], deleted["event_type"]) == (1, None)  # key from `before`
    assert str(deleted["op_ts"]).startswith("2025-10-31 10:20:00")
    assert rows[("u", e1["event_id"])]["page"] == "/cart"
    assert str(rows[("u", e1["event_id"])]["updated_at"]).startswith("2025-10-31 10:03:20")  # epoch ms
    assert rows[("r", e2["event_id"])]["amount"] == 10.5
    quarantine = spark.read.json(cfg.quarantine_path)
    assert quarantine.filter("op = 't'").count() == 1


def test_kafka_records_parse_with_their_position(spark):
    from pyspark.sql import types as T

    kafka_schema = T.StructType(
        [
            T.StructField("key", T.BinaryType()),
            T.StructField("value", T.BinaryType()),
            T.StructField("topic", T.StringType()),
            T.StructField("partition", T.IntegerType()),
            T.StructField("offset", T.LongType()),
            T.StructField("timestamp", T.TimestampType()),
            T.StructField("timestampType", T.IntegerType()),
        ]
    )
    import datetime as dt

    ts = dt.datetime(2025, 10, 31, 12, 0)
    records = [
        (None, json.dumps(event(1)).encode(), "shop.customer_events", 0, 41, ts, 0),
        (None, b"\xff\xfe not json", "shop.customer_events", 1, 7, ts, 0),
    ]
    from airflow_provider_lakeops.spark_apps.streaming_options import load_schema_spec

    parsed = app.parse_records(
        app.kafka_to_raw(spark.createDataFrame(records, kafka_schema)), load_schema_spec(SCHEMA)
    ).collect()
    good, bad = sorted(parsed, key=lambda r: r["_kafka_offset"], reverse=True)
    assert (good["_reason"], good["_kafka_topic"], good["_kafka_partition"], good["_kafka_offset"]) == (
        None,
        "shop.customer_events",
        0,
        41,
    )
    assert (good["customer_id"], good["_source_file"], good["_raw"]) == (1, None, None)
    assert (bad["_reason"], bad["_kafka_partition"], bad["_kafka_offset"]) == ("malformed_json", 1, 7)
    assert bad["_raw"]


def test_kafka_source_without_the_package_says_which_package(spark, tmp_path):
    options = tmp_path / "kafka.json"
    options.write_text(json.dumps({"kafka.bootstrap.servers": "127.0.0.1:9"}))
    cfg = StreamConfig(
        source="kafka",
        topics=("shop.customer_events",),
        kafka_options_file=str(options),
        bronze_path=str(tmp_path / "b"),
        checkpoint_path=str(tmp_path / "c"),
        schema_file=SCHEMA,
    ).validate()
    assert app.source_options(cfg)["subscribe"] == "shop.customer_events"
    with pytest.raises(app.KafkaSourceUnavailableError, match=r"spark-sql-kafka-0-10_2\.13:4\..*spark.jars"):
        app.read_source(spark, cfg)


def test_checkpoint_of_another_query_is_refused_before_anything_runs(spark, tmp_path):
    first = config(tmp_path)
    app.check_fingerprint(spark, first)
    other = config(tmp_path, landing_path=str(tmp_path / "elsewhere"))
    with pytest.raises(app.CheckpointMismatchError, match="landing_path"):
        app.run(spark, other)
    assert not (tmp_path / "bronze").exists()
    assert not (tmp_path / "checkpoint" / "offsets").exists()
    app.check_fingerprint(spark, config(tmp_path, max_files_per_trigger=5))  # limits may change


def test_main_rejects_a_bad_command_line_with_exit_code_2(capsys, tmp_path):
    code = app.main(
        [
            "--source",
            "file",
            "--bronze-path",
            str(tmp_path / "b"),
            "--checkpoint",
            str(tmp_path / "c"),
            "--schema-file",
            SCHEMA,
        ]
    )
    assert code == 2
    assert "landing_path is required" in capsys.readouterr().err


# ------------------------------------------------------------------ Debezium source position
PG_SOURCES = [
    {"snapshot": "first", "lsn": 23_000_000, "sequence": '[null,"23000000"]', "ts_ms": 1761904700000},
    {"snapshot": "last", "lsn": 23_000_000, "sequence": '[null,"23000000"]', "ts_ms": 1761904700000},
    {"snapshot": "false", "lsn": 23_000_500, "sequence": '["22999000","23000500"]', "ts_ms": 1761904800000},
    {"snapshot": "false", "lsn": 23_000_900, "sequence": '["22999000","23000900"]', "ts_ms": 1761904800000},
    {"snapshot": "false", "lsn": 23_100_000, "sequence": '["23001000","23100000"]', "ts_ms": 1761904900000},
    {
        "snapshot": "incremental",
        "lsn": 23_200_000,
        "sequence": '["23150000","23200000"]',
        "ts_ms": 1761905000000,
    },
]
BINLOG_SOURCES = [
    {"snapshot": "true", "file": "mysql-bin.000002", "pos": 1024, "row": 0},
    {"snapshot": "false", "file": "mysql-bin.000002", "pos": 2048, "row": 0},
    {"snapshot": "false", "file": "mysql-bin.000002", "pos": 2048, "row": 1},
    {"snapshot": "false", "file": "mysql-bin.000002", "pos": 10_000, "row": 0},
    {"snapshot": "false", "file": "mysql-bin.000010", "pos": 4, "row": 0},
]


@pytest.mark.parametrize(
    "sources", [pytest.param(PG_SOURCES, id="postgresql"), pytest.param(BINLOG_SOURCES, id="mysql-binlog")]
)
def test_source_position_orders_changes_like_the_source_and_matches_the_reference(spark, tmp_path, sources):
    from airflow_provider_lakeops.spark_apps import streaming_options as so

    lines = [
        json.dumps(
            {
                "before": None,
                "after": event(i),
                "op": "r" if s["snapshot"] != "false" else "c",
                "ts_ms": 1761905000000 + i,
                "source": {"version": "3.6.1.Final", **s},
            }
        )
        for i, s in enumerate(sources)
    ]
    publish(tmp_path / "landing", "cdc.json", list(reversed(lines)))
    cfg = config(tmp_path, debezium=True)
    report = app.run(spark, cfg)
    assert (report["rows_bronze"], report["rows_without_position"]) == (len(sources), 0)
    rows = bronze_rows(spark, cfg).collect()
    by_event = {r["event_id"]: r["_source_position"] for r in rows}
    expected = [so.debezium_position(s) for s in sources]
    assert [by_event[event(i)["event_id"]] for i in range(len(sources))] == expected  # Spark == reference
    assert {len(p) for p in expected} == {so.POSITION_WIDTH}
    assert sorted(expected) == expected  # lexicographic order == change order
    assert (expected[0][:2], expected[-1][:2]) == ("0-", "1-")  # snapshot first


def test_bad_source_positions_are_quarantined(spark, tmp_path):
    from airflow_provider_lakeops.spark_apps import streaming_options as so

    lines = [
        json.dumps(
            {"before": None, "after": event(1), "op": "c", "ts_ms": 1, "source": {"lsn": "0/16B3748"}}
        ),
        json.dumps(
            {
                "before": None,
                "after": event(2),
                "op": "c",
                "ts_ms": 1,
                "source": {"file": "binlog", "pos": 4, "row": 0},
            }
        ),
        json.dumps({"before": None, "after": event(3), "op": "c", "ts_ms": 1, "source": {"db": "x"}}),
    ]
    publish(tmp_path / "landing", "cdc.json", lines)
    cfg = config(tmp_path, debezium=True)
    report = app.run(spark, cfg)
    assert report["quarantine_reasons"] == {"debezium_bad_position": 2}
    assert (report["rows_bronze"], report["rows_without_position"]) == (1, 1)  # no position fields at all
    with pytest.raises(ValueError, match="source.lsn"):
        so.debezium_position({"lsn": "0/16B3748"})
    assert so.debezium_position({"db": "x"}) is None


def test_the_running_spark_is_checked_before_the_stream_starts(spark, tmp_path):
    app.check_versions(spark, config(tmp_path))  # pyspark 4.x, no Kafka jars to compare (file source)
    assert spark.version.startswith("4.")


# -------------------------------------------------------------------------------- Delta bronze
def test_a_delta_bronze_commits_each_batch_once_and_a_replay_appends_nothing(spark, tmp_path):
    cfg = config(tmp_path, table_format="delta")
    write_events(tmp_path / "landing" / "dt=2025-10-31", 30, seed=4, clean=True)
    r1 = app.run(spark, cfg)
    assert (r1["table_format"], r1["rows_bronze"]) == ("delta", 30)
    assert app.is_delta_table(spark, cfg.bronze_path)
    bronze = spark.read.format("delta").load(cfg.bronze_path)
    assert bronze.count() == 30
    assert set(bronze.columns) >= {"_source_position", "op", "ingest_date", "batch"}
    history = spark.sql(f"DESCRIBE HISTORY delta.`{cfg.bronze_path}`").collect()
    assert [h["version"] for h in history] == [0]
    assert history[0]["userMetadata"].startswith("lakeops-stream ")

    # the batch committed in Delta but its checkpoint commit is lost: the replay only recounts it
    commits = Path(cfg.checkpoint_path) / "commits"
    (commits / "0").unlink()
    (commits / ".0.crc").unlink(missing_ok=True)
    r2 = app.run(spark, cfg)
    assert (r2["batch_ids"], r2["rows_bronze"]) == ([0], 30)
    assert r2["batch_details"][0]["replayed_commit"] is True
    assert spark.read.format("delta").load(cfg.bronze_path).count() == 30
    assert len(spark.sql(f"DESCRIBE HISTORY delta.`{cfg.bronze_path}`").collect()) == 1

    # new rows: one more commit
    write_events(tmp_path / "landing" / "dt=2025-11-01", 5, day="2025-11-01", seed=5, clean=True)
    r3 = app.run(spark, cfg)
    assert (r3["batch_ids"], r3["rows_bronze"]) == ([1], 5)
    assert "replayed_commit" not in r3["batch_details"][0]
    assert spark.read.format("delta").load(cfg.bronze_path).count() == 35


@pytest.mark.parametrize(
    ("table_format", "other"),
    [pytest.param("delta", "parquet", id="delta"), pytest.param("parquet", "delta", id="parquet")],
)
def test_a_bronze_of_the_other_format_is_refused_before_the_stream_starts(
    spark, tmp_path, table_format, other
):
    bronze = str(tmp_path / "bronze")
    spark.range(3).write.format(other).save(bronze)
    write_events(tmp_path / "landing" / "dt=2025-10-31", 5, seed=4, clean=True)
    with pytest.raises(app.BronzeFormatError, match="Delta table" if other == "delta" else "plain Parquet"):
        app.run(spark, config(tmp_path, table_format=table_format))
    assert not (tmp_path / "checkpoint" / "commits").exists()
