"""SQL sources of :class:`~airflow_provider_lakeops.operators.great_expectations.GXValidateOperator`.

:class:`SqlSource` validates a table or a query behind any Airflow SQL connection inside the
database, through GX's SQL datasource built from the SQLAlchemy URL of the connection's own hook
(:func:`resolve_sql_target`). Nothing here imports SQLAlchemy dialects or GX at module level.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_lakeops.lineage.naming import DatasetName, snowflake_dataset
from airflow_provider_lakeops.operators._gx.sources import SourceStats

__all__ = ["SqlSource", "SqlTarget", "resolve_sql_target"]

log = logging.getLogger(__name__)


@dataclass
class SqlTarget:
    """A SQLAlchemy URL (holds the password: never log it) and what lineage needs."""

    url: str = field(repr=False)
    engine_kwargs: dict[str, Any] = field(repr=False)
    dialect: str
    namespace: str
    database: str | None
    schema: str | None
    uppercase: bool = False
    secrets: tuple[str, ...] = field(default=(), repr=False)
    snowflake_account: str | None = None
    snowflake_region: str | None = None


def _snowflake_sqlalchemy_compat() -> None:
    """Let snowflake-sqlalchemy 1.11 import under SQLAlchemy 2.1.

    It imports ``sqlalchemy.orm.context.ORMSelectCompileState``, which 2.1 renamed to
    ``_ORMSelectCompileState``; GX's Snowflake extra pins ``sqlalchemy<2.1`` for this reason.
    The alias is added only when the old name is missing (a no-op on SQLAlchemy 2.0).
    """
    from sqlalchemy.orm import context as orm_context

    if not hasattr(orm_context, "ORMSelectCompileState") and hasattr(orm_context, "_ORMSelectCompileState"):
        setattr(orm_context, "ORMSelectCompileState", orm_context._ORMSelectCompileState)  # noqa: B010


_SCHEMES = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "sqlite": "sqlite",
    "mysql": "mysql+mysqlconnector",
    "mssql": "mssql+pymssql",
}


def resolve_sql_target(conn_id: str) -> SqlTarget:
    """Build the SQLAlchemy URL and engine arguments of an Airflow connection.

    The connection's own hook builds it when its provider is installed (``SnowflakeHook`` with its
    ``connect_args``, any ``DbApiHook`` through ``sqlalchemy_url`` / ``get_uri()``); without one
    (e.g. ``sqlite`` or ``postgres`` connections when their provider is absent) it is built from
    the connection fields, honouring ``extra.sqlalchemy_scheme``.
    """
    from airflow.sdk import BaseHook
    from sqlalchemy.engine import make_url

    conn = BaseHook.get_connection(conn_id)
    try:
        hook: Any = conn.get_hook()
    except Exception as exc:  # no provider for this conn_type: the fields are enough for SQLAlchemy
        log.info(
            "No hook for connection %r (%s): building the SQLAlchemy URL from its fields",
            conn_id,
            type(exc).__name__,
        )
        hook = None
    secrets = tuple(s for s in (conn.password,) if s)
    if hook is not None and type(hook).__name__ == "SnowflakeHook":
        _snowflake_sqlalchemy_compat()
        params = hook._get_conn_params()
        connect_args = {
            k: params[k]
            for k in (
                "insecure_mode",
                "session_parameters",
                "ocsp_fail_open",
                "json_result_force_utf8_decoding",
                "private_key",
            )
            if params.get(k)
        }
        return SqlTarget(
            url=hook.get_uri(),
            engine_kwargs={"connect_args": connect_args} if connect_args else {},
            dialect="snowflake",
            namespace="snowflake://",
            database=params.get("database") or None,
            schema=params.get("schema") or None,
            uppercase=True,
            secrets=secrets,
            snowflake_account=params.get("account") or None,
            snowflake_region=params.get("region") or None,
        )
    if hook is not None and hasattr(hook, "get_uri"):
        try:
            url = hook.sqlalchemy_url.render_as_string(hide_password=False)
        except (NotImplementedError, AttributeError):
            url = hook.get_uri()
    else:
        extra = conn.extra_dejson
        conn_type = conn.conn_type or ""
        driver = str(extra.get("sqlalchemy_scheme") or _SCHEMES.get(conn_type, conn_type))
        if driver.startswith("sqlite"):
            url = f"{driver}:///{conn.host or conn.schema or ':memory:'}"
        else:
            from sqlalchemy.engine import URL

            url = URL.create(
                driver,
                username=conn.login or None,
                password=conn.password or None,
                host=conn.host or None,
                port=conn.port or None,
                database=conn.schema or None,
            ).render_as_string(hide_password=False)
    parsed = make_url(url)
    dialect = parsed.get_backend_name()
    namespace = None
    if hook is not None and hasattr(hook, "get_openlineage_database_info"):
        try:
            info = hook.get_openlineage_database_info(conn)
            if info is not None and info.authority:
                namespace = f"{info.scheme}://{info.authority}"
        except Exception:  # lineage naming must never break validation
            namespace = None
    if namespace is None:
        if dialect == "sqlite":
            namespace = f"sqlite://{os.path.abspath(parsed.database or ':memory:')}"
        else:
            scheme = {"postgresql": "postgres"}.get(dialect, dialect)
            default_port = {"postgresql": 5432, "mysql": 3306}.get(dialect)
            namespace = f"{scheme}://{parsed.host or 'localhost'}:{parsed.port or default_port}"
    schema = None if dialect in ("sqlite", "mysql") else ("public" if dialect == "postgresql" else None)
    return SqlTarget(
        url=url,
        engine_kwargs={},
        dialect=dialect,
        namespace=namespace,
        database=None if dialect == "sqlite" else parsed.database,
        schema=schema,
        secrets=secrets + ((parsed.password,) if parsed.password else ()),
    )


class SqlSource:
    """A table or query validated inside the database by GX's SQL datasource."""

    kind = "sql"

    def __init__(
        self, conn_id: str, *, table: str | None = None, schema: str | None = None, sql: str | None = None
    ) -> None:
        self.conn_id = conn_id
        self.table = table
        self.schema = schema
        self.sql = sql
        self.target: SqlTarget | None = None
        self.stats = SourceStats()
        self._engine: Any = None

    def describe(self) -> str:
        what = f"table {self.qualified_table}" if self.table else "a query"
        return f"{what} on connection {self.conn_id!r}"

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else str(self.table)

    def check(self) -> None:
        if not self.conn_id:
            raise ValueError("conn_id is empty after templating")
        if self.table is not None:
            table = self.table.strip()
            if not table:
                raise ValueError("table is empty after templating")
            if "." in table and not self.schema:
                self.schema, table = table.rsplit(".", 1)
            self.table = table
        if self.sql is not None:
            self.sql = self.sql.strip().rstrip(";").strip()
            if not self.sql:
                raise ValueError("sql is empty after templating")

    def prepare(self, workdir: Path) -> None:
        self.target = resolve_sql_target(self.conn_id)

    def _engine_for_schema(self) -> Any:
        if self._engine is None:
            import sqlalchemy as sa

            if self.target is None:
                raise RuntimeError("prepare() was not called")
            try:
                self._engine = sa.create_engine(self.target.url, **self.target.engine_kwargs)
            except ImportError as exc:
                raise ImportError(
                    f"the SQLAlchemy driver for {self.target.dialect!r} is not installed ({exc}); install it "
                    f"(e.g. psycopg2-binary for PostgreSQL)"
                ) from None
        return self._engine

    def columns(self) -> list[str]:
        import sqlalchemy as sa

        engine = self._engine_for_schema()
        with engine.connect() as conn:
            if self.table:
                inspector = sa.inspect(conn)
                if not inspector.has_table(self.table, schema=self.schema):
                    raise ValueError(
                        f"table {self.qualified_table!r} does not exist on connection {self.conn_id!r}"
                    )
                return [c["name"] for c in inspector.get_columns(self.table, schema=self.schema)]
            result = conn.execute(sa.text(f"SELECT * FROM ({self.sql}) lakeops_columns WHERE 1 = 0"))
            return list(result.keys())

    def add_batch(self, context: Any, name: str, data: Any) -> tuple[Any, dict[str, Any] | None]:
        import warnings

        if self.target is None:
            raise RuntimeError("prepare() was not called")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "a more specific datasource may be more appropriate"
            datasource = context.data_sources.add_sql(
                name, connection_string=self.target.url, kwargs=self.target.engine_kwargs
            )
            if self.table:
                asset = datasource.add_table_asset(
                    f"{name}_data",
                    table_name=self.table,
                    **({"schema_name": self.schema} if self.schema else {}),
                )
            else:
                asset = datasource.add_query_asset(f"{name}_data", query=self.sql)
        return asset.add_batch_definition_whole_table(f"{name}_batch"), None

    def load(self) -> None:
        """SQL data is validated where it lives: nothing to load."""
        return None

    def datasets(self) -> list[DatasetName]:
        if self.target is None:
            return []
        target = self.target
        if self.table:
            tables = [(None, self.schema, self.table)]
        else:
            try:
                import openlineage_sql

                parsed = openlineage_sql.parse([self.sql or ""], dialect=target.dialect)
            except Exception as exc:  # lineage naming must never break validation
                log.info("Input tables of the query not parsed for lineage: %s", type(exc).__name__)
                return []
            tables = [(t.database, t.schema, t.name) for t in parsed.in_tables]
        out = []
        for database, schema, table in tables:
            parts = [database or target.database, schema or target.schema, table]
            if target.snowflake_account:
                if all(parts):
                    db, sch, tbl = (str(p).upper() for p in parts)
                    out.append(
                        snowflake_dataset(target.snowflake_account, db, sch, tbl, target.snowflake_region)
                    )
                continue
            name = ".".join(p for p in parts if p)
            out.append(DatasetName(target.namespace, name.upper() if target.uppercase else name))
        return out

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
