"""Airflow's own metrics (StatsD, DogStatsD or OpenTelemetry, per the ``[metrics]`` section).

Sends through ``airflow.sdk.observability.stats``, so the metrics go wherever Airflow's own
metrics go; with ``[metrics] statsd_on``/``otel_on`` off they are dropped by Airflow's no-op logger.

.. seealso:: ``docs/notifications.md``
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_lakeops.notifications.metrics import Metric

__all__ = ["StatsdMetricsBackend", "stat_name"]

log = logging.getLogger(__name__)


def stat_name(namespace: str, name: str) -> str:
    """``Lakeops`` + ``rows_processed`` -> ``lakeops.rows_processed`` (StatsD-safe characters)."""
    full = f"{namespace}.{name}" if namespace else name
    return re.sub(r"[^A-Za-z0-9_.-]", "_", full.lower())[:250]


def _ensure_initialized() -> None:
    """Initialise Airflow's stats from ``[metrics]`` if nothing in this process has done so yet."""
    from airflow.sdk._shared.observability.metrics import stats as shared_stats

    if getattr(shared_stats, "_factory", None) is None:
        from airflow.sdk.configuration import conf
        from airflow.sdk.observability.metrics import stats_utils

        shared_stats.initialize(
            factory=stats_utils.get_stats_factory(),
            export_legacy_names=conf.getboolean("metrics", "legacy_names_on", fallback=True),
        )


class StatsdMetricsBackend:
    """Durations as timers, whole counts as counters, everything else as gauges; dimensions as tags.

    :param namespace: metric prefix (``Lakeops`` -> ``lakeops.<name>``; Airflow adds its own
        ``[metrics] statsd_prefix`` in front).
    """

    name = "statsd"

    def __init__(self, *, namespace: str = "Lakeops") -> None:
        self.namespace = namespace

    def prepare(self) -> None:
        """Import Airflow's stats module now, outside the bounded call."""
        from airflow_provider_lakeops.notifications._bounded import preload

        preload("airflow.sdk.observability.stats")

    def send(self, metrics: Sequence[Metric]) -> int:
        """Send every metric; return how many were handed to Airflow's stats logger."""
        from airflow.sdk.observability import stats

        _ensure_initialized()
        for m in metrics:
            name = stat_name(self.namespace, m.name)
            tags = {k.lower(): v for k, v in m.dimensions.items()}
            value = float(m.value)
            if m.unit in ("Seconds", "Milliseconds", "Microseconds"):
                scale = {"Seconds": 1.0, "Milliseconds": 1e-3, "Microseconds": 1e-6}[m.unit]
                stats.timing(name, timedelta(seconds=value * scale), tags=tags)
            elif m.unit == "Count" and value >= 0 and value.is_integer():
                stats.incr(name, count=int(value), tags=tags)
            else:
                stats.gauge(name, value, tags=tags)
        return len(metrics)
