"""The MySQL/MariaDB preflight against the stack's real MariaDB 10.11 (binary log ROW/FULL, server id 223344).

The binlog-off case is not here: ``log_bin`` cannot change at runtime and the stack starts one
MariaDB with the binary log on, so a second server would be needed for it; the decision
("binary logging is OFF", its fix) is plain code in ``run_preflight`` and only the reading of
``@@GLOBAL.log_bin`` differs (see docs/operators/debezium.md).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from airflow_provider_lakeops.operators._kafka_connect.mysql_preflight import PreflightReport, run_preflight

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
TABLES = "inventory.customers,inventory.orders"
CONNECTOR_SERVER_ID = 5400  # the connector's database.server.id (the server itself uses SERVER_ID)
SERVER_ID = 223344
SCHEMA_SQL = [
    "CREATE DATABASE IF NOT EXISTS inventory",
    "CREATE TABLE IF NOT EXISTS inventory.customers (id INT "
    "PRIMARY KEY, email VARCHAR(200), updated_at DATETIME)",
    "CREATE TABLE IF NOT EXISTS inventory.orders (id INT PRIMARY KEY, customer_id INT, amount DECIMAL(10,2))",
    "INSERT IGNORE INTO inventory.customers VALUES (1, 'a@example.com', NOW()), (2, 'b@example.com', NOW())",
]


def _hook(monkeypatch, conn_id: str, host: str, port: int, login: str, password: str = ""):
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "mysql",
                "host": host,
                "port": port,
                "login": login,
                "password": password,
                "extra": {"client": "mysql-connector-python"},
            }
        ),
    )
    return MySqlHook(mysql_conn_id=conn_id)


def _by_check(report: PreflightReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for problem in report.problems:
        out.setdefault(problem.check, []).append(problem.name)
    return out


@pytest.fixture
def mariadb(lakeops_databases):
    """The stack's MariaDB with the ``inventory`` tables."""
    server = lakeops_databases.mariadb
    server.execute(*SCHEMA_SQL)
    return server


@pytest.fixture
def dbz_hook(mariadb):
    """``mysql_cdc``: the stack's connector user ``dbz`` with Debezium's grants."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    return MySqlHook(mysql_conn_id="mysql_cdc")


@pytest.fixture
def limited_user(mariadb) -> Iterator[callable]:
    """Create users with chosen grants; drop them afterwards."""
    created: list[str] = []

    def make(*grants: str) -> tuple[str, str]:
        user, password = f"lim_{secrets.token_hex(3)}", secrets.token_hex(8)
        mariadb.execute(
            f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
            *(g.format(user=f"'{user}'@'%'") for g in grants),
        )
        created.append(user)
        return user, password

    yield make
    for user in created:
        mariadb.execute(f"DROP USER IF EXISTS '{user}'@'%'")


@pytest.fixture
def global_setting(mariadb) -> Iterator[callable]:
    """SET GLOBAL a variable for one test, restored afterwards."""
    saved: dict[str, str] = {}

    def set_(name: str, value: str) -> None:
        saved.setdefault(name, mariadb.execute(f"SELECT @@GLOBAL.{name}")[0][0])
        mariadb.execute(f"SET GLOBAL {name} = '{value}'")

    yield set_
    for name, value in saved.items():
        mariadb.execute(f"SET GLOBAL {name} = '{value}'")


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
    [
        ("binlog_format", "MIXED", "binlog_format", "SET GLOBAL binlog_format = 'ROW';"),
        ("binlog_format", "STATEMENT", "binlog_format", "SET GLOBAL binlog_format = 'ROW';"),
        ("binlog_row_image", "MINIMAL", "binlog_row_image", "SET GLOBAL binlog_row_image = 'FULL';"),
    ],
    ids=["mixed", "statement", "minimal-image"],
)
def test_wrong_binlog_settings_are_named_with_the_fix(dbz_hook, global_setting, variable, value, check, fix):
    global_setting(variable, value)
    report = run_preflight(dbz_hook, table_include_list=TABLES, connector_server_id=CONNECTOR_SERVER_ID)
    assert [p.check for p in report.problems] == [check]
    assert report.problems[0].fix.startswith(fix)
    assert value in report.problems[0].message


def test_missing_grants_are_named_with_the_grant_statement(mariadb, limited_user, monkeypatch):
    user, password = limited_user(
        "GRANT REPLICATION SLAVE ON *.* TO {user}", "GRANT SELECT ON inventory.* TO {user}"
    )
    hook = _hook(monkeypatch, "pf_lim", mariadb.host, mariadb.port, user, password)
    report = run_preflight(hook, table_include_list=TABLES, connector_server_id=CONNECTOR_SERVER_ID)
    fixes = {p.name: p.fix for p in report.problems}
    assert set(fixes) == {"REPLICATION CLIENT", "RELOAD or LOCK TABLES"}
    assert fixes["REPLICATION CLIENT"] == f"GRANT REPLICATION CLIENT ON *.* TO '{user}'@'%';"
    assert fixes["RELOAD or LOCK TABLES"] == f"GRANT RELOAD ON *.* TO '{user}'@'%';"
    assert _by_check(report) == {"grant": ["REPLICATION CLIENT", "RELOAD or LOCK TABLES"]}


def test_lock_tables_satisfies_the_snapshot_lock_and_never_needs_none(mariadb, limited_user, monkeypatch):
    user, password = limited_user(
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT, LOCK TABLES ON *.* TO {user}",
        "GRANT SELECT ON inventory.* TO {user}",
    )
    hook = _hook(monkeypatch, "pf_lock", mariadb.host, mariadb.port, user, password)
    assert run_preflight(hook, table_include_list=TABLES).ok
    user2, password2 = limited_user(
        "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {user}",
        "GRANT SELECT ON inventory.customers TO {user}",
    )
    hook2 = _hook(monkeypatch, "pf_never", mariadb.host, mariadb.port, user2, password2)
    report = run_preflight(hook2, table_include_list="inventory.customers", snapshot_mode="never")
    assert report.ok, report.summary()  # no snapshot: no lock privilege needed; table-level SELECT counts


def test_missing_select_is_reported(mariadb, limited_user, monkeypatch):
    user, password = limited_user("GRANT REPLICATION SLAVE, REPLICATION CLIENT, RELOAD ON *.* TO {user}")
    hook = _hook(monkeypatch, "pf_nosel", mariadb.host, mariadb.port, user, password)
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


def test_debezium_mysql_connector_refuses_mariadb_at_validation(lakeops_cdc):
    """Why the CDC source is PostgreSQL: Debezium 3.6.1's MySQL connector rejects MariaDB 10.11 (measured)."""
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_provider_lakeops.operators.debezium import DebeziumConnectorOperator

    config = {
        "connector.class": "io.debezium.connector.mysql.MySqlConnector",
        "tasks.max": "1",
        "topic.prefix": "mdb",
        "database.server.id": str(CONNECTOR_SERVER_ID),
        "database.include.list": "inventory",
        "table.include.list": TABLES,
        "schema.history.internal.kafka.bootstrap.servers": lakeops_cdc.kafka_bootstrap,
        "schema.history.internal.kafka.topic": "_schema-history.mdb",
    }
    op = DebeziumConnectorOperator(
        task_id="d",
        connector_name="mariadb-refused",
        config=config,
        database_conn_id="mysql_cdc",
        deferrable=False,
    )
    with pytest.raises(
        AirflowFailException, match="should support SHOW BINARY LOG STATUS but it failed"
    ) as err:
        op.execute({})  # the preflight passes; the worker's validation refuses
    assert lakeops_cdc.mariadb.cdc_password not in str(err.value)
