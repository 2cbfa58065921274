"""The source database of a Debezium connector (_kafka_connect/source.py): kinds from connector.class."""

from __future__ import annotations

from airflow_provider_lakeops.operators._kafka_connect.source import source_kind

PG = "io.debezium.connector.postgresql.PostgresConnector"
MYSQL = "io.debezium.connector.mysql.MySqlConnector"


def test_source_kinds():
    assert source_kind(PG) == "postgres"
    assert source_kind(MYSQL) == source_kind("io.debezium.connector.mariadb.MariaDbConnector") == "mysql"
    assert source_kind("x.Y") is None
