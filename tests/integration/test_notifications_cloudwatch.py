"""CloudWatch metrics against moto: values read back, batching over the per-call limit, failures."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_lakeops.notifications.cloudwatch import (
    CloudWatchMetricsBackend,
    CloudWatchMetricsNotifier,
)
from airflow_provider_lakeops.notifications.metrics import (
    Metric,
    emit_count,
    emit_dq_metrics,
    emit_duration,
    emit_metrics,
    emit_operator_metrics,
    emit_size,
)
from tests.unit.notifications._support import (
    closed_port,
    join_abandoned_threads,
    make_log_reader,
    start_receiver,
    task_context,
)

pytestmark = pytest.mark.integration


@pytest.fixture(name="logs")
def logs_fixture(caplog, capfd):
    return make_log_reader(caplog, capfd)


@pytest.fixture
def cloudwatch(lakeops_stack):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id="aws_default", client_type="cloudwatch").get_conn()


@pytest.fixture
def namespace() -> str:
    # a fresh namespace per test: the moto server is shared by the whole session
    return f"LakeopsTest/{uuid.uuid4().hex[:10]}"


def statistics(client, namespace: str, name: str, dimensions: dict[str, str]) -> dict[str, float]:
    now = datetime.now(timezone.utc)
    response = client.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
        Period=3600,
        Statistics=["Sum", "SampleCount", "Maximum"],
    )
    points = response["Datapoints"]
    return {
        "Sum": sum(p["Sum"] for p in points),
        "SampleCount": sum(p["SampleCount"] for p in points),
        "Maximum": max((p["Maximum"] for p in points), default=float("nan")),
        "Unit": points[0]["Unit"] if points else None,
    }


def test_emitters_write_metrics_that_read_back(cloudwatch, namespace):
    dims = {"DAG": "daily", "Task": "load"}
    assert emit_count("rows_loaded", 1200, dimensions=dims, backend="cloudwatch", namespace=namespace)
    assert emit_duration(
        "load_duration_seconds", 3.25, dimensions=dims, backend="cloudwatch", namespace=namespace
    )
    assert emit_size("bytes_written", 4096, dimensions=dims, backend="cloudwatch", namespace=namespace)

    rows = statistics(cloudwatch, namespace, "rows_loaded", dims)
    assert (rows["Sum"], rows["SampleCount"], rows["Unit"]) == (1200.0, 1.0, "Count")
    assert statistics(cloudwatch, namespace, "load_duration_seconds", dims)["Maximum"] == 3.25
    assert statistics(cloudwatch, namespace, "bytes_written", dims)["Unit"] == "Bytes"
    # dimensions matter: a different Task sees nothing
    assert (
        statistics(cloudwatch, namespace, "rows_loaded", {"DAG": "daily", "Task": "other"})["SampleCount"]
        == 0
    )


def test_batching_over_the_per_call_limit(cloudwatch, namespace):
    backend = CloudWatchMetricsBackend(namespace=namespace)
    metrics = [Metric("events_seen", float(i), "Count", {"Batch": "b1"}) for i in range(1, 2501)]
    assert emit_metrics(metrics, backend=backend, timeout=60)
    assert backend.last_batch_sizes == [1000, 1000, 500]

    stats = statistics(cloudwatch, namespace, "events_seen", {"Batch": "b1"})
    assert stats["SampleCount"] == 2500
    assert stats["Sum"] == 2500 * 2501 / 2


def test_dq_metrics_read_back_with_get_metric_data(cloudwatch, namespace):
    gx_statistics = {
        "evaluated_expectations": 6,
        "successful_expectations": 5,
        "unsuccessful_expectations": 1,
        "success_percent": 83.33,
    }
    dims = {"DAG": "daily"}
    assert emit_dq_metrics(
        gx_statistics, suite="customer_events", dimensions=dims, backend="cloudwatch", namespace=namespace
    )

    now = datetime.now(timezone.utc)
    names = [
        "dq_expectations_evaluated",
        "dq_expectations_failed",
        "dq_success_percent",
        "dq_validation_success",
    ]
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": f"q{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [
                            {"Name": "DAG", "Value": "daily"},
                            {"Name": "Suite", "Value": "customer_events"},
                        ],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
            for i, name in enumerate(names)
        ],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
    )
    values = {r["Id"]: r["Values"] for r in response["MetricDataResults"]}
    assert values == {"q0": [6.0], "q1": [1.0], "q2": [83.33], "q3": [0.0]}


def test_operator_metrics_follow_the_lakeops_config(cloudwatch, namespace, monkeypatch):
    class Operator:
        task_id = "merge_to_snowflake"
        dag_id = "daily"

    monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_BACKEND", "cloudwatch")
    monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_NAMESPACE", namespace)
    emit_operator_metrics(
        Operator(), task_context("daily", "merge_to_snowflake"), {"rows_merged": 980, "duration_seconds": 1.5}
    )

    dims = {"DAG": "daily", "Task": "merge_to_snowflake"}
    assert statistics(cloudwatch, namespace, "rows_merged", dims)["Sum"] == 980
    assert statistics(cloudwatch, namespace, "duration_seconds", dims)["Unit"] == "Seconds"


def test_operator_metrics_are_off_by_default(cloudwatch, namespace, monkeypatch):
    monkeypatch.delenv("AIRFLOW__LAKEOPS__METRICS_BACKEND", raising=False)
    monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_NAMESPACE", namespace)
    emit_operator_metrics(None, task_context(), {"rows_merged": 5})
    assert cloudwatch.list_metrics(Namespace=namespace)["Metrics"] == []


def test_cloudwatch_notifier_records_outcome_and_duration(cloudwatch, namespace):
    CloudWatchMetricsNotifier(namespace=namespace, event="failure").notify(
        task_context("daily", "validate", exception=RuntimeError("gate failed"))
    )
    from airflow.sdk import DAG

    dag_context = task_context("daily", "validate", reason="success")
    dag_context["dag"] = DAG("daily", schedule=None)
    CloudWatchMetricsNotifier(namespace=namespace)(dag_context)  # __call__: templated, then notify

    assert statistics(cloudwatch, namespace, "task_failure", {"DAG": "daily", "Task": "validate"})["Sum"] == 1
    assert statistics(cloudwatch, namespace, "task_duration_seconds", {"DAG": "daily", "Task": "validate"})[
        "Maximum"
    ] == pytest.approx(12, abs=1)
    assert statistics(cloudwatch, namespace, "dag_run_success", {"DAG": "daily"})["Sum"] == 1


def _aws_conn(monkeypatch, conn_id: str, endpoint: str) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            }
        ),
    )


@pytest.mark.parametrize("mode", ["down", "error", "slow"])
def test_a_broken_cloudwatch_endpoint_never_raises(lakeops_stack, monkeypatch, logs, mode):
    receiver = None if mode == "down" else start_receiver(mode)
    try:
        endpoint = f"http://127.0.0.1:{closed_port()}" if receiver is None else receiver.url
        _aws_conn(monkeypatch, "aws_broken", endpoint)
        backend = CloudWatchMetricsBackend(namespace="Lakeops", aws_conn_id="aws_broken", timeout=1)
        assert emit_count("rows", 1, backend=backend, timeout=1.5) is False
        CloudWatchMetricsNotifier(aws_conn_id="aws_broken", timeout=1.5).notify(task_context())
        text = logs()
        assert (
            "did not finish within" in text
            if mode == "slow"
            else "failed (the task outcome is unchanged)" in text
        )
        if receiver is not None:
            assert receiver.requests, "the request reached the broken endpoint"
    finally:
        if receiver is not None:
            receiver.close()
            join_abandoned_threads()
