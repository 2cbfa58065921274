"""Wait for a Kafka Connect connector and all its tasks to be in a state.

:class:`KafkaConnectorStateSensor` fails at once when the connector or a task is ``FAILED``. It is
deferrable (:class:`~airflow_provider_lakeops.triggers.kafka_connect.KafkaConnectorStateTrigger`);
the worker-side poke makes the same decision
(:class:`~airflow_provider_lakeops.triggers.kafka_connect.ConnectorWait`).
:mod:`airflow_provider_lakeops.operators.kafka_connect` re-exports it (the same class).

.. seealso:: ``docs/operators/debezium.md``
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

from airflow_provider_lakeops._compat import conf
from airflow_provider_lakeops.exceptions import ConnectorDeploymentError
from airflow_provider_lakeops.operators._kafka_connect.wait import STATES, ConnectorWaitMixin, failure_message

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_lakeops.triggers.kafka_connect import ConnectorWait

__all__ = ["KafkaConnectorStateSensor"]


class KafkaConnectorStateSensor(ConnectorWaitMixin, BaseSensorOperator):
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
        if target_state not in STATES:
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
    def _wait(self) -> ConnectorWait:
        from airflow_provider_lakeops.triggers.kafka_connect import ConnectorWait

        return ConnectorWait(self.connector_name, self.target_state, settle_seconds=self.settle_seconds)

    def poke(self, context: Context) -> bool:
        from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook

        verdict = self._wait.observe(KafkaConnectHook(self.kafka_connect_conn_id))
        if verdict.outcome in {"failed", "blocked"}:
            event = {
                "connector": self.connector_name,
                "status": verdict.outcome,
                "message": verdict.reason,
                **verdict.as_event(),
            }
            raise ConnectorDeploymentError(
                failure_message(event), connector=self.connector_name, details=event
            )
        self.log.info("Connector %s: %s", self.connector_name, verdict.reason or verdict.outcome)
        return verdict.outcome == "done"

    def execute_complete(self, context: Context, event: dict[str, Any]) -> None:
        if event.get("status") != "success":
            raise ConnectorDeploymentError(
                failure_message(event), connector=self.connector_name, details=event
            )
        self.log.info("Connector %s reached %s", self.connector_name, self.target_state)
