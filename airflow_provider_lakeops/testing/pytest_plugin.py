"""pytest plugin (entry point ``pytest11: lakeops``): the local stack as fixtures.

Fixtures (all session-scoped unless said otherwise):

``lakeops_stack``
    moto + fakesnow over TLS; ``aws_default`` and ``snowflake_default`` (and ``spark_default``,
    ``lakeops_pii_key``) are set as ``AIRFLOW_CONN_*`` variables for the whole session.
``lakeops_spark_cluster``
    a Spark standalone master + worker; adds the ``spark_cluster`` connection.
``lakeops_cdc``
    the real CDC servers: a Kafka broker (KRaft), a Kafka Connect worker with the Debezium plugins,
    MariaDB (binary log) and PostgreSQL (``wal_level=logical``); exports ``kafka_default``,
    ``kafka_connect_default``, ``postgres_default`` / ``postgres_cdc``, ``mysql_default`` /
    ``mysql_cdc`` and ``LAKEOPS_SPARK_KAFKA_JARS`` for the session. Needs ``make jvm-deps`` and
    ``make system-deps``; where they are missing the tests skip with the reason (fail under CI=true).
``lakeops_databases``
    MariaDB and PostgreSQL only (no JVM), with the same connections.
``lakeops_kafka``
    a Kafka broker only (~5 s), with ``kafka_default``, ``LAKEOPS_KAFKA_BOOTSTRAP`` and
    ``LAKEOPS_SPARK_KAFKA_JARS``.
(the last two reuse the ``lakeops_cdc`` servers when a test of the session uses them anyway)
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
from airflow_provider_lakeops.testing.services import on_ci
from airflow_provider_lakeops.testing.stack import LocalStack, StackError, migrate_airflow_db


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


def _servers_stack(
    home: Path,
    *,
    kafka: bool = False,
    kafka_connect: bool = False,
    mariadb: bool = False,
    postgres: bool = False,
) -> Iterator[LocalStack]:
    stack = LocalStack(
        home,
        moto=False,
        snowflake=False,
        kafka=kafka,
        kafka_connect=kafka_connect,
        mariadb=mariadb,
        postgres=postgres,
    )
    try:
        stack.start()
    except StackError as exc:
        message = f"the local stack's CDC servers could not start: {exc}"
        if on_ci():
            pytest.fail(f"{message}\nCI=true requires them", pytrace=False)
        pytest.skip(message)
    try:
        # only the servers' own variables: never the session stack's PII key, Spark or lake settings
        saved = _export(stack.cdc_env())
        try:
            yield stack
        finally:
            _restore(saved)
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def lakeops_cdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Kafka + Kafka Connect (Debezium) + MariaDB + PostgreSQL, real servers, for the session."""
    yield from _servers_stack(
        _stack_home(tmp_path_factory, "cdc"), kafka_connect=True, mariadb=True, postgres=True
    )


@pytest.fixture(scope="session")
def lakeops_databases(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalStack]:
    """MariaDB + PostgreSQL for the session (the CDC stack's, when a test of the session uses it)."""
    if _wants_cdc(request):  # one set of servers per session
        yield request.getfixturevalue("lakeops_cdc")
        return
    yield from _servers_stack(_stack_home(tmp_path_factory, "databases"), mariadb=True, postgres=True)


def _wants_cdc(request: pytest.FixtureRequest) -> bool:
    return any("lakeops_cdc" in getattr(item, "fixturenames", ()) for item in request.session.items)


@pytest.fixture(scope="session")
def lakeops_airflow_db() -> None:
    """Migrate the metadata DB that the current environment names (once per session)."""
    keys = (
        "AIRFLOW_HOME",
        "AIRFLOW__CORE__DAGS_FOLDER",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__OPENLINEAGE__TRANSPORT",
    )
    missing = [k for k in keys if not os.environ.get(k)]
    if missing:
        pytest.fail(f"set {', '.join(missing)} before the session starts (see airflow_env())")
    migrate_airflow_db({k: os.environ[k] for k in keys})


@pytest.fixture
def lakeops_lineage() -> LineageLog:
    """The OpenLineage events written by the file transport."""
    return LineageLog()


@pytest.fixture(scope="session")
def lakeops_kafka(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalStack]:
    """A Kafka broker (KRaft) only, ~5 s, with ``kafka_default``, ``LAKEOPS_KAFKA_BOOTSTRAP`` and
    ``LAKEOPS_SPARK_KAFKA_JARS`` exported (the CDC stack's broker when a test of the session uses it)."""
    if _wants_cdc(request):  # one broker per session
        yield request.getfixturevalue("lakeops_cdc")
        return
    yield from _servers_stack(_stack_home(tmp_path_factory, "kafka"), kafka=True)
