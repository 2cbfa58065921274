from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_provider_lakeops.notifications.message import build_message, infer_event, scrub

START = datetime(2025, 10, 31, 2, 0, tzinfo=timezone.utc)


def task_context(**extra):
    ti = SimpleNamespace(
        dag_id="daily",
        task_id="merge",
        run_id="scheduled__2025-10-31",
        try_number=2,
        start_date=START,
        end_date=START + timedelta(seconds=42.5),
        log_url="http://localhost:8080/dags/daily/runs/scheduled__2025-10-31/tasks/merge?try_number=2",
        state="failed",
    )
    return {"ti": ti, "dag": SimpleNamespace(dag_id="daily"), "run_id": ti.run_id, **extra}


def test_task_failure_message_carries_the_facts():
    msg = build_message(task_context(exception=ValueError("merge key customer_id missing")), "failure")
    assert msg.level == "task"
    assert msg.subject == "lakeops: task daily.merge FAILED"
    assert msg.lines() == [
        "DAG: daily",
        "Task: merge",
        "Run: scheduled__2025-10-31",
        "Try: 2",
        "Duration: 42.5 s",
        "Log: http://localhost:8080/dags/daily/runs/scheduled__2025-10-31/tasks/merge?try_number=2",
        "Error: ValueError: merge key customer_id missing",
    ]
    assert msg.dimensions == {"DAG": "daily", "Task": "merge"}
    assert "task:merge" in msg.tags
    assert "event:failure" in msg.tags
    assert msg.slack_text.startswith(":red_circle: *lakeops: task daily.merge FAILED*\nDAG: daily")


def test_dag_level_message_uses_the_run_and_reason():
    dag_run = SimpleNamespace(
        dag_id="daily", run_id="r1", start_date=START, end_date=START + timedelta(minutes=3)
    )
    ctx = task_context(reason="task_failure", dag_run=dag_run)
    msg = build_message(ctx)
    assert msg.level == "dag"
    assert msg.event == "failure"
    assert msg.subject == "lakeops: DAG daily FAILED"
    assert "Last task: merge" in msg.lines()
    assert "Reason: task_failure" in msg.lines()
    assert msg.duration_seconds == 180.0
    assert msg.try_number is None
    assert msg.log_url is not None
    assert msg.log_url.endswith("/dags/daily/runs/scheduled__2025-10-31")
    assert msg.dimensions == {"DAG": "daily"}


def test_minimal_dag_context_without_a_task():
    msg = build_message({"dag": SimpleNamespace(dag_id="d"), "run_id": "r", "reason": "success"})
    assert msg.event == "success"
    assert msg.task_id is None
    assert msg.duration_seconds is None
    assert msg.lines()[0] == "DAG: d"


@pytest.mark.parametrize(
    ("ctx", "event"),
    [
        ({"exception": RuntimeError("x")}, "failure"),
        ({"reason": "success"}, "success"),
        ({"reason": "task_failure"}, "failure"),
        ({"ti": SimpleNamespace(state="up_for_retry")}, "retry"),
        ({"ti": SimpleNamespace(state="success")}, "success"),
    ],
    ids=["exception", "dag-success", "dag-failure", "retry", "success"],
)
def test_infer_event(ctx, event):
    assert infer_event(ctx) == event


def test_errors_are_trimmed():
    msg = build_message(task_context(exception=RuntimeError("y" * 5000)), "failure", error_chars=100)
    assert msg.error is not None
    assert len(msg.error) == 100
    assert msg.error.endswith("...")


def test_error_can_be_left_out():
    msg = build_message(task_context(exception=RuntimeError("details")), "failure", include_error=False)
    assert msg.error == "RuntimeError"


def test_success_messages_carry_no_error():
    assert build_message(task_context(exception=RuntimeError("stale")), "success").error is None


def test_registered_secrets_are_masked():
    from airflow.sdk.log import mask_secret

    mask_secret("registered-secret-3141")
    msg = build_message(
        task_context(exception=RuntimeError("login with registered-secret-3141 failed")), "failure"
    )
    assert "registered-secret-3141" not in msg.text
    assert "login with *** failed" in msg.text


@pytest.mark.parametrize(
    ("raw", "leak"),
    [
        ("connect to postgresql://etl:hunter22@db:5432/x failed", "hunter22"),
        ("bad request: password=Tr0ub4dor&3 rejected", "Tr0ub4dor"),
        ("Authorization: Bearer-abc123def", "abc123def"),
        ('{"api_key": "dd0123456789"}', "dd0123456789"),
        ("post to https://hooks.slack.com/services/T000/B000/XYZsecret failed", "XYZsecret"),
        ("row has email jane.doe@example.com", "jane.doe@example.com"),
        ("ssn 123-45-6789 invalid", "123-45-6789"),
        ("phone 555-123-4567 invalid", "555-123-4567"),
        ("card 4111 1111 1111 1111 declined", "4111 1111 1111 1111"),
    ],
    ids=[
        "url-credentials",
        "password",
        "authorization",
        "api-key-json",
        "slack-webhook",
        "email",
        "ssn",
        "phone",
        "card",
    ],
)
def test_scrub_removes_secrets_and_personal_data(raw, leak):
    cleaned = scrub(raw)
    assert leak not in cleaned
    msg = build_message(task_context(exception=ValueError(raw)), "failure")
    assert leak not in msg.text
    assert leak not in msg.slack_text


def test_scrub_keeps_operational_text():
    text = "Merged 1200 rows into LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR (query 01b2-0000)"
    assert scrub(text) == text
