"""The ``[lakeops]`` provider config section: which metrics backend to use and how long to wait.

Options (declared in ``get_provider_info()["config"]``; environment variables work as for any
Airflow option, e.g. ``AIRFLOW__LAKEOPS__METRICS_BACKEND=cloudwatch``):

``metrics_backend``
    ``none`` (default), ``cloudwatch``, ``datadog`` or ``statsd``.
``metrics_namespace``
    CloudWatch namespace / Datadog and StatsD metric prefix (default ``Lakeops``).
``metrics_aws_conn_id``
    AWS connection for CloudWatch (default ``aws_default``).
``metrics_datadog_conn_id``
    Datadog connection (default ``datadog_default``).
``metrics_timeout``
    Seconds a metrics flush may take before it is abandoned (default ``5``).
``notifier_timeout``
    Seconds each notifier may take before it is abandoned (default ``10``).

Reading the config never raises: a bad value logs a warning and falls back to the default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

__all__ = ["METRICS_BACKENDS", "LakeopsSettings", "get_option"]

log = logging.getLogger(__name__)

SECTION = "lakeops"
METRICS_BACKENDS = ("none", "cloudwatch", "datadog", "statsd")

DEFAULTS: dict[str, str] = {
    "metrics_backend": "none",
    "metrics_namespace": "Lakeops",
    "metrics_aws_conn_id": "aws_default",
    "metrics_datadog_conn_id": "datadog_default",
    "metrics_timeout": "5",
    "notifier_timeout": "10",
}


def _conf() -> Any:
    from airflow_provider_lakeops._compat import conf

    return conf


def get_option(key: str) -> str:
    """Return ``[lakeops] <key>`` (env var ``AIRFLOW__LAKEOPS__<KEY>`` included), or its default."""
    default = DEFAULTS[key]
    try:
        value = _conf().get(SECTION, key, fallback=default)
    except Exception:
        log.warning("lakeops: could not read [%s] %s; using %r", SECTION, key, default, exc_info=True)
        return default
    return default if value is None or str(value).strip() == "" else str(value).strip()


def _seconds(key: str) -> float:
    raw = get_option(key)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 300:
        log.warning(
            "lakeops: [%s] %s=%r is not a number of seconds in (0, 300]; using %s",
            SECTION,
            key,
            raw,
            DEFAULTS[key],
        )
        value = float(DEFAULTS[key])
    return value


@dataclass(frozen=True)
class LakeopsSettings:
    """A snapshot of the ``[lakeops]`` section, read with :meth:`load`."""

    metrics_backend: str = DEFAULTS["metrics_backend"]
    metrics_namespace: str = DEFAULTS["metrics_namespace"]
    metrics_aws_conn_id: str = DEFAULTS["metrics_aws_conn_id"]
    metrics_datadog_conn_id: str = DEFAULTS["metrics_datadog_conn_id"]
    metrics_timeout: float = float(DEFAULTS["metrics_timeout"])
    notifier_timeout: float = float(DEFAULTS["notifier_timeout"])

    @classmethod
    def load(cls) -> LakeopsSettings:
        """Read the section now (cheap: Airflow's config is in memory). Never raises."""
        backend = get_option("metrics_backend").lower()
        if backend not in METRICS_BACKENDS:
            log.warning(
                "lakeops: [%s] metrics_backend=%r is not one of %s; metrics are off",
                SECTION,
                backend,
                ", ".join(METRICS_BACKENDS),
            )
            backend = "none"
        return cls(
            metrics_backend=backend,
            metrics_namespace=get_option("metrics_namespace"),
            metrics_aws_conn_id=get_option("metrics_aws_conn_id"),
            metrics_datadog_conn_id=get_option("metrics_datadog_conn_id"),
            metrics_timeout=_seconds("metrics_timeout"),
            notifier_timeout=_seconds("notifier_timeout"),
        )
