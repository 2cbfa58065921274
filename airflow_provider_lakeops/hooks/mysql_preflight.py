"""Moved to :mod:`airflow_provider_lakeops.operators._kafka_connect.mysql_preflight` (it holds no hook).

This module keeps the old import path working: the names are the same objects.

.. seealso:: ``docs/operators/debezium.md``
"""

from __future__ import annotations

from airflow_provider_lakeops.operators._kafka_connect.mysql_preflight import (
    SYSTEM_SCHEMAS,
    DbApiHookLike,
    PreflightProblem,
    PreflightReport,
    preflight_for_config,
    required_privileges,
    resolve_tables,
    run_preflight,
    split_list,
)

__all__ = [
    "SYSTEM_SCHEMAS",
    "DbApiHookLike",
    "PreflightProblem",
    "PreflightReport",
    "preflight_for_config",
    "required_privileges",
    "resolve_tables",
    "run_preflight",
    "split_list",
]
