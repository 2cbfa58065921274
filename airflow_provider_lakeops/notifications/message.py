"""What a callback says: DAG, task, run id, try number, duration, log link and a trimmed error.

:func:`build_message` reads only identifiers and timings from the Airflow context. The error is
trimmed, passed through Airflow's secret masker and scrubbed of credentials in URLs,
``key=value`` secrets, tokens and values that look like personal data (e-mail addresses, SSNs,
phone numbers, card numbers) by :mod:`airflow_provider_lakeops.utils.redaction`, so neither
secrets nor data values reach Slack, SNS or Datadog.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import quote

from airflow_provider_lakeops.notifications._bounded import redact_text
from airflow_provider_lakeops.utils.redaction import scrub_text

__all__ = ["CallbackMessage", "Event", "build_message", "scrub"]

Event = Literal["success", "failure", "retry"]

DEFAULT_ERROR_CHARS = 500


def scrub(text: str) -> str:
    """Remove URL credentials, ``key=value`` secrets and personal-data-looking values from ``text``.

    The rules are :func:`airflow_provider_lakeops.utils.redaction.scrub_text`'s (the one place).
    """
    return scrub_text(text)


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


@dataclass(frozen=True)
class CallbackMessage:
    """The facts a notifier sends; every field is an identifier or a timing, never data."""

    event: Event
    level: Literal["task", "dag"]
    dag_id: str
    task_id: str | None = None
    run_id: str | None = None
    try_number: int | None = None
    duration_seconds: float | None = None
    log_url: str | None = None
    error: str | None = None
    reason: str | None = None

    @property
    def subject(self) -> str:
        """One line, ASCII, at most 100 characters (the SNS subject limit)."""
        what = {"success": "succeeded", "failure": "FAILED", "retry": "up for retry"}[self.event]
        scope = f"task {self.dag_id}.{self.task_id}" if self.level == "task" else f"DAG {self.dag_id}"
        text = f"lakeops: {scope} {what}"
        return _trim(text.encode("ascii", "replace").decode("ascii"), 100)

    def lines(self) -> list[str]:
        """``Label: value`` lines, unknown values left out."""
        rows: list[tuple[str, object]] = [
            ("DAG", self.dag_id),
            ("Task" if self.level == "task" else "Last task", self.task_id),
            ("Run", self.run_id),
            ("Try", self.try_number),
            ("Duration", None if self.duration_seconds is None else f"{self.duration_seconds:.1f} s"),
            ("Reason", self.reason if self.level == "dag" else None),
            ("Log", self.log_url),
            ("Error", self.error),
        ]
        return [f"{label}: {value}" for label, value in rows if value not in (None, "")]

    @property
    def text(self) -> str:
        """Plain text body (SNS, Datadog)."""
        return "\n".join([self.subject, *self.lines()])

    @property
    def slack_text(self) -> str:
        """Slack mrkdwn body."""
        icon = {
            "success": ":large_green_circle:",
            "failure": ":red_circle:",
            "retry": ":large_orange_circle:",
        }
        body = "\n".join(self.lines())
        return f"{icon[self.event]} *{self.subject}*\n{body}"

    @property
    def tags(self) -> list[str]:
        """Datadog-style ``key:value`` tags (identifiers only)."""
        tags = ["source:lakeops", f"event:{self.event}", f"level:{self.level}", f"dag:{self.dag_id}"]
        if self.task_id:
            tags.append(f"task:{self.task_id}")
        return [_dd_tag(tag) for tag in tags]

    @property
    def dimensions(self) -> dict[str, str]:
        """Metric dimensions: ``DAG`` and, for task callbacks, ``Task``."""
        dims = {"DAG": self.dag_id}
        if self.level == "task" and self.task_id:
            dims["Task"] = self.task_id
        return dims


def _dd_tag(tag: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_:./-]", "_", tag.lower())
    return cleaned[:200]


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def _duration(start: object, end: object) -> float | None:
    begin = _as_datetime(start)
    if begin is None:
        return None
    finish = _as_datetime(end) or datetime.now(timezone.utc)
    return max((finish - begin).total_seconds(), 0.0)


def _api_base_url() -> str:
    try:
        from airflow.sdk.configuration import conf

        return str(conf.get("api", "base_url", fallback="http://localhost:8080/"))
    except Exception:
        return "http://localhost:8080/"


def infer_event(context: Mapping[str, object]) -> Event:
    """Guess the event from a context: an exception or a non-success DAG reason means failure."""
    if context.get("exception") is not None:
        return "failure"
    reason = context.get("reason")
    if reason is not None:
        return "success" if str(reason) == "success" else "failure"
    ti = context.get("ti") or context.get("task_instance")
    state = str(getattr(ti, "state", "") or "").lower()
    if "retry" in state:
        return "retry"
    if "fail" in state:
        return "failure"
    return "success"


def build_message(
    context: Mapping[str, Any],
    event: Event | None = None,
    *,
    error_chars: int = DEFAULT_ERROR_CHARS,
    include_error: bool = True,
) -> CallbackMessage:
    """Read a task- or DAG-level callback context into a :class:`CallbackMessage`.

    DAG-level contexts carry ``reason`` (Airflow adds it for DAG callbacks); their ``ti`` is the
    last (or failing) task of the run.

    :param context: the Airflow context passed to the callback.
    :param event: ``"success"``, ``"failure"`` or ``"retry"`` (inferred when ``None``).
    :param error_chars: the error is trimmed to this many characters.
    :param include_error: ``False`` leaves the error text out entirely (its type is kept).
    """
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_run = context.get("dag_run")
    level: Literal["task", "dag"] = "dag" if "reason" in context else "task"
    dag_id = str(
        getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", "?")
    )
    run_id = context.get("run_id") or getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None)
    task_id = getattr(ti, "task_id", None)

    if level == "task":
        try_number = getattr(ti, "try_number", None)
        duration = _duration(getattr(ti, "start_date", None), getattr(ti, "end_date", None))
        log_url = getattr(ti, "log_url", None)
    else:
        try_number = None
        duration = _duration(getattr(dag_run, "start_date", None), getattr(dag_run, "end_date", None))
        log_url = None
        if run_id:
            base = _api_base_url().rstrip("/")
            log_url = f"{base}/dags/{quote(dag_id)}/runs/{quote(str(run_id))}"

    resolved: Event = event or infer_event(context)
    error: str | None = None
    exc = context.get("exception")
    if resolved != "success" and exc is not None:
        kind = type(exc).__name__ if isinstance(exc, BaseException) else "Error"
        if include_error:
            detail = str(exc)
            # trim generously first (bounded regex work), mask, scrub, then trim to size
            raw = f"{kind}: {detail}" if isinstance(exc, BaseException) else detail
            error = _trim(scrub(redact_text(_trim(raw, 20 * error_chars))), error_chars)
        else:
            error = kind
    reason = context.get("reason")
    return CallbackMessage(
        event=resolved,
        level=level,
        dag_id=dag_id,
        task_id=str(task_id) if task_id else None,
        run_id=str(run_id) if run_id else None,
        try_number=int(try_number) if isinstance(try_number, int) else None,
        duration_seconds=duration,
        log_url=str(log_url) if log_url else None,
        error=error,
        reason=str(reason) if reason is not None else None,
    )
