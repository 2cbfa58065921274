"""Read the local dbt warehouse (dbt-duckdb) from tests and tools.

dbt-duckdb keeps its database file open in the process that ran dbt (Cosmos' in-process
``dbtRunner``, e.g. inside ``dag.test()``) until the process exits, and DuckDB refuses a second
connection with another configuration. :func:`warehouse_rows` releases dbt's handle first.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["release_duckdb", "warehouse_rows"]


def release_duckdb() -> None:
    """Close dbt-duckdb's process-wide connection, if dbt ran in this process."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing can hold the file
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def warehouse_rows(lake: str | Path, sql: str) -> list[tuple]:
    """Run ``sql`` read-only on ``{lake}/lakeops.duckdb`` (the ``local`` dbt target's database)."""
    import duckdb

    release_duckdb()
    with duckdb.connect(str(Path(lake) / "lakeops.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()
