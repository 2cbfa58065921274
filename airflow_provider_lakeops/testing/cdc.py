"""The CDC source of the local stack: a ``customer_events`` table in PostgreSQL, seeded and mutated.

The table has the shape of ``airflow_provider_lakeops/spark_apps/schemas/customer_event.json`` (what the
streaming app parses) with real column types (``TIMESTAMP(3)``, ``NUMERIC(12,2)``, ``DATE``), key
``(customer_id, event_id)``. :func:`prepare_source` creates it and gives the stack's connector user (``dbz``)
what Debezium's PostgreSQL connector and
:class:`~airflow_provider_lakeops.sensors.debezium_watermark.DebeziumWatermarkSensor` need; :func:`seed` and
:func:`mutate` write deterministic rows (fake PII included, as real sources have), so a demo or a test can
replay the same history.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.sample_data import COLUMNS as EVENT_COLUMNS

if TYPE_CHECKING:
    from airflow_provider_lakeops.testing._servers import DatabaseServer

__all__ = ["COLUMNS", "KEYS", "SOURCE_TABLE", "mutate", "prepare_source", "seed", "source_row"]

SCHEMA = "inventory"
SOURCE_TABLE = f"{SCHEMA}.customer_events"
KEYS = ("customer_id", "event_id")
COLUMNS = EVENT_COLUMNS  # the columns of sample_data / spark_apps/schemas/customer_event.json
DDL = f"""CREATE TABLE IF NOT EXISTS {SOURCE_TABLE} (
    event_id TEXT NOT NULL, customer_id BIGINT NOT NULL, session_id TEXT, event_type TEXT NOT NULL,
    event_ts TIMESTAMP(3) NOT NULL, updated_at TIMESTAMP(3) NOT NULL, page TEXT, amount NUMERIC(12,2),
    currency CHAR(3), email TEXT, phone TEXT, ssn TEXT, full_name TEXT, ip_address TEXT, event_date DATE,
    PRIMARY KEY (customer_id, event_id))"""
T0 = dt.datetime(2025, 10, 31, 10, 0, 0)
EVENT_TYPES = ("page_view", "add_to_cart", "purchase", "search")


def prepare_source(db: DatabaseServer) -> None:
    """Create the schema and table (idempotent) and grant the connector user what CDC needs."""
    user = db.cdc_user
    db.execute(
        f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
        DDL,
        f"ALTER SCHEMA {SCHEMA} OWNER TO {user}",
        f"ALTER TABLE {SOURCE_TABLE} OWNER TO {user}",  # filtered publications are made by the owner
        f"GRANT CREATE ON DATABASE postgres TO {user}",
        f"GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO {user}",
    )


def source_row(n: int, version: int = 0) -> tuple[Any, ...]:
    """Row ``n`` of the source in its ``version``-th state (each update moves ``updated_at`` on)."""
    event_type = EVENT_TYPES[(n + version) % len(EVENT_TYPES)]
    purchase = event_type == "purchase"
    ts = T0 + dt.timedelta(seconds=n)
    return (
        f"evt-{n:08d}",
        1000 + n % 97,
        f"sess-{n // 5}",
        event_type,
        ts,
        ts + dt.timedelta(minutes=version),
        f"/p/{n % 13}",
        Decimal(f"{(n * 37 + version * 5) % 10000 / 100:.2f}") if purchase else None,
        "EUR" if purchase else None,
        f"user{n}.{version}@example.com",
        f"+44 20 7946 {n % 10000:04d}",
        f"{100 + n % 800:03d}-{10 + n % 89:02d}-{1000 + n % 8999:04d}",
        f"Customer {n}",
        f"10.{n % 250}.{version % 250}.{n % 200 + 1}",
        ts.date(),
    )


def _insert_sql() -> str:
    return f"INSERT INTO {SOURCE_TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"


def seed(db: DatabaseServer, rows: int) -> int:
    """Insert rows ``1..rows`` (skipping those present); returns the number inserted."""
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {SOURCE_TABLE}")
            present = int(cur.fetchone()[0])
            cur.executemany(
                _insert_sql() + " ON CONFLICT DO NOTHING", [source_row(n) for n in range(1, rows + 1)]
            )
        conn.commit()
    finally:
        conn.close()
    return max(0, rows - present)


def _set(cur: Any, n: int, version: int) -> None:
    row = dict(zip(COLUMNS, source_row(n, version), strict=True))
    assignments = ", ".join(f"{c} = %s" for c in COLUMNS if c not in KEYS)
    cur.execute(
        f"UPDATE {SOURCE_TABLE} SET {assignments} WHERE customer_id = %s AND event_id = %s",
        [row[c] for c in COLUMNS if c not in KEYS] + [row["customer_id"], row["event_id"]],
    )


def _delete(cur: Any, n: int) -> None:
    row = source_row(n)
    cur.execute(f"DELETE FROM {SOURCE_TABLE} WHERE customer_id = %s AND event_id = %s", (row[1], row[0]))


def mutate(db: DatabaseServer, round_: int, base: int) -> dict[str, int]:
    """One round of changes after a seed of ``base`` rows: inserts, updates, deletes, and one
    transaction that changes the same key several times (insert, two updates) and deletes another.

    :return: the number of statements per operation (``insert``, ``update``, ``delete``).
    """
    start = base + 1 + round_ * 1000
    conn = db.connect()
    counts = {"insert": 0, "update": 0, "delete": 0}
    try:
        with conn.cursor() as cur:
            cur.executemany(_insert_sql(), [source_row(n) for n in range(start, start + 20)])
            counts["insert"] += 20
            for n in range(1 + round_ * 7, 11 + round_ * 7):  # update 10 existing rows
                _set(cur, n, version=round_ + 1)
                counts["update"] += 1
            for n in range(base - round_ * 5 - 4, base - round_ * 5 + 1):  # delete 5 rows from the end
                _delete(cur, n)
                counts["delete"] += 1
        conn.commit()
        with conn.cursor() as cur:  # one transaction: several changes to one key, and a delete
            key = start + 500
            cur.executemany(_insert_sql(), [source_row(key)])
            _set(cur, key, version=1)
            _set(cur, key, version=2)
            _delete(cur, start)  # inserted by the first transaction
            counts["insert"] += 1
            counts["update"] += 2
            counts["delete"] += 1
        conn.commit()
    finally:
        conn.close()
    return counts
