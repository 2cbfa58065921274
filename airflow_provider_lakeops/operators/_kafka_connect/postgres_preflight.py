"""Check a PostgreSQL server for what a Debezium PostgreSQL connector (``pgoutput``) needs, before deploying
it.

What breaks a Debezium PostgreSQL deployment first is on the database side: ``wal_level`` not
``logical``, a connector user that may not replicate, captured tables without a primary key or
``REPLICA IDENTITY FULL`` (their UPDATE/DELETE events carry no old key, and once they are in a
publication PostgreSQL refuses UPDATE/DELETE on them), no free replication slot, and a
publication the user cannot create. :func:`run_preflight` finds each of them and names the
statement that fixes it, in the report/problem/fix form of
:mod:`~airflow_provider_lakeops.operators._kafka_connect.mysql_preflight`.

Measured on the local stack (PostgreSQL 15, Debezium 3.6.1): with
``publication.autocreate.mode=filtered`` and no publication yet, a user that owns the table but
lacks ``CREATE`` on the database makes the task FAILED with ``Unable to create filtered
publication ... permission denied for database``; the preflight reports it as ``publication``.

The checks run through any DB-API hook with ``get_records`` (passed in). :func:`postgres_hook`
returns the official provider's ``PostgresHook`` when ``apache-airflow-providers-postgres`` is
installed, and otherwise a minimal psycopg2 reader built from the same Airflow connection (its
password is ``mask_secret``-ed).

.. seealso:: ``docs/operators/debezium.md``
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_lakeops.operators._kafka_connect.mysql_preflight import (
    DbApiHookLike,
    PreflightProblem,
    PreflightReport,
    resolve_tables,
    split_list,
)

__all__ = ["postgres_hook", "preflight_for_config", "quote_ident", "run_preflight"]

_SYSTEM_SCHEMA_FILTER = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
    "AND n.nspname NOT LIKE 'pg\\_temp%'"
)


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier in double quotes (``"`` doubled)."""
    return '"' + name.replace('"', '""') + '"'


def _qualified(table: str) -> str:
    schema, _, name = table.partition(".")
    return f"{quote_ident(schema)}.{quote_ident(name)}"


class _Psycopg2Records:
    """``get_records`` over psycopg2 for an Airflow ``postgres`` connection (no Postgres provider
    installed)."""

    def __init__(self, conn_id: str, database: str | None = None) -> None:
        self.conn_id = conn_id
        self.database = database

    def get_records(self, sql: str, parameters: Any = None) -> list[tuple[Any, ...]]:
        import psycopg2
        from airflow.sdk import BaseHook
        from airflow.sdk.log import mask_secret

        conn = BaseHook.get_connection(self.conn_id)
        if conn.password:
            mask_secret(conn.password)
        extra = conn.extra_dejson or {}
        db = psycopg2.connect(
            host=conn.host,
            port=conn.port or 5432,
            user=conn.login,
            password=conn.password or None,
            dbname=self.database or conn.schema or "postgres",
            connect_timeout=int(extra.get("connect_timeout", 10)),
            sslmode=extra.get("sslmode") or None,
        )
        try:
            with db.cursor() as cur:
                cur.execute(sql, parameters)
                return list(cur.fetchall())
        finally:
            db.close()


def postgres_hook(conn_id: str, database: str | None = None) -> DbApiHookLike:
    """The official ``PostgresHook`` for ``conn_id`` (and ``database``), or a psycopg2 reader if the provider
    is missing."""
    try:
        from airflow.providers.postgres.hooks.postgres import PostgresHook
    except ImportError:
        return _Psycopg2Records(conn_id, database)
    from airflow_provider_lakeops.utils.catalog import CatalogReader

    # catalog probes, not data lineage: outside the hook lineage collector
    return CatalogReader(PostgresHook(postgres_conn_id=conn_id, database=database))


