"""Test session set-up: a throw-away Airflow home, set before anything imports Airflow.

The local stack itself comes from the package's pytest plugin (``airflow_provider_lakeops.testing``
is registered through the ``pytest11`` entry point): ``lakeops_stack``, ``lakeops_spark_cluster``,
``lakeops_airflow_db`` and ``lakeops_lineage``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "example_dags"

_home = Path(os.environ.get("LAKEOPS_TEST_HOME") or tempfile.mkdtemp(prefix="lakeops-test-"))
os.environ["LAKEOPS_HOME"] = str(_home)

from airflow_provider_lakeops.testing.stack import airflow_env  # noqa: E402 - cheap, imports no airflow

_env = airflow_env(_home)
# dag.test() re-parses DAGS_FOLDER: point it at the example DAGs themselves
_env["AIRFLOW__CORE__DAGS_FOLDER"] = str(EXAMPLE_DAGS)
os.environ.update(_env)
os.environ.setdefault("PYSPARK_PYTHON", __import__("sys").executable)
Path(_home / "lineage").mkdir(parents=True, exist_ok=True)


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for every Spark library test in the process (start ~10 s)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("lakeops-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    yield session
    session.stop()
