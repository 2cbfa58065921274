"""SNS notifications against moto, received through an SQS subscription."""

from __future__ import annotations

import json
import uuid

import pytest

from airflow_provider_lakeops.notifications.callbacks import LakeopsNotifier, lakeops_callbacks
from tests.unit.notifications._support import make_log_reader, task_context

pytestmark = pytest.mark.integration

SECRET = "sns-test-secret-value-8841"


@pytest.fixture(name="logs")
def logs_fixture(caplog, capfd):
    return make_log_reader(caplog, capfd)


@pytest.fixture
def topic(lakeops_stack):
    """A fresh topic with an SQS queue subscribed; yields (topic_arn, receive)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    sns = AwsBaseHook(aws_conn_id="aws_default", client_type="sns").get_conn()
    sqs = AwsBaseHook(aws_conn_id="aws_default", client_type="sqs").get_conn()
    name = f"lakeops-alerts-{uuid.uuid4().hex[:8]}"
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def receive() -> list[dict]:
        out = []
        while True:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    yield topic_arn, receive
    sns.delete_topic(TopicArn=topic_arn)
    sqs.delete_queue(QueueUrl=queue_url)


def test_failure_is_published_to_sns_and_reaches_the_queue(topic):
    from airflow.sdk.log import mask_secret

    topic_arn, receive = topic
    mask_secret(SECRET)
    error = RuntimeError(f"MERGE failed for jane@example.com using token={SECRET} " + "z" * 2000)
    (notifier,) = lakeops_callbacks(sns_topic_arn=topic_arn)["on_failure_callback"]
    notifier.notify(task_context("daily", "merge", run_id="manual__r1", exception=error, try_number=2))

    (envelope,) = receive()
    assert envelope["Subject"] == "lakeops: task daily.merge FAILED"
    lines = envelope["Message"].splitlines()
    assert lines[:5] == [
        "lakeops: task daily.merge FAILED",
        "DAG: daily",
        "Task: merge",
        "Run: manual__r1",
        "Try: 2",
    ]
    assert lines[5] == "Duration: 12.0 s"
    assert lines[6].startswith("Log: http://localhost:8080/dags/daily/runs/manual__r1/tasks/merge")
    assert lines[7].startswith("Error: RuntimeError: MERGE failed for <email> using token=***")
    assert len(lines[7]) <= len("Error: ") + 500
    assert SECRET not in json.dumps(envelope)
    assert "jane@example.com" not in json.dumps(envelope)


def test_success_sends_nothing_to_sns_unless_asked(topic):
    topic_arn, receive = topic
    assert lakeops_callbacks(sns_topic_arn=topic_arn)["on_success_callback"] == []
    (notifier,) = lakeops_callbacks(sns_topic_arn=topic_arn, notify_on_success=True)["on_success_callback"]
    notifier.notify(task_context("daily", "load"))
    (envelope,) = receive()
    assert envelope["Subject"] == "lakeops: task daily.load succeeded"
    assert "Error:" not in envelope["Message"]


def test_dag_level_failure_message(topic):
    topic_arn, receive = topic
    LakeopsNotifier(event="failure", sns_topic_arn=topic_arn).notify(
        task_context("daily", "merge", reason="task_failure")
    )
    (envelope,) = receive()
    assert envelope["Subject"] == "lakeops: DAG daily FAILED"
    assert "Last task: merge" in envelope["Message"]
    assert "Reason: task_failure" in envelope["Message"]


def test_a_missing_topic_only_warns(lakeops_stack, logs):
    missing = "arn:aws:sns:us-east-1:123456789012:no-such-topic-" + uuid.uuid4().hex[:6]
    LakeopsNotifier(event="failure", sns_topic_arn=missing, timeout=10).notify(
        task_context(exception=ValueError("x"))
    )
    text = logs()
    assert "SNS notification failed (the task outcome is unchanged)" in text
    assert "SNS notification not sent" in text
