"""TableParityCheckOperator between the stack's own PostgreSQL and the fakesnow server (real drivers,
real hooks): equal tables in another order and with other numeric types, then a missing, an extra and
a changed row, each counted by key with no value in the error."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from airflow_provider_lakeops.operators.replica_check import TableParityCheckOperator

pytestmark = [pytest.mark.integration, pytest.mark.services]

SECRET_EMAIL = "zoë.parity@example.org"
ROWS = [
    (
        1,
        "evt-1",
        Decimal("10.50"),
        dt.datetime(2025, 10, 31, 10, 0, 0, 123000),
        dt.date(2025, 10, 31),
        SECRET_EMAIL,
    ),
    (2, "evt-2", None, dt.datetime(2025, 10, 31, 11, 0), dt.date(2025, 10, 31), ""),
    (3, "evt-3", Decimal("0.00"), dt.datetime(2025, 11, 1, 0, 0), None, None),
]


@pytest.fixture
def tables(lakeops_databases, lakeops_stack, sf):
    pg = lakeops_databases.postgres
    name = f"parity_{uuid.uuid4().hex[:8]}"
    pg.execute(
        f"CREATE TABLE public.{name} (customer_id BIGINT, event_id TEXT, amount NUMERIC(12,2), "
        "event_ts TIMESTAMP(3), event_date DATE, email TEXT, PRIMARY KEY (customer_id, event_id))"
    )
    conn = pg.connect()
    with conn, conn.cursor() as cur:
        cur.executemany(f"INSERT INTO public.{name} VALUES (%s, %s, %s, %s, %s, %s)", ROWS)
    conn.close()
    cur = sf.cursor()
    cur.execute(
        f"CREATE TABLE {name.upper()} (CUSTOMER_ID NUMBER(38,0), EVENT_ID VARCHAR, AMOUNT FLOAT, "
        "EVENT_TS TIMESTAMP_NTZ(6), EVENT_DATE DATE, EMAIL VARCHAR)"
    )
    for row in reversed(ROWS):  # another order, another numeric type
        cur.execute(
            f"INSERT INTO {name.upper()} VALUES (%s, %s, %s, %s, %s, %s)",
            (row[0], row[1], None if row[2] is None else float(row[2]), row[3], row[4], row[5]),
        )
    yield name, pg
    pg.execute(f"DROP TABLE public.{name}")
    cur.execute(f"DROP TABLE IF EXISTS {name.upper()}")


def check(name: str, **kwargs):
    op = TableParityCheckOperator(
        task_id="check",
        source_conn_id="postgres_default",
        source_table=f"public.{name}",
        target_conn_id="snowflake_default",
        target_table=f"LAKEOPS.PUBLIC.{name}",
        keys=["customer_id", "event_id"],
        **kwargs,
    )
    return op, op.execute(context={})


def test_equal_tables_in_another_order_and_type_are_equal(tables):
    name, pg = tables
    op, report = check(name)
    assert report["equal"] is True
    assert (report["source_rows"], report["target_rows"]) == (3, 3)
    assert report["source_checksum"] == report["target_checksum"]
    assert report["columns"] == ["customer_id", "event_id", "amount", "event_ts", "event_date", "email"]
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        (f"postgres://127.0.0.1:{pg.port}", f"postgres.public.{name}"),
        ("snowflake://lakeops", f"LAKEOPS.PUBLIC.{name}".upper()),
    ]


def test_a_missing_an_extra_and_a_changed_row_are_counted_without_values(tables, sf):
    from airflow.exceptions import AirflowFailException

    name, _ = tables
    cur = sf.cursor()
    cur.execute(f"DELETE FROM {name.upper()} WHERE CUSTOMER_ID = 3")
    cur.execute(f"INSERT INTO {name.upper()} VALUES (4, 'evt-4', 1.0, '2025-11-02 00:00:00', NULL, NULL)")
    cur.execute(f"UPDATE {name.upper()} SET EMAIL = 'changed@example.org' WHERE CUSTOMER_ID = 1")
    with pytest.raises(AirflowFailException) as err:
        check(name)
    message = str(err.value)
    assert "1 key(s) missing from the replica, 1 only in the replica, 1 with other values" in message
    assert SECRET_EMAIL not in message
    assert "changed@example.org" not in message
    _, report = check(name, on_mismatch="warn")
    assert (report["equal"], report["missing_in_target"], report["extra_in_target"], report["different"]) == (
        False,
        1,
        1,
        1,
    )


def test_a_subset_of_columns_can_be_compared(tables, sf):
    name, _ = tables
    sf.cursor().execute(f"UPDATE {name.upper()} SET EMAIL = 'other' WHERE CUSTOMER_ID = 1")
    _, report = check(name, columns=["amount", "event_ts"])
    assert report["equal"] is True
    assert report["columns"] == ["customer_id", "event_id", "amount", "event_ts"]


def test_max_rows_guards_memory(tables):
    name, _ = tables
    with pytest.raises(ValueError, match="more than max_rows=2 rows"):
        check(name, max_rows=2)


# ------------------------------------------------------------------ a Delta replica on S3 (moto)
def _delta_replica(rows, lakeops_stack) -> str:
    """``ROWS`` as a Delta table on the stack's S3, written with delta-rs as Spark would type them."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from airflow_provider_lakeops.testing.stack import LAKE_URI
    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

    path = f"{LAKE_URI}/tests/parity-{uuid.uuid4().hex[:8]}/silver"
    table = pa.table(
        {
            "CUSTOMER_ID": pa.array([r[0] for r in rows], pa.int64()),
            "event_id": [r[1] for r in rows],
            "amount": pa.array([None if r[2] is None else float(r[2]) for r in rows], pa.float64()),
            "event_ts": pa.array(
                [r[3].replace(tzinfo=dt.timezone.utc) for r in rows], pa.timestamp("us", tz="UTC")
            ),
            "event_date": pa.array([r[4] for r in rows], pa.date32()),
            "email": [r[5] for r in rows],
            "_source_position": [f"p{r[0]}" for r in rows],
        }
    )
    write_deltalake(path, table, storage_options=delta_storage_options(aws_lake_access("aws_default")))
    return path


def test_a_delta_replica_on_s3_equals_the_postgres_source_then_differences_are_counted(tables, lakeops_stack):
    from airflow.sdk.exceptions import AirflowFailException

    name, pg = tables
    path = _delta_replica(list(reversed(ROWS)), lakeops_stack)

    def delta_check(target: str, **kwargs):
        op = TableParityCheckOperator(
            task_id="check_silver",
            source_conn_id="postgres_default",
            source_table=f"public.{name}",
            target_delta_path=target,
            keys=["customer_id", "event_id"],
            columns=["amount", "event_ts", "event_date", "email"],
            **kwargs,
        )
        return op, op.execute(context={})

    op, report = delta_check(path)
    assert report["equal"] is True, report
    assert report["source_checksum"] == report["target_checksum"]
    lineage = op.get_openlineage_facets_on_complete(None)
    assert lineage.inputs[-1].namespace == "s3://lakeops-lake"
    assert lineage.inputs[-1].name == path.split("lakeops-lake/", 1)[1]

    changed = _delta_replica([ROWS[0][:5] + ("other@example.org",), ROWS[1]], lakeops_stack)
    with pytest.raises(AirflowFailException) as err:
        delta_check(changed)
    assert "1 key(s) missing from the replica, 0 only in the replica, 1 with other values" in str(err.value)
    assert SECRET_EMAIL not in str(err.value)
    assert "other@example.org" not in str(err.value)