def _publication_problems(
    hook: DbApiHookLike,
    *,
    mode: str,
    publication: str,
    captured: list[str],
    owned: set[str],
    superuser: bool,
    may_create: bool,
    role: str,
    database: str,
) -> list[PreflightProblem]:
    rows = hook.get_records(
        "SELECT puballtables FROM pg_publication WHERE pubname = %s", parameters=(publication,)
    )
    exists = bool(rows)
    covered = bool(rows and rows[0][0]) or {
        f"{s}.{t}"
        for s, t in hook.get_records(
            "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s",
            parameters=(publication,),
        )
    } >= set(captured)
    not_owned = [t for t in captured if t not in owned]
    table_list = ", ".join(_qualified(t) for t in captured) or "<the captured tables>"
    create_filtered = f"CREATE PUBLICATION {quote_ident(publication)} FOR TABLE {table_list};"
    problems: list[PreflightProblem] = []
    if mode == "disabled":
        if not exists or not covered:
            problems.append(
                PreflightProblem(
                    "publication",
                    publication,
                    f"publication.autocreate.mode=disabled and publication {publication} "
                    + ("does not exist" if not exists else "does not include every captured table"),
                    (
                        create_filtered
                        if not exists
                        else f"ALTER PUBLICATION {quote_ident(publication)} ADD TABLE {table_list};"
                    )
                    + " (as the tables' owner)",
                )
            )
    elif mode == "all_tables":
        if not exists and not superuser:
            problems.append(
                PreflightProblem(
                    "publication",
                    publication,
                    f"publication {publication} does not exist and "
                    "only a superuser may CREATE PUBLICATION ... "
                    "FOR ALL TABLES (publication.autocreate.mode=all_tables, the default)",
                    f"CREATE PUBLICATION {quote_ident(publication)} FOR ALL TABLES; as a superuser, or set "
                    "publication.autocreate.mode=filtered in the connector config",
                )
            )
    elif mode == "filtered" and not superuser:
        if not exists and not may_create:
            problems.append(
                PreflightProblem(
                    "publication",
                    publication,
                    f"{role} may not create publication {publication}: "
                    f"it lacks CREATE on database {database} "
                    "(Debezium's task fails with 'Unable to create filtered publication')",
                    f"GRANT CREATE ON DATABASE {quote_ident(database)} "
                    f"TO {quote_ident(role)}; or, as the tables' "
                    f"owner, {create_filtered}",
                )
            )
        if not_owned and not (exists and covered):
            problems.append(
                PreflightProblem(
                    "publication",
                    publication,
                    f"{role} does not own {', '.join(not_owned)}; with "
                    "publication.autocreate.mode=filtered Debezium "
                    f"creates or alters publication {publication} FOR TABLE, which needs ownership",
                    f"{create_filtered} as the tables' owner (Debezium "
                    "then uses it), or ALTER TABLE ... OWNER TO "
                    f"{quote_ident(role)};",
                )
            )
    return problems


