"""Catalog probes run on the hook's own connection, outside Airflow's hook lineage collector."""

from __future__ import annotations

import sqlite3

from airflow_provider_lakeops.utils.catalog import CatalogReader


class _Hook:
    """A DB-API hook stand-in: only ``get_conn()`` (the reader must never call ``get_records``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.opened = 0

    def get_conn(self) -> sqlite3.Connection:
        self.opened += 1
        return sqlite3.connect(self.path)

    def get_records(self, *_a, **_k):  # pragma: no cover - would report the probe as lineage
        raise AssertionError("catalog probes must not go through get_records")


def test_records_and_first_through_the_connection(tmp_path):
    db = tmp_path / "c.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table t (a int)")
        conn.executemany("insert into t values (?)", [(1,), (2,)])
    hook = _Hook(str(db))
    reader = CatalogReader(hook)
    assert reader.get_records("select a from t order by a") == [(1,), (2,)]
    assert reader.get_first("select a from t where a > ?", (1,)) == (2,)
    assert reader.get_first("select a from t where a > ?", (5,)) is None
    assert hook.opened == 3  # one connection per probe, each closed


def test_probes_leave_the_hook_lineage_collector_empty(tmp_path):
    from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

    db = tmp_path / "c.db"
    sqlite3.connect(db).close()
    collector = get_hook_lineage_collector()
    before = len(collector.collected_assets.extra) if hasattr(collector, "collected_assets") else 0
    CatalogReader(_Hook(str(db))).get_records("select name from sqlite_master")
    after = len(collector.collected_assets.extra) if hasattr(collector, "collected_assets") else 0
    assert after == before
