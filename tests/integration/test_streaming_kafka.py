"""KafkaStreamingSubmitOperator on a REAL Kafka broker (the local stack's KRaft broker) through the
real ``spark-submit`` with Spark's Kafka source (``spark-sql-kafka`` jars in ``spark.jars``).

The topic holds Debezium PostgreSQL change events (``pgoutput``, JsonConverter without schemas)
produced with confluent-kafka: a snapshot, inserts, updates, deletes with tombstones, one Kafka
transaction with several changes to one key (increasing ``source.lsn``), an ABORTED transaction
(must never land: ``read_committed``) and bad records carrying e-mail addresses (quarantined; the
addresses must not reach logs, the report or XCom). Then a stream killed mid-batch is restarted,
and a lost commit is replayed: every key and offset is counted (0 duplicates, 0 losses), and
replaying bronze per key in ``_source_position`` order gives the source table's final state.

Four spark-submits in all (~15-25 s each on two cores).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeops.exceptions import StreamingJobError
from airflow_provider_lakeops.operators.spark_streaming import KafkaStreamingSubmitOperator

pytest.importorskip("confluent_kafka")

pytestmark = [pytest.mark.integration, pytest.mark.spark]

TOPIC = "streamtest.public.customer_events"
T0 = 1_764_806_400_000  # 2025-12-04T00:00:00Z, epoch milliseconds
EVENT_DAY = 20_426  # 2025-12-04 as days since the epoch (io.debezium.time.Date)
EMAIL_DOMAIN = "pii.example.com"
BAD_REASONS = {
    "malformed_json": 1,
    "type_mismatch:customer_id": 1,
    "debezium_missing_after": 1,
    "debezium_bad_position": 1,
}


# ------------------------------------------------------------------ Debezium PostgreSQL events
def row(n: int, **changes: Any) -> dict[str, Any]:
    """A ``public.customer_events`` row as Debezium's JsonConverter writes it (timestamp(3) -> epoch ms)."""
    values: dict[str, Any] = {
        "event_id": f"evt-{n:06d}",
        "customer_id": n,
        "session_id": f"s-{n}",
        "event_type": "page_view",
        "event_ts": T0 + n,
        "updated_at": T0 + n,
        "page": "/home",
        "amount": None,
        "currency": None,
        "email": f"user{n}@{EMAIL_DOMAIN}",
        "phone": "+1-555-0100",
        "ssn": "123-45-6789",
        "full_name": f"User {n}",
        "ip_address": "10.0.0.1",
        "event_date": EVENT_DAY,
    }
    values.update(changes)
    return values


def key_of(values: dict[str, Any]) -> tuple[int, str]:
    return int(values["customer_id"]), str(values["event_id"])


@dataclass
class Change:
    """One change event as produced, and where Kafka put it."""

    key: tuple[int, str]
    op: str
    values: dict[str, Any] | None  # the row after the change (None for a delete)
    lsn: int
    previous_commit: int | None
    snapshot: str
    partition: int = -1
    offset: int = -1

    def source(self) -> dict[str, Any]:
        sequence = json.dumps(
            [None if self.previous_commit is None else str(self.previous_commit), str(self.lsn)]
        )
        return {
            "version": "3.6.1.Final",
            "connector": "postgresql",
            "name": "streamtest",
            "ts_ms": T0 + self.lsn // 1000,
            "snapshot": self.snapshot,
            "db": "postgres",
            "sequence": sequence,
            "schema": "public",
            "table": "customer_events",
            "txId": 700 + self.lsn // 1000,
            "lsn": self.lsn,
            "xmin": None,
        }

    def envelope(self, before: dict[str, Any] | None) -> str:
        return json.dumps(
            {
                "before": before,
                "after": self.values,
                "source": self.source(),
                "op": self.op,
                "ts_ms": T0 + self.lsn // 1000 + 5,
            }
        )

    @property
    def position(self) -> str:
        prev = 0 if self.previous_commit is None else self.previous_commit
        return f"{'0' if self.snapshot != 'false' else '1'}-{prev:020d}-{self.lsn:020d}-{0:010d}"


