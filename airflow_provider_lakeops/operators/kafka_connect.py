"""Operate a Kafka Connect connector: pause, resume, restart, stop, delete, and wait for a state.

* :class:`KafkaConnectorLifecycleOperator` performs one action and (by default) waits for the
  state it leads to: ``pause`` -> ``PAUSED``, ``resume``/``restart`` -> ``RUNNING``, ``stop`` ->
  ``STOPPED`` (Connect 3.5+), ``delete`` -> gone.
* :class:`KafkaConnectorStateSensor` waits for a connector and all its tasks to be in a state,
  and fails at once when one of them is ``FAILED``.

Both are deferrable (:class:`~airflow_provider_lakeops.triggers.kafka_connect.KafkaConnectorStateTrigger`);
the non-deferrable wait polls with :func:`wait_for_state`, which produces the same events.

.. seealso:: ``docs/operators/debezium.md``
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseOperator, BaseSensorOperator

from airflow_provider_lakeops.exceptions import ConnectorDeploymentError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow < 3.1 keeps the config in airflow.configuration
    from airflow.configuration import conf  # type: ignore[no-redef]

__all__ = ["KafkaConnectorLifecycleOperator", "KafkaConnectorStateSensor", "wait_for_state"]

ACTIONS = {"pause": "PAUSED", "resume": "RUNNING", "restart": "RUNNING", "stop": "STOPPED", "delete": "DELETED"}


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
    wait = ConnectorWait(connector_name, target_state, settle_seconds=settle_seconds, expected_config=expected_config,
                         restarted=restarted, restart_grace_until=restart_grace_until, trace_max_chars=trace_max_chars)
    poll = 0
    while True:
        try:
            verdict = wait.observe(hook)
        except KafkaConnectApiError as exc:
            return {**base, "status": "error", "message": str(exc), "connector_state": None, "task_states": {}}
        if verdict.outcome == "done":
            return {**base, "status": "success", **verdict.as_event()}
        if verdict.outcome in {"failed", "blocked"}:
            return {**base, "status": verdict.outcome, "message": verdict.reason, **verdict.as_event()}
        remaining = end_time - time.time()
        if remaining <= 0:
            return {**base, "status": "timeout", **verdict.as_event(),
                    "message": f"{connector_name} did not reach {target_state} in time: {verdict.reason}"}
        hook.log.info("Waiting for %s to be %s: %s", connector_name, target_state, verdict.reason)
        time.sleep(min(poll_delay(poll, poll_interval), remaining))
        poll += 1


def restarted_instances(response: Any, *, include_tasks: bool, only_failed: bool) -> list[str]:
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
    lines = [f"Kafka Connect connector {event.get('connector')}: {event.get('message') or event.get('status')}"]
    lines.append(f"connector state: {event.get('connector_state')}, task states: {event.get('task_states') or {}}")
    for failed in event.get("failed") or []:
        who = "connector" if failed.get("id") == "connector" else f"task {failed.get('id')}"
        lines.append(f"--- {who} trace ---\n{failed.get('trace') or '(no trace)'}")
    return "\n".join(lines)


class _ConnectorWaitMixin:
    """Shared deferral plumbing: defer to the trigger, or poll, and read the event back."""

    connector_name: str
    kafka_connect_conn_id: str
    poll_interval: float
    deferrable: bool
    settle_seconds: float

    def _trigger(self, target_state: str, end_time: float, carry: dict[str, Any] | None = None,
                 **wait: Any) -> Any:
        from airflow_provider_lakeops.triggers.kafka_connect import KafkaConnectorStateTrigger

        return KafkaConnectorStateTrigger(
            connector_name=self.connector_name, kafka_connect_conn_id=self.kafka_connect_conn_id,
            target_state=target_state, end_time=end_time, poll_interval=self.poll_interval, carry=carry,
            settle_seconds=self.settle_seconds, **wait,
        )


class KafkaConnectorLifecycleOperator(_ConnectorWaitMixin, BaseOperator):
    """Pause, resume, restart, stop or delete a connector, then wait for the state that follows.

    :param connector_name: the connector. (templated)
    :param action: ``pause``, ``resume``, ``restart``, ``stop`` or ``delete``.
    :param kafka_connect_conn_id: the ``kafka_connect`` connection.
    :param include_tasks: ``restart`` only: restart the tasks too (Connect's ``includeTasks``).
    :param only_failed: ``restart`` only: restart only FAILED instances (Connect's ``onlyFailed``).
    :param missing_ok: ``delete`` only: succeed when the connector does not exist.
    :param wait: wait for the resulting state (``PAUSED``, ``RUNNING``, ``STOPPED``, gone).
    :param wait_timeout: seconds to wait before failing.
    :param poll_interval: seconds between status polls.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param settle_seconds: ``resume``/``restart``: every task must stay RUNNING this long (a task
        can start and fail a second later).

    Right after a request the real worker's status can still show the state from before it
    (measured on Kafka Connect 4.3: FAILED 0.04 s after a restart, RUNNING 0.5 s later), so for
    :data:`~airflow_provider_lakeops.triggers.kafka_connect.RESTART_GRACE_SECONDS` a FAILED
    restarted instance, or a PAUSED/STOPPED connector after ``resume``, does not end the wait.

    Returns (XCom) ``{connector, action, connector_state, task_states}``.
    """

    template_fields: Sequence[str] = ("connector_name",)
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        connector_name: str,
        action: Literal["pause", "resume", "restart", "stop", "delete"],
        kafka_connect_conn_id: str = "kafka_connect_default",
        include_tasks: bool = True,
        only_failed: bool = False,
        missing_ok: bool = False,
        wait: bool = True,
        wait_timeout: float = 300.0,
        poll_interval: float = 5.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        settle_seconds: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if action not in ACTIONS:
            raise ValueError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
        if wait_timeout <= 0 or poll_interval <= 0:
            raise ValueError("wait_timeout and poll_interval must be positive numbers of seconds")
        if settle_seconds < 0:
            raise ValueError("settle_seconds must be 0 or a positive number of seconds")
        self.connector_name = connector_name
        self.action = action
        self.kafka_connect_conn_id = kafka_connect_conn_id
        self.include_tasks = include_tasks
        self.only_failed = only_failed
        self.missing_ok = missing_ok
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.deferrable = deferrable
        self.settle_seconds = settle_seconds

    @cached_property
    def hook(self) -> KafkaConnectHook:
        from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook

        return KafkaConnectHook(self.kafka_connect_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        if not self.connector_name or not str(self.connector_name).strip():
            raise ValueError("connector_name rendered to an empty string")
        name = self.connector_name
        target = ACTIONS[self.action]
        restarted: list[str] = []
        if self.action == "delete":
            if not self.hook.delete_connector(name, missing_ok=self.missing_ok):
                self.log.info("Connector %s does not exist; nothing to delete", name)
                return {"connector": name, "action": "delete", "connector_state": None, "task_states": {}}
        elif self.action == "restart":
            response = self.hook.restart_connector(name, include_tasks=self.include_tasks, only_failed=self.only_failed)
            restarted = restarted_instances(response, include_tasks=self.include_tasks, only_failed=self.only_failed)
        else:
            getattr(self.hook, f"{self.action}_connector")(name)
        self.log.info("Kafka Connect: %s %s accepted%s", self.action, name,
                      f" (restarting {', '.join(restarted)})" if restarted else "")
        if not self.wait:
            return {"connector": name, "action": self.action, "connector_state": None, "task_states": {}}
        end_time = time.time() + self.wait_timeout
        wait: dict[str, Any] = {"restarted": restarted}
        if self.action in {"restart", "resume"}:
            from airflow_provider_lakeops.triggers.kafka_connect import RESTART_GRACE_SECONDS

            wait["restart_grace_until"] = time.time() + RESTART_GRACE_SECONDS
        if self.deferrable:
            self.defer(trigger=self._trigger(target, end_time, **wait), method_name="execute_complete",
                       timeout=timedelta(seconds=self.wait_timeout + 60))
        event = wait_for_state(self.hook, name, target_state=target, end_time=end_time,
                               poll_interval=self.poll_interval, settle_seconds=self.settle_seconds, **wait)
        return self.execute_complete(context, event)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("status") != "success":
            raise ConnectorDeploymentError(failure_message(event), connector=self.connector_name, details=event)
        self.log.info("Connector %s is %s", self.connector_name, event.get("connector_state") or "gone")
        return {"connector": self.connector_name, "action": self.action,
                "connector_state": event.get("connector_state"), "task_states": event.get("task_states", {})}


class KafkaConnectorStateSensor(_ConnectorWaitMixin, BaseSensorOperator):
    """Wait until a connector and every task are in ``target_state``; fail at once on ``FAILED``.

    :param connector_name: the connector. (templated)
    :param target_state: ``RUNNING`` (default), ``PAUSED``, ``STOPPED`` or ``DELETED``.
    :param kafka_connect_conn_id: the ``kafka_connect`` connection.
    :param deferrable: wait in the triggerer (polls every ``poke_interval`` seconds, up to ``timeout``).
    :param settle_seconds: ``RUNNING`` only: every task must have stayed RUNNING this long (in
        ``mode="reschedule"`` each poke starts over, so the settle period needs ``poke`` mode or
        ``deferrable``).

    Connect unreachable (connection refused, timeout, 409, 5xx) is a "not yet", not a failure.
    """

    template_fields: Sequence[str] = ("connector_name",)

    def __init__(
        self,
        *,
        connector_name: str,
        target_state: str = "RUNNING",
        kafka_connect_conn_id: str = "kafka_connect_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        settle_seconds: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if target_state not in ACTIONS.values():
            raise ValueError(f"target_state {target_state!r} is not one of RUNNING, PAUSED, STOPPED, DELETED")
        if settle_seconds < 0:
            raise ValueError("settle_seconds must be 0 or a positive number of seconds")
        self.connector_name = connector_name
        self.target_state = target_state
        self.kafka_connect_conn_id = kafka_connect_conn_id
        self.deferrable = deferrable
        self.settle_seconds = settle_seconds

    @property
    def poll_interval(self) -> float:  # type: ignore[override]
        return float(self.poke_interval)

    def execute(self, context: Context) -> Any:
        if self.deferrable:
            end_time = time.time() + float(self.timeout or 7 * 24 * 3600)
            self.defer(trigger=self._trigger(self.target_state, end_time), method_name="execute_complete")
        return super().execute(context)

    @cached_property
    def _wait(self) -> Any:
        from airflow_provider_lakeops.triggers.kafka_connect import ConnectorWait

        return ConnectorWait(self.connector_name, self.target_state, settle_seconds=self.settle_seconds)

    def poke(self, context: Context) -> bool:
        from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook

        verdict = self._wait.observe(KafkaConnectHook(self.kafka_connect_conn_id))
        if verdict.outcome in {"failed", "blocked"}:
            event = {"connector": self.connector_name, "status": verdict.outcome, "message": verdict.reason,
                     **verdict.as_event()}
            raise ConnectorDeploymentError(failure_message(event), connector=self.connector_name, details=event)
        self.log.info("Connector %s: %s", self.connector_name, verdict.reason or verdict.outcome)
        return verdict.outcome == "done"

    def execute_complete(self, context: Context, event: dict[str, Any]) -> None:
        if event.get("status") != "success":
            raise ConnectorDeploymentError(failure_message(event), connector=self.connector_name, details=event)
        self.log.info("Connector %s reached %s", self.connector_name, self.target_state)
