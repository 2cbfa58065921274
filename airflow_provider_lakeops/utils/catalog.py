"""Catalog probes that are not data lineage.

A preflight asks a database about itself (``pg_roles``, ``pg_replication_slots``, ``pg_index``,
``information_schema``...). Through a ``DbApiHook``'s ``get_records`` every statement also goes to
Airflow's hook lineage collector, and the OpenLineage provider then reports each one as a job reading
those system tables: noise that splits a pipeline's lineage graph into pieces. :class:`CatalogReader`
runs such probes on the hook's own DB-API connection (``hook.get_conn()``: the same credentials,
driver and options), outside the collector. Use it for metadata questions only, never for the data a
task reads or writes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CatalogReader"]


class CatalogReader:
    """``get_records`` / ``get_first`` over ``hook.get_conn()``, one connection per call.

    :param hook: a DB-API hook (``PostgresHook``, ``MySqlHook``, ...) or anything with ``get_conn()``.
    """

    def __init__(self, hook: Any) -> None:
        self.hook = hook

    def get_records(self, sql: str, parameters: Any = None) -> list[tuple[Any, ...]]:
        conn = self.hook.get_conn()
        try:
            cur = conn.cursor()
            try:
                if parameters is None:  # some drivers (sqlite3) refuse None as parameters
                    cur.execute(sql)
                else:
                    cur.execute(sql, parameters)
                return [tuple(r) for r in cur.fetchall()]
            finally:
                cur.close()
        finally:
            conn.close()

    def get_first(self, sql: str, parameters: Any = None) -> tuple[Any, ...] | None:
        rows = self.get_records(sql, parameters)
        return rows[0] if rows else None
