"""Shared by the Snowflake MERGE integration tests (the `sf` connection fixture is in conftest.py)."""

from __future__ import annotations

from typing import Any


def q(sf: Any, sql: str, params: Any = None) -> list[tuple]:
    """Run one statement; its rows, or ``[]`` for a statement without a result set."""
    cur = sf.cursor()
    cur.execute(sql, params)
    return cur.fetchall() if cur.description else []
