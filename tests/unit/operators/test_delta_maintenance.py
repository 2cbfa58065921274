"""DeltaMaintenanceOperator without Spark: arguments, validation before spark-submit, the retention
check that cannot be turned off, lineage, and the job's interval parser."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_lakeops.operators.delta_maintenance import (
    DeltaMaintenanceOperator,
    delta_maintenance_arguments,
)
from airflow_provider_lakeops.spark_apps.delta_maintenance_job import (
    MaintenanceArgumentError,
    build_parser,
    options_from_args,
    parse_interval_hours,
)

CONTEXT = {"ti": SimpleNamespace(dag_id="d", task_id="t")}


@pytest.fixture
def no_submit(monkeypatch):
    """Fail the test if anything reaches spark-submit (errors must come before Spark starts)."""
    from airflow.providers.apache.spark.hooks import spark_submit

    def refuse(self, *args, **kwargs):
        raise AssertionError("spark-submit must not run")

    monkeypatch.setattr(spark_submit.SparkSubmitHook, "submit", refuse)


def test_template_fields_and_constructor_only_assigns():
    assert {"table_path", "optimize_where", "zorder_by", "retention_hours", "lake_jars", "spark_conf"} <= set(
        DeltaMaintenanceOperator.template_fields
    )
    op = DeltaMaintenanceOperator(task_id="m", table_path="{{ params.t }}", retention_hours="{{ params.h }}")
    assert (op.optimize, op.vacuum, op.aws_conn_id) == (True, False, "aws_default")


def test_arguments():
    assert delta_maintenance_arguments(table_path="s3://b/t") == ["--table", "s3://b/t", "--optimize"]
    args = delta_maintenance_arguments(
        table_path="s3://b/t",
        optimize_where="dt >= '2025-10-01'",
        zorder_by="customer_id",
        vacuum=True,
        retention_hours="200",
    )
    assert args == [
        "--table",
        "s3://b/t",
        "--optimize",
        "--optimize-where",
        "dt >= '2025-10-01'",
        "--zorder-by",
        "customer_id",
        "--vacuum",
        "--retention-hours",
        "200.0",
    ]
    parsed = options_from_args(build_parser().parse_args(args))
    assert (parsed.zorder_by, parsed.retention_hours, parsed.vacuum) == (["customer_id"], 200.0, True)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"table_path": " "}, "table_path is empty", id="empty-path"),
        pytest.param({"optimize": False}, "nothing to do", id="nothing"),
        pytest.param({"optimize": False, "vacuum": True, "zorder_by": ["a"]}, "need optimize", id="zorder"),
        pytest.param({"vacuum": True, "retention_hours": "a week"}, "number of hours", id="hours-text"),
        pytest.param({"vacuum": True, "retention_hours": -1}, ">= 0", id="hours-negative"),
        pytest.param({"retention_hours": 200}, "needs vacuum=True", id="hours-without-vacuum"),
        pytest.param({"zorder_by": ["a", " "]}, "empty column name", id="zorder-empty"),
        pytest.param(
            {"spark_conf": {"spark.databricks.delta.retentionDurationCheck.enabled": "false"}},
            "retention check stays on",
            id="retention-check-off",
        ),
    ],
)
def test_bad_arguments_fail_before_spark(no_submit, kwargs, fragment):
    values = {"task_id": "m", "table_path": "s3://lakeops-lake/silver/t", **kwargs}
    with pytest.raises(AirflowFailException, match=fragment):
        DeltaMaintenanceOperator(**values).execute(CONTEXT)


def test_missing_jars_fail_before_spark(no_submit, monkeypatch):
    monkeypatch.delenv("LAKEOPS_SPARK_LAKE_JARS", raising=False)
    op = DeltaMaintenanceOperator(task_id="m", table_path="/lake/silver/t", aws_conn_id=None)
    with pytest.raises(AirflowFailException, match="delta-spark on Spark's classpath"):
        op.execute(CONTEXT)


def test_cluster_deploy_mode_is_refused(no_submit, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPARK_CLUSTER_MODE",
        '{"conn_type": "spark", "host": "yarn", "extra": {"deploy-mode": "cluster"}}',
    )
    op = DeltaMaintenanceOperator(
        task_id="m", table_path="/lake/t", aws_conn_id=None, lake_jars="", spark_conn_id="spark_cluster_mode"
    )
    with pytest.raises(AirflowFailException, match="deploy-mode cluster"):
        op.execute(CONTEXT)


def test_lineage_names_the_table_root():
    op = DeltaMaintenanceOperator(task_id="m", table_path="s3a://lake/silver/events/")
    lineage = op.get_openlineage_facets_on_start()
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("s3://lake", "silver/events")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("s3://lake", "silver/events")]


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("interval 1 week", 168.0),
        ("interval 7 days", 168.0),
        ("INTERVAL 2 days 12 hours", 60.0),
        ("168 hours", 168.0),
        ("interval 0 hours", 0.0),
        ("interval 90 minutes", 1.5),
        ("interval '3' day", 72.0),
    ],
)
def test_parse_interval_hours(text, hours):
    assert parse_interval_hours(text) == pytest.approx(hours)


@pytest.mark.parametrize("text", ["", "a week", "interval 3 fortnights", "7"])
def test_parse_interval_hours_rejects(text):
    with pytest.raises(ValueError, match="cannot read the interval"):
        parse_interval_hours(text)


def test_job_options_reject_a_backtick():
    with pytest.raises(MaintenanceArgumentError, match="backtick"):
        options_from_args(build_parser().parse_args(["--table", "/t`x", "--optimize"]))
