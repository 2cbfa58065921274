"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def sf(lakeops_stack) -> Iterator[Any]:
    """A DB-API connection through the stock ``SnowflakeHook`` (``snowflake_default``), one per module."""
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    conn = SnowflakeHook(snowflake_conn_id="snowflake_default").get_conn()
    yield conn
    conn.close()
