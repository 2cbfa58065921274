"""Unit tests of airflow_provider_lakeops.dbt: project/target resolution, profiles, the task group,
results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_lakeops import dbt as lakeops_dbt
from airflow_provider_lakeops.dbt import (
    RESULTS_CALLBACK,
    RESULTS_XCOM_KEY,
    ensure_manifest,
    lakeops_dbt_task_group,
    lakeops_profile_config,
    manifest_is_stale,
    record_dbt_results,
    resolve_project_dir,
    resolve_target,
    summarize_run_results,
)

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt"
MODELS = ("stg_customer_behavior", "dim_customer", "fct_customer_engagement")
SECRET = "not-a-real-snowflake-password"


@pytest.fixture(scope="module")
def manifest() -> Path:
    return ensure_manifest(PROJECT)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the dbt project without its target/ (so without a manifest)."""
    dest = tmp_path / "dbt"
    shutil.copytree(PROJECT, dest, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    return dest


# ------------------------------------------------------------------ project and target
def test_resolve_project_dir_explicit_env_and_default(project_copy, monkeypatch):
    monkeypatch.delenv(lakeops_dbt.PROJECT_DIR_ENV, raising=False)
    assert resolve_project_dir() == PROJECT.resolve()
    assert resolve_project_dir(project_copy) == project_copy.resolve()
    monkeypatch.setenv(lakeops_dbt.PROJECT_DIR_ENV, str(project_copy))
    assert resolve_project_dir() == project_copy.resolve()


@pytest.mark.parametrize("source", ["argument", "env"], ids=["argument", "env"])
def test_resolve_project_dir_without_dbt_project_yml(tmp_path, monkeypatch, source):
    if source == "env":
        monkeypatch.setenv(lakeops_dbt.PROJECT_DIR_ENV, str(tmp_path))
        call = {}
    else:
        call = {"project_dir": tmp_path}
    with pytest.raises(ValueError, match=r"no dbt_project.yml in .*LAKEOPS_DBT_PROJECT_DIR"):
        resolve_project_dir(**call)


def test_resolve_target(monkeypatch):
    monkeypatch.delenv(lakeops_dbt.TARGET_ENV, raising=False)
    assert resolve_target() == "local"
    assert resolve_target("snowflake") == "snowflake"
    monkeypatch.setenv(lakeops_dbt.TARGET_ENV, "snowflake")
    assert resolve_target() == "snowflake"
    assert resolve_target("local") == "local"


@pytest.mark.parametrize("bad", ["prod", "", "LOCAL", "duckdb"])
def test_resolve_target_rejects_unknown(bad):
    with pytest.raises(ValueError, match="target must be one of local, snowflake"):
        resolve_target(bad)


# ------------------------------------------------------------------ profiles
def test_local_profile_uses_the_projects_profiles_yml(monkeypatch):
    monkeypatch.delenv(lakeops_dbt.TARGET_ENV, raising=False)
    config = lakeops_profile_config()
    assert config.profile_name == "lakeops"
    assert config.target_name == "local"
    assert Path(config.profiles_yml_filepath) == PROJECT.resolve() / "profiles.yml"
    assert config.profile_mapping is None


def test_profiles_yml_holds_no_credentials():
    text = (PROJECT / "profiles.yml").read_text()
    for line in text.splitlines():
        key, _, value = line.strip().partition(":")
        if key in {"password", "user", "account", "private_key", "token"}:
            assert value.strip().startswith('"{{ env_var('), line


def test_local_profile_rejects_a_profile_mapping():
    from cosmos.profiles import SnowflakeUserPasswordProfileMapping

    mapping = SnowflakeUserPasswordProfileMapping(conn_id="snowflake_default")
    with pytest.raises(ValueError, match="profile_mapping applies to the 'snowflake' target only"):
        lakeops_profile_config("local", profile_mapping=mapping)


def test_snowflake_profile_comes_from_the_connection_and_keeps_the_password_out(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKEOPS_SF_UNIT",
        json.dumps(
            {
                "conn_type": "snowflake",
                "login": "loader",
                "password": SECRET,
                "schema": "PUBLIC",
                "extra": {
                    "account": "acme-lakeops",
                    "database": "LAKEOPS",
                    "warehouse": "WH",
                    "role": "LOADER",
                },
            }
        ),
    )
    config = lakeops_profile_config("snowflake", snowflake_conn_id="lakeops_sf_unit")
    mapping = config.profile_mapping
    assert type(mapping).__name__ == "SnowflakeUserPasswordProfileMapping"
    assert config.target_name == "snowflake"
    assert config.profiles_yml_filepath is None

    profile = mapping.profile
    assert profile["account"] == "acme-lakeops"
    assert profile["schema"] == "ANALYTICS"  # the marts' schema, not the connection's PUBLIC
    assert profile["database"] == "LAKEOPS"
    assert SECRET not in json.dumps(profile)
    assert profile["password"] == "{{ env_var('COSMOS_CONN_SNOWFLAKE_PASSWORD') }}"
    with config.ensure_profile() as (path, env):
        assert SECRET not in Path(path).read_text()
        assert env == {"COSMOS_CONN_SNOWFLAKE_PASSWORD": SECRET}  # only as the dbt process' env


def test_snowflake_profile_database_and_schema_arguments():
    config = lakeops_profile_config("snowflake", snowflake_database="ANALYTICS_DB", snowflake_schema="MARTS")
    assert config.profile_mapping.profile_args == {"schema": "MARTS", "database": "ANALYTICS_DB"}
    assert config.profile_mapping.conn_id == "snowflake_default"


def test_snowflake_profile_needs_a_connection_id():
    with pytest.raises(ValueError, match="snowflake_conn_id must name"):
        lakeops_profile_config("snowflake", snowflake_conn_id="")


# ------------------------------------------------------------------ task group
def _render(**kwargs):
    from airflow.sdk import DAG

    with DAG("unit_dbt_group", schedule=None, default_args={"owner": "unit", "retries": 2}) as dag:
        group = lakeops_dbt_task_group(**kwargs)
    return dag, group


def test_task_group_renders_run_and_test_per_model_from_the_manifest(manifest, monkeypatch):
    monkeypatch.delenv(lakeops_dbt.TARGET_ENV, raising=False)
    dag, group = _render(group_id="models")
    assert set(dag.task_dict) == {f"models.{m}.{kind}" for m in MODELS for kind in ("run", "test")}
    stg_test = dag.task_dict["models.stg_customer_behavior.test"]
    assert stg_test.upstream_task_ids == {"models.stg_customer_behavior.run"}
    assert "models.stg_customer_behavior.test" in dag.task_dict["models.dim_customer.run"].upstream_task_ids
    assert dag.task_dict["models.fct_customer_engagement.run"].upstream_task_ids == {
        "models.stg_customer_behavior.test",
        "models.dim_customer.test",
    }
    for task in dag.tasks:
        assert task.retries == 2
        assert task.callback == RESULTS_CALLBACK
        assert task.profile_config.target_name == "local"
        assert task.install_deps is False
    assert type(stg_test).__name__ == "DbtTestLocalOperator"


def test_task_group_snowflake_target_renders_without_the_connection(manifest, monkeypatch):
    """Parsing must not look the connection up: none named 'no_such_conn' exists."""
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_CONN", raising=False)
    dag, _ = _render(
        target="snowflake",
        snowflake_conn_id="no_such_conn",
        select=["+fct_customer_engagement"],
        exclude=["dim_customer"],
        operator_args={"pool": "dbt", "env": {"LAKEOPS_LAKE_DIR": "/data/lake"}},
    )
    assert set(dag.task_dict) == {
        f"dbt.{m}.{kind}"
        for m in ("stg_customer_behavior", "fct_customer_engagement")
        for kind in ("run", "test")
    }
    task = dag.task_dict["dbt.fct_customer_engagement.run"]
    assert task.profile_config.profile_mapping.conn_id == "no_such_conn"
    assert task.pool == "dbt"
    assert task.env == {"LAKEOPS_LAKE_DIR": "/data/lake"}


def test_task_group_passes_dbt_vars_and_a_custom_callback(manifest):
    dag, _ = _render(
        dbt_vars={"lakeops_lookback_days": 5},
        operator_args={"callback": "my.module.cb"},
        invocation_mode="subprocess",
    )
    task = dag.task_dict["dbt.fct_customer_engagement.run"]
    assert task.vars == {"lakeops_lookback_days": 5}
    assert task.callback == "my.module.cb"
    assert task.invocation_mode.value == "subprocess"


def test_task_group_without_manifest_says_how_to_make_it(project_copy):
    with pytest.raises(FileNotFoundError, match=r"python -m airflow_provider_lakeops.dbt parse"):
        _render(project_dir=project_copy)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "prod"}, "target must be one of"),
        ({"invocation_mode": "docker"}, "invocation_mode must be one of dbt_runner, subprocess"),
    ],
    ids=["target", "invocation_mode"],
)
def test_task_group_rejects_bad_arguments(manifest, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _render(**kwargs)


# ------------------------------------------------------------------ manifest freshness
def test_manifest_is_stale_when_missing_or_older_than_a_model(project_copy):
    assert manifest_is_stale(project_copy)
    target = project_copy / "target"
    target.mkdir()
    (target / "manifest.json").write_text("{}")
    assert manifest_is_stale(project_copy)  # dbt's own manifest only: the render manifest is missing
    (target / "cosmos_manifest.json").write_text("{}")
    assert not manifest_is_stale(project_copy)
    model = project_copy / "models" / "marts" / "dim_customer.sql"
    later = time.time() + 5
    os.utime(model, (later, later))
    assert manifest_is_stale(project_copy)


# ------------------------------------------------------------------ results
RUN_RESULTS = {
    "elapsed_time": 2.5,
    "results": [
        {
            "unique_id": "model.lakeops.stg_customer_behavior",
            "status": "success",
            "execution_time": 0.7,
            "failures": None,
            "message": "OK",
        },
        {
            "unique_id": "test.lakeops.not_null_stg_customer_behavior_event_id.abc",
            "status": "fail",
            "execution_time": 0.1,
            "failures": 4,
            "message": "Got 4 results, configured to fail if != 0",
        },
        {
            "unique_id": "test.lakeops.accepted_values_stg_event_type.def",
            "status": "warn",
            "execution_time": 0.1,
            "failures": 2,
            "message": "Got 2 results",
        },
        {
            "unique_id": "test.lakeops.unique_stg_event_key.ghi",
            "status": "pass",
            "execution_time": 0.1,
            "failures": 0,
            "message": None,
        },
    ],
}


def test_summarize_run_results_counts_without_messages():
    summary = summarize_run_results(RUN_RESULTS)
    assert summary["models"] == {"success": 1}
    assert summary["tests"] == {"fail": 1, "warn": 1, "pass": 1}
    assert summary["test_failures"] == 6
    assert summary["elapsed"] == 2.5
    assert len(summary["nodes"]) == 4
    assert "Got 4" not in json.dumps(summary)


class _RecordingTI:
    """Stands in for the task instance Cosmos hands to the callback: records xcom_push calls."""

    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


def test_record_dbt_results_pushes_the_summary(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "run_results.json").write_text(json.dumps(RUN_RESULTS))
    ti = _RecordingTI()
    summary = record_dbt_results(str(tmp_path), context={"ti": ti})
    assert ti.pushed == {RESULTS_XCOM_KEY: summary}
    assert summary["tests"]["fail"] == 1


@pytest.mark.parametrize("content", [None, "not json", "[]"], ids=["missing", "invalid", "not-an-object"])
def test_record_dbt_results_never_raises(tmp_path, content):
    if content is not None:
        (tmp_path / "target").mkdir()
        (tmp_path / "target" / "run_results.json").write_text(content)
    ti = _RecordingTI()
    assert record_dbt_results(str(tmp_path), context={"ti": ti}) is None
    assert ti.pushed == {}


# ------------------------------------------------------------------ cheap import, CLI
def test_importing_the_module_loads_neither_cosmos_nor_dbt():
    code = (
        "import sys, airflow_provider_lakeops.dbt, airflow_provider_lakeops.assets; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'cosmos', 'dbt', 'duckdb'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_cli_rejects_an_unknown_target(capsys):
    with pytest.raises(SystemExit) as excinfo:
        lakeops_dbt.main(["parse", "--target", "prod"])
    assert excinfo.value.code == 2
    assert "invalid choice: 'prod'" in capsys.readouterr().err


def test_cli_reports_a_missing_project(tmp_path, capsys):
    assert lakeops_dbt.main(["parse", "--project-dir", str(tmp_path)]) == 1
    assert "no dbt_project.yml" in capsys.readouterr().err


# ------------------------------------------------------------------ lake sources (Delta on S3 or local)
SOURCE_ID = "source.lakeops.lakeops.customer_behavior"
AWS_SECRET = "not-a-real-aws-secret-key"


def _delta_table(path: Path) -> Path:
    import pyarrow as pa
    from deltalake import write_deltalake

    write_deltalake(str(path), pa.table({"event_id": ["e1"], "dt": ["2025-10-31"]}), partition_by=["dt"])
    return path


@pytest.fixture
def aws_conn(monkeypatch) -> str:
    monkeypatch.setenv(
        "AIRFLOW_CONN_LAKEOPS_AWS_UNIT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "AKIAUNITTEST",
                "password": AWS_SECRET,
                "extra": {"endpoint_url": "http://127.0.0.1:1", "region_name": "eu-west-1"},
            }
        ),
    )
    return "lakeops_aws_unit"


