"""Check a MySQL/MariaDB server for what a Debezium MySQL connector needs, before deploying it.

The first things that break a Debezium deployment in the field are on the database side: binary
logging off, ``binlog_format`` not ``ROW``, ``binlog_row_image`` not ``FULL``, no ``server_id``,
captured tables missing, and a connector user without replication grants. :func:`run_preflight`
finds each of them and names the statement that fixes it.

It runs through the official MySQL provider's ``MySqlHook`` (any DB-API hook with
``get_records`` works: it is passed in, so the checks are independent of the driver). With the
``mysql-connector-python`` driver the connection's extra must say
``{"client": "mysql-connector-python"}``. Privileges are read from ``information_schema``
(``USER_PRIVILEGES``, ``SCHEMA_PRIVILEGES``, ``TABLE_PRIVILEGES``) for ``CURRENT_USER()``;
privileges held only through roles are not seen. MariaDB's name for ``REPLICATION CLIENT`` is
``BINLOG MONITOR``; both are accepted.

.. seealso:: ``docs/operators/debezium.md``
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_lakeops.exceptions import PreflightError

__all__ = [
    "PreflightProblem",
    "PreflightReport",
    "required_privileges",
    "resolve_tables",
    "run_preflight",
    "split_list",
]

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
# Privileges that only exist globally (ON *.*), and names a server may show them under.
_SYNONYMS = {"REPLICATION CLIENT": {"REPLICATION CLIENT", "BINLOG MONITOR"}}


class DbApiHookLike(Protocol):
    def get_records(self, sql: str, parameters: Any = None) -> Any: ...


@dataclass(frozen=True)
class PreflightProblem:
    """One missing prerequisite: what (``check``, ``name``), why (``message``) and the fix (``fix``)."""

    # binlog | binlog_format | binlog_row_image | server_id | table | grant
    # (PostgreSQL: see postgres_preflight)
    check: str
    name: str
    message: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "name": self.name, "message": self.message, "fix": self.fix}


@dataclass
class PreflightReport:
    """The server's settings, the connector user, the captured tables and the problems found.

    ``tables_with_rows`` lists the captured tables that hold rows (PostgreSQL preflight; a snapshot
    of them produces records, so their topics must appear); ``source`` names the server kind.
    """

    server: dict[str, Any]
    user: str
    tables: list[str]
    problems: list[PreflightProblem] = field(default_factory=list)
    tables_with_rows: list[str] = field(default_factory=list)
    source: str = "MySQL"

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [f"{self.source} preflight for user {self.user} found {len(self.problems)} problem(s):"]
        lines += [f"  - [{p.check}] {p.name}: {p.message}\n    fix: {p.fix}" for p in self.problems]
        return "\n".join(lines)

    def raise_for_problems(self) -> None:
        """:raises PreflightError: listing every problem with its fix."""
        if self.problems:
            raise PreflightError(self.summary(), problems=[p.as_dict() for p in self.problems])


def split_list(value: str | None) -> list[str]:
    """Debezium's comma-separated list (``table.include.list``) as patterns."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _matches(pattern: str, name: str) -> bool:
    # Debezium matches filters against the fully-qualified name, whole string, case-insensitively.
    return re.fullmatch(pattern, name, flags=re.IGNORECASE) is not None


