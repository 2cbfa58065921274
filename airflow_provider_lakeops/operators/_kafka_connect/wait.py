"""Waiting for a Kafka Connect connector state, shared by the Debezium and lifecycle operators and the sensor.

:func:`wait_for_state` polls on a worker and returns the event body
:class:`~airflow_provider_lakeops.triggers.kafka_connect.KafkaConnectorStateTrigger` yields, so the
deferrable and the blocking wait end the same way; :class:`ConnectorWaitMixin` builds that trigger.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook
    from airflow_provider_lakeops.triggers.kafka_connect import KafkaConnectorStateTrigger

__all__ = ["STATES", "ConnectorWaitMixin", "failure_message", "restarted_instances", "wait_for_state"]

#: the states a wait can target (``DELETED``: the connector is gone).
STATES = ("RUNNING", "PAUSED", "STOPPED", "DELETED")


def wait_for_state(
    hook: KafkaConnectHook,
    connector_name: str,
    *,
    target_state: str,
    end_time: float,
    poll_interval: float,
    trace_max_chars: int = 2000,
    carry: dict[str, Any] | None = None,
    settle_seconds: float = 0.0,
    expected_config: Mapping[str, str] | None = None,
    restarted: Sequence[str] = (),
    restart_grace_until: float | None = None,
) -> dict[str, Any]:
    """Poll until the connector reaches ``target_state``, fails, or ``end_time`` passes.

    The decision is :class:`~airflow_provider_lakeops.triggers.kafka_connect.ConnectorWait`'s (the
    trigger runs the same one), so this returns the same event body
    :class:`~airflow_provider_lakeops.triggers.kafka_connect.KafkaConnectorStateTrigger` yields
    (``status``: success, failed, blocked, timeout or error). Connect being unreachable is not an
    error here: the wait goes on until ``end_time`` (the event then says what the last error was).
    """
    from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectApiError
    from airflow_provider_lakeops.triggers.kafka_connect import ConnectorWait, poll_delay

    base = {"connector": connector_name, "target_state": target_state, "carry": carry or {}}
    wait = ConnectorWait(
        connector_name,
        target_state,
        settle_seconds=settle_seconds,
        expected_config=expected_config,
        restarted=restarted,
        restart_grace_until=restart_grace_until,
        trace_max_chars=trace_max_chars,
    )
    poll = 0
    while True:
        try:
            verdict = wait.observe(hook)
        except KafkaConnectApiError as exc:
            return {
                **base,
                "status": "error",
                "message": str(exc),
                "connector_state": None,
                "task_states": {},
            }
        if verdict.outcome == "done":
            return {**base, "status": "success", **verdict.as_event()}
        if verdict.outcome in {"failed", "blocked"}:
            return {**base, "status": verdict.outcome, "message": verdict.reason, **verdict.as_event()}
        remaining = end_time - time.time()
        if remaining <= 0:
            return {
                **base,
                "status": "timeout",
                **verdict.as_event(),
                "message": f"{connector_name} did not reach {target_state} in time: {verdict.reason}",
            }
        hook.log.info("Waiting for %s to be %s: %s", connector_name, target_state, verdict.reason)
        time.sleep(min(poll_delay(poll, poll_interval), remaining))
        poll += 1


def restarted_instances(response: object, *, include_tasks: bool, only_failed: bool) -> list[str]:
    """The instances a ``POST /connectors/{name}/restart`` restarts (``"connector"``, task ids).

    With a body (202) they are the ones shown ``RESTARTING``; without one (204: both flags false)
    it is the connector instance only.
    """
    if not isinstance(response, Mapping):
        return [] if include_tasks or only_failed else ["connector"]
    out = ["connector"] if (response.get("connector") or {}).get("state") == "RESTARTING" else []
    return out + [str(t.get("id")) for t in response.get("tasks") or [] if t.get("state") == "RESTARTING"]


def failure_message(event: dict[str, Any]) -> str:
    """A readable error for a non-success wait event (failure traces included, already trimmed)."""
    lines = [
        f"Kafka Connect connector {event.get('connector')}: {event.get('message') or event.get('status')}"
    ]
    lines.append(
        f"connector state: {event.get('connector_state')}, task states: {event.get('task_states') or {}}"
    )
    for failed in event.get("failed") or []:
        who = "connector" if failed.get("id") == "connector" else f"task {failed.get('id')}"
        lines.append(f"--- {who} trace ---\n{failed.get('trace') or '(no trace)'}")
    return "\n".join(lines)


class ConnectorWaitMixin:
    """Shared deferral plumbing: defer to the trigger, or poll, and read the event back."""

    connector_name: str
    kafka_connect_conn_id: str
    poll_interval: float
    deferrable: bool
    settle_seconds: float

    def _trigger(
        self, target_state: str, end_time: float, carry: dict[str, Any] | None = None, **wait: Any
    ) -> KafkaConnectorStateTrigger:
        from airflow_provider_lakeops.triggers.kafka_connect import KafkaConnectorStateTrigger

        return KafkaConnectorStateTrigger(
            connector_name=self.connector_name,
            kafka_connect_conn_id=self.kafka_connect_conn_id,
            target_state=target_state,
            end_time=end_time,
            poll_interval=self.poll_interval,
            carry=carry,
            settle_seconds=self.settle_seconds,
            **wait,
        )
