"""What a Debezium connector captures and writes: its tables, the topics Connect reports, the computed names.

The facts are computed once when the connector is deployed and carried through the wait (they
also feed lineage); :func:`connector_topics` prefers what Connect reports over computed names.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.operators._kafka_connect.source import DEFAULT_PORTS, source_kind

if TYPE_CHECKING:
    import logging

    from airflow.sdk.types import Logger as SdkLogger

    from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook
    from airflow_provider_lakeops.operators._kafka_connect.mysql_preflight import PreflightReport

__all__ = ["SNAPSHOT_READS", "connector_topics", "data_topics", "lineage_facts"]

#: snapshot modes that read the captured tables when the connector starts without offsets.
SNAPSHOT_READS = {"initial", "always", "initial_only", "when_needed", "recovery", "schema_only_recovery"}


def _literal_table(pattern: str) -> str | None:
    name = pattern.replace("\\.", ".")
    return name if re.fullmatch(r"[\w$]+\.[\w$]+", name) else None


def data_topics(topics: Sequence[str], config: Mapping[str, str]) -> list[str]:
    """``topics`` without Debezium's non-table topics: schema changes (``<prefix>``), heartbeats,
    transactions and PostgreSQL logical-decoding messages (``<prefix>.message``: a
    :class:`~airflow_provider_lakeops.sensors.debezium_watermark.DebeziumWatermarkSensor` writes one)."""
    prefix = config.get("topic.prefix", "")
    heartbeat = config.get("topic.heartbeat.prefix", "__debezium-heartbeat")
    transaction = f"{prefix}.{config.get('topic.transaction', 'transaction')}"
    message = f"{prefix}.message"
    return sorted(
        t for t in topics if t not in {prefix, transaction, message} and not t.startswith(f"{heartbeat}.")
    )


def lineage_facts(
    payload: Mapping[str, str], report: PreflightReport | None, kafka_bootstrap_servers: str | None
) -> dict[str, Any]:
    """Source, tables, expected and computed topics, Kafka and database addresses of a deployment."""
    from airflow_provider_lakeops.operators._kafka_connect.mysql_preflight import split_list

    kind = source_kind(payload["connector.class"]) or ""
    tables = list(report.tables) if report else []
    if not tables:  # no preflight: the literal entries of table.include.list
        tables = [t for t in map(_literal_table, split_list(payload.get("table.include.list"))) if t]
    prefix = payload.get("topic.prefix", "")
    bootstrap = kafka_bootstrap_servers or payload.get("schema.history.internal.kafka.bootstrap.servers")
    snapshot = payload.get("snapshot.mode", "initial").lower() in SNAPSHOT_READS
    with_rows = list(report.tables_with_rows) if report and kind == "postgres" else tables
    return {
        "source": kind,
        "tables": tables,
        "computed_topics": [f"{prefix}.{t}" for t in tables] if prefix else [],
        "expected_topics": [f"{prefix}.{t}" for t in with_rows] if prefix and snapshot else [],
        "routed": bool(payload.get("transforms", "").strip()),
        "bootstrap": bootstrap or "",
        "db_host": payload.get("database.hostname", ""),
        "db_port": payload.get("database.port", str(DEFAULT_PORTS.get(kind, ""))),
        "db_name": payload.get("database.dbname", ""),
        "prefix": prefix,
        "heartbeat_prefix": payload.get("topic.heartbeat.prefix", "__debezium-heartbeat"),
        "transaction_topic": payload.get("topic.transaction", "transaction"),
    }


def connector_topics(
    hook: KafkaConnectHook,
    name: str,
    carry: Mapping[str, Any],
    *,
    timeout: float,
    settle_seconds: float,
    poll_interval: float,
    log: logging.Logger | SdkLogger,
    wait: bool = True,
) -> tuple[list[str], str]:
    """The data topics Connect reports for the connector (bounded wait), or the computed names as a fallback.

    Returns ``(topics, "connect")`` or ``(computed names, "computed")``.
    """
    config = {
        "topic.prefix": carry.get("prefix", ""),
        "topic.heartbeat.prefix": carry.get("heartbeat_prefix", ""),
        "topic.transaction": carry.get("transaction_topic", "transaction"),
    }
    expected = set(carry.get("expected_topics") or [])
    deadline = time.time() + (timeout if wait and (expected or carry.get("routed")) else 0)
    topics: list[str] = []
    stable_since, previous = time.time(), None
    while True:
        try:
            topics = data_topics(hook.get_connector_topics(name), config)
        except Exception as exc:  # topics are a report, not the deployment: fall back below
            log.warning("Could not read the topics of %s from Kafka Connect: %s", name, exc)
            break
        if topics != previous:
            stable_since, previous = time.time(), topics
        covered = (
            expected <= set(topics)
            if not carry.get("routed")
            else bool(topics) and (time.time() - stable_since >= settle_seconds)
        )
        if (covered and (topics or not expected)) or time.time() >= deadline:
            break
        time.sleep(min(max(poll_interval / 5, 0.2), 1.0))
    computed = list(carry.get("computed_topics") or [])
    if topics:
        missing = sorted(expected - set(topics)) if not carry.get("routed") else []
        if missing:
            log.warning(
                "Kafka Connect does not list %s for %s after %.0f s; the snapshot may still be running",
                ", ".join(missing),
                name,
                timeout,
            )
        if set(topics) != set(computed):
            log.info(
                "Topics of %s from Kafka Connect: %s (computed names: %s)",
                name,
                ", ".join(topics),
                ", ".join(computed) or "none",
            )
        return topics, "connect"
    if computed:
        log.warning(
            "Kafka Connect lists no topics for %s yet (nothing written so far); using the computed names %s. "
            "A routing transform or a topic naming strategy "
            "makes them wrong: check GET /connectors/%s/topics",
            name,
            ", ".join(computed),
            name,
        )
    return computed, "computed"
