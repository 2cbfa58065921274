from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_lakeops.notifications.cloudwatch import (
    CloudWatchMetricsBackend,
    CloudWatchMetricsNotifier,
    _encoded_size,
    callback_metrics,
    validate_namespace,
)
from airflow_provider_lakeops.notifications.message import CallbackMessage
from airflow_provider_lakeops.notifications.metrics import Metric


def test_batches_respect_the_1000_metrics_per_call_limit():
    backend = CloudWatchMetricsBackend()
    metrics = [Metric("rows", float(i), "Count", {"DAG": "d"}) for i in range(2500)]
    assert [len(b) for b in backend.batches(metrics)] == [1000, 1000, 500]


def test_batches_respect_the_request_size_budget():
    backend = CloudWatchMetricsBackend(max_request_bytes=100_000)
    dims = {f"dim{j}": "v" * 1024 for j in range(30)}  # the largest datum CloudWatch allows
    metrics = [Metric("m", 1.0, "Count", dims) for _ in range(40)]
    batches = list(backend.batches(metrics))
    assert sum(len(b) for b in batches) == 40
    assert len(batches) > 1
    for batch in batches:
        size = 2_000 + sum(_encoded_size(d, i) for i, d in enumerate(batch, start=1))
        assert size <= 100_000


def test_maximal_datums_split_under_1_mb():
    backend = CloudWatchMetricsBackend()
    dims = {f"dim{j}": "v" * 1024 for j in range(30)}
    batches = list(backend.batches([Metric("m", 1.0, "Count", dims) for _ in range(100)]))
    assert len(batches) > 1
    assert all(
        2_000 + sum(_encoded_size(d, i) for i, d in enumerate(b, start=1)) <= 1_000_000 for b in batches
    )


def test_datum_shape_and_dimension_limits():
    backend = CloudWatchMetricsBackend(storage_resolution=1)
    ts = datetime(2025, 10, 31, tzinfo=timezone.utc)
    dims = {"DAG": "daily", "Empty": "", **{f"d{j}": str(j) for j in range(40)}, "Long": "x" * 2000}
    datum = backend.to_datum(Metric("rows", 3, "Count", dims), ts)
    assert datum["MetricName"] == "rows"
    assert datum["Value"] == 3.0
    assert datum["Unit"] == "Count"
    assert datum["Timestamp"] == ts
    assert datum["StorageResolution"] == 1
    assert len(datum["Dimensions"]) == 30
    assert datum["Dimensions"][0] == {"Name": "DAG", "Value": "daily"}
    assert all(d["Value"] for d in datum["Dimensions"])


@pytest.mark.parametrize("namespace", ["", "AWS/EC2", ":x", "n" * 256], ids=["empty", "aws", "colon", "long"])
def test_bad_namespaces_are_rejected(namespace):
    with pytest.raises(ValueError, match="not a valid CloudWatch namespace"):
        validate_namespace(namespace)
    with pytest.raises(ValueError, match="not a valid CloudWatch namespace"):
        CloudWatchMetricsBackend(namespace=namespace)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"storage_resolution": 5}, "storage_resolution must be 1 or 60"),
        ({"max_metrics_per_call": 1001}, "max_metrics_per_call must be in"),
        ({"max_metrics_per_call": 0}, "max_metrics_per_call must be in"),
        ({"max_request_bytes": 2_000_000}, "max_request_bytes must be in"),
    ],
    ids=["resolution", "too-many", "zero", "too-big"],
)
def test_bad_backend_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CloudWatchMetricsBackend(**kwargs)


def test_callback_metrics_for_tasks_and_dag_runs():
    task = CallbackMessage(event="failure", level="task", dag_id="d", task_id="t", duration_seconds=2.0)
    assert [(x.name, x.value, x.unit, dict(x.dimensions)) for x in callback_metrics(task)] == [
        ("task_failure", 1.0, "Count", {"DAG": "d", "Task": "t"}),
        ("task_duration_seconds", 2.0, "Seconds", {"DAG": "d", "Task": "t"}),
    ]
    run = CallbackMessage(event="success", level="dag", dag_id="d", task_id="t")
    assert [(x.name, dict(x.dimensions)) for x in callback_metrics(run)] == [
        ("dag_run_success", {"DAG": "d"})
    ]


def test_notifier_rejects_a_bad_event():
    with pytest.raises(ValueError, match="event must be"):
        CloudWatchMetricsNotifier(event="maybe")  # type: ignore[arg-type]
