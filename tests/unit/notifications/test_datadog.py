from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_lakeops.notifications.datadog import (
    DatadogEventNotifier,
    DatadogMetricsBackend,
    DatadogResponseError,
    _check,
    metric_name,
    metric_tags,
)
from airflow_provider_lakeops.notifications.metrics import Metric


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        ("Lakeops", "rows_processed", "lakeops.rows_processed"),
        ("", "Rows Merged!", "rows_merged"),
        ("Lake/Ops", "x-y", "lake_ops.x_y"),
        ("", "9lives", "m_9lives"),
    ],
    ids=["prefix", "spaces", "slash", "digit-start"],
)
def test_metric_name(namespace, name, expected):
    assert metric_name(namespace, name) == expected


def test_series_payload():
    ts = datetime(2025, 10, 31, tzinfo=timezone.utc)
    backend = DatadogMetricsBackend(namespace="Lakeops")
    series = backend.series([Metric("rows", 3, "Count", {"DAG": "Daily Run", "Task": "t"}, ts)])
    assert series == [
        {
            "metric": "lakeops.rows",
            "points": [(int(ts.timestamp()), 3.0)],
            "type": "gauge",
            "tags": ["dag:daily_run", "task:t"],
        }
    ]
    assert metric_tags(Metric("x", 1, dimensions={"Env": "PROD"})) == ["env:prod"]


@pytest.mark.parametrize(
    "response",
    [{"errors": ["Forbidden"]}, {"errors": "API key invalid"}, "not a dict"],
    ids=["list", "string", "type"],
)
def test_check_raises_on_errors(response):
    with pytest.raises(DatadogResponseError):
        _check(response, "event")


def test_check_accepts_ok():
    _check({"status": "ok"}, "event")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"event": "done"}, "event must be"), ({"priority": "urgent"}, "priority must be")],
    ids=["event", "priority"],
)
def test_event_notifier_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DatadogEventNotifier(**kwargs)