def _interceptor(task):
    [interceptor] = [i for i in task.interceptors if isinstance(i, lakeops_dbt._LakeAccessInterceptor)]
    return interceptor


def test_lake_sources_come_from_the_manifest_with_their_unrendered_location(manifest):
    [source] = lakeops_dbt.lake_sources(PROJECT).values()
    assert source.unique_id == SOURCE_ID
    assert source.name == "lakeops.customer_behavior"
    assert "env_var('LAKEOPS_SILVER_URI'" in source.expression
    assert source.location({}) == "s3://lakeops-lake/silver/customer_behavior"
    assert (
        source.location({"LAKEOPS_LAKE_URI": "s3://prod-lake"}) == "s3://prod-lake/silver/customer_behavior"
    )
    assert (
        source.location({"LAKEOPS_LAKE_URI": "s3://x", "LAKEOPS_SILVER_URI": "/data/silver"})
        == "/data/silver"
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"LAKEOPS_SILVER_URI": "lake/silver"},
            "must be an s3:// URI or an absolute path, got 'lake/silver'",
        ),
        ({"LAKEOPS_LAKE_URI": ""}, "environment variable LAKEOPS_LAKE_URI is set but empty"),
        ({"LAKEOPS_SILVER_URI": " "}, "environment variable LAKEOPS_SILVER_URI is set but empty"),
    ],
    ids=["relative", "empty-lake-uri", "empty-silver-uri"],
)
def test_lake_source_location_rejects_relative_paths_and_empty_variables(manifest, environ, message):
    [source] = lakeops_dbt.lake_sources(PROJECT).values()
    with pytest.raises(ValueError, match=message):
        source.location(environ)


