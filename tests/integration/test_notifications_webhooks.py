"""Slack webhook and Datadog API notifications against a real HTTP receiver on loopback."""

from __future__ import annotations

import json

import pytest

from airflow_provider_lakeops.notifications.callbacks import LakeopsNotifier, lakeops_callbacks
from airflow_provider_lakeops.notifications.datadog import DatadogEventNotifier
from airflow_provider_lakeops.notifications.metrics import Metric, emit_metrics
from tests.unit.notifications._support import (
    closed_port,
    join_abandoned_threads,
    make_log_reader,
    start_receiver,
    task_context,
)

pytestmark = pytest.mark.integration

SLACK_TOKEN = "XoXoSlackWebhookToken123456"
DD_API_KEY = "dd-api-key-0123456789abcdef"
DD_APP_KEY = "dd-app-key-fedcba9876543210"
TASK_SECRET = "db-password-Zq81!x"


@pytest.fixture(name="logs")
def logs_fixture(caplog, capfd):
    return make_log_reader(caplog, capfd)


@pytest.fixture
def receiver():
    server = start_receiver("ok")
    yield server
    server.close()


def slack_conn(monkeypatch, conn_id: str, base_url: str) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps({"conn_type": "slackwebhook", "password": f"{base_url}/services/T000/B000/{SLACK_TOKEN}"}),
    )


def datadog_conn(monkeypatch, conn_id: str, base_url: str) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "datadog",
                "extra": {"api_key": DD_API_KEY, "app_key": DD_APP_KEY, "api_host": base_url},
            }
        ),
    )


def failure_context():
    from airflow.sdk.log import mask_secret

    mask_secret(TASK_SECRET)
    error = ConnectionError(
        f"could not reach mysql://etl:{TASK_SECRET}@10.0.0.5:3306 "
        "while loading row for john.smith@example.org "
        "ssn 123-45-6789"
    )
    return task_context("daily", "merge", run_id="scheduled__2025-10-31", exception=error, try_number=3)


def assert_no_secret(request) -> None:
    where = request.text + request.path + request.query
    for value in (SLACK_TOKEN, DD_API_KEY, DD_APP_KEY, TASK_SECRET, "john.smith@example.org", "123-45-6789"):
        if value == SLACK_TOKEN and request.path.endswith(SLACK_TOKEN):
            assert value not in request.text  # the token is the webhook path itself, never the body
            continue
        assert value not in where, f"{value!r} leaked into {request.path}"


def test_slack_failure_message(monkeypatch, receiver):
    slack_conn(monkeypatch, "slack_test", receiver.url)
    (notifier,) = lakeops_callbacks(slack_conn_id="slack_test")["on_failure_callback"]
    notifier.notify(failure_context())

    (request,) = receiver.requests
    assert request.path == f"/services/T000/B000/{SLACK_TOKEN}"
    text = request.json()["text"]
    assert text.startswith(":red_circle: *lakeops: task daily.merge FAILED*\n")
    for line in ("DAG: daily", "Task: merge", "Run: scheduled__2025-10-31", "Try: 3", "Duration: 12.0 s"):
        assert line in text.splitlines()
    assert "Log: http://localhost:8080/dags/daily/runs/scheduled__2025-10-31/tasks/merge?try_number=3" in text
    assert (
        "Error: ConnectionError: could not reach "
        "mysql://***@10.0.0.5:3306 while loading row for <email> ssn <ssn>" in text
    )
    assert_no_secret(request)


def test_datadog_event(monkeypatch, receiver):
    datadog_conn(monkeypatch, "datadog_test", receiver.url)
    (notifier,) = lakeops_callbacks(datadog_conn_id="datadog_test")["on_failure_callback"]
    notifier.notify(failure_context())

    (request,) = receiver.requests
    assert request.path == "/api/v1/events"
    assert request.headers.get("dd-api-key") == DD_API_KEY  # authenticated through the header only
    event = request.json()
    assert event["title"] == "lakeops: task daily.merge FAILED"
    assert event["alert_type"] == "error"
    assert event["aggregation_key"] == "daily"
    assert {"dag:daily", "task:merge", "event:failure", "source:lakeops"} <= set(event["tags"])
    assert "Try: 3" in event["text"]
    assert_no_secret(request)


def test_datadog_success_event_standalone(monkeypatch, receiver):
    datadog_conn(monkeypatch, "datadog_test", receiver.url)
    DatadogEventNotifier(datadog_conn_id="datadog_test", tags=["env:test"], priority="low").notify(
        task_context("daily", "load")
    )
    event = receiver.requests[0].json()
    assert event["alert_type"] == "success"
    assert event["priority"] == "low"
    assert "env:test" in event["tags"]


def test_datadog_metrics_backend(monkeypatch, receiver):
    datadog_conn(monkeypatch, "datadog_metrics", receiver.url)
    monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_DATADOG_CONN_ID", "datadog_metrics")
    metrics = [
        Metric("rows_loaded", 1200, "Count", {"DAG": "daily", "Task": "load"}),
        Metric("load_duration_seconds", 2.5, "Seconds", {"DAG": "daily", "Task": "load"}),
    ]
    assert emit_metrics(metrics, backend="datadog") is True

    (request,) = receiver.requests
    assert request.path == "/api/v1/series"
    series = request.json()["series"]
    assert [(s["metric"], s["points"][0][1], s["tags"]) for s in series] == [
        ("lakeops.rows_loaded", 1200.0, ["dag:daily", "task:load"]),
        ("lakeops.load_duration_seconds", 2.5, ["dag:daily", "task:load"]),
    ]
    assert_no_secret(request)


def test_missing_connections_are_skipped(receiver, logs):
    callbacks = lakeops_callbacks(slack_conn_id="slack_not_defined", datadog_conn_id="datadog_not_defined")
    callbacks["on_failure_callback"][0].notify(failure_context())
    text = logs()
    assert "Slack connection 'slack_not_defined' is not defined; Slack notification skipped" in text
    assert "Datadog connection 'datadog_not_defined' is not defined" in text
    assert "Slack notification skipped, Datadog event skipped" in text
    assert receiver.requests == []


@pytest.mark.parametrize("mode", ["down", "error", "slow"])
def test_broken_endpoints_never_raise_and_are_bounded(monkeypatch, logs, mode):
    server = None if mode == "down" else start_receiver(mode)
    try:
        base = f"http://127.0.0.1:{closed_port()}" if server is None else server.url
        slack_conn(monkeypatch, "slack_broken", base)
        datadog_conn(monkeypatch, "datadog_broken", base)
        monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_DATADOG_CONN_ID", "datadog_broken")
        notifier = LakeopsNotifier(
            event="failure", slack_conn_id="slack_broken", datadog_conn_id="datadog_broken", timeout=2
        )
        notifier.notify(failure_context())  # returns: never raises, never waits past the timeout
        assert emit_metrics([Metric("rows", 1)], backend="datadog", timeout=1) is False

        text = logs()
        assert "Slack notification not sent" in text
        assert "Datadog event not sent" in text
        assert "(the task outcome is unchanged)" in text
        if mode == "slow":
            assert "did not finish within 2.0 s" in text
        if server is not None:
            assert {"/api/v1/events", "/api/v1/series"} <= {r.path for r in server.requests}
            for request in server.requests:
                assert_no_secret(request)
    finally:
        if server is not None:
            server.close()
            join_abandoned_threads()
