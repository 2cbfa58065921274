"""Moved to :mod:`airflow_provider_lakeops.operators._kafka_connect.postgres_preflight` (it holds no hook).

This module keeps the old import path working: the names are the same objects.

.. seealso:: ``docs/operators/debezium.md``
"""

from __future__ import annotations

from airflow_provider_lakeops.operators._kafka_connect.postgres_preflight import (
    DbApiHookLike,
    PreflightProblem,
    PreflightReport,
    postgres_hook,
    preflight_for_config,
    quote_ident,
    resolve_tables,
    run_preflight,
    split_list,
)

__all__ = [
    "DbApiHookLike",
    "PreflightProblem",
    "PreflightReport",
    "postgres_hook",
    "preflight_for_config",
    "quote_ident",
    "resolve_tables",
    "run_preflight",
    "split_list",
]
