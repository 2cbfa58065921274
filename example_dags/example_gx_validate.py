"""
### example_gx_validate

A data-quality gate on landed customer-behaviour events (JSON lines) with
`GXValidateOperator` (Great Expectations 1.x):

1. **validate_events** checks the day's landing folder against `dq/customer_events.yaml`
   (keys not null, event type in the known set, e-mail format, amount range, unique event id).
   `error` expectations fail the task, `warn` ones only report. The full PII-safe result goes to
   `{lake}/dq/results/customer_events/dt=.../customer_events.json` (the lake is
   `$LAKEOPS_LAKE_URI`, `s3://lakeops-lake` on the local stack), Data Docs to the local folder
   `$LAKEOPS_DATA_DOCS_DIR` when set (the task's "GX Data Docs" link).
2. **strict_uniqueness_gate** shows `on_failure="skip"` with an inline expectation: while
   re-sent events are in the batch, **publish_deduplicated** is skipped instead of failing the run.

Both gates emit OpenLineage data-quality facets (assertions and metrics) for the landing table
(`s3://lakeops-lake` + `landing/customer_events`: a partition is part of its table).
Parameter: `day` (defaults to the logical date).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param

from airflow_provider_lakeops.operators.great_expectations import GXValidateOperator

LAKE = os.environ.get("LAKEOPS_LAKE_URI", "s3://lakeops-lake").rstrip("/")
DAY = "{{ params.day or ds }}"
LANDING = f"{LAKE}/landing/customer_events/dt={DAY}/"

with DAG(
    dag_id="example_gx_validate",
    description="Great Expectations gate on landed events: fail fast, no PII, lineage facets",
    schedule=None,
    start_date=datetime(2025, 10, 1),
    catchup=False,
    default_args={"owner": "data-quality", "retries": 1, "retry_delay": timedelta(minutes=1)},
    tags=["lakeops", "example", "data-quality", "great-expectations"],
    doc_md=__doc__,
    params={"day": Param("", type="string", description="YYYY-MM-DD to validate; empty = the logical date")},
) as dag:
    # [START howto_operator_gx_validate]
    validate_events = GXValidateOperator(
        task_id="validate_events",
        suite="dq/customer_events.yaml",  # relative to this file's folder; rendered with Jinja
        data_path=LANDING,
        data_format="jsonl",
        result_location=f"{LAKE}/dq/results/customer_events/dt={DAY}/",
        data_docs_dir=os.environ.get("LAKEOPS_DATA_DOCS_DIR"),  # a local folder; none when unset
        on_failure="fail",
    )
    # [END howto_operator_gx_validate]

    # [START howto_operator_gx_validate_skip]
    strict_uniqueness_gate = GXValidateOperator(
        task_id="strict_uniqueness_gate",
        expectations=[
            {
                "name": "no_resent_events",
                "expectation": "expect_column_values_to_be_unique",
                "kwargs": {"column": "event_id"},
            },
        ],
        suite_name="customer_events_unique",
        data_path=LANDING,
        on_failure="skip",  # a skip is never retried: downstream tasks are skipped at once
    )
    # [END howto_operator_gx_validate_skip]

    publish_deduplicated = EmptyOperator(task_id="publish_deduplicated")

    validate_events >> strict_uniqueness_gate >> publish_deduplicated
