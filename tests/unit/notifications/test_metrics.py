from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from datetime import timedelta

import pytest

from airflow_provider_lakeops.notifications import metrics as m
from airflow_provider_lakeops.notifications.metrics import Metric


class RecordingBackend:
    """A backend object (the pluggable transport), recording what it is asked to send."""

    name = "recording"

    def __init__(self, error: Exception | None = None, block: threading.Event | None = None):
        self.sent: list[Metric] = []
        self.error = error
        self.block = block

    def send(self, metrics: Sequence[Metric]) -> int:
        if self.block is not None:
            self.block.wait(30)
        if self.error is not None:
            raise self.error
        self.sent.extend(metrics)
        return len(metrics)


class FakeOperator:
    task_id = "merge_events"
    dag_id = "daily"


@pytest.fixture(autouse=True)
def _metrics_off(monkeypatch):
    monkeypatch.delenv("AIRFLOW__LAKEOPS__METRICS_BACKEND", raising=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "value": 1.0}, "non-empty"),
        ({"name": "x" * 256, "value": 1.0}, "at most 255"),
        ({"name": "rows", "value": 1.0, "unit": "Rows"}, "not one of"),
        ({"name": "rows", "value": "12"}, "must be a number"),
        ({"name": "rows", "value": True}, "must be a number"),
    ],
    ids=["empty-name", "long-name", "bad-unit", "string-value", "bool-value"],
)
def test_metric_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Metric(**kwargs)


@pytest.mark.parametrize(
    ("value", "sendable"),
    [
        (0, True),
        (1.5, True),
        (-3, True),
        (math.nan, False),
        (math.inf, False),
        (1e-200, False),
        (1e200, False),
    ],
    ids=["zero", "float", "negative", "nan", "inf", "tiny", "huge"],
)
def test_sendable(value, sendable):
    assert Metric("x", value).sendable is sendable


def test_metrics_off_by_default_is_a_no_op():
    assert m.get_metrics_backend() is None
    assert m.emit_metric("rows", 3) is False


def test_unknown_backend_name_in_code_is_a_value_error():
    with pytest.raises(ValueError, match="backend='influx' is not one of"):
        m.emit_metric("rows", 3, backend="influx")


def test_emitters_set_units_and_dimensions():
    backend = RecordingBackend()
    dims = {"DAG": "daily"}
    assert m.emit_duration("load_duration_seconds", timedelta(minutes=2), dimensions=dims, backend=backend)
    assert m.emit_count("rows_loaded", 1200, dimensions=dims, backend=backend)
    assert m.emit_size("bytes_written", 4096, dimensions=dims, backend=backend)
    assert m.emit_metric("lag", 0.5, unit="None", backend=backend)
    assert [(x.name, x.value, x.unit, dict(x.dimensions)) for x in backend.sent] == [
        ("load_duration_seconds", 120.0, "Seconds", dims),
        ("rows_loaded", 1200, "Count", dims),
        ("bytes_written", 4096, "Bytes", dims),
        ("lag", 0.5, "None", {}),
    ]


def test_non_finite_values_are_dropped_not_sent(logs):
    backend = RecordingBackend()
    assert m.emit_metrics([Metric("a", math.nan), Metric("b", 2.0)], backend=backend) is True
    assert [x.name for x in backend.sent] == ["b"]
    assert "dropped 1 metric" in logs()
    assert m.emit_metrics([Metric("a", math.inf)], backend=backend) is False


def test_a_failing_backend_returns_false_and_warns(logs):
    backend = RecordingBackend(error=ConnectionError("connection refused"))
    assert m.emit_count("rows", 1, backend=backend) is False
    assert "connection refused" in logs()


def test_a_slow_backend_is_abandoned_after_the_timeout():
    release = threading.Event()
    backend = RecordingBackend(block=release)
    assert m.emit_count("rows", 1, backend=backend, timeout=0.2) is False
    assert backend.sent == []  # still blocked when we returned
    release.set()