def test_lake_source_variable_without_default_must_be_set():
    source = lakeops_dbt.LakeSource(
        SOURCE_ID, "lakeops.customer_behavior", "", "{{ env_var('NO_SUCH_VAR') }}"
    )
    with pytest.raises(ValueError, match="environment variable NO_SUCH_VAR is not set"):
        source.location({})


def test_task_group_with_aws_conn_id_renders_without_the_connection(manifest, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_AWS", raising=False)
    dag, _ = _render(aws_conn_id="no_such_aws", operator_args={"env": {"LAKEOPS_LAKE_DIR": "/data/lake"}})
    for task in dag.tasks:
        interceptor = _interceptor(task)
        assert interceptor.aws_conn_id == "no_such_aws"
        assert set(interceptor.sources) == {SOURCE_ID}
        assert task.env == {"LAKEOPS_LAKE_DIR": "/data/lake"}  # no AWS_* in the templated env


def test_task_group_keeps_the_users_interceptors_and_adds_none_on_snowflake(manifest):
    def mine(context, operator):
        return None

    dag, _ = _render(operator_args={"interceptors": [mine]})
    assert dag.task_dict["dbt.dim_customer.run"].interceptors[1:] == [mine]
    dag, _ = _render(target="snowflake")
    assert all(task.interceptors == [] for task in dag.tasks)  # no Delta source, no connection


@pytest.mark.parametrize(
    ("datasets", "error"),
    [
        ({"lakeops.customer_behavior": "s3://other/silver/cb"}, None),
        ({SOURCE_ID: "s3://other/silver/cb"}, None),
        ({"lakeops.no_such": "s3://other/x"}, "no dbt source 'lakeops.no_such' in the manifest"),
        ({"lakeops.customer_behavior": "silver/cb"}, "must be an s3:// URI or an absolute path"),
    ],
    ids=["by-name", "by-unique-id", "unknown", "relative"],
)
def test_task_group_source_datasets(manifest, datasets, error):
    if error:
        with pytest.raises(ValueError, match=error):
            _render(source_datasets=datasets)
        return
    dag, _ = _render(source_datasets=datasets)
    assert _interceptor(dag.task_dict["dbt.stg_customer_behavior.run"]).datasets == {
        SOURCE_ID: "s3://other/silver/cb"
    }


def test_interceptor_gives_dbt_the_connection_and_the_lineage_the_lake_table(
    manifest, aws_conn, tmp_path, monkeypatch
):
    from airflow.sdk.log import redact

    silver = _delta_table(tmp_path / "silver" / "customer_behavior")
    monkeypatch.setenv("LAKEOPS_SILVER_URI", str(silver))
    for key in ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    dag, _ = _render(aws_conn_id=aws_conn)
    run, test = (
        dag.task_dict["dbt.stg_customer_behavior.run"],
        dag.task_dict["dbt.stg_customer_behavior.test"],
    )
    copied: list[dict] = []
    monkeypatch.setattr(
        type(run), "calculate_openlineage_events_completes", lambda self, env, *a, **k: copied.append(env)
    )

    for task in (run, test):
        _interceptor(task)({}, task)

    for task in (run, test):
        env = task.get_env({})
        assert env["AWS_ACCESS_KEY_ID"] == "AKIAUNITTEST"
        assert env["AWS_SECRET_ACCESS_KEY"] == AWS_SECRET
        assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
        assert env["AWS_ALLOW_HTTP"] == "true"
        assert env["AWS_REGION"] == "eu-west-1"
        assert not task.env  # the templated (and re-rendered) field never holds them
    assert redact(f"key={AWS_SECRET}") == "key=***"
    run.calculate_openlineage_events_completes({"AWS_SECRET_ACCESS_KEY": AWS_SECRET, "KEEP": "1"}, tmp_path)
    assert copied == [{"KEEP": "1"}]  # what Cosmos copies into os.environ

    lineage = run.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("file", str(silver))]
    assert test.get_openlineage_facets_on_complete(None).inputs == []  # tests read the model only


