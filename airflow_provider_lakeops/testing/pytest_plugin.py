"""pytest plugin (entry point ``pytest11: lakeops``): the local stack as fixtures.

Fixtures (all session-scoped unless said otherwise):

``lakeops_stack``
    moto + fakesnow over TLS; ``aws_default`` and ``snowflake_default`` (and ``spark_default``,
    ``lakeops_pii_key``) are set as ``AIRFLOW_CONN_*`` variables for the whole session.
``lakeops_spark_cluster``
    a Spark standalone master + worker; adds the ``spark_cluster`` connection.
``lakeops_airflow_db``
    migrates the metadata DB of the current ``AIRFLOW_HOME`` once (needed by ``dag.test()``).
``lakeops_lineage`` (function-scoped)
    a :class:`~airflow_provider_lakeops.testing.lineage.LineageLog` over the file transport.

Set ``AIRFLOW_HOME``, ``AIRFLOW__CORE__DAGS_FOLDER`` and the OpenLineage transport before Airflow
is imported (a ``conftest.py`` at the root of your tests is the place), e.g. with
:func:`airflow_provider_lakeops.testing.stack.airflow_env`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_lakeops.testing.lineage import LineageLog
from airflow_provider_lakeops.testing.stack import LocalStack, migrate_airflow_db


def _stack_home(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    base = os.environ.get("LAKEOPS_HOME")
    return Path(base) / name if base else tmp_path_factory.mktemp(name)


def _export(env: dict[str, str]) -> dict[str, str | None]:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    return saved


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def lakeops_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto + fakesnow (TLS) with their Airflow connections exported for the session."""
    stack = LocalStack(_stack_home(tmp_path_factory, "stack"))
    with stack:
        saved = _export(stack.env())
        try:
            yield stack
        finally:
            _restore(saved)


@pytest.fixture(scope="session")
def lakeops_spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A Spark standalone cluster (master + worker on loopback) and its ``spark_cluster`` connection."""
    stack = LocalStack(
        _stack_home(tmp_path_factory, "spark-cluster"), moto=False, snowflake=False, spark_cluster=True
    )
    with stack:
        saved = _export({"AIRFLOW_CONN_SPARK_CLUSTER": stack.env()["AIRFLOW_CONN_SPARK_CLUSTER"]})
        try:
            yield stack
        finally:
            _restore(saved)


@pytest.fixture(scope="session")
def lakeops_airflow_db() -> None:
    """Migrate the metadata DB that the current environment names (once per session)."""
    keys = ("AIRFLOW_HOME", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            "AIRFLOW__OPENLINEAGE__TRANSPORT")
    missing = [k for k in keys if not os.environ.get(k)]
    if missing:
        pytest.fail(f"set {', '.join(missing)} before the session starts (see airflow_env())")
    migrate_airflow_db({k: os.environ[k] for k in keys})


@pytest.fixture
def lakeops_lineage() -> LineageLog:
    """The OpenLineage events written by the file transport."""
    return LineageLog()
