"""The source database of a Debezium connector: its kind, its credentials, its preflight.

The kind (MySQL/MariaDB or PostgreSQL) comes from ``connector.class``; the credentials come from
an Airflow connection and reach only the payload (the password is ``mask_secret``-ed first).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from airflow_provider_lakeops.operators._kafka_connect.config import is_placeholder

if TYPE_CHECKING:
    import logging

    from airflow.sdk.types import Logger as SdkLogger

    from airflow_provider_lakeops.operators._kafka_connect.mysql_preflight import PreflightReport

__all__ = ["DEFAULT_PORTS", "SOURCE_KINDS", "run_preflight", "source_kind", "with_credentials"]

#: ``connector.class`` -> source kind (``mysql`` covers MariaDB: same protocol, same preflight).
SOURCE_KINDS = {
    "io.debezium.connector.mysql.MySqlConnector": "mysql",
    "io.debezium.connector.mariadb.MariaDbConnector": "mysql",
    "io.debezium.connector.postgresql.PostgresConnector": "postgres",
}
DEFAULT_PORTS = {"mysql": 3306, "postgres": 5432}


def source_kind(connector_class: str) -> str | None:
    """``mysql`` (MySQL and MariaDB connectors), ``postgres``, or ``None`` for another connector class."""
    return SOURCE_KINDS.get(connector_class.strip())


def with_credentials(
    config: Mapping[str, str], conn_id: str | None, log: logging.Logger | SdkLogger
) -> tuple[dict[str, str], list[str]]:
    """The payload to send (credentials from connection ``conn_id`` injected) and the secret values it holds.

    :raises ValueError: the connection does not match the source kind, or lacks what the config
        does not set (host, database, login), or its login differs from the config's user.
    """
    payload = dict(config)
    secrets: list[str] = []
    if not conn_id:
        if "database.password" not in payload:
            log.warning(
                "No database_conn_id and no database.password placeholder: the connector user "
                "must have no password"
            )
        return payload, secrets
    kind = source_kind(payload["connector.class"])
    if kind is None:
        raise ValueError(
            "database_conn_id is set but connector.class "
            f"{payload['connector.class']!r} is not a source this "
            f"operator knows ({', '.join(SOURCE_KINDS)}); set the database.* keys in the config instead"
        )
    from airflow.sdk import BaseHook
    from airflow.sdk.log import mask_secret

    conn = BaseHook.get_connection(conn_id)
    if conn.password:
        mask_secret(conn.password)
        secrets.append(conn.password)
    if conn.conn_type in set(DEFAULT_PORTS) - {kind} or (conn.conn_type == "mysql" and kind != "mysql"):
        raise ValueError(
            f"connection {conn_id!r} is a {conn.conn_type} connection but connector.class "
            f"{payload['connector.class']} captures a {kind} database; pass a {kind} connection"
        )
    if not conn.host and "database.hostname" not in payload:
        raise ValueError(f"connection {conn_id!r} has no host and the config no database.hostname")
    payload.setdefault("database.hostname", conn.host or "")
    payload.setdefault("database.port", str(conn.port or DEFAULT_PORTS[kind]))
    if kind == "postgres" and "database.dbname" not in payload:
        if not conn.schema:
            raise ValueError(
                f"connection {conn_id!r} names no database (its schema field) and the config has "
                "no database.dbname"
            )
        payload["database.dbname"] = conn.schema
    user = payload.get("database.user")
    if user is None:
        if not conn.login:
            raise ValueError(f"connection {conn_id!r} has no login for database.user")
        payload["database.user"] = conn.login
    elif not is_placeholder(user) and user != conn.login:
        raise ValueError(
            f"config database.user {user!r} differs from the login of connection {conn_id!r}; "
            "remove database.user from the config (the connection provides it)"
        )
    if "database.password" not in payload and conn.password:
        payload["database.password"] = conn.password
    return payload, secrets


def run_preflight(conn_id: str, payload: Mapping[str, str]) -> PreflightReport:
    """Check the source database for what the connector needs (MySQL/MariaDB or PostgreSQL).

    :raises PreflightError: a prerequisite is missing (nothing deployed).
    """
    if source_kind(payload["connector.class"]) == "postgres":
        from airflow_provider_lakeops.operators._kafka_connect import postgres_preflight

        report = postgres_preflight.preflight_for_config(
            postgres_preflight.postgres_hook(conn_id, payload.get("database.dbname")), payload
        )
    else:
        from airflow.providers.mysql.hooks.mysql import MySqlHook

        from airflow_provider_lakeops.operators._kafka_connect import mysql_preflight
        from airflow_provider_lakeops.utils.catalog import CatalogReader

        # catalog probes, not data lineage: outside the hook lineage collector
        report = mysql_preflight.preflight_for_config(
            CatalogReader(MySqlHook(mysql_conn_id=conn_id)), payload
        )
    report.raise_for_problems()
    return report