def resolve_tables(
    existing: Iterable[str], table_patterns: Sequence[str], database_patterns: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """``(captured tables, patterns that match no table)`` for Debezium's include lists."""
    names = sorted(set(existing))
    if database_patterns:
        names = [n for n in names if any(_matches(p, n.split(".", 1)[0]) for p in database_patterns)]
    if not table_patterns:
        return names, []
    captured = [n for n in names if any(_matches(p, n) for p in table_patterns)]
    unmatched = [p for p in table_patterns if not any(_matches(p, n) for n in names)]
    return captured, unmatched


def required_privileges(
    snapshot_mode: str = "initial", locking_mode: str = "minimal"
) -> list[tuple[str, ...]]:
    """Global privileges the connector user needs; a tuple lists alternatives (any one is enough).

    Streaming reads the binlog (``REPLICATION SLAVE``) and the binlog position
    (``REPLICATION CLIENT``); a snapshot with locking takes a global read lock (``RELOAD``) or,
    where that is not allowed, table locks (``LOCK TABLES``). ``SELECT`` on the captured tables is
    checked per table.
    """
    snapshot_mode = (snapshot_mode or "initial").lower()
    locking_mode = (locking_mode or "minimal").lower()
    needed: list[tuple[str, ...]] = [("REPLICATION CLIENT",)]
    if snapshot_mode != "initial_only":
        needed.insert(0, ("REPLICATION SLAVE",))
    if snapshot_mode != "never" and locking_mode not in {"none"}:
        needed.append(("RELOAD", "LOCK TABLES"))
    return needed


def _literal_database(pattern: str) -> str | None:
    """The database part of ``db.table`` / ``db\\.table`` when it is a plain name, not a regex."""
    database = pattern.split("\\.", 1)[0] if "\\." in pattern else pattern.split(".", 1)[0]
    return database if database != pattern and re.fullmatch(r"\w+", database) else None


def _grantee(current_user: str) -> tuple[str, str]:
    user, _, host = current_user.rpartition("@")
    return user, host


def _as_text(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return value.decode()
    return "" if value is None else str(value)


def run_preflight(
    hook: DbApiHookLike,
    *,
    table_include_list: str | None = None,
    database_include_list: str | None = None,
    connector_server_id: str | int | None = None,
    snapshot_mode: str = "initial",
    snapshot_locking_mode: str = "minimal",
) -> PreflightReport:
    """Check the server ``hook`` reaches, as the connector user, for Debezium's prerequisites."""
    row = hook.get_records(
        "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image, "
        "@@GLOBAL.server_id, VERSION(), CURRENT_USER()"
    )[0]
    log_bin, binlog_format, row_image, server_id, version, current_user = (_as_text(v) for v in row)
    user, host = _grantee(current_user)
    account = f"'{user}'@'{host}'"
    server = {
        "log_bin": log_bin,
        "binlog_format": binlog_format,
        "binlog_row_image": row_image,
        "server_id": server_id,
        "version": version,
    }
    problems: list[PreflightProblem] = []

    if log_bin.upper() not in {"1", "ON"}:
        problems.append(
            PreflightProblem(
                "binlog",
                "log_bin",
                "binary logging is OFF; Debezium reads changes from the binary log",
                "add log_bin=mysql-bin (with server_id, "
                "binlog_format=ROW, binlog_row_image=FULL) under [mysqld] "
                "in the server configuration and restart the server: log_bin cannot be changed at runtime",
            )
        )
    if binlog_format.upper() != "ROW":
        problems.append(
            PreflightProblem(
                "binlog_format",
                "binlog_format",
                f"binlog_format is {binlog_format or 'unset'}, Debezium needs ROW",
                "SET GLOBAL binlog_format = 'ROW'; and binlog_format=ROW "
                "under [mysqld] so it survives a restart",
            )
        )
    if row_image.upper() != "FULL":
        problems.append(
            PreflightProblem(
                "binlog_row_image",
                "binlog_row_image",
                f"binlog_row_image is {row_image or 'unset'}, Debezium needs FULL (before and after images)",
                "SET GLOBAL binlog_row_image = 'FULL'; and binlog_row_image=FULL under [mysqld]",
            )
        )
    if not server_id or server_id == "0":
        problems.append(
            PreflightProblem(
                "server_id",
                "server_id",
                "the server has no server_id (0); binlog clients cannot connect",
                "SET GLOBAL server_id = 1; and server_id=1 under [mysqld] (any id unique in the topology)",
            )
        )
    elif connector_server_id is not None and str(connector_server_id).strip() == server_id:
        problems.append(
            PreflightProblem(
                "server_id",
                "database.server.id",
                f"the connector's database.server.id equals the server's own server_id ({server_id})",
                "set database.server.id in the connector config to an id no server or replica uses, "
                f"e.g. {int(server_id) + 1000 if server_id.isdigit() else 184054}",
            )
        )

    existing = [
        f"{_as_text(schema)}.{_as_text(table)}"
        for schema, table in hook.get_records(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' "
            "AND TABLE_SCHEMA NOT IN (%s, %s, %s, %s)",
            parameters=SYSTEM_SCHEMAS,
        )
    ]
    captured, unmatched = resolve_tables(
        existing, split_list(table_include_list), split_list(database_include_list)
    )
    for pattern in unmatched:
        problems.append(
            PreflightProblem(
                "table",
                pattern.replace("\\.", "."),
                f"no table matches {pattern!r} in table.include.list (or {user} cannot see it)",
                f"create the table, correct table.include.list, or GRANT SELECT ON the table TO {account};",
            )
        )

    global_privs = {
        _as_text(r[0]).upper()
        for r in hook.get_records(
            "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = %s",
            parameters=(account,),
        )
    }
    for alternatives in required_privileges(snapshot_mode, snapshot_locking_mode):
        held = any(global_privs & _SYNONYMS.get(p, {p}) for p in alternatives)
        if not held:
            problems.append(
                PreflightProblem(
                    "grant",
                    " or ".join(alternatives),
                    f"{account} lacks {' or '.join(alternatives)} ON *.*",
                    f"GRANT {alternatives[0]} ON *.* TO {account};",
                )
            )

    # SELECT on the captured tables; tables the user cannot see are not in ``captured``, so the
    # literal database names of unmatched patterns are checked too.
    literal_dbs = {db for db in map(_literal_database, unmatched) if db}
    if "SELECT" not in global_privs and (captured or literal_dbs):
        schema_select = {
            _as_text(r[0]).lower()
            for r in hook.get_records(
                "SELECT TABLE_SCHEMA FROM information_schema.SCHEMA_PRIVILEGES "
                "WHERE GRANTEE = %s AND PRIVILEGE_TYPE = 'SELECT'",
                parameters=(account,),
            )
        }
        table_select = {
            f"{_as_text(s)}.{_as_text(t)}".lower()
            for s, t in hook.get_records(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLE_PRIVILEGES "
                "WHERE GRANTEE = %s AND PRIVILEGE_TYPE = 'SELECT'",
                parameters=(account,),
            )
        }
        missing = {
            t.split(".", 1)[0]
            for t in captured
            if t.split(".", 1)[0].lower() not in schema_select and t.lower() not in table_select
        }
        lacking = sorted(missing | {db for db in literal_dbs if db.lower() not in schema_select})
        for schema in lacking:
            tables = ", ".join(t for t in captured if t.startswith(f"{schema}.")) or f"the tables of {schema}"
            problems.append(
                PreflightProblem(
                    "grant",
                    f"SELECT ON {schema}",
                    f"{account} cannot SELECT from {tables}",
                    f"GRANT SELECT ON `{schema}`.* TO {account};",
                )
            )
    return PreflightReport(server=server, user=account, tables=captured, problems=problems)


def preflight_for_config(hook: DbApiHookLike, config: Mapping[str, str]) -> PreflightReport:
    """:func:`run_preflight` with the settings a Debezium connector ``config`` names."""
    return run_preflight(
        hook,
        table_include_list=config.get("table.include.list"),
        database_include_list=config.get("database.include.list"),
        connector_server_id=config.get("database.server.id"),
        snapshot_mode=config.get("snapshot.mode", "initial"),
        snapshot_locking_mode=config.get("snapshot.locking.mode", "minimal"),
    )
