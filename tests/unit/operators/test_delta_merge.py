"""DeltaMergeOperator without Spark: argument checks before anything is submitted, the spark-submit command
(lake settings merged, no secret in argv), lineage and the import cost. The MERGE itself runs on real Spark
in tests/integration/test_delta_merge.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from airflow_provider_lakeops.operators.delta_merge import DeltaMergeOperator
from airflow_provider_lakeops.spark_apps import app_path
from airflow_provider_lakeops.spark_apps.delta_merge_job import CDC_METADATA_COLUMNS, MergeConfig

SECRET = "lake-Secret-42"


def op(**kw) -> DeltaMergeOperator:
    values = {
        "task_id": "merge_silver",
        "source_path": "s3://lake/bronze/events",
        "target_path": "s3://lake/silver/events",
        "keys": ["customer_id", "event_id"],
        "ordering_columns": ["_source_position"],
        "spark_conn_id": "no_such_spark_conn",
        "aws_conn_id": None,
        "lake_jars": "",
    }
    values.update(kw)
    return DeltaMergeOperator(**values)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        pytest.param({"keys": "customer_id"}, "keys must be a list", id="keys-string"),
        pytest.param({"keys": []}, "keys must name at least one column", id="no-keys"),
        pytest.param({"ordering_columns": []}, "ordering_columns must name", id="no-ordering"),
    ],
)
def test_static_mistakes_fail_at_construction(kw, match):
    with pytest.raises(ValueError, match=match):
        op(**kw)


def test_fields_are_templated():
    assert {
        "source_path",
        "target_path",
        "keys",
        "ordering_columns",
        "source_format",
        "tie_breaker",
        "delete_column",
        "delete_values",
        "exclude_columns",
        "lake_jars",
        "conf",
    } <= set(DeltaMergeOperator.template_fields)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        pytest.param({"source_format": "csv"}, "source_format must be one of delta, parquet", id="format"),
        pytest.param({"target_path": "s3://lake/bronze/events/silver"}, "overlap", id="overlap"),
        pytest.param({"target_path": "s3a://lake/bronze/events/"}, "overlap", id="same"),
        pytest.param({"source_path": "bronze"}, "source_path must be an s3:// URI", id="relative"),
        pytest.param({"keys": ["customer_id", "customer_id"]}, "names a column twice", id="dup"),
        pytest.param({"tie_breaker": ["event_id"]}, "in both keys and tie_breaker", id="tie-key"),
        pytest.param({"delete_column": "customer_id"}, "cannot be a key", id="delete-key"),
        pytest.param({"exclude_columns": ["event_id"]}, "cannot drop", id="drop-key"),
    ],
)
def test_bad_rendered_values_fail_before_anything_is_submitted(kw, match):
    with pytest.raises(ValueError, match=match):
        op(**kw).execute({})  # the Spark connection does not exist: nothing was submitted


def test_s3_without_lake_jars_is_refused_before_submit(monkeypatch):
    monkeypatch.delenv("LAKEOPS_SPARK_LAKE_JARS", raising=False)
    with pytest.raises(ValueError, match="LAKEOPS_SPARK_LAKE_JARS"):
        op(lake_jars=None).execute({})


def test_the_default_silver_drops_the_cdc_metadata_but_keeps_the_position():
    config = op().build_config()
    assert config.exclude_columns == list(CDC_METADATA_COLUMNS)
    assert "_source_position" not in config.exclude_columns
    assert MergeConfig.from_json(config.to_json()) == config


def test_spark_submit_command_has_the_lake_settings_and_no_secret(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_TEST", json.dumps({"conn_type": "spark", "host": "local[2]"}))
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKE_TEST",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "AKIALAKEOPSTEST",
                "password": SECRET,
                "extra": {"endpoint_url": "http://127.0.0.1:5999", "region_name": "eu-west-1"},
            }
        ),
    )
    merge = op(
        spark_conn_id="spark_test",
        aws_conn_id="lake_test",
        lake_jars=["/opt/lake/hadoop-aws.jar", "/opt/lake/delta-spark.jar"],
        conf={"spark.jars": "/opt/extra/udfs.jar", "spark.sql.shuffle.partitions": "3"},
    )
    config = merge.build_config()
    lake = merge.lake_settings(config)
    assert lake.env == {"AWS_ACCESS_KEY_ID": "AKIALAKEOPSTEST", "AWS_SECRET_ACCESS_KEY": SECRET}
    hook = merge._spark_hook({}, lake, ["--config", config.to_json()], "/tmp/x/a.zip")
    cmd = hook._build_spark_submit_command(str(app_path("delta_merge_job")))
    text = " ".join(cmd)
    assert "spark.jars=/opt/extra/udfs.jar,/opt/lake/hadoop-aws.jar,/opt/lake/delta-spark.jar" in cmd
    assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in cmd
    assert "spark.hadoop.fs.s3a.endpoint=http://127.0.0.1:5999" in cmd
    assert "spark.sql.shuffle.partitions=3" in cmd
    assert json.loads(cmd[cmd.index("--config") + 1])["keys"] == ["customer_id", "event_id"]
    assert "AKIALAKEOPSTEST" not in text
    assert SECRET not in text


def test_lineage_reads_bronze_and_writes_silver_named_by_their_roots():
    merge = op(source_path="s3://lake/bronze/events/ingest_date=2025-12-04/")
    lineage = merge.get_openlineage_facets_on_complete(None)  # before a report: the static datasets
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("s3://lake", "bronze/events")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("s3://lake", "silver/events")]
    merge._report = {
        "status": "ok",
        "rows_inserted": 2,
        "rows_updated": 1,
        "schema": [{"name": "a", "type": "int"}],
    }
    done = merge.get_openlineage_facets_on_complete(None)
    assert done.outputs[0].outputFacets["outputStatistics"].rowCount == 3
    assert [f.name for f in done.outputs[0].facets["schema"].fields] == ["a"]


def test_importing_the_operator_imports_no_spark():
    code = (
        "import sys, airflow_provider_lakeops.operators.delta_merge\n"
        "bad = [m for m in ('pyspark', 'deltalake', 'pyarrow', 'boto3') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
