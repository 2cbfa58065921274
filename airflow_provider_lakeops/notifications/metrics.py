"""Metrics emitters: durations, counts, sizes and data-quality results, to a pluggable backend.

Backends: ``cloudwatch``
(:class:`~airflow_provider_lakeops.notifications.cloudwatch.CloudWatchMetricsBackend`,
through the amazon provider's ``AwsBaseHook``), ``datadog``
(:class:`~airflow_provider_lakeops.notifications.datadog.DatadogMetricsBackend`, through the
official ``DatadogHook``) and ``statsd``
(:class:`~airflow_provider_lakeops.notifications.statsd.StatsdMetricsBackend`,
Airflow's own StatsD / OpenTelemetry metrics). The backend is chosen per call (``backend=``,
a name or any object with a ``send(metrics)`` method) or by ``[lakeops] metrics_backend``,
which is ``none`` by default: then every emitter is a cheap no-op.

Every emitter is bounded in time (``[lakeops] metrics_timeout``) and never lets a backend
failure escape: a down, slow or failing endpoint logs a warning and the caller carries on.
Argument errors in code (an empty metric name, an unknown unit or backend name) raise
``ValueError``; :func:`emit_operator_metrics`, which operators call, never raises at all.

.. seealso:: ``docs/notifications.md``
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from airflow_provider_lakeops.notifications._bounded import call_bounded, describe_error
from airflow_provider_lakeops.notifications.config import METRICS_BACKENDS, LakeopsSettings, get_option

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "UNITS",
    "Metric",
    "MetricsBackend",
    "emit_count",
    "emit_dq_metrics",
    "emit_duration",
    "emit_metric",
    "emit_metrics",
    "emit_operator_metrics",
    "emit_size",
    "get_metrics_backend",
    "unit_for",
]

log = logging.getLogger(__name__)

#: The units every backend understands (CloudWatch's names; Datadog/StatsD ignore them).
UNITS = frozenset(
    {"None", "Count", "Seconds", "Milliseconds", "Microseconds", "Bytes", "Kilobytes", "Megabytes", "Percent"}
)
# CloudWatch rejects values outside this magnitude range (other than 0); we drop them with a warning.
_MIN_MAGNITUDE = 8.515920e-109
_MAX_MAGNITUDE = 1.174271e108
_MAX_NAME = 255


@dataclass(frozen=True)
class Metric:
    """One data point.

    :param name: metric name, e.g. ``rows_processed`` (1-255 characters).
    :param value: a finite number.
    :param unit: one of :data:`UNITS` (default ``"None"``).
    :param dimensions: name -> value pairs, e.g. ``{"DAG": "daily", "Task": "merge"}``.
    :param timestamp: when the value was observed (default: when it is sent).
    """

    name: str
    value: float
    unit: str = "None"
    dimensions: Mapping[str, str] = field(default_factory=dict)
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > _MAX_NAME:
            raise ValueError(
                f"Metric name must be a non-empty string of at most {_MAX_NAME} characters, got {self.name!r}"
            )
        if self.unit not in UNITS:
            raise ValueError(f"Metric unit {self.unit!r} is not one of {sorted(UNITS)}")
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise ValueError(f"Metric {self.name!r} value must be a number, got {type(self.value).__name__}")

    @property
    def sendable(self) -> bool:
        """``False`` for NaN, infinities and magnitudes CloudWatch rejects."""
        value = float(self.value)
        return math.isfinite(value) and (value == 0 or _MIN_MAGNITUDE <= abs(value) <= _MAX_MAGNITUDE)


@runtime_checkable
class MetricsBackend(Protocol):
    """What a backend implements. ``send`` may raise; callers bound and catch it."""

    name: str

    def send(self, metrics: Sequence[Metric]) -> int:
        """Deliver ``metrics``; return how many were accepted."""
        ...


def _prepare(backend: MetricsBackend) -> None:
    """Let a backend import its SDK before the bounded send (see ``_bounded.preload``)."""
    prepare = getattr(backend, "prepare", None)
    if callable(prepare):
        prepare()


BackendArg = str | MetricsBackend | None


def get_metrics_backend(backend: BackendArg = None, *, namespace: str | None = None) -> MetricsBackend | None:
    """Resolve ``backend`` (a name, an instance, or ``None`` for ``[lakeops] metrics_backend``).

    Building a backend does no I/O: connections are read when metrics are sent.

    :return: the backend, or ``None`` when metrics are off (``"none"``).
    :raises ValueError: for an unknown backend name passed in code.
    """
    if backend is not None and not isinstance(backend, str):
        return backend
    settings = LakeopsSettings.load()
    name = settings.metrics_backend if backend is None else backend.strip().lower()
    if name not in METRICS_BACKENDS:
        raise ValueError(f"backend={backend!r} is not one of {', '.join(METRICS_BACKENDS)}")
    ns = namespace or settings.metrics_namespace
    if name == "cloudwatch":
        from airflow_provider_lakeops.notifications.cloudwatch import CloudWatchMetricsBackend

        return CloudWatchMetricsBackend(
            namespace=ns, aws_conn_id=settings.metrics_aws_conn_id, timeout=settings.metrics_timeout
        )
    if name == "datadog":
        from airflow_provider_lakeops.notifications.datadog import DatadogMetricsBackend

        return DatadogMetricsBackend(
            namespace=ns, datadog_conn_id=settings.metrics_datadog_conn_id, timeout=settings.metrics_timeout
        )
    if name == "statsd":
        from airflow_provider_lakeops.notifications.statsd import StatsdMetricsBackend

        return StatsdMetricsBackend(namespace=ns)
    return None


def emit_metrics(
    metrics: Sequence[Metric],
    *,
    backend: BackendArg = None,
    namespace: str | None = None,
    timeout: float | None = None,
) -> bool:
    """Send ``metrics`` through one backend, bounded in time.

    :param metrics: the data points.
    :param backend: ``"cloudwatch"``, ``"datadog"``, ``"statsd"``, ``"none"``, a backend object, or
        ``None`` for ``[lakeops] metrics_backend``.
    :param namespace: CloudWatch namespace / metric prefix (default ``[lakeops] metrics_namespace``).
    :param timeout: seconds to wait (default ``[lakeops] metrics_timeout``).
    :return: ``True`` if the backend accepted the metrics in time; ``False`` when metrics are off,
        nothing was sendable, or the backend failed or timed out (a warning is logged).
    """
    resolved = get_metrics_backend(backend, namespace=namespace)
    if resolved is None:
        return False
    sendable = [m for m in metrics if m.sendable]
    dropped = len(metrics) - len(sendable)
    if dropped:
        log.warning("lakeops: dropped %d metric(s) with non-finite or out-of-range values", dropped)
    if not sendable:
        return False
    if timeout is None:
        timeout = LakeopsSettings.load().metrics_timeout
    _prepare(resolved)
    return call_bounded(
        lambda: resolved.send(sendable), timeout=timeout, what=f"{resolved.name} metrics ({len(sendable)})"
    )


def emit_metric(
    name: str,
    value: float,
    *,
    unit: str = "None",
    dimensions: Mapping[str, str] | None = None,
    backend: BackendArg = None,
    namespace: str | None = None,
    timeout: float | None = None,
) -> bool:
    """Send one value. See :func:`emit_metrics` for ``backend``, ``namespace``, ``timeout``."""
    metric = Metric(name, value, unit, dict(dimensions or {}))
    return emit_metrics([metric], backend=backend, namespace=namespace, timeout=timeout)


def emit_duration(
    name: str, seconds: float | timedelta, *, dimensions: Mapping[str, str] | None = None, **kwargs: Any
) -> bool:
    """Send a duration in seconds (a ``timedelta`` is converted)."""
    value = seconds.total_seconds() if isinstance(seconds, timedelta) else seconds
    return emit_metric(name, value, unit="Seconds", dimensions=dimensions, **kwargs)


def emit_count(
    name: str, count: float, *, dimensions: Mapping[str, str] | None = None, **kwargs: Any
) -> bool:
    """Send a count (rows, files, records)."""
    return emit_metric(name, count, unit="Count", dimensions=dimensions, **kwargs)


def emit_size(
    name: str, size_bytes: float, *, dimensions: Mapping[str, str] | None = None, **kwargs: Any
) -> bool:
    """Send a size in bytes."""
    return emit_metric(name, size_bytes, unit="Bytes", dimensions=dimensions, **kwargs)


def dq_metrics(
    statistics: Mapping[str, Any],
    *,
    suite: str,
    success: bool | None = None,
    dimensions: Mapping[str, str] | None = None,
) -> list[Metric]:
    """Build the data-quality metrics for one validation.

    :param statistics: Great Expectations 1.x ``result.statistics`` (keys ``evaluated_expectations``,
        ``successful_expectations``, ``unsuccessful_expectations``, ``success_percent``) or the same
        keys from any checker. Only counts are read, never values.
    :param suite: suite name, sent as the ``Suite`` dimension.
    :param success: overall outcome (default: no unsuccessful expectations).
    """
    if not suite:
        raise ValueError("suite must name the expectation suite, e.g. suite='customer_events'")
    dims = {**(dimensions or {}), "Suite": suite}
    evaluated = float(statistics.get("evaluated_expectations", 0) or 0)
    passed = float(statistics.get("successful_expectations", 0) or 0)
    failed = float(statistics.get("unsuccessful_expectations", max(evaluated - passed, 0)) or 0)
    percent = statistics.get("success_percent")
    if percent is None:
        percent = 100.0 * passed / evaluated if evaluated else 100.0
    ok = (failed == 0) if success is None else bool(success)
    return [
        Metric("dq_expectations_evaluated", evaluated, "Count", dims),
        Metric("dq_expectations_passed", passed, "Count", dims),
        Metric("dq_expectations_failed", failed, "Count", dims),
        Metric("dq_success_percent", float(percent), "Percent", dims),
        Metric("dq_validation_success", 1.0 if ok else 0.0, "Count", dims),
    ]


def emit_dq_metrics(
    statistics: Mapping[str, Any],
    *,
    suite: str,
    success: bool | None = None,
    dimensions: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> bool:
    """Send expectations evaluated / passed / failed, success percent and success (0/1).

    See :func:`dq_metrics` for the arguments and :func:`emit_metrics` for ``backend`` and friends.
    """
    metrics = dq_metrics(statistics, suite=suite, success=success, dimensions=dimensions)
    return emit_metrics(metrics, **kwargs)


def unit_for(name: str) -> str:
    """Infer a unit from a metric name: ``*_seconds``/``*duration*`` -> Seconds, ``*_bytes`` -> Bytes,
    ``*_percent``/``*_pct`` -> Percent, ``*_ms`` -> Milliseconds, anything else -> Count."""
    lowered = name.lower()
    if lowered.endswith(("_seconds", "_secs", "_s")) or "duration" in lowered:
        return "Seconds"
    if lowered.endswith("_ms"):
        return "Milliseconds"
    if lowered.endswith(("_bytes", "_size")):
        return "Bytes"
    if lowered.endswith(("_percent", "_pct", "_ratio_percent")):
        return "Percent"
    return "Count"


def task_dimensions(context: Context | Mapping[str, Any] | None, operator: object = None) -> dict[str, str]:
    """``{"DAG": dag_id, "Task": task_id}`` from a task context (or the operator), omitting unknowns."""
    dims: dict[str, str] = {}
    ctx: Mapping[str, Any] = context or {}
    ti = ctx.get("ti") or ctx.get("task_instance")
    dag = ctx.get("dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None) or getattr(operator, "dag_id", None)
    task_id = getattr(ti, "task_id", None) or getattr(operator, "task_id", None)
    if dag_id:
        dims["DAG"] = str(dag_id)
    if task_id:
        dims["Task"] = str(task_id)
    return dims


def emit_operator_metrics(
    operator: object,
    context: Context | Mapping[str, Any] | None,
    metrics: Mapping[str, float],
    *,
    dimensions: Mapping[str, str] | None = None,
) -> None:
    """Emit an operator's natural metrics (rows processed, rows merged, duration...) if a backend is set.

    Call it at the end of ``execute()``, e.g.
    ``emit_operator_metrics(self, context, {"rows_merged": 1200, "duration_seconds": 3.4})``.
    Units come from the names (:func:`unit_for`); dimensions are ``DAG`` and ``Task`` plus any
    ``dimensions`` given (e.g. ``{"Suite": "customer_events"}``). With
    ``[lakeops] metrics_backend = none`` (the default) this returns at once. It never raises and
    waits at most ``[lakeops] metrics_timeout`` seconds.
    """
    try:
        if not metrics or get_option("metrics_backend").lower() == "none":
            return  # the default: one config lookup, nothing else
        settings = LakeopsSettings.load()
        if settings.metrics_backend == "none":
            return
        started = time.monotonic()
        dims = {
            **task_dimensions(context, operator),
            **{str(k): str(v) for k, v in (dimensions or {}).items()},
        }
        points: list[Metric] = []
        for name, value in metrics.items():
            try:
                points.append(Metric(str(name), float(value), unit_for(str(name)), dims))
            except (TypeError, ValueError) as exc:
                log.warning("lakeops: metric %r skipped: %s", name, describe_error(exc))
        if points:
            emit_metrics(points, backend=settings.metrics_backend, timeout=settings.metrics_timeout)
        log.debug("lakeops: operator metrics took %.3f s", time.monotonic() - started)
    except Exception as exc:  # an operator's outcome must never depend on its metrics
        log.warning("lakeops: operator metrics were not emitted: %s", describe_error(exc))
