"""Topics of a Debezium connector (_kafka_connect/topics.py): Debezium's own topics are not data topics."""

from __future__ import annotations

from airflow_provider_lakeops.operators._kafka_connect.topics import data_topics


def test_data_topics_drop_debeziums_own_topics():
    topics = [
        "p",
        "p.inventory.customers",
        "__debezium-heartbeat.p",
        "p.transaction",
        "p.message",
        "routed.all",
    ]
    assert data_topics(topics, {"topic.prefix": "p"}) == ["p.inventory.customers", "routed.all"]