@dataclass
class SourceTable:
    """The PostgreSQL table the events describe: its state, its WAL positions and the events emitted."""

    state: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    lsn: int = 50_000_000
    commit: int | None = None
    landed: list[Change] = field(default_factory=list)  # committed, valid: must land once each
    aborted: list[Change] = field(default_factory=list)  # inside an aborted Kafka transaction
    quarantined: list[tuple[int, int]] = field(default_factory=list)
    tombstones: list[tuple[int, int]] = field(default_factory=list)

    def snapshot(self, rows: list[dict[str, Any]]) -> list[tuple[Change, str]]:
        marks = ["first", *["true"] * (len(rows) - 2), "last"]
        out = []
        for values, mark in zip(rows, marks, strict=True):
            change = Change(key_of(values), "r", values, self.lsn, None, mark)
            self.state[change.key] = values
            out.append((change, change.envelope(None)))
        self.lsn += 1000
        return out

    def transaction(self, ops: list[tuple[str, dict[str, Any]]]) -> list[tuple[Change, str]]:
        """Changes inside one source transaction: their own, increasing LSNs; then the commit."""
        out = []
        for op, values in ops:
            self.lsn += 56
            key = key_of(values)
            before = self.state.get(key)
            change = Change(key, op, None if op == "d" else values, self.lsn, self.commit, "false")
            if op == "d":
                self.state.pop(key)
            else:
                self.state[key] = values
            out.append((change, change.envelope(before)))
        self.lsn += 56
        self.commit = self.lsn
        return out


def kafka_key(key: tuple[int, str]) -> bytes:
    return json.dumps({"customer_id": key[0], "event_id": key[1]}).encode()


