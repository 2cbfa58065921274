"""``example_callbacks`` with ``dag.test()``: task- and DAG-level callbacks fire, metrics land in moto.

SNS is read back through an SQS subscription, CloudWatch with GetMetricStatistics, Slack through a
real HTTP receiver on loopback. Broken endpoints leave every task's result unchanged.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.unit.notifications._support import closed_port, join_abandoned_threads, start_receiver

DAG_ID = "example_callbacks"
SLACK_TOKEN = "T0EXAMPLE/B0EXAMPLE/exampleSlackToken42"
NAMESPACE = "Lakeops"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def setup(lakeops_stack, lakeops_airflow_db):
    """A unique SNS topic with an SQS queue, a Slack receiver, and env for the DAG; restored after."""
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

    receiver = start_receiver("ok")
    env = {
        "LAKEOPS_ALERTS_TOPIC_ARN": topic_arn,  # read when the DAG file is parsed
        "LAKEOPS_LAKE_URI": "s3://lakeops-lake/tests/example-callbacks",
        "AIRFLOW_CONN_SLACK_LAKEOPS": json.dumps(
            {"conn_type": "slackwebhook", "password": f"{receiver.url}/services/{SLACK_TOKEN}"}
        ),
        "AIRFLOW__LAKEOPS__METRICS_BACKEND": "cloudwatch",
        "AIRFLOW__LAKEOPS__NOTIFIER_TIMEOUT": "20",
        "AIRFLOW__LAKEOPS__METRICS_TIMEOUT": "15",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)

    def receive() -> list[dict]:
        out = []
        while True:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not got.get("Messages"):
                return out
            for message in got["Messages"]:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    cloudwatch = AwsBaseHook(aws_conn_id="aws_default", client_type="cloudwatch").get_conn()
    try:
        local_lake = Path(lakeops_stack.lake_dir) / "example-callbacks"
        yield {"receive": receive, "receiver": receiver, "cloudwatch": cloudwatch, "local_lake": local_lake}
    finally:
        receiver.close()
        join_abandoned_threads()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        sns.delete_topic(TopicArn=topic_arn)
        sqs.delete_queue(QueueUrl=queue_url)


def run_dag(**conf):
    from airflow.models import DagBag

    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    dag = DagBag(dag_folder=str(dag_file)).get_dag(DAG_ID)
    run = dag.test(run_conf={"rows": 50, **conf})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    return run, states


def metric_sum(client, name: str, **dims: str) -> float:
    now = datetime.now(timezone.utc)
    response = client.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
        Period=3600,
        Statistics=["Sum"],
    )
    return sum(p["Sum"] for p in response["Datapoints"])


@pytest.fixture(scope="module")
def runs(setup):
    """A successful run, a failing run, and a failing run with every notifier broken."""
    receiver = setup["receiver"]
    success, success_states = run_dag()
    after_success = {"sns": setup["receive"](), "slack": list(receiver.requests)}

    failure, failure_states = run_dag(simulate_failure=True)
    after_failure = {"sns": setup["receive"](), "slack": list(receiver.requests)}

    # every endpoint broken: Slack answers 500, SNS and CloudWatch are unreachable
    receiver.mode = "error"
    aws_saved = os.environ["AIRFLOW_CONN_AWS_DEFAULT"]
    broken_aws = json.loads(aws_saved)
    broken_aws["extra"]["endpoint_url"] = f"http://127.0.0.1:{closed_port()}"
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(broken_aws)
    # the lake is on the same (now unreachable) AWS: land this run in a local folder instead, so only
    # the notifiers are broken
    lake_saved = os.environ["LAKEOPS_LAKE_URI"]
    os.environ["LAKEOPS_LAKE_URI"] = str(setup["local_lake"])
    try:
        broken, broken_states = run_dag(simulate_failure=True)
    finally:
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = aws_saved
        os.environ["LAKEOPS_LAKE_URI"] = lake_saved
        receiver.mode = "ok"
    return {
        "success": (success, success_states, after_success),
        "failure": (failure, failure_states, after_failure),
        "broken": (broken, broken_states),
    }


def test_successful_run_sends_metrics_but_no_messages(runs, setup):
    run, states, seen = runs["success"]
    assert run.state == "success"
    assert states == {"land_events": "success", "report_landing": "success", "quality_gate": "success"}
    assert seen == {"sns": [], "slack": []}
    cw = setup["cloudwatch"]
    # task-level callbacks: one task_success per task; DAG-level: one dag_run_success
    for task_id in states:
        assert metric_sum(cw, "task_success", DAG=DAG_ID, Task=task_id) >= 1
    assert metric_sum(cw, "dag_run_success", DAG=DAG_ID) >= 1
    # the task's own metrics, through [lakeops] metrics_backend = cloudwatch
    assert metric_sum(cw, "rows_landed", DAG=DAG_ID, Task="report_landing") >= 50


def test_failing_run_fires_task_and_dag_level_callbacks(runs, setup):
    run, states, seen = runs["failure"]
    assert run.state == "failed"
    assert states == {"land_events": "success", "report_landing": "success", "quality_gate": "failed"}
    subjects = sorted(m["Subject"] for m in seen["sns"])
    assert subjects == [
        "lakeops: DAG example_callbacks FAILED",
        "lakeops: task example_callbacks.quality_gate FAILED",
    ]
    task_msg = next(m["Message"] for m in seen["sns"] if "task " in m["Subject"])
    assert f"Run: {run.run_id}" in task_msg
    assert "Try: 1" in task_msg
    assert "Error: AirflowFailException: simulated quality gate failure" in task_msg
    assert "/dags/example_callbacks/runs/" in task_msg
    dag_msg = next(m["Message"] for m in seen["sns"] if "DAG " in m["Subject"])
    assert "Reason: task_failure" in dag_msg

    slack_texts = [r.json()["text"] for r in seen["slack"]]
    assert len(slack_texts) == 2
    assert any("task example_callbacks.quality_gate FAILED" in t for t in slack_texts)
    assert any("DAG example_callbacks FAILED" in t for t in slack_texts)
    for payload in [*(json.dumps(m) for m in seen["sns"]), *(r.text for r in seen["slack"])]:
        assert SLACK_TOKEN not in payload
        assert "@example" not in payload  # no sample-data values
        assert "555-" not in payload

    cw = setup["cloudwatch"]
    assert metric_sum(cw, "task_failure", DAG=DAG_ID, Task="quality_gate") >= 1
    assert metric_sum(cw, "dag_run_failure", DAG=DAG_ID) >= 1


def test_broken_notifiers_leave_every_result_unchanged(runs):
    run, states = runs["broken"]
    _, failure_states, _ = runs["failure"]
    assert run.state == "failed"
    assert states == failure_states


def test_lineage_is_emitted(runs, lakeops_lineage):
    run, _, _ = runs["success"]
    complete = lakeops_lineage.task_events(DAG_ID, "land_events", event_type="COMPLETE", run_id=run.run_id)
    assert complete
    [output] = complete[-1]["outputs"]
    # the landing table on S3 (a partition is part of its table)
    assert (output["namespace"], output["name"]) == (
        "s3://lakeops-lake",
        "tests/example-callbacks/landing/example_callbacks",
    )
    failed, _, _ = runs["failure"]
    assert lakeops_lineage.task_events(DAG_ID, "quality_gate", event_type="FAIL", run_id=failed.run_id)
