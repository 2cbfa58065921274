"""Datadog: a metrics backend and an event notifier, both through the official ``DatadogHook``.

The hook reads ``api_key``, ``app_key``, ``api_host`` and ``source_type_name`` from the
connection extra (``api_host`` lets a test point it at a local receiver) and initialises the
``datadog`` client. Events go through ``DatadogHook.post_event``; metrics are batched into one
``/api/v1/series`` request with the same (hook-initialised) client, since ``send_metric`` sends one
point per request.

.. seealso:: ``docs/notifications.md``
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.notifications._bounded import call_bounded, preload
from airflow_provider_lakeops.notifications.base import SafeNotifier
from airflow_provider_lakeops.notifications.message import Event, build_message

if TYPE_CHECKING:
    from airflow.providers.datadog.hooks.datadog import DatadogHook
    from airflow.sdk import Context

    from airflow_provider_lakeops.notifications.message import CallbackMessage
    from airflow_provider_lakeops.notifications.metrics import Metric

__all__ = ["DatadogEventNotifier", "DatadogMetricsBackend", "DatadogResponseError", "datadog_hook"]

log = logging.getLogger(__name__)

_MAX_SERIES_PER_REQUEST = 500
#: imported before a bounded call starts (see ``_bounded.preload``)
DATADOG_MODULES = ("airflow.providers.datadog.hooks.datadog", "datadog.api")


class DatadogResponseError(RuntimeError):
    """Datadog answered with errors (the ``datadog`` client mutes HTTP errors into the response)."""


def datadog_hook(datadog_conn_id: str) -> DatadogHook:
    """Build the official ``DatadogHook`` and register its keys with the secret masker."""
    from airflow.providers.datadog.hooks.datadog import DatadogHook
    from airflow.sdk.log import mask_secret

    hook = DatadogHook(datadog_conn_id=datadog_conn_id)
    for secret in (hook.api_key, hook.app_key):
        if secret:
            mask_secret(secret)
    return hook


def _check(response: object, what: str) -> None:
    if not isinstance(response, dict):
        raise DatadogResponseError(f"Datadog {what}: unexpected response type {type(response).__name__}")
    errors = response.get("errors")
    if errors:
        text = "; ".join(str(e) for e in errors) if isinstance(errors, list) else str(errors)
        raise DatadogResponseError(f"Datadog {what} failed: {text[:200]}")


def metric_name(namespace: str, name: str) -> str:
    """``Lakeops`` + ``rows_processed`` -> ``lakeops.rows_processed`` (Datadog naming rules)."""
    full = f"{namespace}.{name}" if namespace else name
    cleaned = re.sub(r"[^a-z0-9_.]", "_", full.lower()).strip("._")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"m_{cleaned}"
    return cleaned[:200]


def metric_tags(metric: Metric) -> list[str]:
    """Dimensions as lower-case ``key:value`` tags."""
    return [re.sub(r"[^a-z0-9_:./-]", "_", f"{k}:{v}".lower())[:200] for k, v in metric.dimensions.items()]


class DatadogMetricsBackend:
    """Send metrics as Datadog gauges (``/api/v1/series``), batched.

    :param namespace: metric prefix (``Lakeops`` -> ``lakeops.<name>``).
    :param datadog_conn_id: Datadog connection id.
    :param timeout: kept for symmetry; the call is bounded by the caller.
    """

    name = "datadog"

    def __init__(
        self, *, namespace: str = "Lakeops", datadog_conn_id: str = "datadog_default", timeout: float = 5.0
    ):
        self.namespace = namespace
        self.datadog_conn_id = datadog_conn_id
        self.timeout = timeout

    def series(self, metrics: Sequence[Metric]) -> list[dict[str, Any]]:
        """The ``series`` payload entries for ``metrics``."""
        now = int(time.time())
        return [
            {
                "metric": metric_name(self.namespace, m.name),
                "points": [(int(m.timestamp.timestamp()) if m.timestamp else now, float(m.value))],
                "type": "gauge",
                "tags": metric_tags(m),
            }
            for m in metrics
        ]

    def prepare(self) -> None:
        """Import the Datadog provider and client now, outside the bounded call."""
        preload(*DATADOG_MODULES)

    def send(self, metrics: Sequence[Metric]) -> int:
        """Send every metric; return how many were accepted."""
        hook = datadog_hook(self.datadog_conn_id)
        from datadog import api

        entries = self.series(metrics)
        for start in range(0, len(entries), _MAX_SERIES_PER_REQUEST):
            chunk = entries[start : start + _MAX_SERIES_PER_REQUEST]
            if hook.host:
                for entry in chunk:
                    entry["host"] = hook.host
            _check(api.Metric.send(metrics=chunk), "metrics")
        log.info("lakeops: sent %d metric(s) to Datadog", len(entries))
        return len(entries)


class DatadogEventNotifier(SafeNotifier):
    """Post a Datadog event for a task or DAG-run outcome (``DatadogHook.post_event``).

    The event carries DAG, task, run id, try number, duration, log link and a trimmed, masked
    error; tags ``dag:<id>``, ``task:<id>``, ``event:<success|failure|retry>``. It never raises
    and returns within ``timeout`` seconds.

    :param datadog_conn_id: Datadog connection id (templated).
    :param event: ``"success"``, ``"failure"`` or ``"retry"``; inferred from the context when ``None``.
    :param tags: extra tags (templated).
    :param priority: ``"normal"`` or ``"low"``.
    :param include_error: ``False`` sends only the error type, not its message.
    :param timeout: seconds to wait at most (default ``[lakeops] notifier_timeout``).
    """

    template_fields: Sequence[str] = ("datadog_conn_id", "tags")

    def __init__(
        self,
        *,
        datadog_conn_id: str = "datadog_default",
        event: Event | None = None,
        tags: list[str] | None = None,
        priority: str = "normal",
        include_error: bool = True,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if event not in (None, "success", "failure", "retry"):
            raise ValueError(f"event must be 'success', 'failure', 'retry' or None, got {event!r}")
        if priority not in ("normal", "low"):
            raise ValueError(f"priority must be 'normal' or 'low', got {priority!r}")
        self.datadog_conn_id = datadog_conn_id
        self.event = event
        self.tags = list(tags or [])
        self.priority = priority
        self.include_error = include_error
        self.timeout = timeout

    def deliver(self, context: Context, message: CallbackMessage | None = None) -> None:
        """Post the event now (may raise; :meth:`notify` bounds and catches it).

        :param message: an already built message (default: built from ``context``).
        """
        message = message or build_message(context, self.event, include_error=self.include_error)
        hook = datadog_hook(self.datadog_conn_id)
        alert_type = {"success": "success", "failure": "error", "retry": "warning"}[message.event]
        response = hook.post_event(
            title=message.subject,
            text="\n".join(message.lines()),
            aggregation_key=message.dag_id,
            alert_type=alert_type,
            priority=self.priority,
            tags=[*message.tags, *self.tags],
        )
        _check(response, "event")

    def _timeout(self) -> float:
        if self.timeout is not None:
            return self.timeout
        from airflow_provider_lakeops.notifications.config import LakeopsSettings

        return LakeopsSettings.load().notifier_timeout

    def notify(self, context: Context) -> None:
        """Post the event, bounded in time; never raises."""
        preload(*DATADOG_MODULES)
        call_bounded(lambda: self.deliver(context), timeout=self._timeout(), what="Datadog event notifier")