def run_preflight(
    hook: DbApiHookLike,
    *,
    table_include_list: str | None = None,
    schema_include_list: str | None = None,
    slot_name: str = "debezium",
    plugin_name: str = "pgoutput",
    publication_name: str = "dbz_publication",
    publication_autocreate_mode: str = "all_tables",
    count_rows: bool = True,
) -> PreflightReport:
    """Check the database ``hook`` reaches, as the connector user, for Debezium's prerequisites."""
    wal_level, max_slots, role, database, version, may_replicate, superuser, may_create = hook.get_records(
        "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int, current_user, "
        "current_database(), current_setting('server_version'), r.rolreplication, r.rolsuper, "
        "has_database_privilege(current_database(), 'CREATE') FROM pg_roles r WHERE r.rolname = current_user"
    )[0]
    server = {
        "wal_level": wal_level,
        "max_replication_slots": max_slots,
        "version": version,
        "database": database,
    }
    problems: list[PreflightProblem] = []
    user = quote_ident(role)
    if str(wal_level).lower() != "logical":
        problems.append(
            PreflightProblem(
                "wal_level",
                "wal_level",
                f"wal_level is {wal_level}; logical decoding (pgoutput) needs logical",
                "ALTER SYSTEM SET wal_level = logical; then restart "
                "the server (wal_level cannot change at runtime)",
            )
        )
    if not (may_replicate or superuser):
        problems.append(
            PreflightProblem(
                "replication",
                role,
                f"{role} has neither REPLICATION nor SUPERUSER; it cannot open a replication slot",
                f"ALTER ROLE {user} WITH REPLICATION;",
            )
        )

    rows = hook.get_records(
        "SELECT n.nspname, c.relname, c.relreplident, "
        "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), "
        "has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT'), "
        "pg_has_role(c.relowner, 'USAGE') "
        f"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND "
        f"{_SYSTEM_SCHEMA_FILTER}"
    )
    info = {
        f"{schema}.{name}": (ident, has_pk, can_select, owns)
        for schema, name, ident, has_pk, can_select, owns in rows
    }
    captured, unmatched = resolve_tables(
        info, split_list(table_include_list), split_list(schema_include_list)
    )
    for pattern in unmatched:
        problems.append(
            PreflightProblem(
                "table",
                pattern.replace("\\.", "."),
                f"no table matches {pattern!r} in table.include.list",
                "create the table or correct table.include.list "
                "(PostgreSQL names are schema.table, e.g. public.customers)",
            )
        )
    for table in captured:
        ident, has_pk, can_select, _owns = info[table]
        if ident == "n" or (ident == "d" and not has_pk):
            problems.append(
                PreflightProblem(
                    "replica_identity",
                    table,
                    f"{table} has no primary key and REPLICA IDENTITY "
                    f"{'NOTHING' if ident == 'n' else 'DEFAULT'}: its "
                    "change events carry no key, and PostgreSQL "
                    "refuses UPDATE/DELETE on it once it is published",
                    f"ALTER TABLE {_qualified(table)} ADD PRIMARY "
                    f"KEY (...); or ALTER TABLE {_qualified(table)} "
                    "REPLICA IDENTITY FULL;",
                )
            )
        if not can_select:
            schema = table.partition(".")[0]
            problems.append(
                PreflightProblem(
                    "grant",
                    f"SELECT ON {table}",
                    f"{role} cannot SELECT from {table} (the snapshot reads it)",
                    f"GRANT USAGE ON SCHEMA {quote_ident(schema)} TO "
                    f"{user}; GRANT SELECT ON {_qualified(table)} TO {user};",
                )
            )

    slots = hook.get_records("SELECT slot_name, plugin, database, active FROM pg_replication_slots")
    mine = [s for s in slots if s[0] == slot_name]
    if mine:
        _, plugin, slot_db, _active = mine[0]
        if plugin != plugin_name or slot_db != database:
            problems.append(
                PreflightProblem(
                    "slot",
                    slot_name,
                    f"replication slot {slot_name} exists for plugin "
                    f"{plugin} in database {slot_db}; the connector "
                    f"needs plugin {plugin_name} in {database}",
                    f"SELECT pg_drop_replication_slot('{slot_name}'); "
                    "(when nothing uses it) or set another slot.name",
                )
            )
    elif len(slots) >= int(max_slots):
        idle = ", ".join(s[0] for s in slots if not s[3]) or "none"
        problems.append(
            PreflightProblem(
                "slot",
                slot_name,
                f"all {max_slots} replication slots (max_replication_slots) are in use",
                f"drop an unused slot (inactive: {idle}) with SELECT "
                "pg_drop_replication_slot('<name>'); or raise "
                "max_replication_slots (needs a restart)",
            )
        )

    problems += _publication_problems(
        hook,
        mode=(publication_autocreate_mode or "all_tables").lower(),
        publication=publication_name,
        captured=captured,
        owned={t for t, v in info.items() if v[3]},
        superuser=bool(superuser),
        may_create=bool(may_create),
        role=role,
        database=database,
    )
    with_rows = []
    if count_rows:
        for table in captured:
            if (
                info[table][2]
                and hook.get_records(f"SELECT EXISTS (SELECT 1 FROM {_qualified(table)})")[0][0]
            ):
                with_rows.append(table)
    return PreflightReport(
        server=server,
        user=role,
        tables=captured,
        problems=problems,
        tables_with_rows=with_rows,
        source="PostgreSQL",
    )


def preflight_for_config(hook: DbApiHookLike, config: Mapping[str, str]) -> PreflightReport:
    """:func:`run_preflight` with the settings a Debezium PostgreSQL connector ``config`` names (Debezium's
    defaults)."""
    return run_preflight(
        hook,
        table_include_list=config.get("table.include.list"),
        schema_include_list=config.get("schema.include.list"),
        slot_name=config.get("slot.name", "debezium"),
        plugin_name=config.get("plugin.name", "decoderbufs"),
        publication_name=config.get("publication.name", "dbz_publication"),
        publication_autocreate_mode=config.get("publication.autocreate.mode", "all_tables"),
    )
