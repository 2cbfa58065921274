"""CloudWatch metrics: a batching ``PutMetricData`` backend and a metrics notifier.

Airflow has no CloudWatch metrics integration of its own; this builds on the amazon provider's
``AwsBaseHook(client_type="cloudwatch")``, so credentials, region and ``endpoint_url`` come from
the AWS connection (``aws_default`` by default; the local stack points it at moto).

``PutMetricData`` limits (AWS API reference): at most 1,000 metrics per call, a request body
of at most 1 MB, at most 30 dimensions per metric, dimension names up to 255 and values up to
1,024 characters. :meth:`CloudWatchMetricsBackend.batches` splits any number of metrics into
calls that respect all of them.

.. seealso:: ``docs/notifications.md``
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_provider_lakeops.notifications._bounded import call_bounded, preload
from airflow_provider_lakeops.notifications.base import SafeNotifier
from airflow_provider_lakeops.notifications.message import Event, build_message
from airflow_provider_lakeops.notifications.metrics import Metric

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_lakeops.notifications.message import CallbackMessage

__all__ = ["CloudWatchMetricsBackend", "CloudWatchMetricsNotifier", "callback_metrics"]

log = logging.getLogger(__name__)

MAX_METRICS_PER_CALL = 1000
MAX_REQUEST_BYTES = 1_000_000
MAX_DIMENSIONS = 30
MAX_DIMENSION_NAME = 255
MAX_DIMENSION_VALUE = 1024
# room for Action/Version/Namespace and protocol framing in each request
_REQUEST_OVERHEAD = 2_000
_AWS_HOOK_MODULE = "airflow.providers.amazon.aws.hooks.base_aws"


def validate_namespace(namespace: str) -> None:
    if not namespace or len(namespace) > 255 or namespace.startswith("AWS/") or namespace.startswith(":"):
        raise ValueError(
            f"namespace={namespace!r} is not a valid CloudWatch namespace: use 1-255 characters, "
            "not starting with 'AWS/' or ':', e.g. 'Lakeops'"
        )


def _dimensions(dimensions: Mapping[str, str]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for name, value in dimensions.items():
        if not name or value is None or str(value) == "":
            continue  # CloudWatch rejects empty names and values
        out.append({"Name": str(name)[:MAX_DIMENSION_NAME], "Value": str(value)[:MAX_DIMENSION_VALUE]})
        if len(out) == MAX_DIMENSIONS:
            if len(dimensions) > MAX_DIMENSIONS:
                log.warning(
                    "lakeops: CloudWatch allows %d dimensions per metric; extra ones dropped", MAX_DIMENSIONS
                )
            break
    return out


def _encoded_size(datum: dict[str, Any], index: int) -> int:
    """An upper bound of the datum's size on the wire.

    Computed for the AWS query protocol (``MetricData.member.N.Key=value&...``), the most
    verbose of the protocols botocore may use for CloudWatch (query, JSON, CBOR).
    """
    prefix = f"MetricData.member.{index}."
    size = 0
    for key in ("MetricName", "Unit", "StorageResolution"):
        if key in datum:
            size += len(prefix) + len(key) + len(quote(str(datum[key]), safe="")) + 2
    size += len(prefix) + len("Value") + 32 + 2
    size += len(prefix) + len("Timestamp") + 40 + 2
    for j, dim in enumerate(datum.get("Dimensions", []), start=1):
        for key in ("Name", "Value"):
            size += len(prefix) + len(f"Dimensions.member.{j}.{key}") + len(quote(dim[key], safe="")) + 2
    return size


class CloudWatchMetricsBackend:
    """Send :class:`~airflow_provider_lakeops.notifications.metrics.Metric` s with ``PutMetricData``.

    Built on ``AwsBaseHook(client_type="cloudwatch")``; the client gets short connect/read
    timeouts and at most two attempts so a slow endpoint cannot hold a task.

    :param namespace: CloudWatch namespace, e.g. ``Lakeops``.
    :param aws_conn_id: AWS connection id.
    :param region_name: overrides the connection's region.
    :param timeout: seconds for the client's connect and read timeouts.
    :param storage_resolution: ``60`` (standard) or ``1`` (high resolution).
    :param max_metrics_per_call: metrics per ``PutMetricData`` call (AWS limit 1,000).
    :param max_request_bytes: request size budget per call (AWS limit 1 MB).
    """

    name = "cloudwatch"

    def __init__(
        self,
        *,
        namespace: str = "Lakeops",
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        timeout: float = 5.0,
        storage_resolution: int = 60,
        max_metrics_per_call: int = MAX_METRICS_PER_CALL,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        validate_namespace(namespace)
        if storage_resolution not in (1, 60):
            raise ValueError(f"storage_resolution must be 1 or 60, got {storage_resolution!r}")
        if not 1 <= max_metrics_per_call <= MAX_METRICS_PER_CALL:
            raise ValueError(
                f"max_metrics_per_call must be in 1..{MAX_METRICS_PER_CALL}, got {max_metrics_per_call}"
            )
        if not _REQUEST_OVERHEAD < max_request_bytes <= MAX_REQUEST_BYTES:
            raise ValueError(
                "max_request_bytes must be in "
                f"{_REQUEST_OVERHEAD + 1}..{MAX_REQUEST_BYTES}, got {max_request_bytes}"
            )
        self.namespace = namespace
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.timeout = timeout
        self.storage_resolution = storage_resolution
        self.max_metrics_per_call = max_metrics_per_call
        self.max_request_bytes = max_request_bytes
        #: sizes of the ``PutMetricData`` calls made by the last :meth:`send`
        self.last_batch_sizes: list[int] = []

    def to_datum(self, metric: Metric, default_timestamp: datetime) -> dict[str, Any]:
        """The ``MetricData`` entry for one metric."""
        datum: dict[str, Any] = {
            "MetricName": metric.name,
            "Value": float(metric.value),
            "Unit": metric.unit,
            "Timestamp": metric.timestamp or default_timestamp,
            "StorageResolution": self.storage_resolution,
        }
        dims = _dimensions(metric.dimensions)
        if dims:
            datum["Dimensions"] = dims
        return datum

    def batches(self, metrics: Sequence[Metric]) -> Iterator[list[dict[str, Any]]]:
        """Split ``metrics`` into ``MetricData`` lists within the count and size limits."""
        now = datetime.now(timezone.utc)
        batch: list[dict[str, Any]] = []
        size = _REQUEST_OVERHEAD
        for metric in metrics:
            datum = self.to_datum(metric, now)
            datum_size = _encoded_size(datum, len(batch) + 1)
            if batch and (
                len(batch) >= self.max_metrics_per_call or size + datum_size > self.max_request_bytes
            ):
                yield batch
                batch, size = [], _REQUEST_OVERHEAD
                datum_size = _encoded_size(datum, 1)
            batch.append(datum)
            size += datum_size
        if batch:
            yield batch

    def prepare(self) -> None:
        """Import the amazon provider's hook (and boto3) now, outside the bounded call."""
        preload(_AWS_HOOK_MODULE)

    def get_client(self) -> Any:
        """A boto3 CloudWatch client from ``AwsBaseHook`` with short timeouts."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        connect = min(self.timeout, 5.0)
        hook = AwsBaseHook(
            aws_conn_id=self.aws_conn_id,
            client_type="cloudwatch",
            region_name=self.region_name,
            config={
                "connect_timeout": connect,
                "read_timeout": self.timeout,
                "retries": {"max_attempts": 2, "mode": "standard"},
            },
        )
        return hook.get_conn()

    def send(self, metrics: Sequence[Metric]) -> int:
        """Send every metric, one ``PutMetricData`` call per batch; return how many were sent."""
        self.last_batch_sizes = []
        client = self.get_client()
        sent = 0
        for batch in self.batches(metrics):
            client.put_metric_data(Namespace=self.namespace, MetricData=batch)
            sent += len(batch)
            self.last_batch_sizes.append(len(batch))
        log.info(
            "lakeops: sent %d metric(s) to CloudWatch namespace %s in %d PutMetricData call(s)",
            sent,
            self.namespace,
            len(self.last_batch_sizes),
        )
        return sent


def callback_metrics(message: CallbackMessage) -> list[Metric]:
    """Metrics for one callback: an outcome count (1) and the duration.

    Task callbacks: ``task_success`` / ``task_failure`` / ``task_retry`` and
    ``task_duration_seconds`` with dimensions ``DAG``, ``Task``. DAG callbacks: ``dag_run_success``
    / ``dag_run_failure`` and ``dag_run_duration_seconds`` with dimension ``DAG``.
    """
    prefix = "task" if message.level == "task" else "dag_run"
    dims = message.dimensions
    metrics = [Metric(f"{prefix}_{message.event}", 1.0, "Count", dims)]
    if message.duration_seconds is not None:
        metrics.append(Metric(f"{prefix}_duration_seconds", message.duration_seconds, "Seconds", dims))
    return metrics


class CloudWatchMetricsNotifier(SafeNotifier):
    """Put the outcome and duration of a task or DAG run into CloudWatch (see :func:`callback_metrics`).

    Use it as ``on_success_callback`` / ``on_failure_callback`` of a task or a DAG. It never
    raises and returns within ``timeout`` seconds: a down or slow CloudWatch logs a warning.

    :param namespace: CloudWatch namespace (templated).
    :param aws_conn_id: AWS connection id (templated).
    :param region_name: overrides the connection's region (templated).
    :param event: ``"success"``, ``"failure"`` or ``"retry"``; inferred from the context when ``None``.
    :param extra_dimensions: dimensions added to every metric, e.g. ``{"Env": "prod"}``.
    :param timeout: seconds to wait at most (default ``[lakeops] notifier_timeout``).
    """

    template_fields: Sequence[str] = ("namespace", "aws_conn_id", "region_name")

    def __init__(
        self,
        *,
        namespace: str = "Lakeops",
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        event: Event | None = None,
        extra_dimensions: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if event not in (None, "success", "failure", "retry"):
            raise ValueError(f"event must be 'success', 'failure', 'retry' or None, got {event!r}")
        self.namespace = namespace
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.event = event
        self.extra_dimensions = dict(extra_dimensions or {})
        self.timeout = timeout

    def deliver(self, context: Context, message: CallbackMessage | None = None) -> int:
        """Send the metrics now (may raise; :meth:`notify` bounds and catches it).

        :param message: an already built message (default: built from ``context``).
        """
        message = message or build_message(context, self.event)
        metrics = [
            Metric(m.name, m.value, m.unit, {**self.extra_dimensions, **m.dimensions})
            for m in callback_metrics(message)
        ]
        backend = CloudWatchMetricsBackend(
            namespace=self.namespace,
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            timeout=self._timeout(),
        )
        return backend.send(metrics)

    def _timeout(self) -> float:
        if self.timeout is not None:
            return self.timeout
        from airflow_provider_lakeops.notifications.config import LakeopsSettings

        return LakeopsSettings.load().notifier_timeout

    def notify(self, context: Context) -> None:
        """Send the metrics, bounded in time; never raises."""
        preload(_AWS_HOOK_MODULE)
        call_bounded(
            lambda: self.deliver(context), timeout=self._timeout(), what="CloudWatch metrics notifier"
        )
