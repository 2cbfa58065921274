"""GXValidateOperator on the lake in ``s3://lakeops-lake`` (moto): JSON lines with the pandas and Spark
engines, a partitioned Delta table Spark wrote with ``replaceWhere`` (its folder keeps the replaced files)
with the pandas engine (delta-rs) and the Spark engine (``format("delta")`` over S3A), results on S3."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_lakeops.operators.great_expectations import GXValidateOperator
from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.testing.stack import LAKE_BUCKET, LAKE_URI

pytestmark = pytest.mark.integration

# doubled rows (the replaced files read too) fail the uniqueness and the row count
EXPECTATIONS = [
    {
        "name": "id_unique",
        "expectation": "expect_column_values_to_be_unique",
        "kwargs": {"column": "event_id"},
    },
    {
        "name": "amount_positive",
        "expectation": "expect_column_values_to_be_between",
        "kwargs": {"column": "amount", "min_value": 0},
    },
]


def rows_between(low: int, high: int) -> dict[str, Any]:
    return {
        "name": "row_count",
        "expectation": "expect_table_row_count_to_be_between",
        "kwargs": {"min_value": low, "max_value": high},
    }


class RecordingTI:
    def __init__(self) -> None:
        self.xcom: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = json.loads(json.dumps(value))


def run(op: GXValidateOperator, ds: str = "2025-10-31") -> dict[str, Any]:
    ctx = {
        "ti": RecordingTI(),
        "run_id": "gx-lake",
        "ds": ds,
        "params": {},
        "logical_date": datetime(2025, 10, 31, tzinfo=timezone.utc),
    }
    op.render_template_fields(ctx)
    return op.execute(ctx)


@pytest.fixture(scope="module")
def s3_settings(spark, lakeops_stack) -> Any:
    """The shared session with the S3A settings of ``aws_default`` (as ``lake_spark``), once per module."""
    from airflow_provider_lakeops.spark_apps.lake_session import apply_s3a_credentials
    from airflow_provider_lakeops.utils.lake import spark_lake_settings

    settings = spark_lake_settings(paths=[LAKE_URI], table_format="delta", jars="")
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in settings.conf.items():
        if key.startswith("spark.hadoop."):
            hadoop.set(key[len("spark.hadoop.") :], value)
    apply_s3a_credentials(spark, settings.env)
    return spark


@pytest.fixture(scope="module")
def silver(s3_settings) -> str:
    """A Delta table partitioned by dt: 2025-10-30 (3 rows), 2025-10-31 written with 4 rows then replaced
    by 2 (replaceWhere; version 1)."""
    spark = s3_settings
    root = f"{LAKE_URI}/tests/gx-lake-{uuid.uuid4().hex[:8]}/silver/customer_behavior"
    schema = "event_id string, amount double, dt string"
    spark.createDataFrame(
        [
            ("e1", 1.0, "2025-10-30"),
            ("e2", 2.0, "2025-10-30"),
            ("e3", 3.0, "2025-10-30"),
            ("e4", 4.0, "2025-10-31"),
            ("e5", 5.0, "2025-10-31"),
            ("e6", 6.0, "2025-10-31"),
            ("e7", 7.0, "2025-10-31"),
        ],
        schema,
    ).write.format("delta").mode("overwrite").partitionBy("dt").save(root)
    spark.createDataFrame([("e4", 40.0, "2025-10-31"), ("e8", 8.0, "2025-10-31")], schema).write.format(
        "delta"
    ).mode("overwrite").option("replaceWhere", "dt = '2025-10-31'").save(root)
    return root


@pytest.fixture(scope="module")
def landing(lakeops_stack, tmp_path_factory) -> str:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id="aws_default")
    landed = write_events(
        tmp_path_factory.mktemp("land"), 1500, day="2025-11-02", rows_per_file=600, clean=True
    )
    prefix = f"tests/gx-lake-{uuid.uuid4().hex[:8]}/landing/customer_events/dt=2025-11-02"
    for name in landed.files:
        hook.load_file(name, key=f"{prefix}/{Path(name).name}", bucket_name=LAKE_BUCKET, replace=True)
    hook.load_string("", key=f"{prefix}/_SUCCESS", bucket_name=LAKE_BUCKET, replace=True)
    return f"{LAKE_URI}/{prefix}"


def test_s3_json_lines_with_the_pandas_engine(landing):
    op = GXValidateOperator(
        task_id="landing_gate",
        expectations=[rows_between(1500, 1500)],
        data_path=landing,
        data_format="jsonl",
    )
    summary = run(op)
    assert (summary["success"], summary["rows"]) == (True, 1500)
    [dataset] = op.get_openlineage_facets_on_complete(None).inputs
    # the partition folder names its table
    assert (dataset.namespace, dataset.name) == (
        f"s3://{LAKE_BUCKET}",
        landing.removeprefix(f"{LAKE_URI}/").rsplit("/", 1)[0],
    )


@pytest.mark.spark
def test_s3_json_lines_with_the_spark_engine(s3_settings, landing):
    op = GXValidateOperator(
        task_id="landing_gate_spark",
        expectations=[rows_between(1500, 1500)],
        data_path=landing + "/",
        data_format="jsonl",
        engine="spark",
    )
    summary = run(op)
    assert summary["success"] is True, summary
    assert s3_settings.range(1).count() == 1  # the shared session was reused, not stopped


@pytest.mark.parametrize("engine", ["pandas", pytest.param("spark", marks=pytest.mark.spark)])
def test_a_delta_partition_counts_the_rows_of_the_log_only(s3_settings, silver, engine):
    result_folder = f"{LAKE_URI}/tests/gx-lake-results/{engine}/dt={{{{ ds }}}}/"
    op = GXValidateOperator(
        task_id=f"silver_gate_{engine}",
        expectations=[*EXPECTATIONS, rows_between(2, 2)],
        data_path=silver,
        data_format="delta",
        data_partitions={"dt": "{{ ds }}"},
        engine=engine,
        result_location=result_folder,
    )
    summary = run(op)
    assert summary["success"] is True, summary
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    key = f"tests/gx-lake-results/{engine}/dt=2025-10-31/silver_gate_{engine}.json"
    stored = json.loads(S3Hook(aws_conn_id="aws_default").read_key(key, bucket_name=LAKE_BUCKET))
    assert stored["lakeops"]["success"] is True
    [dataset] = op.get_openlineage_facets_on_complete(None).inputs
    assert (dataset.namespace, dataset.name) == (f"s3://{LAKE_BUCKET}", silver.removeprefix(f"{LAKE_URI}/"))


@pytest.mark.parametrize("engine", ["pandas", pytest.param("spark", marks=pytest.mark.spark)])
def test_the_whole_delta_table(s3_settings, silver, engine):
    op = GXValidateOperator(
        task_id="silver_all",
        expectations=[*EXPECTATIONS, rows_between(5, 5)],
        data_path=silver.replace("s3://", "s3a://"),
        data_format="delta",
        engine=engine,
    )
    assert run(op)["success"] is True


def test_a_delta_table_read_as_parquet_is_refused(silver):
    for path, match in (
        (silver, "is a Delta table: .*set data_format='delta'"),
        (f"{silver}/dt=2025-10-31", "partition folder of the Delta table"),
    ):
        op = GXValidateOperator(
            task_id="silver_as_parquet", expectations=EXPECTATIONS, data_path=path, data_format="parquet"
        )
        with pytest.raises(ValueError, match=match):
            run(op)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"data_partitions": {"event_id": "e1"}}, ValueError, r"partitioned by \['dt'\]"),
        ({"data_path": f"{LAKE_URI}/tests/no-such-table"}, FileNotFoundError, "is not a Delta table"),
    ],
    ids=["not-a-partition-column", "not-a-table"],
)
def test_bad_delta_inputs_fail_before_any_result_is_written(silver, kwargs, error, match):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    folder = f"tests/gx-lake-results/bad-{uuid.uuid4().hex[:8]}/"
    op = GXValidateOperator(
        task_id="bad_delta",
        expectations=EXPECTATIONS,
        **{"data_path": silver, "data_format": "delta", **kwargs},
        result_location=f"{LAKE_URI}/{folder}",
    )
    with pytest.raises(error, match=match):
        run(op)
    assert not S3Hook(aws_conn_id="aws_default").list_keys(bucket_name=LAKE_BUCKET, prefix=folder)


_NEW_SESSION_SCRIPT = """
import json, sys
from datetime import datetime, timezone
from pyspark.sql import SparkSession
from airflow_provider_lakeops.operators.great_expectations import GXValidateOperator

