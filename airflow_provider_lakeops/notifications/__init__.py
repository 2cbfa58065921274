"""Callbacks and metrics: Slack, SNS, Datadog and CloudWatch in one kit.

Importing this package is cheap: names are loaded on first use (no boto3, no datadog).

- :func:`lakeops_callbacks` -> ``{"on_success_callback": [...], "on_failure_callback": [...]}``
- :class:`CloudWatchMetricsNotifier`, :class:`DatadogEventNotifier` (``BaseNotifier`` subclasses)
- :func:`emit_metric`, :func:`emit_duration`, :func:`emit_count`, :func:`emit_size`,
  :func:`emit_dq_metrics`, :func:`emit_operator_metrics`

.. seealso:: ``docs/notifications.md``
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CloudWatchMetricsBackend",
    "CloudWatchMetricsNotifier",
    "DatadogEventNotifier",
    "DatadogMetricsBackend",
    "LakeopsNotifier",
    "Metric",
    "StatsdMetricsBackend",
    "emit_count",
    "emit_dq_metrics",
    "emit_duration",
    "emit_metric",
    "emit_metrics",
    "emit_operator_metrics",
    "emit_size",
    "lakeops_callbacks",
]

_LAZY: dict[str, str] = {
    "Metric": "metrics",
    "emit_count": "metrics",
    "emit_dq_metrics": "metrics",
    "emit_duration": "metrics",
    "emit_metric": "metrics",
    "emit_metrics": "metrics",
    "emit_operator_metrics": "metrics",
    "emit_size": "metrics",
    "CloudWatchMetricsBackend": "cloudwatch",
    "CloudWatchMetricsNotifier": "cloudwatch",
    "DatadogEventNotifier": "datadog",
    "DatadogMetricsBackend": "datadog",
    "StatsdMetricsBackend": "statsd",
    "lakeops_callbacks": "callbacks",
    "LakeopsNotifier": "callbacks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
