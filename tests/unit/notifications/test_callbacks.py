from __future__ import annotations

import pytest

from airflow_provider_lakeops.notifications.callbacks import LakeopsNotifier, lakeops_callbacks

ARN = "arn:aws:sns:us-east-1:123456789012:lakeops-alerts"


def test_factory_returns_success_and_failure_lists():
    callbacks = lakeops_callbacks(sns_topic_arn=ARN, cloudwatch_namespace="Lakeops", slack_conn_id="slack_x")
    assert set(callbacks) == {"on_success_callback", "on_failure_callback"}
    (failure,) = callbacks["on_failure_callback"]
    (success,) = callbacks["on_success_callback"]
    assert isinstance(failure, LakeopsNotifier)
    assert failure.event == "failure"
    assert failure.channel_names == ["slack", "sns", "cloudwatch"]
    # successes only send metrics unless notify_on_success
    assert success.channel_names == ["cloudwatch"]


def test_notify_on_success_and_retry():
    callbacks = lakeops_callbacks(datadog_conn_id="dd", notify_on_success=True, notify_on_retry=True)
    assert callbacks["on_success_callback"][0].channel_names == ["datadog"]
    assert callbacks["on_retry_callback"][0].event == "retry"


def test_an_event_with_nothing_to_send_gets_an_empty_list():
    callbacks = lakeops_callbacks(slack_conn_id="slack_x")
    assert callbacks["on_success_callback"] == []
    assert len(callbacks["on_failure_callback"]) == 1


def test_factory_does_no_io_for_unknown_connections():
    # connections are resolved when a callback runs; building them must not look anything up
    callbacks = lakeops_callbacks(slack_conn_id="does_not_exist", datadog_conn_id="nor_this")
    assert callbacks["on_failure_callback"][0].slack_conn_id == "does_not_exist"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs at least one channel"),
        ({"sns_topic_arn": "lakeops-alerts"}, "is not an ARN"),
        ({"cloudwatch_namespace": "AWS/Lakeops"}, "not a valid CloudWatch namespace"),
        ({"slack_conn_id": "s", "error_chars": 5}, "error_chars must be at least 20"),
        ({"slack_conn_id": "s", "timeout": 0}, "timeout must be in"),
    ],
    ids=["nothing", "bad-arn", "aws-namespace", "error-chars", "timeout"],
)
def test_factory_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lakeops_callbacks(**kwargs)


def test_templated_arn_is_not_validated_statically():
    callbacks = lakeops_callbacks(sns_topic_arn="{{ var.value.alerts_topic }}")
    assert callbacks["on_failure_callback"][0].sns_topic_arn == "{{ var.value.alerts_topic }}"


def test_notifier_with_no_channels_does_nothing():
    notifier = LakeopsNotifier(event="success", slack_conn_id="s", messages=False)
    assert notifier.channel_names == []
    notifier.notify({})  # nothing to do, no error


def test_notifier_never_raises_on_a_broken_context(logs):
    notifier = LakeopsNotifier(event="failure", slack_conn_id="s", timeout=1)
    notifier.notify(None)  # type: ignore[arg-type]
    assert "failure callback could not run" in logs()


def test_package_exports_are_lazy():
    import airflow_provider_lakeops.notifications as pkg

    assert pkg.lakeops_callbacks is lakeops_callbacks
    assert "emit_operator_metrics" in dir(pkg)
    with pytest.raises(AttributeError):
        pkg.nothing_here  # noqa: B018


def test_templated_fields_render_even_with_a_serialized_dag():
    # dag.test() hands DAG-level callbacks the serialized DAG, which has no Jinja environment
    notifier = LakeopsNotifier(event="failure", cloudwatch_namespace="{{ params.ns }}")
    notifier.render_template_fields({"dag": object(), "params": {"ns": "Lakeops/Dev"}})  # type: ignore[typeddict-item]
    assert notifier.cloudwatch_namespace == "Lakeops/Dev"


def test_plain_fields_are_not_rendered():
    notifier = LakeopsNotifier(event="failure", cloudwatch_namespace="Lakeops", sns_topic_arn="arn:aws:sns:x")
    notifier.render_template_fields({"dag": object()})  # type: ignore[typeddict-item]
    assert notifier.cloudwatch_namespace == "Lakeops"


def test_calling_the_notifier_never_raises(logs):
    # __call__ renders then notifies; a template error is caught like any other failure
    notifier = LakeopsNotifier(event="failure", cloudwatch_namespace="{{ undefined_name.attr }}", timeout=1)
    notifier({"dag": object()})
    assert "LakeopsNotifier did not run" in logs()


def test_provider_config_section_matches_the_code_defaults():
    from airflow_provider_lakeops.get_provider_info import get_provider_info
    from airflow_provider_lakeops.notifications.config import DEFAULTS

    section = get_provider_info().get("config", {}).get("lakeops")
    if section is None:
        pytest.skip("get_provider_info() does not declare the [lakeops] section yet")
    assert {k: v["default"] for k, v in section["options"].items()} == DEFAULTS
