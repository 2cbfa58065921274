"""Fixtures for the Kafka Connect / Debezium integration tests (defined in ``conftest_kafka_connect``)."""

from __future__ import annotations

from tests.integration.conftest_kafka_connect import (  # noqa: F401 - re-exported fixtures
    binlog_mariadb,
    fake_connect_server,
    kafka_connect,
    mysql_cdc_conn,
)