class TI:
    def xcom_push(self, key, value):
        pass

assert SparkSession.getActiveSession() is None
op = GXValidateOperator(
    task_id="new_session", expectations=json.loads(sys.argv[2]), data_path=sys.argv[1],
    data_format="delta", data_partitions={"dt": "2025-10-31"}, engine="spark", spark_conn_id=None,
)
ctx = {"run_id": "new-session", "ti": TI(), "logical_date": datetime(2025, 10, 31, tzinfo=timezone.utc)}
summary = op.execute(ctx)
active = SparkSession.getActiveSession() is not None
print("RESULT " + json.dumps({"success": summary["success"], "active": active}))
"""


@pytest.mark.spark
def test_a_new_session_gets_the_lake_settings_and_credentials(silver, lakeops_stack, tmp_path):
    """No running session (an Airflow worker): the operator starts one with spark_lake_settings' conf
    (S3A endpoint, Delta, $LAKEOPS_SPARK_LAKE_JARS) and the credentials in its Hadoop configuration."""
    import os
    import subprocess
    import sys

    env = {**os.environ, **lakeops_stack.env(), "PYSPARK_PYTHON": sys.executable}
    assert env.get("LAKEOPS_SPARK_LAKE_JARS")
    expectations = json.dumps([*EXPECTATIONS, rows_between(2, 2)])
    proc = subprocess.run(
        [sys.executable, "-c", _NEW_SESSION_SCRIPT, silver, expectations],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert lines, proc.stdout[-3000:]
    assert json.loads(lines[-1][len("RESULT ") :]) == {"success": True, "active": False}  # stopped after
