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

LAKE_JARS_DIR = REPO / "build" / "jvm" / "spark-lake"


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for every Spark library test in the process (start ~10 s), with the
    lake's jars (S3A + Delta, ``make jvm-deps``) and Delta's SQL extension and catalog when present."""
    from pyspark.sql import SparkSession

    from airflow_provider_lakeops.utils.lake import DELTA_SPARK_CONF

    builder = (
        SparkSession.builder.master("local[2]")
        .appName("lakeops-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.host", "127.0.0.1")
    )
    jars = sorted(str(p) for p in LAKE_JARS_DIR.glob("*.jar"))
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
        for key, value in DELTA_SPARK_CONF.items():
            builder = builder.config(key, value)
    session = builder.getOrCreate()
    yield session
    session.stop()


@pytest.fixture
def lake_spark(spark, lakeops_stack):
    """The shared SparkSession reading and writing ``s3://`` on the stack's moto (S3A settings of
    ``aws_default``, as the operators pass them), with Delta available."""
    from airflow_provider_lakeops.spark_apps.lake_session import apply_s3a_credentials
    from airflow_provider_lakeops.utils.lake import aws_lake_access, spark_lake_settings

    if not any(LAKE_JARS_DIR.glob("*.jar")):
        pytest.fail(f"no jars in {LAKE_JARS_DIR}: run 'make jvm-deps'")
    access = aws_lake_access("aws_default")
    settings = spark_lake_settings(paths=["s3://x/"], table_format="delta", access=access, jars="")
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in settings.conf.items():
        if key.startswith("spark.hadoop."):
            hadoop.set(key[len("spark.hadoop.") :], value)
    apply_s3a_credentials(spark, settings.env)
    return spark
