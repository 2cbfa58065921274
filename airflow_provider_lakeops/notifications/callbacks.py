"""``lakeops_callbacks(...)``: Slack, SNS, Datadog and CloudWatch callbacks in one call.

The factory returns ``{"on_success_callback": [...], "on_failure_callback": [...]}`` for a DAG's
``default_args`` (task callbacks) and/or the ``DAG(...)`` call itself (DAG-run callbacks)::

    callbacks = lakeops_callbacks(
        slack_conn_id="slack_lakeops",
        sns_topic_arn="arn:aws:sns:us-east-1:123456789012:lakeops-alerts",
        datadog_conn_id="datadog_default",
        cloudwatch_namespace="Lakeops",
    )
    with DAG(..., default_args={"owner": "data", "retries": 1, **callbacks}, **callbacks): ...

Underneath: the official ``SlackWebhookNotifier`` and ``SnsNotifier``, and this package's
:class:`~airflow_provider_lakeops.notifications.datadog.DatadogEventNotifier` and
:class:`~airflow_provider_lakeops.notifications.cloudwatch.CloudWatchMetricsNotifier`. One
:class:`LakeopsNotifier` per event runs every channel in parallel, in daemon threads, within one
overall timeout; a channel that is down, slow or failing logs a warning and nothing else. Slack
and Datadog connections are looked up only when a callback runs: if the connection does not
exist the channel is skipped (no I/O at DAG parse time).

.. seealso:: ``docs/notifications.md``
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.notifications._bounded import call_bounded_many, describe_error, preload
from airflow_provider_lakeops.notifications.base import SafeNotifier
from airflow_provider_lakeops.notifications.message import DEFAULT_ERROR_CHARS, Event, build_message

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_lakeops.notifications.message import CallbackMessage

__all__ = ["LakeopsNotifier", "lakeops_callbacks"]

#: how each channel is named in log lines
_LABELS = {
    "Slack": "Slack notification",
    "SNS": "SNS notification",
    "Datadog": "Datadog event",
    "CloudWatch": "CloudWatch metrics",
}

#: modules each channel needs, imported before the bounded calls start (see ``_bounded.preload``)
_CHANNEL_MODULES: dict[str, tuple[str, ...]] = {
    "slack": ("airflow.providers.slack.notifications.slack_webhook",),
    "sns": ("airflow.providers.amazon.aws.notifications.sns",),
    "datadog": (
        "airflow_provider_lakeops.notifications.datadog",
        "airflow.providers.datadog.hooks.datadog",
        "datadog.api",
    ),
    "cloudwatch": (
        "airflow_provider_lakeops.notifications.cloudwatch",
        "airflow.providers.amazon.aws.hooks.base_aws",
    ),
}

log = logging.getLogger(__name__)


def connection_defined(conn_id: str) -> bool:
    """``True`` if Airflow knows the connection (looked up at callback time, never at parse time)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


