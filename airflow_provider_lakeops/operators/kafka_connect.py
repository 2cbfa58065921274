"""Operate a Kafka Connect connector: pause, resume, restart, stop, delete, and wait for a state.

* :class:`KafkaConnectorLifecycleOperator` performs one action and (by default) waits for the
  state it leads to: ``pause`` -> ``PAUSED``, ``resume``/``restart`` -> ``RUNNING``, ``stop`` ->
  ``STOPPED`` (Connect 3.5+), ``delete`` -> gone.
* :class:`~airflow_provider_lakeops.sensors.kafka_connect.KafkaConnectorStateSensor` (re-exported
  here: the same class) waits for a connector and all its tasks to be in a state, and fails at
  once when one of them is ``FAILED``.

Both are deferrable (:class:`~airflow_provider_lakeops.triggers.kafka_connect.KafkaConnectorStateTrigger`);
the non-deferrable wait polls with
:func:`~airflow_provider_lakeops.operators._kafka_connect.wait.wait_for_state`, which produces the same
events.

.. seealso:: ``docs/operators/debezium.md``
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseOperator

from airflow_provider_lakeops._compat import conf
from airflow_provider_lakeops.exceptions import ConnectorDeploymentError
from airflow_provider_lakeops.operators._kafka_connect.wait import (
    ConnectorWaitMixin,
    failure_message,
    restarted_instances,
    wait_for_state,
)
from airflow_provider_lakeops.sensors.kafka_connect import KafkaConnectorStateSensor

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook

__all__ = [
    "ACTIONS",
    "KafkaConnectorLifecycleOperator",
    "KafkaConnectorStateSensor",
    "failure_message",
    "restarted_instances",
    "wait_for_state",
]

ACTIONS = {
    "pause": "PAUSED",
    "resume": "RUNNING",
    "restart": "RUNNING",
    "stop": "STOPPED",
    "delete": "DELETED",
}


class KafkaConnectorLifecycleOperator(ConnectorWaitMixin, BaseOperator):
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
            response = self.hook.restart_connector(
                name, include_tasks=self.include_tasks, only_failed=self.only_failed
            )
            restarted = restarted_instances(
                response, include_tasks=self.include_tasks, only_failed=self.only_failed
            )
        else:
            getattr(self.hook, f"{self.action}_connector")(name)
        self.log.info(
            "Kafka Connect: %s %s accepted%s",
            self.action,
            name,
            f" (restarting {', '.join(restarted)})" if restarted else "",
        )
        if not self.wait:
            return {"connector": name, "action": self.action, "connector_state": None, "task_states": {}}
        end_time = time.time() + self.wait_timeout
        wait: dict[str, Any] = {"restarted": restarted}
        if self.action in {"restart", "resume"}:
            from airflow_provider_lakeops.triggers.kafka_connect import RESTART_GRACE_SECONDS

            wait["restart_grace_until"] = time.time() + RESTART_GRACE_SECONDS
        if self.deferrable:
            self.defer(
                trigger=self._trigger(target, end_time, **wait),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.wait_timeout + 60),
            )
        event = wait_for_state(
            self.hook,
            name,
            target_state=target,
            end_time=end_time,
            poll_interval=self.poll_interval,
            settle_seconds=self.settle_seconds,
            **wait,
        )
        return self.execute_complete(context, event)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("status") != "success":
            raise ConnectorDeploymentError(
                failure_message(event), connector=self.connector_name, details=event
            )
        self.log.info("Connector %s is %s", self.connector_name, event.get("connector_state") or "gone")
        return {
            "connector": self.connector_name,
            "action": self.action,
            "connector_state": event.get("connector_state"),
            "task_states": event.get("task_states", {}),
        }
