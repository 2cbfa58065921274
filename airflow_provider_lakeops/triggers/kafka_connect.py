"""Wait, asynchronously, for a Kafka Connect connector and its tasks to reach a state.

:class:`KafkaConnectorStateTrigger` polls ``GET /connectors/{name}/status`` through
:class:`~airflow_provider_lakeops.hooks.kafka_connect.KafkaConnectHook` (the blocking call runs in
a thread through ``sync_to_async``; the connection is fetched with ``aget_connection`` so the
event loop never blocks on the supervisor). :func:`evaluate_status` is the one place that decides
what a status body means; the operators' non-deferrable polling uses it too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

__all__ = [
    "TARGET_STATES",
    "KafkaConnectorStateTrigger",
    "StatusVerdict",
    "evaluate_status",
    "poll_delay",
    "trim_trace",
]

#: States a wait can target. ``DELETED`` means the connector is gone (404).
TARGET_STATES = ("RUNNING", "PAUSED", "STOPPED", "DELETED")
TRACE_MAX_CHARS = 2000


def poll_delay(poll: int, poll_interval: float) -> float:
    """Seconds before poll number ``poll + 1``: 0.25 s doubling up to ``poll_interval``.

    Connectors usually start within seconds, so the first polls come quickly; a long wait settles
    at ``poll_interval`` and does not load the Connect worker.
    """
    return min(poll_interval, 0.25 * 2 ** min(poll, 16))


def trim_trace(trace: str | None, max_chars: int = TRACE_MAX_CHARS) -> str:
    """The head of a Java stack trace (exception and first frames) plus the last ``Caused by`` line."""
    if not trace:
        return ""
    text = trace.strip()
    if len(text) <= max_chars:
        return text
    lines = text.splitlines()
    causes = [line for line in lines if line.startswith("Caused by:")]
    tail = f"\n\t...\n{causes[-1][:max_chars // 2]}" if causes else "\n\t..."
    return text[: max(0, max_chars - len(tail))].rstrip() + tail


@dataclass(frozen=True)
class StatusVerdict:
    """What a status body means for a wait: ``done``, ``pending``, ``failed`` or ``blocked``."""

    outcome: str
    connector_state: str | None
    task_states: dict[str, str] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)  # [{"id": "connector"|"0", "trace": ...}]
    reason: str = ""

    def as_event(self) -> dict[str, Any]:
        return {
            "connector_state": self.connector_state,
            "task_states": dict(self.task_states),
            "failed": list(self.failed),
            "reason": self.reason,
        }


def evaluate_status(
    status: Mapping[str, Any] | None, target_state: str = "RUNNING", trace_max_chars: int = TRACE_MAX_CHARS
) -> StatusVerdict:
    """Decide whether ``status`` (a ``GET .../status`` body, or ``None`` for 404) reached ``target_state``.

    * ``failed``: the connector or a task is ``FAILED`` (their traces, trimmed, are in ``failed``);
    * ``blocked``: waiting for ``RUNNING`` while the connector is ``PAUSED``/``STOPPED``: it will not
      run until someone resumes it, so waiting is pointless;
    * ``done``: the connector and every task are in ``target_state`` (``RUNNING`` needs at least one
      task; ``STOPPED`` connectors have none; ``DELETED`` means 404);
    * ``pending`` otherwise (``UNASSIGNED``, ``RESTARTING``, tasks not assigned yet, status not yet
      written just after creation).
    """
    if target_state not in TARGET_STATES:
        raise ValueError(f"target_state {target_state!r} is not one of {', '.join(TARGET_STATES)}")
    if status is None:
        outcome = "done" if target_state == "DELETED" else "pending"
        return StatusVerdict(outcome, None, reason="the connector has no status (it does not exist yet or any more)")
    connector = status.get("connector") or {}
    state = connector.get("state")
    tasks = {str(t.get("id")): str(t.get("state")) for t in status.get("tasks") or []}
    failed = []
    if state == "FAILED":
        failed.append({"id": "connector", "trace": trim_trace(connector.get("trace"), trace_max_chars)})
    failed.extend(
        {"id": str(t.get("id")), "trace": trim_trace(t.get("trace"), trace_max_chars)}
        for t in status.get("tasks") or []
        if t.get("state") == "FAILED"
    )
    if failed:
        names = ", ".join("the connector" if f["id"] == "connector" else f"task {f['id']}" for f in failed)
        return StatusVerdict("failed", state, tasks, failed, reason=f"{names} FAILED")
    if target_state == "DELETED":
        return StatusVerdict("pending", state, tasks, reason="the connector still exists")
    if target_state == "RUNNING" and state in {"PAUSED", "STOPPED"}:
        return StatusVerdict(
            "blocked", state, tasks,
            reason=f"the connector is {state}; resume it (PUT /connectors/{{name}}/resume) before waiting for RUNNING",
        )
    if state == target_state:
        if target_state == "STOPPED" or (tasks and all(s == target_state for s in tasks.values())):
            return StatusVerdict("done", state, tasks)
    waiting = [f"task {i} is {s}" for i, s in tasks.items() if s != target_state] or (
        ["no task is assigned yet"] if target_state != "STOPPED" else []
    )
    return StatusVerdict("pending", state, tasks, reason=f"connector is {state}; " + ", ".join(waiting))


async def _amask_secret(secret: str) -> None:
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow < 3.2 has only the synchronous variant
        from airflow.sdk.log import mask_secret

        mask_secret(secret)
    else:
        await amask_secret(secret)


class KafkaConnectorStateTrigger(BaseTrigger):
    """Poll a connector's status until it reaches ``target_state``, fails, or ``end_time`` passes.

    Events (``status`` key): ``success``, ``failed`` (a connector/task ``FAILED``; traces trimmed),
    ``blocked`` (waiting for RUNNING on a paused or stopped connector), ``timeout`` and ``error``
    (Connect could not be reached after the hook's retries). Every event carries
    ``connector_state``, ``task_states`` and ``carry``.

    :param connector_name: the connector.
    :param kafka_connect_conn_id: the ``kafka_connect`` connection.
    :param target_state: ``RUNNING``, ``PAUSED``, ``STOPPED`` or ``DELETED``.
    :param end_time: give up at this UNIX time (absolute, so a restarted triggerer keeps the deadline).
    :param poll_interval: the longest wait between polls (the first ones come sooner, see :func:`poll_delay`).
    :param trace_max_chars: trim failure traces to this length.
    :param carry: JSON-serialisable state the deferring operator needs when it resumes; echoed
        back in every event (``dag.test()`` passes only the event to the resumed method).
    """

    def __init__(
        self,
        *,
        connector_name: str,
        kafka_connect_conn_id: str,
        target_state: str = "RUNNING",
        end_time: float,
        poll_interval: float = 5.0,
        trace_max_chars: int = TRACE_MAX_CHARS,
        carry: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.connector_name = connector_name
        self.kafka_connect_conn_id = kafka_connect_conn_id
        self.target_state = target_state
        self.end_time = end_time
        self.poll_interval = poll_interval
        self.trace_max_chars = trace_max_chars
        self.carry = carry or {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "connector_name": self.connector_name,
                "kafka_connect_conn_id": self.kafka_connect_conn_id,
                "target_state": self.target_state,
                "end_time": self.end_time,
                "poll_interval": self.poll_interval,
                "trace_max_chars": self.trace_max_chars,
                "carry": self.carry,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from asgiref.sync import sync_to_async

        from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook, KafkaConnectNotFoundError

        def event(status: str, verdict: StatusVerdict | None = None, **extra: Any) -> TriggerEvent:
            body: dict[str, Any] = {
                "status": status, "connector": self.connector_name, "target_state": self.target_state,
            }
            body.update(verdict.as_event() if verdict else {"connector_state": None, "task_states": {}})
            body.update(extra, carry=self.carry)
            return TriggerEvent(body)

        try:
            connection = await KafkaConnectHook.aget_connection(self.kafka_connect_conn_id)
            if connection.password:
                await _amask_secret(connection.password)
            hook = KafkaConnectHook(self.kafka_connect_conn_id, connection=connection)
            fetch = sync_to_async(hook.get_connector_status)
        except Exception as exc:
            yield event("error", message=f"cannot use connection {self.kafka_connect_conn_id!r}: {exc}")
            return

        verdict: StatusVerdict | None = None
        poll = 0
        while True:
            try:
                status = await fetch(self.connector_name)
            except KafkaConnectNotFoundError:
                status = None
            except Exception as exc:
                yield event("error", verdict, message=str(exc))
                return
            verdict = evaluate_status(status, self.target_state, self.trace_max_chars)
            if verdict.outcome == "done":
                yield event("success", verdict)
                return
            if verdict.outcome in {"failed", "blocked"}:
                yield event(verdict.outcome, verdict, message=verdict.reason)
                return
            remaining = self.end_time - time.time()
            if remaining <= 0:
                yield event(
                    "timeout", verdict,
                    message=f"{self.connector_name} did not reach {self.target_state} in time: {verdict.reason}",
                )
                return
            self.log.info("Waiting for %s to be %s: %s", self.connector_name, self.target_state, verdict.reason)
            await asyncio.sleep(min(poll_delay(poll, self.poll_interval), remaining))
            poll += 1
