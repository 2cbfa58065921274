"""End to end on real servers: PostgreSQL -> Debezium (Kafka Connect) -> Kafka -> Spark -> a Delta bronze on
S3 (moto, S3A) -> DeltaMergeOperator -> a silver Delta table that equals the source table
(TableParityCheckOperator: PostgreSQL vs the Delta silver read with delta-rs).

Two rounds of changes through the real ``spark-submit``: the snapshot of a seeded table, then inserts,
updates, deletes and one transaction that changes a key three times and deletes a key inserted in the same
round (``airflow_provider_lakeops.testing.cdc``). A rerun of the MERGE with nothing new is 0/0/0 and writes no
silver version. Five spark-submits in all.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeops.operators.delta_merge import DeltaMergeOperator
from airflow_provider_lakeops.operators.replica_check import TableParityCheckOperator
from airflow_provider_lakeops.operators.spark_streaming import KafkaStreamingSubmitOperator
from airflow_provider_lakeops.sensors.debezium_watermark import DebeziumWatermarkSensor
from airflow_provider_lakeops.testing import cdc
from airflow_provider_lakeops.testing.stack import LAKE_URI

pytestmark = [pytest.mark.integration, pytest.mark.services, pytest.mark.spark]

SEED_ROWS = 60
TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "debezium" / "postgres-source.json"
SPARK_CONF = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"}


def _connect(stack: Any, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{stack.kafka_connect_url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def source(lakeops_stack, lakeops_cdc):
    """The seeded CDC source table and a running Debezium connector of its own (slot, publication, topics)."""
    pg = lakeops_cdc.postgres
    tag = uuid.uuid4().hex[:8]
    prefix, slot, publication, name = f"silver{tag}", f"silver_{tag}", f"silver_{tag}", f"silver-{tag}"
    cdc.prepare_source(pg)
    pg.execute(f"TRUNCATE {cdc.SOURCE_TABLE}")
    cdc.seed(pg, SEED_ROWS)
    template = TEMPLATE.read_text()
    for param, value in {
        "topic_prefix": prefix,
        "table_include_list": cdc.SOURCE_TABLE,
        "slot_name": slot,
        "publication_name": publication,
    }.items():
        template = template.replace("{{ params." + param + " }}", value)
    config = json.loads(template)
    config.update(
        {
            "database.hostname": pg.host,
            "database.port": str(pg.port),
            "database.user": pg.cdc_user,
            "database.password": pg.cdc_password,
            "database.dbname": "postgres",
        }
    )
    status, body = _connect(lakeops_cdc, "PUT", f"/connectors/{name}/config", config)
    assert status in (200, 201), body
    deadline = time.monotonic() + 120
    state: Any = None
    while time.monotonic() < deadline:
        _, state = _connect(lakeops_cdc, "GET", f"/connectors/{name}/status")
        if isinstance(state, dict) and [t["state"] for t in state.get("tasks", [])] == ["RUNNING"]:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the connector did not start: {state}")
    root = f"{LAKE_URI}/tests/cdc-silver-{tag}"
    yield {
        "pg": pg,
        "slot": slot,
        "topic": f"{prefix}.{cdc.SOURCE_TABLE}",
        "bronze": f"{root}/bronze/customer_events_cdc",
        "silver": f"{root}/silver/customer_events_replica",
        "checkpoint": f"{root}/_checkpoints/customer_events_cdc",
    }
    _connect(lakeops_cdc, "DELETE", f"/connectors/{name}")
    for _ in range(60):  # the slot is released once the task stops
        if not pg.execute(f"SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}' AND active"):
            break
        time.sleep(0.5)
    pg.execute(
        f"SELECT pg_drop_replication_slot('{slot}') FROM pg_replication_slots WHERE slot_name = '{slot}'",
        f"DROP PUBLICATION IF EXISTS {publication}",
    )


def _round(source: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """wait for the changes -> stream to the Delta bronze -> MERGE into silver -> parity check."""
    DebeziumWatermarkSensor(
        task_id="wait_for_changes", postgres_conn_id="postgres_cdc", slot_name=source["slot"], timeout=180
    ).execute(context={"run_id": f"silver-{uuid.uuid4().hex[:6]}"})
    stream = KafkaStreamingSubmitOperator(
        task_id="stream_to_bronze",
        source="kafka",
        topics=source["topic"],
        kafka_conn_id="kafka_default",
        bronze_path=source["bronze"],
        checkpoint_path=source["checkpoint"],
        debezium=True,
        table_format="delta",
        spark_conn_id="spark_default",
        conf=SPARK_CONF,
    ).execute({})
    return stream, _merge(source), _check(source)


def _merge(source: dict[str, Any]) -> dict[str, Any]:
    return DeltaMergeOperator(
        task_id="merge_silver",
        source_path=source["bronze"],
        target_path=source["silver"],
        keys=list(cdc.KEYS),
        ordering_columns=["_source_position"],
        conf=SPARK_CONF,
    ).execute({})


def _check(source: dict[str, Any]) -> dict[str, Any]:
    return TableParityCheckOperator(
        task_id="check_silver",
        source_conn_id="postgres_cdc",
        source_table=cdc.SOURCE_TABLE,
        target_delta_path=source["silver"],
        keys=list(cdc.KEYS),
        columns=list(cdc.COLUMNS),
    ).execute(context={})


def _bronze_ops(path: str) -> Counter[str]:
    from deltalake import DeltaTable

    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

    table = DeltaTable(path, storage_options=delta_storage_options(aws_lake_access("aws_default")))
    return Counter(table.to_pyarrow_table(columns=["op"]).column("op").to_pylist())


def test_debezium_changes_through_a_delta_bronze_make_a_silver_equal_to_the_source(source):
    stream, merge, check = _round(source)
    assert (stream["status"], stream["table_format"], stream["rows_bronze"]) == (
        "succeeded",
        "delta",
        SEED_ROWS,
    )
    assert _bronze_ops(source["bronze"]) == {"r": SEED_ROWS}
    assert (merge["created"], merge["rows_inserted"], merge["silver_version"]) == (True, SEED_ROWS, 0)
    assert check["equal"] is True, check
    assert check["source_rows"] == check["target_rows"] == SEED_ROWS

    changes = cdc.mutate(source["pg"], 0, SEED_ROWS)
    stream, merge, check = _round(source)
    assert stream["operations"] == {"c": changes["insert"], "u": changes["update"], "d": changes["delete"]}
    # 21 inserted keys, one deleted again in the same round (never in silver); 10 updated; 5 deleted
    assert (merge["rows_inserted"], merge["rows_updated"], merge["rows_deleted"]) == (20, 10, 5)
    assert merge["silver_version"] == 1
    assert check["equal"] is True, check
    assert check["source_rows"] == check["target_rows"] == SEED_ROWS + 20 - 5

    rerun = _merge(source)
    assert (rerun["merged"], rerun["rows_inserted"], rerun["rows_updated"], rerun["rows_deleted"]) == (
        False,
        0,
        0,
        0,
    )
    assert rerun["silver_version"] == 1