class LakeopsNotifier(SafeNotifier):
    """Send one callback to every configured channel in parallel, within one bounded timeout.

    Usually built by :func:`lakeops_callbacks`. Every channel gets the same
    :class:`~airflow_provider_lakeops.notifications.message.CallbackMessage`: DAG, task, run id,
    try number, duration, log link and a trimmed, masked, scrubbed error. It never raises.

    :param event: ``"success"``, ``"failure"`` or ``"retry"``.
    :param slack_conn_id: Slack incoming-webhook connection (conn type ``slackwebhook``) (templated).
    :param sns_topic_arn: SNS topic to publish to (templated).
    :param datadog_conn_id: Datadog connection for events (templated).
    :param cloudwatch_namespace: CloudWatch namespace for outcome/duration metrics (templated).
    :param aws_conn_id: AWS connection for SNS and CloudWatch (templated).
    :param region_name: overrides the AWS connection's region (templated).
    :param messages: send Slack / SNS / Datadog messages for this event (CloudWatch metrics are
        always sent when a namespace is set).
    :param skip_missing_connections: skip Slack/Datadog quietly when their connection does not exist.
    :param include_error: ``False`` sends only the error type, never its message.
    :param error_chars: the error message is trimmed to this many characters.
    :param extra_dimensions: dimensions added to every CloudWatch metric.
    :param timeout: seconds for all channels together (default ``[lakeops] notifier_timeout``).
    """

    template_fields: Sequence[str] = (
        "slack_conn_id",
        "sns_topic_arn",
        "datadog_conn_id",
        "cloudwatch_namespace",
        "aws_conn_id",
        "region_name",
    )

    def __init__(
        self,
        *,
        event: Event,
        slack_conn_id: str | None = None,
        sns_topic_arn: str | None = None,
        datadog_conn_id: str | None = None,
        cloudwatch_namespace: str | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        messages: bool = True,
        skip_missing_connections: bool = True,
        include_error: bool = True,
        error_chars: int = DEFAULT_ERROR_CHARS,
        extra_dimensions: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if event not in ("success", "failure", "retry"):
            raise ValueError(f"event must be 'success', 'failure' or 'retry', got {event!r}")
        if error_chars < 20:
            raise ValueError(f"error_chars must be at least 20, got {error_chars}")
        if timeout is not None and not 0 < timeout <= 300:
            raise ValueError(f"timeout must be in (0, 300] seconds, got {timeout!r}")
        self.event: Event = event
        self.slack_conn_id = slack_conn_id
        self.sns_topic_arn = sns_topic_arn
        self.datadog_conn_id = datadog_conn_id
        self.cloudwatch_namespace = cloudwatch_namespace
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.messages = messages
        self.skip_missing_connections = skip_missing_connections
        self.include_error = include_error
        self.error_chars = error_chars
        self.extra_dimensions = dict(extra_dimensions or {})
        self.timeout = timeout

    @property
    def channel_names(self) -> list[str]:
        """The channels this notifier sends to, e.g. ``["slack", "sns", "cloudwatch"]``."""
        names = []
        if self.messages and self.slack_conn_id:
            names.append("slack")
        if self.messages and self.sns_topic_arn:
            names.append("sns")
        if self.messages and self.datadog_conn_id:
            names.append("datadog")
        if self.cloudwatch_namespace:
            names.append("cloudwatch")
        return names

    def _timeout(self) -> float:
        if self.timeout is not None:
            return self.timeout
        from airflow_provider_lakeops.notifications.config import LakeopsSettings

        return LakeopsSettings.load().notifier_timeout

    def _skip(self, channel: str, conn_id: str, skipped: list[str]) -> bool:
        if self.skip_missing_connections and not connection_defined(conn_id):
            log.info(
                "lakeops: %s connection %r is not defined; %s notification skipped", channel, conn_id, channel
            )
            skipped.append(_LABELS[channel])
            return True
        return False

    def _slack(self, message: CallbackMessage, context: Context, timeout: float, skipped: list[str]) -> None:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        conn_id = str(self.slack_conn_id)
        if self._skip("Slack", conn_id, skipped):
            return
        notifier = SlackWebhookNotifier(
            slack_webhook_conn_id=conn_id, text=message.slack_text, timeout=max(1, math.ceil(timeout))
        )
        notifier.notify(context)  # not __call__: the message is final text, never a template

    def _sns(self, message: CallbackMessage, context: Context) -> None:
        from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

        notifier = SnsNotifier(
            aws_conn_id=self.aws_conn_id,
            target_arn=str(self.sns_topic_arn),
            message=message.text,
            subject=message.subject,
            region_name=self.region_name,
        )
        notifier.notify(context)

    def _datadog(
        self, message: CallbackMessage, context: Context, timeout: float, skipped: list[str]
    ) -> None:
        from airflow_provider_lakeops.notifications.datadog import DatadogEventNotifier

        conn_id = str(self.datadog_conn_id)
        if self._skip("Datadog", conn_id, skipped):
            return
        DatadogEventNotifier(
            datadog_conn_id=conn_id, event=self.event, include_error=self.include_error, timeout=timeout
        ).deliver(context, message)

    def _cloudwatch(self, message: CallbackMessage, context: Context, timeout: float) -> None:
        from airflow_provider_lakeops.notifications.cloudwatch import CloudWatchMetricsNotifier

        CloudWatchMetricsNotifier(
            namespace=str(self.cloudwatch_namespace),
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            event=self.event,
            extra_dimensions=self.extra_dimensions,
            timeout=timeout,
        ).deliver(context, message)

    def notify(self, context: Context) -> None:
        """Send to every channel in parallel; wait at most the timeout; never raise."""
        try:
            timeout = self._timeout()
            message = build_message(
                context, self.event, error_chars=self.error_chars, include_error=self.include_error
            )
            skipped: list[str] = []
            calls: list[tuple[str, Callable[[], object]]] = []
            names = self.channel_names
            if "slack" in names:
                calls.append((_LABELS["Slack"], lambda: self._slack(message, context, timeout, skipped)))
            if "sns" in names:
                calls.append((_LABELS["SNS"], lambda: self._sns(message, context)))
            if "datadog" in names:
                calls.append((_LABELS["Datadog"], lambda: self._datadog(message, context, timeout, skipped)))
            if "cloudwatch" in names:
                calls.append((_LABELS["CloudWatch"], lambda: self._cloudwatch(message, context, timeout)))
            if not calls:
                return
            preload(*(module for name in names for module in _CHANNEL_MODULES[name]))
            results = call_bounded_many(calls, timeout=timeout)
            outcome = {
                what: ("skipped" if what in skipped else "sent" if ok else "not sent")
                for what, ok in results.items()
            }
            log.info(
                "lakeops: %s callback for %s: %s",
                self.event,
                message.subject,
                ", ".join(f"{what} {state}" for what, state in outcome.items()),
            )
        except Exception as exc:  # a callback must never change or hide the task's outcome
            log.warning("lakeops: %s callback could not run: %s", self.event, describe_error(exc))


def lakeops_callbacks(
    *,
    slack_conn_id: str | None = None,
    sns_topic_arn: str | None = None,
    datadog_conn_id: str | None = None,
    cloudwatch_namespace: str | None = None,
    aws_conn_id: str | None = "aws_default",
    region_name: str | None = None,
    notify_on_success: bool = False,
    notify_on_retry: bool = False,
    skip_missing_connections: bool = True,
    include_error: bool = True,
    error_chars: int = DEFAULT_ERROR_CHARS,
    extra_dimensions: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> dict[str, list[LakeopsNotifier]]:
    """Build the callbacks a DAG passes in ``default_args`` (task level) and/or to ``DAG()`` (DAG level).

    Failures always go to every configured channel. Successes send CloudWatch metrics and, with
    ``notify_on_success=True``, Slack / SNS / Datadog messages too. No I/O happens here.

    :param slack_conn_id: Slack incoming-webhook connection id (conn type ``slackwebhook``).
    :param sns_topic_arn: SNS topic ARN, e.g. ``arn:aws:sns:us-east-1:123456789012:lakeops-alerts``.
    :param datadog_conn_id: Datadog connection id (``api_key``/``app_key``/``api_host`` in extra).
    :param cloudwatch_namespace: CloudWatch namespace for outcome and duration metrics.
    :param aws_conn_id: AWS connection for SNS and CloudWatch.
    :param region_name: overrides the AWS connection's region.
    :param notify_on_success: also send messages on success.
    :param notify_on_retry: add ``on_retry_callback`` (messages with event ``retry``).
    :param skip_missing_connections: skip Slack/Datadog when their connection is not defined.
    :param include_error: ``False`` sends only the error type, never its message.
    :param error_chars: trim error messages to this many characters.
    :param extra_dimensions: dimensions added to every CloudWatch metric, e.g. ``{"Env": "dev"}``.
    :param timeout: seconds all channels of one callback may take together
        (default ``[lakeops] notifier_timeout``).
    :return: ``{"on_success_callback": [...], "on_failure_callback": [...]}`` (plus
        ``"on_retry_callback"`` with ``notify_on_retry``); an event with nothing to send gets ``[]``.
    :raises ValueError: when nothing is configured or an argument is malformed.
    """
    if not any((slack_conn_id, sns_topic_arn, datadog_conn_id, cloudwatch_namespace)):
        raise ValueError(
            "lakeops_callbacks() needs at least one channel: slack_conn_id, sns_topic_arn, "
            "datadog_conn_id or cloudwatch_namespace"
        )
    if sns_topic_arn and "{{" not in sns_topic_arn and not sns_topic_arn.startswith("arn:"):
        raise ValueError(
            f"sns_topic_arn={sns_topic_arn!r} is not an ARN; use "
            "e.g. 'arn:aws:sns:us-east-1:123456789012:alerts'"
        )
    if cloudwatch_namespace and "{{" not in cloudwatch_namespace:
        from airflow_provider_lakeops.notifications.cloudwatch import validate_namespace

        validate_namespace(cloudwatch_namespace)

    common: dict[str, Any] = {
        "slack_conn_id": slack_conn_id,
        "sns_topic_arn": sns_topic_arn,
        "datadog_conn_id": datadog_conn_id,
        "cloudwatch_namespace": cloudwatch_namespace,
        "aws_conn_id": aws_conn_id,
        "region_name": region_name,
        "skip_missing_connections": skip_missing_connections,
        "include_error": include_error,
        "error_chars": error_chars,
        "extra_dimensions": extra_dimensions,
        "timeout": timeout,
    }

    def _build(event: Event, messages: bool) -> list[LakeopsNotifier]:
        notifier = LakeopsNotifier(event=event, messages=messages, **common)
        return [notifier] if notifier.channel_names else []

    result = {
        "on_success_callback": _build("success", notify_on_success),
        "on_failure_callback": _build("failure", True),
    }
    if notify_on_retry:
        result["on_retry_callback"] = _build("retry", True)
    return result