def test_dq_metrics_from_gx_statistics():
    stats = {
        "evaluated_expectations": 5,
        "successful_expectations": 4,
        "unsuccessful_expectations": 1,
        "success_percent": 80.0,
    }
    points = m.dq_metrics(stats, suite="customer_events", dimensions={"DAG": "daily"})
    assert {(p.name, p.value, p.unit) for p in points} == {
        ("dq_expectations_evaluated", 5.0, "Count"),
        ("dq_expectations_passed", 4.0, "Count"),
        ("dq_expectations_failed", 1.0, "Count"),
        ("dq_success_percent", 80.0, "Percent"),
        ("dq_validation_success", 0.0, "Count"),
    }
    assert all(dict(p.dimensions) == {"DAG": "daily", "Suite": "customer_events"} for p in points)


def test_dq_metrics_derives_missing_fields():
    points = {
        p.name: p.value
        for p in m.dq_metrics({"evaluated_expectations": 4, "successful_expectations": 4}, suite="s")
    }
    assert points["dq_expectations_failed"] == 0
    assert points["dq_success_percent"] == 100.0
    assert points["dq_validation_success"] == 1.0


def test_dq_metrics_needs_a_suite_name():
    with pytest.raises(ValueError, match="suite must name"):
        m.dq_metrics({}, suite="")


def test_emit_dq_metrics_sends_five_points():
    backend = RecordingBackend()
    assert m.emit_dq_metrics(
        {"evaluated_expectations": 2, "successful_expectations": 2}, suite="s", backend=backend
    )
    assert len(backend.sent) == 5


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("duration_seconds", "Seconds"),
        ("spark_duration", "Seconds"),
        ("query_ms", "Milliseconds"),
        ("bytes_written_bytes", "Bytes"),
        ("null_pct", "Percent"),
        ("rows_merged", "Count"),
        ("expectations_failed", "Count"),
    ],
    ids=lambda v: v,
)
def test_unit_for(name, unit):
    assert m.unit_for(name) == unit


def test_emit_operator_metrics_is_a_no_op_without_a_backend(monkeypatch):
    called = []
    monkeypatch.setattr(m, "emit_metrics", lambda *a, **k: called.append(a))
    m.emit_operator_metrics(FakeOperator(), {}, {"rows_merged": 3})
    assert called == []


def test_emit_operator_metrics_builds_dimensions_and_units(monkeypatch):
    backend = RecordingBackend()
    monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_BACKEND", "statsd")
    monkeypatch.setattr(m, "get_metrics_backend", lambda *a, **k: backend)
    m.emit_operator_metrics(
        FakeOperator(), {}, {"rows_merged": 1200, "duration_seconds": 3.5, "bad": "n/a", "worse": None}
    )
    assert [(x.name, x.value, x.unit, dict(x.dimensions)) for x in backend.sent] == [
        ("rows_merged", 1200.0, "Count", {"DAG": "daily", "Task": "merge_events"}),
        ("duration_seconds", 3.5, "Seconds", {"DAG": "daily", "Task": "merge_events"}),
    ]


def test_emit_operator_metrics_never_raises(monkeypatch, logs):
    monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_BACKEND", "statsd")

    def broken(*args, **kwargs):
        raise RuntimeError("backend exploded")

    monkeypatch.setattr(m, "get_metrics_backend", broken)
    m.emit_operator_metrics(FakeOperator(), None, {"rows": 1})
    assert "operator metrics were not emitted" in logs()
    m.emit_operator_metrics(object(), {"ti": object()}, {"rows": 1})


def test_task_dimensions_prefer_the_task_instance():
    class TI:
        dag_id = "d1"
        task_id = "t1"

    assert m.task_dimensions({"ti": TI()}, FakeOperator()) == {"DAG": "d1", "Task": "t1"}
    assert m.task_dimensions(None, FakeOperator()) == {"DAG": "daily", "Task": "merge_events"}
    assert m.task_dimensions({}, object()) == {}