class Delivered:
    """Delivery reports: where each produced record landed."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def callback(self, target: list[Any] | Change | None) -> Any:
        def report(err: Any, msg: Any) -> None:
            if err is not None:
                self.errors.append(str(err))
            elif isinstance(target, Change):
                target.partition, target.offset = msg.partition(), msg.offset()
            elif target is not None:
                target.append((msg.partition(), msg.offset()))

        return report


def produce_changes(
    producer: Any,
    table: SourceTable,
    delivered: Delivered,
    changes: list[tuple[Change, str]],
    keep: list[Change],
    tombstones: bool = True,
) -> None:
    for change, value in changes:
        producer.produce(
            TOPIC, key=kafka_key(change.key), value=value.encode(), on_delivery=delivered.callback(change)
        )
        keep.append(change)
        if change.op == "d" and tombstones:
            producer.produce(
                TOPIC, key=kafka_key(change.key), value=None, on_delivery=delivered.callback(table.tombstones)
            )
        producer.poll(0)


# --------------------------------------------------------------------------------- helpers
def read_bronze(path: Path) -> list[dict[str, Any]]:
    import pyarrow.dataset as ds

    return ds.dataset(str(path), format="parquet", partitioning="hive").to_table().to_pylist()


def read_quarantine(path: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line) for f in sorted(path.rglob("*.json")) for line in f.read_text().splitlines() if line
    ]


def checkpoint_ids(checkpoint: Path, log: str) -> list[int]:
    folder = checkpoint / log
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else []


@dataclass
class Env:
    root: Path
    bootstrap: str
    table: SourceTable
    delivered: Delivered

    @property
    def bronze(self) -> Path:
        return self.root / "bronze"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint"

    def operator(self, **kw: Any) -> KafkaStreamingSubmitOperator:
        values: dict[str, Any] = {
            "task_id": "stream_to_bronze",
            "source": "kafka",
            "topics": TOPIC,
            "kafka_conn_id": "kafka_default",
            "bronze_path": str(self.bronze),
            "checkpoint_path": str(self.checkpoint),
            "debezium": True,
            "spark_conn_id": "spark_default",
            "conf": {
                "spark.ui.enabled": "false",
                "spark.sql.shuffle.partitions": "2",
                "spark.driver.memory": "768m",
            },
        }
        values.update(kw)
        return KafkaStreamingSubmitOperator(**values)


@pytest.fixture(scope="module")
def kafka_env(lakeops_kafka, tmp_path_factory) -> Env:
    from confluent_kafka.admin import AdminClient, NewTopic

    bootstrap = lakeops_kafka.kafka_bootstrap
    assert bootstrap, "the stack runs a broker"
    assert os.environ.get("LAKEOPS_SPARK_KAFKA_JARS"), "the stack exports the jars of Spark's Kafka source"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=1)]).values():
        future.result(30)
    return Env(tmp_path_factory.mktemp("kafka-stream"), bootstrap, SourceTable(), Delivered())


# ------------------------------------------------------------------------- run 1: every case
@pytest.fixture(scope="module")
def first_run(kafka_env: Env) -> dict[str, Any]:
    from confluent_kafka import Producer

    env, table, delivered = kafka_env, kafka_env.table, kafka_env.delivered
    plain = Producer({"bootstrap.servers": env.bootstrap, "enable.idempotence": True, "linger.ms": 5})
    produce_changes(plain, table, delivered, table.snapshot([row(n) for n in range(1, 13)]), table.landed)
    for n in range(13, 21):
        produce_changes(plain, table, delivered, table.transaction([("c", row(n))]), table.landed)
    for n in (1, 2, 3, 4):
        produce_changes(
            plain, table, delivered, table.transaction([("u", row(n, page="/cart"))]), table.landed
        )
    for n in (5, 6):
        produce_changes(plain, table, delivered, table.transaction([("d", row(n))]), table.landed)
    bad = [
        '{"before": null, "after": {"event_id": "evt-bad", "email": "truncated@' + EMAIL_DOMAIN,
        json.dumps(
            {
                "before": None,
                "after": row(90, customer_id="ninety"),
                "op": "c",
                "ts_ms": T0,
                "source": {"lsn": table.lsn + 1, "snapshot": "false"},
            }
        ),
        json.dumps(
            {
                "before": None,
                "after": None,
                "op": "c",
                "ts_ms": T0,
                "source": {"lsn": table.lsn + 2, "snapshot": "false"},
            }
        ),
        json.dumps(
            {
                "before": None,
                "after": row(91),
                "op": "c",
                "ts_ms": T0,
                "source": {"lsn": "0/16B3748", "snapshot": "false"},
            }
        ),
    ]
    for value in bad:
        plain.produce(
            TOPIC,
            key=b'{"customer_id": 9}',
            value=value.encode(),
            on_delivery=delivered.callback(table.quarantined),
        )
    assert plain.flush(30) == 0

    tx = Producer({"bootstrap.servers": env.bootstrap, "transactional.id": "streamtest-tx", "linger.ms": 5})
    tx.init_transactions(30)
    # one source transaction, several changes to key 7 and 13 (increasing lsn), in one Kafka transaction
    tx.begin_transaction()
    produce_changes(
        tx,
        table,
        delivered,
        table.transaction(
            [
                ("u", row(7, page="/a")),
                ("u", row(13, page="/x")),
                ("u", row(7, page="/b", updated_at=T0 + 99)),
                ("u", row(13, page="/y")),
                ("d", row(7)),
            ]
        ),
        table.landed,
    )
    tx.commit_transaction(30)
    # an aborted Kafka transaction: written to the log, then aborted - read_committed never shows it
    saved = (table.lsn, table.commit, dict(table.state))
    tx.begin_transaction()
    produce_changes(
        tx,
        table,
        delivered,
        table.transaction([("u", row(8, page="/aborted")), ("c", row(21)), ("d", row(9))]),
        table.aborted,
        tombstones=False,
    )
    assert tx.flush(30) == 0
    tx.abort_transaction(30)
    table.lsn, table.commit, table.state = saved[0], saved[1], saved[2]  # the source rolled back too
    produce_changes(
        plain, table, delivered, table.transaction([("u", row(10, page="/after-abort"))]), table.landed
    )
    assert plain.flush(30) == 0
    assert not delivered.errors, delivered.errors

    started = time.monotonic()
    captured = io.StringIO()  # the task log: the operator's lines and every line spark-submit printed
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
        report = env.operator().execute({})
    log = captured.getvalue()
    print(log[-3000:])
    return {
        "report": report,
        "bronze": read_bronze(env.bronze),
        "log": log,
        "seconds": time.monotonic() - started,
        "quarantine": read_quarantine(Path(f"{env.bronze}_quarantine")),
    }


def test_every_committed_change_lands_once_with_its_position(kafka_env, first_run):
    table, report, rows = kafka_env.table, first_run["report"], first_run["bronze"]
    assert report["status"] == "succeeded", report
    by_offset = Counter((r["_kafka_partition"], r["_kafka_offset"]) for r in rows)
    assert max(by_offset.values()) == 1  # no duplicates
    expected = {(c.partition, c.offset): c for c in table.landed}
    assert set(by_offset) == set(expected)  # no losses, nothing else
    for r in rows:
        change = expected[(r["_kafka_partition"], r["_kafka_offset"])]
        assert (r["op"], r["_source_position"], r["_kafka_topic"]) == (change.op, change.position, TOPIC)
        assert (r["customer_id"], r["event_id"]) == change.key
        assert None not in (r["_source_ts"], r["op_ts"], r["_kafka_timestamp"])
    assert report["operations"] == dict(sorted(Counter(c.op for c in table.landed).items()))
    assert report["rows_bronze"] == len(table.landed)
    assert report["rows_skipped"] == len(table.tombstones) == 3  # two plain deletes + one in the transaction
    assert report["rows_without_position"] == 0
    assert set(report["end_offsets"][TOPIC]) == {"0", "1"}


def test_aborted_transactions_never_land(kafka_env, first_run):
    aborted = {(c.partition, c.offset) for c in kafka_env.table.aborted}
    assert len(aborted) == 3
    assert min(p for p, _ in aborted) >= 0  # they are in the log
    landed = {(r["_kafka_partition"], r["_kafka_offset"]) for r in first_run["bronze"]}
    assert not aborted & landed
    assert not [r for r in first_run["bronze"] if r["page"] == "/aborted" or r["customer_id"] == 21]


def test_order_per_key_is_total_and_replays_to_the_source_state(kafka_env, first_run):
    rows = first_run["bronze"]
    per_key: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in rows:
        per_key.setdefault((r["customer_id"], r["event_id"]), []).append(r)
    for key, changes in per_key.items():
        positions = [c["_source_position"] for c in changes]
        assert len(set(positions)) == len(positions), key  # a total order: no two changes share a position
        assert {len(p) for p in positions} == {54}
    seven = [
        c["op"] + ":" + str(c["page"])
        for c in sorted(per_key[(7, "evt-000007")], key=lambda c: c["_source_position"])
    ]
    assert seven == [
        "r:/home",
        "u:/a",
        "u:/b",
        "d:/b",
    ]  # snapshot, then the transaction; a delete lands `before`
    # MERGE by _source_position with deletes applied == the source table
    replica: dict[tuple[int, str], dict[str, Any]] = {}
    for key, changes in per_key.items():
        last = max(changes, key=lambda c: c["_source_position"])
        if last["op"] != "d":
            replica[key] = last
    assert set(replica) == set(kafka_env.table.state)
    for key, values in kafka_env.table.state.items():
        assert (replica[key]["page"], replica[key]["email"]) == (values["page"], values["email"]), key


def test_bad_records_are_quarantined_without_pii_in_logs_report_or_xcom(kafka_env, first_run):
    report, log, quarantine = first_run["report"], first_run["log"], first_run["quarantine"]
    assert report["quarantine_reasons"] == BAD_REASONS
    assert report["rows_quarantined"] == 4
    assert {(q["_kafka_partition"], q["_kafka_offset"]) for q in quarantine} == set(
        kafka_env.table.quarantined
    )
    assert all(q["_reason"] and q["_raw"] for q in quarantine)  # the quarantine keeps the raw record (data)
    assert "LAKEOPS_STREAMING_REPORT" in log  # spark-submit's output was captured
    assert EMAIL_DOMAIN not in log
    assert EMAIL_DOMAIN not in json.dumps(report)  # the XCom (return value)
    assert "@" not in json.dumps(report)


# ----------------------------------------------------------- exactly once: kill, restart, replay
@pytest.fixture(scope="module")
def crash_runs(kafka_env: Env, first_run) -> dict[str, Any]:
    from confluent_kafka import Producer

    env, table, delivered = kafka_env, kafka_env.table, kafka_env.delivered
    plain = Producer({"bootstrap.servers": env.bootstrap, "enable.idempotence": True, "linger.ms": 20})
    for n in range(1000, 3400):
        produce_changes(plain, table, delivered, table.transaction([("c", row(n))]), table.landed)
    for n in range(1000, 3400, 4):
        produce_changes(
            plain, table, delivered, table.transaction([("u", row(n, page="/later"))]), table.landed
        )
    assert plain.flush(60) == 0
    assert not delivered.errors

    # a stream of small batches, killed (SIGKILL of spark-submit) while a batch is in flight
    committed_before = checkpoint_ids(env.checkpoint, "commits")
    killed = env.operator(max_offsets_per_trigger=250)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            killed.execute({})
        except BaseException as exc:  # the kill is expected to fail the task
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 240
    in_flight = None
    while time.monotonic() < deadline and thread.is_alive():
        commits, offsets = (
            checkpoint_ids(env.checkpoint, "commits"),
            checkpoint_ids(env.checkpoint, "offsets"),
        )
        if len(commits) >= len(committed_before) + 2 and offsets and offsets[-1] > commits[-1]:
            in_flight = offsets[-1]
            killed.on_kill()
            break
        time.sleep(0.02)
    thread.join(120)
    assert in_flight is not None, "the stream finished before it could be killed"
    assert not thread.is_alive()
    assert [type(e) for e in errors] == [StreamingJobError], errors
    after_kill = {
        "commits": checkpoint_ids(env.checkpoint, "commits"),
        "offsets": checkpoint_ids(env.checkpoint, "offsets"),
        "in_flight": in_flight,
    }

    restarted = env.operator().execute({})
    bronze_after_restart = read_bronze(env.bronze)

    # a crash after a batch wrote its output but before Spark committed it: the commit file is lost
    last = restarted["last_committed_batch"]
    (env.checkpoint / "commits" / str(last)).unlink()
    (env.checkpoint / "commits" / f".{last}.crc").unlink(missing_ok=True)
    replayed = env.operator().execute({})
    return {
        "after_kill": after_kill,
        "restarted": restarted,
        "bronze_after_restart": bronze_after_restart,
        "replayed": replayed,
        "bronze": read_bronze(env.bronze),
    }


def test_a_stream_killed_mid_batch_restarts_without_duplicates_or_losses(kafka_env, crash_runs):
    after_kill, restarted = crash_runs["after_kill"], crash_runs["restarted"]
    assert after_kill["offsets"][-1] == after_kill["commits"][-1] + 1  # killed with a batch in flight
    assert restarted["status"] == "succeeded"
    assert restarted["batch_ids"][0] == after_kill["in_flight"]  # the in-flight batch is run again
    assert_exactly_once(kafka_env.table, crash_runs["bronze_after_restart"])


def test_a_lost_commit_replays_its_batch_in_place(kafka_env, crash_runs):
    restarted, replayed = crash_runs["restarted"], crash_runs["replayed"]
    assert replayed["batch_ids"] == [restarted["last_committed_batch"]]
    assert replayed["rows_in"] > 0
    assert_exactly_once(kafka_env.table, crash_runs["bronze"])
    assert len(crash_runs["bronze"]) == len(crash_runs["bronze_after_restart"])


def assert_exactly_once(table: SourceTable, rows: list[dict[str, Any]]) -> None:
    offsets = Counter((r["_kafka_partition"], r["_kafka_offset"]) for r in rows)
    duplicates = sum(n - 1 for n in offsets.values())
    expected = {(c.partition, c.offset) for c in table.landed}
    lost = expected - set(offsets)
    assert (duplicates, len(lost), len(set(offsets) - expected)) == (0, 0, 0)
    keys = Counter((r["customer_id"], r["event_id"], r["_source_position"]) for r in rows)
    assert max(keys.values()) == 1
    assert len(keys) == len(table.landed)
    replica = {}
    for r in sorted(rows, key=lambda r: r["_source_position"]):
        key = (r["customer_id"], r["event_id"])
        if r["op"] == "d":
            replica.pop(key, None)
        else:
            replica[key] = r["page"]
    assert replica == {k: v["page"] for k, v in table.state.items()}
