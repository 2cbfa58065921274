"""
### example_callbacks

Callbacks and metrics from `airflow_provider_lakeops.notifications` on a small pipeline, on the
local stack by default (SNS and CloudWatch go to moto through `aws_default`).

1. **land_events**: one day of sample events (`params.rows`) in the landing folder.
2. **report_landing**: emits the landing's natural metrics (`rows_landed`, `files_landed`,
   `defects_found`) with `emit_operator_metrics`: sent to the backend named by
   `[lakeops] metrics_backend` (`none` by default: then nothing is sent).
3. **quality_gate**: passes, unless `params.simulate_failure` is true: then it fails without a
   retry, to show the failure path.

Callbacks (`lakeops_callbacks`): the same dict goes into `default_args` (every task) and into
`DAG(...)` (the DAG run). Failures go to SNS (`LAKEOPS_ALERTS_TOPIC_ARN`, default topic
`lakeops-alerts` on the local stack's account), Slack (`slack_lakeops`) and Datadog (`datadog_lakeops`);
Slack and Datadog are skipped when their connection does not exist (looked up when a callback runs,
never at parse time). Successes and failures both put outcome and duration metrics into the
CloudWatch namespace `Lakeops`. A notifier that is down, slow or failing logs a warning and never
changes a task's result.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_lakeops.notifications.callbacks import lakeops_callbacks
from airflow_provider_lakeops.operators.sample_events import GenerateSampleEventsOperator

LAKE = os.environ.get("LAKEOPS_LAKE_URI", "s3://lakeops-lake").rstrip("/")
ALERTS_TOPIC_ARN = os.environ.get(
    "LAKEOPS_ALERTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:lakeops-alerts"
)

# [START howto_notifications_lakeops_callbacks]
callbacks = lakeops_callbacks(
    sns_topic_arn=ALERTS_TOPIC_ARN,
    cloudwatch_namespace="Lakeops",
    slack_conn_id="slack_lakeops",  # skipped when the connection is not defined
    datadog_conn_id="datadog_lakeops",  # idem
    aws_conn_id="aws_default",
)

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=1),
    **callbacks,  # task-level: on_success_callback / on_failure_callback of every task
}
# [END howto_notifications_lakeops_callbacks]

with DAG(
    dag_id="example_callbacks",
    description="Slack / SNS / Datadog / CloudWatch callbacks and operator metrics",
    schedule=None,
    start_date=datetime(2025, 10, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["lakeops", "example", "notifications"],
    doc_md=__doc__,
    params={
        "rows": Param(200, type="integer", minimum=0, maximum=100_000),
        "simulate_failure": Param(False, type="boolean", description="make quality_gate fail"),
    },
    **callbacks,  # DAG-level: the run's success / failure
) as dag:
    land = GenerateSampleEventsOperator(
        task_id="land_events",
        output_path=f"{LAKE}/landing/example_callbacks/dt={{{{ ds }}}}",
        rows="{{ params.rows }}",
        day="{{ ds }}",
    )

    # [START howto_notifications_emit_operator_metrics]
    @task
    def report_landing(summary: dict[str, Any]) -> dict[str, float]:
        """Emit the landing's counts (a no-op unless [lakeops] metrics_backend is set)."""
        from airflow.sdk import get_current_context

        from airflow_provider_lakeops.notifications.metrics import emit_operator_metrics

        context = get_current_context()
        metrics = {
            "rows_landed": float(summary["rows"]),
            "files_landed": float(len(summary["files"])),
            "defects_found": float(sum(summary["defects"].values())),
        }
        emit_operator_metrics(context["task"], context, metrics)
        return metrics

    # [END howto_notifications_emit_operator_metrics]

    @task
    def quality_gate(metrics: dict[str, float]) -> None:
        """Pass, or fail without a retry when asked to (shows the failure callbacks)."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        if get_current_context()["params"]["simulate_failure"]:
            raise AirflowFailException(
                f"simulated quality gate failure: {metrics['defects_found']:.0f} of "
                f"{metrics['rows_landed']:.0f} rows failed the checks"
            )

    quality_gate(report_landing(land.output))
