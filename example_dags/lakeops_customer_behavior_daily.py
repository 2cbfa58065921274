"""
### lakeops_customer_behavior_daily

The daily batch pipeline of the lakeops provider, on the embedded local stack by default:

1. **land** one day of generated customer-behaviour events (with PII and known defects) in the lake.

Later steps (data-quality gate, PII masking, Glue registration, Snowflake MERGE, dbt) are added
as their operators land. Parameters: ``day`` (defaults to the logical date), ``rows``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from airflow_provider_lakeops.operators.sample_events import GenerateSampleEventsOperator

# The local lake (a folder): Spark here cannot write s3a://, see docs/local_stack.md.
LAKE = os.environ.get("LAKEOPS_LAKE_DIR", "/tmp/lakeops/lake")
DAY = "{{ params.day or ds }}"

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=2),
}

with DAG(
    dag_id="lakeops_customer_behavior_daily",
    description="Land -> validate -> mask -> register -> merge -> model, with lineage and alerts",
    schedule="@daily",
    start_date=datetime(2025, 10, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["lakeops", "example", "daily"],
    doc_md=__doc__,
    params={
        "day": Param("", type="string", description="YYYY-MM-DD to process; empty = the logical date"),
        "rows": Param(5000, type="integer", minimum=0, maximum=10_000_000),
        "fail_on_warn": Param(False, type="boolean"),
    },
) as dag:
    # [START howto_operator_generate_sample_events]
    land = GenerateSampleEventsOperator(
        task_id="land_events",
        output_path=f"{LAKE}/landing/customer_events/dt={DAY}",
        rows="{{ params.rows }}",
        day=DAY,
    )
    # [END howto_operator_generate_sample_events]