def test_interceptor_lineage_uses_source_datasets(manifest, tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEOPS_SILVER_URI", str(_delta_table(tmp_path / "cb")))
    dag, _ = _render(source_datasets={"lakeops.customer_behavior": "s3://prod-lake/silver/customer_behavior"})
    run = dag.task_dict["dbt.stg_customer_behavior.run"]
    _interceptor(run)({}, run)
    lineage = run.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("s3://prod-lake", "silver/customer_behavior")]


@pytest.mark.parametrize(
    ("silver", "error", "message"),
    [
        ("relative/silver", "AirflowFailException", "must be an s3:// URI or an absolute path"),
        ("", "AirflowFailException", "LAKEOPS_SILVER_URI is set but empty"),
        ("{missing}", "FileNotFoundError", "no Delta table at {missing}"),
    ],
    ids=["relative", "empty", "missing-table"],
)
def test_interceptor_fails_before_dbt_runs(manifest, tmp_path, monkeypatch, silver, error, message):
    missing = str(tmp_path / "no_such_table")
    monkeypatch.setenv("LAKEOPS_SILVER_URI", silver.format(missing=missing))
    dag, _ = _render()
    run = dag.task_dict["dbt.stg_customer_behavior.run"]
    with pytest.raises(Exception, match=message.format(missing=missing)) as excinfo:
        _interceptor(run)({}, run)
    assert type(excinfo.value).__name__ == error
    dim = dag.task_dict["dbt.dim_customer.run"]
    _interceptor(dim)({}, dim)  # a model that does not read the lake is not checked
