"""The PostgreSQL preflight against the stack's real server (as the CDC user, through its Airflow
connection)."""

from __future__ import annotations

import json
import secrets

import pytest

from airflow_provider_lakeops.exceptions import PreflightError
from airflow_provider_lakeops.operators._kafka_connect.postgres_preflight import (
    postgres_hook,
    preflight_for_config,
    run_preflight,
)
from tests.integration.kafka_connect.conftest import PgSource

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _checks(report) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for problem in report.problems:
        out.setdefault(problem.check, []).append(problem.name)
    return out


def _report(src: PgSource, conn_id: str | None = None, **overrides):
    return preflight_for_config(postgres_hook(conn_id or src.conn_id), src.config(**overrides))


def test_a_ready_database_passes(pg_source):
    report = _report(pg_source)
    assert report.ok, report.summary()
    assert report.tables == ["public.customers"]
    assert report.tables_with_rows == ["public.customers"]
    assert report.server["wal_level"] == "logical"
    assert report.user == "dbz"
    report.raise_for_problems()


def test_table_problems_are_named_with_their_fix(pg_source):
    pg_source.sql(
        "CREATE TABLE public.no_key (v text)",
        "ALTER TABLE public.no_key OWNER TO dbz",
        "CREATE TABLE public.hidden (id int PRIMARY KEY)",
    )  # owned by postgres, no grant
    report = _report(
        pg_source, table__include__list="public.customers,public.no_key,public.hidden,public.missing"
    )
    checks = _checks(report)
    assert checks["table"] == ["public.missing"]
    assert checks["replica_identity"] == ["public.no_key"]
    assert checks["grant"] == ["SELECT ON public.hidden"]
    assert checks["publication"] == [
        "pub_" + pg_source.publication.split("_", 1)[1]
    ]  # dbz does not own hidden
    fixes = {p.check: p.fix for p in report.problems}
    assert fixes["replica_identity"].endswith('ALTER TABLE "public"."no_key" REPLICA IDENTITY FULL;')
    assert (
        fixes["grant"]
        == 'GRANT USAGE ON SCHEMA "public" TO "dbz"; GRANT SELECT ON "public"."hidden" TO "dbz";'
    )
    pg_source.sql("ALTER TABLE public.no_key REPLICA IDENTITY FULL")
    assert "replica_identity" not in _checks(_report(pg_source, table__include__list="public.no_key"))


def test_no_create_on_the_database_and_an_existing_publication(pg_source):
    pg_source.sql(f"REVOKE CREATE ON DATABASE {pg_source.dbname} FROM dbz")
    assert _checks(_report(pg_source)) == {"publication": [pg_source.publication]}
    pg_source.sql(f"CREATE PUBLICATION {pg_source.publication} FOR TABLE public.customers")
    assert _report(pg_source).ok  # the named publication exists and covers the table
    disabled = _report(
        pg_source, publication__autocreate__mode="disabled", table__include__list="public.customers"
    )
    assert disabled.ok
    pg_source.sql(f"DROP PUBLICATION {pg_source.publication}")
    assert _checks(_report(pg_source, publication__autocreate__mode="disabled")) == {
        "publication": [pg_source.publication]
    }
    all_tables = _report(pg_source, publication__autocreate__mode="all_tables")
    assert "FOR ALL TABLES" in all_tables.problems[0].fix  # dbz is no superuser


def test_a_user_that_may_not_replicate(pg_source, monkeypatch):
    user, password = f"norep_{secrets.token_hex(3)}", secrets.token_hex(8)
    pg_source.server.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
    try:
        pg_source.sql(f"GRANT SELECT ON public.customers TO {user}")
        monkeypatch.setenv(
            "AIRFLOW_CONN_PG_NOREP",
            json.dumps(
                {
                    "conn_type": "postgres",
                    "host": pg_source.server.host,
                    "port": pg_source.server.port,
                    "schema": pg_source.dbname,
                    "login": user,
                    "password": password,
                }
            ),
        )
        report = _report(pg_source, "pg_norep")
        assert _checks(report)["replication"] == [user]
        assert report.problems[0].fix == f'ALTER ROLE "{user}" WITH REPLICATION;'
        with pytest.raises(PreflightError, match="PostgreSQL preflight for user") as err:
            report.raise_for_problems()
        assert password not in str(err.value) + json.dumps(err.value.problems)
    finally:
        pg_source.sql(f"REVOKE ALL ON public.customers FROM {user}")
        pg_source.server.execute(f"DROP ROLE {user}")


def test_an_existing_slot_of_another_plugin_and_no_free_slot(pg_source):
    pg_source.sql(f"SELECT pg_create_logical_replication_slot('{pg_source.slot}', 'test_decoding')")
    report = _report(pg_source)
    assert _checks(report) == {"slot": [pg_source.slot]}
    assert "test_decoding" in report.problems[0].message
    hook = postgres_hook(pg_source.conn_id)
    used = pg_source.server.execute("SELECT count(*) FROM pg_replication_slots")[0][0]
    full = run_preflight(
        hook,
        table_include_list="public.customers",
        slot_name="another_slot",
        publication_autocreate_mode="filtered",
        publication_name=pg_source.publication,
    )
    assert ("slot" in _checks(full)) == (used >= 8)  # max_replication_slots=8 on the stack
