"""PiiMaskingOperator without Spark: validation before submit, key handling, packaging, lineage,
failure translation and the EMR Serverless job driver."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_lakeops.exceptions import PiiLeakError
from airflow_provider_lakeops.operators import pii
from airflow_provider_lakeops.operators.pii import (
    PiiLeakFailure,
    PiiMaskingOperator,
    build_spark_apps_zip,
    emr_serverless_job_driver,
    pii_job_arguments,
    spark_apps_dir,
)
from airflow_provider_lakeops.spark_apps import apps_dir, build_py_files_zip
from airflow_provider_lakeops.spark_apps.pii_policy import parse_policy

REPO = Path(__file__).resolve().parents[3]
POLICY_FILE = REPO / "example_dags" / "policies" / "customer_events_pii.yaml"
KEY = "unit-test-hmac-key-0123456789-abcdefghijklmnop"
HMAC_POLICY = {"columns": {"email": "hmac", "id": "keep"}}


@pytest.fixture
def no_submit(monkeypatch):
    """Fail the test if anything reaches spark-submit (errors must come before Spark starts)."""
    from airflow.providers.apache.spark.hooks import spark_submit

    def refuse(*args, **kwargs):
        raise AssertionError("spark-submit must not run")

    monkeypatch.setattr(spark_submit.SparkSubmitHook, "submit", refuse)


def _op(**kw) -> PiiMaskingOperator:
    values = {"task_id": "mask", "input_path": "/lake/in", "output_path": "/lake/out", "policy": HMAC_POLICY}
    values.update(kw)
    return PiiMaskingOperator(**values)


# ------------------------------------------------------------------------------ constructor
def test_template_fields():
    assert {"input_path", "output_path", "policy", "partition_by", "derive_columns", "report_uri"} <= set(
        PiiMaskingOperator.template_fields
    )


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param(
            {"policy": {"columns": {"email": "scramble"}}}, "unknown strategy", id="bad-dict-policy"
        ),
        pytest.param({"policy": 42}, "policy must be a dict", id="policy-type"),
        pytest.param({"input_format": "avro"}, "input_format must be one of", id="format"),
        pytest.param({"hmac_key_conn_id": ""}, "hmac_key_conn_id is empty", id="key-conn"),
    ],
)
def test_static_errors_at_construction(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        _op(**kwargs)


def test_templated_values_are_not_validated_at_construction():
    _op(policy={"columns": {"email": "{{ params.strategy }}"}}, input_format="{{ params.fmt }}")
    _op(policy="policies/does-not-exist-yet.yaml")  # files are read in execute, never at parse time


# ------------------------------------------------------------- validation before Spark starts
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param(
            {"policy": "columns:\n  email: scramble\n"}, "unknown strategy 'scramble'", id="yaml-text"
        ),
        pytest.param(
            {"policy": "/nonexistent/policy.yaml"}, "cannot read the policy file", id="missing-file"
        ),
        pytest.param({"policy": "columns:\n  a: keep\n  a: hmac\n"}, "duplicate key 'a'", id="duplicate"),
        pytest.param({"output_path": " "}, "output_path is empty", id="empty-output"),
        pytest.param({"output_path": "/lake/in/"}, "must differ", id="same-path"),
        pytest.param({"input_format": "xml"}, "input_format must be one of", id="templated-format"),
        pytest.param({"derive_columns": {"dt": ""}}, "derive_columns", id="derive"),
        pytest.param({"partition_values": {"dt": ""}}, "partition_values needs", id="partition-value"),
    ],
)
def test_execute_fails_before_spark_on_bad_input(no_submit, kwargs, fragment):
    op = _op(**kwargs) if "input_format" not in kwargs else _op(input_format="{{ x }}")
    if "input_format" in kwargs:
        op.input_format = kwargs["input_format"]  # as if rendered from a template
    with pytest.raises(AirflowFailException, match=fragment):
        op.execute({})


def test_policy_file_relative_to_the_dag_folder(tmp_path):
    from airflow.sdk import DAG

    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text("columns:\n  email: ip\n")
    with DAG("d", schedule=None) as dag:
        op = _op(policy="policies/p.yaml")
    dag.fileloc = str(tmp_path / "dag.py")
    assert op._resolve_policy().masked_columns == {"email": "ip"}


def test_missing_key_connection_fails_before_spark(no_submit, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_KEY", raising=False)
    with pytest.raises(AirflowFailException, match="'no_such_key' does not exist"):
        _op(hmac_key_conn_id="no_such_key").execute({})


def test_short_key_fails_without_showing_it(no_submit, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SHORT_KEY", json.dumps({"conn_type": "generic", "password": "tiny-key"}))
    with pytest.raises(AirflowFailException) as excinfo:
        _op(hmac_key_conn_id="short_key").execute({})
    assert "8 bytes long; at least 32" in str(excinfo.value)
    assert "tiny-key" not in str(excinfo.value)


def test_key_is_not_read_when_no_column_uses_hmac(no_submit, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPARK_CLUSTER_MODE",
        json.dumps(
            {
                "conn_type": "spark",
                "host": "spark://127.0.0.1",
                "port": 7077,
                "extra": {"deploy-mode": "cluster"},
            }
        ),
    )
    op = _op(
        policy={"columns": {"email": "email"}},
        hmac_key_conn_id="no_such_key",
        spark_conn_id="spark_cluster_mode",
    )
    with pytest.raises(AirflowFailException, match="deploy-mode cluster"):  # got past the key step
        op.execute({"ti": type("TI", (), {"dag_id": "d", "task_id": "t"})()})


def test_missing_spark_connection_is_a_clear_error(no_submit, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_LAKEOPS_PII_KEY", json.dumps({"conn_type": "generic", "password": KEY}))
    op = _op(spark_conn_id="no_such_spark")
    with pytest.raises(AirflowFailException, match="Spark connection 'no_such_spark' does not exist"):
        op.execute({"ti": type("TI", (), {"dag_id": "d", "task_id": "t"})()})


def test_local_hook_runs_local_star_in_client_mode():
    hook = pii._local_spark_submit_hook(name="x", application_args=["--a"])
    command = hook._build_spark_submit_command("job.py")
    assert command[:3] == ["spark-submit", "--master", "local[*]"]
    assert command[-2:] == ["job.py", "--a"]


# ---------------------------------------------------------------------------- job arguments
def test_job_arguments_carry_no_key_and_round_trip_the_policy():
    policy = parse_policy(HMAC_POLICY)
    args = pii_job_arguments(
        policy,
        input_path="/in/dt=2025-10-31",
        output_path="/out",
        input_format="json",
        input_options={"multiLine": "false"},
        partition_by="dt",
        derive_columns={"day": "event_date"},
        partition_values={"dt": "2025-10-31"},
        report_path="/tmp/r.json",
        key_source="env:LAKEOPS_PII_HMAC_KEY",
    )
    assert args[:6] == ["--input", "/in/dt=2025-10-31", "--input-format", "json", "--output", "/out"]
    assert parse_policy(args[args.index("--policy-json") + 1]) == policy
    assert args[args.index("--partition-by") + 1] == "dt"
    assert args[args.index("--derive") + 1] == "day=event_date"
    assert args[args.index("--partition-value") + 1] == "dt=2025-10-31"
    assert args[args.index("--input-option") + 1] == "multiLine=false"
    assert args[-2:] == ["--key-source", "env:LAKEOPS_PII_HMAC_KEY"]

    from airflow_provider_lakeops.spark_apps.pii_masking_job import build_parser, options_from_args

    options = options_from_args(build_parser().parse_args(args))  # the job accepts exactly these
    assert options.partition_by == ["dt"]
    assert options.derive == {"day": "event_date"}
    assert options.constants == {"dt": "2025-10-31"}


# ---------------------------------------------------------------------------------- packaging
def test_deprecated_packaging_names_use_the_package_api(tmp_path):
    with pytest.warns(DeprecationWarning, match="apps_dir"):
        assert spark_apps_dir() == apps_dir()
    with pytest.warns(DeprecationWarning, match="build_py_files_zip"):
        old = build_spark_apps_zip(tmp_path)
    assert zipfile.ZipFile(old).namelist() == zipfile.ZipFile(build_py_files_zip(tmp_path)).namelist()


# ------------------------------------------------------------------------ failure translation
def test_leak_report_becomes_a_pii_leak_failure_without_retries():
    findings = [{"column": "notes", "pattern": "phone", "rows": 3}]
    report = {
        "status": "leak_detected",
        "error": "PII leak guard failed: pattern 'phone' in column 'notes'",
        "leak_guard": {"findings": findings},
    }
    with pytest.raises(PiiLeakFailure) as excinfo:
        _op()._raise_job_failure(report, RuntimeError("spark-submit exited 3"))
    assert isinstance(excinfo.value, PiiLeakError)
    assert isinstance(excinfo.value, AirflowFailException)
    assert excinfo.value.findings == findings
    assert "column 'notes'" in str(excinfo.value)


@pytest.mark.parametrize("status", ["policy_error", "key_error", "input_error"])
def test_job_errors_fail_without_retries(status):
    with pytest.raises(AirflowFailException, match=f"{status}: boom"):
        _op()._raise_job_failure({"status": status, "error": "boom"}, RuntimeError("exit"))


def test_unknown_failures_are_re_raised_for_retry():
    original = RuntimeError("executor lost")
    with pytest.raises(RuntimeError, match="executor lost"):
        _op()._raise_job_failure(None, original)


# ------------------------------------------------------------------------------------ lineage
def test_dataset_paths_drop_file_patterns():
    assert pii._dataset_path("/lake/landing/events/dt=2025-10-31/") == "/lake/landing/events/dt=2025-10-31"
    assert (
        pii._dataset_path("/lake/landing/events/dt=2025-10-31/part-*.jsonl")
        == "/lake/landing/events/dt=2025-10-31"
    )
    assert pii._dataset_path("s3://b/silver/events/") == "s3://b/silver/events"


def test_lineage_marks_masked_columns():
    op = _op(input_path="/lake/landing/events/dt=2025-10-31", output_path="/lake/silver/events")
    start = op.get_openlineage_facets_on_start()
    assert (start.inputs[0].namespace, start.inputs[0].name) == ("file", "/lake/landing/events")  # table root
    assert (start.outputs[0].namespace, start.outputs[0].name) == ("file", "/lake/silver/events")
    op._report = {
        "columns": {
            "email": {"strategy": "hmac", "source": "email"},
            "id": {"strategy": "keep", "source": "id"},
            "dt": {"strategy": "keep", "source": "event_date", "derived": True},
            "run": {"strategy": "constant", "source": None, "derived": True},
        },
        "schema": [
            {"name": "email", "type": "string"},
            {"name": "id", "type": "bigint"},
            {"name": "dt", "type": "string"},
        ],
    }
    lineage = op.get_openlineage_facets_on_complete(None)
    fields = lineage.outputs[0].facets["columnLineage"].fields
    email = fields["email"].inputFields[0]
    assert (email.name, email.field) == ("/lake/landing/events", "email")
    assert email.transformations[0].masking is True
    assert email.transformations[0].subtype == "TRANSFORMATION"
    assert fields["email"].transformationType == "MASKED"
    assert fields["id"].inputFields[0].transformations[0].masking is False
    assert fields["dt"].inputFields[0].field == "event_date"
    assert "run" not in fields  # a constant has no input column
    assert [f.name for f in lineage.outputs[0].facets["schema"].fields] == ["email", "id", "dt"]


# ---------------------------------------------------------------------------- EMR Serverless
def test_emr_serverless_job_driver():
    driver = emr_serverless_job_driver(
        entry_point="s3://code/lakeops/pii_masking_job.py",
        py_files="s3://code/lakeops/lakeops_spark_apps.zip",
        policy=POLICY_FILE.read_text(),
        input_path="s3://lake/landing/customer_events/dt={{ ds }}/",
        output_path="s3://lake/silver/customer_behavior/",
        input_format="json",
        partition_by=["dt"],
        derive_columns={"dt": "event_date"},
        report_uri="s3://lake/_reports/pii/{{ ds }}.json",
        key_secret_id="arn:aws:secretsmanager:us-east-1:123456789012:secret:lakeops/pii-key",
        spark_conf={"spark.executor.memory": "4g"},
    )
    submit = driver["sparkSubmit"]
    assert submit["entryPoint"] == "s3://code/lakeops/pii_masking_job.py"
    args = submit["entryPointArguments"]
    assert args[args.index("--key-source") + 1] == (
        "aws-secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:lakeops/pii-key"
    )
    assert args[args.index("--report-uri") + 1] == "s3://lake/_reports/pii/{{ ds }}.json"
    assert "--report" not in args
    assert parse_policy(args[args.index("--policy-json") + 1]).masked_columns["email"] == "hmac"
    params = submit["sparkSubmitParameters"]
    assert params.startswith("--py-files s3://code/lakeops/lakeops_spark_apps.zip ")
    assert "--conf spark.sql.sources.partitionOverwriteMode=dynamic" in params
    assert "--conf spark.executor.memory=4g" in params
    assert "{{" not in json.dumps(driver).replace("{{ ds }}", "")  # only our own templates


def test_emr_serverless_driver_feeds_the_amazon_operator():
    from airflow.providers.amazon.aws.operators.emr import EmrServerlessStartJobOperator

    driver = emr_serverless_job_driver(
        entry_point="s3://code/job.py",
        py_files="s3://code/apps.zip",
        policy={"columns": {"ip": "ip"}},
        input_path="s3://lake/in",
        output_path="s3://lake/out",
    )
    op = EmrServerlessStartJobOperator(
        task_id="mask_on_emr",
        application_id="00abc",
        execution_role_arn="arn:aws:iam::123456789012:role/emr",
        job_driver=driver,
        configuration_overrides={},
        wait_for_completion=False,
    )
    assert op.job_driver == driver
    assert "--key-source" not in driver["sparkSubmit"]["entryPointArguments"]  # no hmac column, no key


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"entry_point": "/local/job.py"}, "entry_point must be an s3:// URI", id="entry"),
        pytest.param({"py_files": "apps.zip"}, "py_files must be an s3:// URI", id="py-files"),
        pytest.param({"key_secret_id": None}, "give key_secret_id", id="no-secret"),
        pytest.param({"policy": {"columns": {"a": "scramble"}}}, "unknown strategy", id="policy"),
        pytest.param({"output_path": "s3://lake/in"}, "must differ", id="same"),
    ],
)
def test_emr_serverless_driver_errors(kwargs, fragment):
    values = {
        "entry_point": "s3://c/job.py",
        "py_files": "s3://c/a.zip",
        "policy": HMAC_POLICY,
        "input_path": "s3://lake/in",
        "output_path": "s3://lake/out",
        "key_secret_id": "pii-key",
    }
    values.update(kwargs)
    with pytest.raises(ValueError, match=fragment):
        emr_serverless_job_driver(**values)


# ------------------------------------------------------------------------ lake (s3:// and Delta)
LAKE_CONN = {
    "conn_type": "aws",
    "login": "AKIAUNITTESTLAKE",
    "password": "unit-lake-secret-Q8p2",
    "extra": {"endpoint_url": "http://127.0.0.1:1", "region_name": "eu-west-1"},
}


def test_table_format_and_lake_jars_are_templated():
    assert {"table_format", "lake_jars"} <= set(PiiMaskingOperator.template_fields)
    op = _op(table_format="{{ params.fmt }}")  # validated in execute once rendered
    assert (op.aws_conn_id, op.lake_jars) == ("aws_default", None)


def test_bad_table_format(no_submit):
    with pytest.raises(ValueError, match="table_format must be one of parquet, delta"):
        _op(table_format="iceberg")
    op = _op(table_format="{{ x }}")
    op.table_format = "hudi"  # as if rendered from a template
    with pytest.raises(AirflowFailException, match="table_format must be one of parquet, delta, got 'hudi'"):
        op.execute({})


def test_delta_without_jars_fails_before_spark(no_submit, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_LAKEOPS_PII_KEY", json.dumps({"conn_type": "generic", "password": KEY}))
    monkeypatch.delenv("LAKEOPS_SPARK_LAKE_JARS", raising=False)
    with pytest.raises(AirflowFailException, match="delta-spark on Spark's classpath"):
        _op(table_format="delta").execute({})


def test_lake_settings_go_to_conf_and_credentials_to_env_only(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_UNIT_LAKE", json.dumps(LAKE_CONN))
    lake = pii.lake_settings(
        ["s3://lake/in/", "s3a://lake/out", None], table_format="delta", aws_conn_id="unit_lake", jars="a.jar"
    )
    assert lake.env == {
        "AWS_ACCESS_KEY_ID": "AKIAUNITTESTLAKE",
        "AWS_SECRET_ACCESS_KEY": "unit-lake-secret-Q8p2",
    }
    assert lake.conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:1"
    assert lake.conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    op = _op(spark_conf={"spark.jars": "mine.jar", "spark.ui.enabled": "false"})
    hook = op._spark_hook(["--a"], "apps.zip", {"ti": _ti()}, lake.conf)
    command = hook._build_spark_submit_command("job.py")
    text = " ".join(command)
    assert "spark.jars=mine.jar" in text  # the user's spark_conf wins
    assert "spark.hadoop.fs.s3a.path.style.access=true" in text
    assert "unit-lake-secret-Q8p2" not in text
    assert "AKIAUNITTESTLAKE" not in text


def test_job_arguments_carry_the_table_format():
    policy = parse_policy(HMAC_POLICY)
    args = pii_job_arguments(policy, input_path="/in", output_path="/out", table_format="Delta")
    assert args[args.index("--table-format") + 1] == "delta"
    with pytest.raises(ValueError, match="table_format must be one of"):
        pii_job_arguments(policy, input_path="/in", output_path="/out", table_format="orc")


def test_emr_serverless_driver_delta_conf():
    driver = emr_serverless_job_driver(
        entry_point="s3://code/pii_masking_job.py",
        py_files="s3://code/apps.zip",
        policy={"columns": {"email": "redact"}},
        input_path="s3://lake/in",
        output_path="s3://lake/out",
        table_format="delta",
    )
    submit = driver["sparkSubmit"]
    assert (
        "--conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension"
        in submit["sparkSubmitParameters"]
    )
    args = submit["entryPointArguments"]
    assert args[args.index("--table-format") + 1] == "delta"


def test_output_error_fails_without_retries():
    report = {"status": "output_error", "error": "s3://b/out is a Delta table (it has a _delta_log)"}
    with pytest.raises(AirflowFailException, match="output_error: s3://b/out is a Delta table"):
        _op()._raise_job_failure(report, RuntimeError("spark-submit exited 6"))


def test_lineage_names_table_roots():
    op = _op(
        input_path="s3a://lake/landing/events/dt=2025-10-31/part-*.jsonl", output_path="s3://lake/silver/ev/"
    )
    start = op.get_openlineage_facets_on_start()
    assert (start.inputs[0].namespace, start.inputs[0].name) == ("s3://lake", "landing/events")
    assert (start.outputs[0].namespace, start.outputs[0].name) == ("s3://lake", "silver/ev")


def _ti():
    from types import SimpleNamespace

    return SimpleNamespace(dag_id="d", task_id="t")
