"""Debezium preflight against real MariaDB servers: the machine's (binlog off) and a second one with a binlog."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from airflow_provider_lakeops.exceptions import PreflightError
from airflow_provider_lakeops.hooks.mysql_preflight import PreflightReport, run_preflight
from airflow_provider_lakeops.testing.services import require_tcp
from tests.integration.conftest_kafka_connect import (
    CONNECTOR_PASSWORD,
    CONNECTOR_SERVER_ID,
    SERVER_ID,
    BinlogMariaDB,
)

pytestmark = [pytest.mark.integration, pytest.mark.services]
TABLES = "inventory.customers,inventory.orders"


def _hook(monkeypatch, conn_id: str, host: str, port: int, login: str, password: str = ""):
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
        "conn_type": "mysql", "host": host, "port": port, "login": login, "password": password,
        "extra": {"client": "mysql-connector-python"}}))
    return MySqlHook(mysql_conn_id=conn_id)


def _by_check(report: PreflightReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for problem in report.problems:
        out.setdefault(problem.check, []).append(problem.name)
    return out


@pytest.fixture
def dbz_hook(binlog_mariadb, monkeypatch):
    return _hook(monkeypatch, "pf_dbz", binlog_mariadb.host, binlog_mariadb.port, "dbz", CONNECTOR_PASSWORD)


@pytest.fixture
def limited_user(binlog_mariadb: BinlogMariaDB) -> Iterator[callable]:
    """Create users with chosen grants; drop them afterwards."""
    created: list[str] = []

    def make(*grants: str) -> tuple[str, str]:
        user, password = f"lim_{secrets.token_hex(3)}", secrets.token_hex(8)
        binlog_mariadb.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
                               *(g.format(user=f"'{user}'@'%'") for g in grants))
        created.append(user)
        return user, password

    yield make
    for user in created:
        binlog_mariadb.execute(f"DROP USER IF EXISTS '{user}'@'%'")


@pytest.fixture
def global_setting(binlog_mariadb: BinlogMariaDB) -> Iterator[callable]:
    """SET GLOBAL a variable for one test, restored afterwards."""
    saved: dict[str, str] = {}

    def set_(name: str, value: str) -> None:
        saved.setdefault(name, binlog_mariadb.execute(f"SELECT @@GLOBAL.{name}")[0][0])
        binlog_mariadb.execute(f"SET GLOBAL {name} = '{value}'")

    yield set_
    for name, value in saved.items():
        binlog_mariadb.execute(f"SET GLOBAL {name} = '{value}'")


# ---------------------------------------------------------------------------- the machine's MariaDB
def test_binlog_off_and_wrong_format_on_the_machine_server(monkeypatch):
    require_tcp("127.0.0.1", 3306, "MariaDB")
    hook = _hook(monkeypatch, "pf_main", "127.0.0.1", 3306, "root")
    report = run_preflight(hook, table_include_list="test.cdc_table_that_does_not_exist")
    if report.server["log_bin"] in {"1", "ON"}:
        pytest.skip("the machine's MariaDB has binary logging on; the binlog-off case needs it off")
    problems = {p.check: p for p in report.problems}
    assert problems["binlog"].name == "log_bin"
    assert "restart the server" in problems["binlog"].fix
    assert "log_bin=mysql-bin" in problems["binlog"].fix
    if report.server["binlog_format"].upper() != "ROW":
        assert problems["binlog_format"].fix.startswith("SET GLOBAL binlog_format = 'ROW';")
    assert problems["table"].name == "test.cdc_table_that_does_not_exist"
    assert "grant" not in problems  # root holds every privilege
    with pytest.raises(PreflightError, match="problem") as err:
        report.raise_for_problems()
    assert {p["check"] for p in err.value.problems} >= {"binlog", "table"}


# ---------------------------------------------------------------------------- a server with a binlog
def test_a_correctly_configured_server_passes(dbz_hook):
    report = run_preflight(dbz_hook, table_include_list=TABLES, connector_server_id=CONNECTOR_SERVER_ID)
    assert report.ok, report.summary()
    assert report.tables == ["inventory.customers", "inventory.orders"]
    assert report.user == "'dbz'@'%'"
    assert report.server["log_bin"] == "1"
    assert report.server["binlog_format"] == "ROW"
    assert report.server["server_id"] == str(SERVER_ID)
    report.raise_for_problems()  # no error


def test_regex_include_lists_resolve_to_tables(dbz_hook):
    report = run_preflight(dbz_hook, table_include_list=r"inventory\..*", database_include_list="inventory")
    assert report.ok
    assert report.tables == ["inventory.customers", "inventory.orders"]


@pytest.mark.parametrize(
    ("variable", "value", "check", "fix"),
    [("binlog_format", "MIXED", "binlog_format", "SET GLOBAL binlog_format = 'ROW';"),
     ("binlog_format", "STATEMENT", "binlog_format", "SET GLOBAL binlog_format = 'ROW';"),
     ("binlog_row_image", "MINIMAL", "binlog_row_image", "SET GLOBAL binlog_row_image = 'FULL';")],
    ids=["mixed", "statement", "minimal-image"],
)
def test_wrong_binlog_settings_are_named_with_the_fix(dbz_hook, global_setting, variable, value, check, fix):
    global_setting(variable, value)
    report = run_preflight(dbz_hook, table_include_list=TABLES, connector_server_id=CONNECTOR_SERVER_ID)
    assert [p.check for p in report.problems] == [check]
    assert report.problems[0].fix.startswith(fix)
    assert value in report.problems[0].message


def test_missing_grants_are_named_with_the_grant_statement(binlog_mariadb, limited_user, monkeypatch):
    user, password = limited_user("GRANT REPLICATION SLAVE ON *.* TO {user}", "GRANT SELECT ON inventory.* TO {user}")
    hook = _hook(monkeypatch, "pf_lim", binlog_mariadb.host, binlog_mariadb.port, user, password)
    report = run_preflight(hook, table_include_list=TABLES, connector_server_id=CONNECTOR_SERVER_ID)
    fixes = {p.name: p.fix for p in report.problems}
    assert set(fixes) == {"REPLICATION CLIENT", "RELOAD or LOCK TABLES"}
    assert fixes["REPLICATION CLIENT"] == f"GRANT REPLICATION CLIENT ON *.* TO '{user}'@'%';"
    assert fixes["RELOAD or LOCK TABLES"] == f"GRANT RELOAD ON *.* TO '{user}'@'%';"
    assert _by_check(report) == {"grant": ["REPLICATION CLIENT", "RELOAD or LOCK TABLES"]}


def test_lock_tables_satisfies_the_snapshot_lock_and_never_needs_none(binlog_mariadb, limited_user, monkeypatch):
    user, password = limited_user("GRANT REPLICATION SLAVE, REPLICATION CLIENT, LOCK TABLES ON *.* TO {user}",
                                  "GRANT SELECT ON inventory.* TO {user}")
    hook = _hook(monkeypatch, "pf_lock", binlog_mariadb.host, binlog_mariadb.port, user, password)
    assert run_preflight(hook, table_include_list=TABLES).ok
    user2, password2 = limited_user("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {user}",
                                    "GRANT SELECT ON inventory.customers TO {user}")
    hook2 = _hook(monkeypatch, "pf_never", binlog_mariadb.host, binlog_mariadb.port, user2, password2)
    report = run_preflight(hook2, table_include_list="inventory.customers", snapshot_mode="never")
    assert report.ok, report.summary()  # no snapshot: no lock privilege needed; table-level SELECT counts


def test_missing_select_is_reported(binlog_mariadb, limited_user, monkeypatch):
    user, password = limited_user("GRANT REPLICATION SLAVE, REPLICATION CLIENT, RELOAD ON *.* TO {user}")
    hook = _hook(monkeypatch, "pf_nosel", binlog_mariadb.host, binlog_mariadb.port, user, password)
    report = run_preflight(hook, table_include_list=TABLES)
    by_check = _by_check(report)
    assert by_check["grant"] == ["SELECT ON inventory"]
    assert by_check["table"] == ["inventory.customers", "inventory.orders"]  # invisible without SELECT
    fix = next(p.fix for p in report.problems if p.check == "grant")
    assert fix == f"GRANT SELECT ON `inventory`.* TO '{user}'@'%';"


def test_missing_table_is_reported(dbz_hook):
    report = run_preflight(dbz_hook, table_include_list="inventory.customers,inventory.shipments")
    assert _by_check(report) == {"table": ["inventory.shipments"]}
    assert report.tables == ["inventory.customers"]


def test_connector_server_id_equal_to_the_servers_is_reported(dbz_hook):
    report = run_preflight(dbz_hook, table_include_list=TABLES, connector_server_id=SERVER_ID)
    assert _by_check(report) == {"server_id": ["database.server.id"]}
    assert str(SERVER_ID + 1000) in report.problems[0].fix
