"""
### example_snowflake_merge

Two ways to feed `SnowflakeMergeOperator`, on the embedded local stack by default (fakesnow
behind the stock `SnowflakeHook`, connection `snowflake_default`):

1. **merge_silver_events** reads the day's partition of the silver Delta table (PII already masked;
   `$LAKEOPS_LAKE_URI/silver/customer_behavior`, read through its log with delta-rs), stages it with
   `PUT` + `COPY INTO` and merges it into `LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR_EXAMPLE` on the composite
   key (customer_id, event_id), keeping the latest `updated_at` per key; the table is created from the
   data on the first run.
2. **merge_customer_summary** merges a `SELECT` (one row per customer) into
   `LAKEOPS.PUBLIC.CUSTOMER_SUMMARY_EXAMPLE`, failing on duplicate keys instead of de-duplicating.

Both report `{inserted, updated, deleted, query_ids, statements}`; a second run of the same day
reports 0/0/0.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_lakeops.operators.snowflake import SnowflakeMergeOperator

LAKE = os.environ.get("LAKEOPS_LAKE_URI", "s3://lakeops-lake").rstrip("/")

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=2),
}

with DAG(
    dag_id="example_snowflake_merge",
    description="The silver Delta table and a SQL query merged into Snowflake by key, idempotently",
    schedule=None,
    start_date=datetime(2025, 10, 1),
    catchup=False,
    default_args=default_args,
    tags=["lakeops", "example", "snowflake"],
    doc_md=__doc__,
) as dag:
    # [START howto_operator_snowflake_merge_parquet]
    merge_silver_events = SnowflakeMergeOperator(
        task_id="merge_silver_events",
        source_delta=f"{LAKE}/silver/customer_behavior",
        source_partitions={"dt": "{{ ds }}"},  # the day's partition only, pushed down to delta-rs
        target_table="LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR_EXAMPLE",
        keys=["customer_id", "event_id"],
        ordering_column="updated_at",
        create_target_if_missing=True,
    )
    # [END howto_operator_snowflake_merge_parquet]

    # [START howto_operator_snowflake_merge_query]
    merge_customer_summary = SnowflakeMergeOperator(
        task_id="merge_customer_summary",
        source_sql="""
            SELECT customer_id,
                   COUNT(*) AS events,
                   SUM(amount) AS revenue,
                   MAX(updated_at) AS last_updated_at
            FROM LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR_EXAMPLE
            GROUP BY customer_id
        """,
        target_table="LAKEOPS.PUBLIC.CUSTOMER_SUMMARY_EXAMPLE",
        keys=["customer_id"],
        on_duplicates="fail",
        create_target_if_missing=True,
    )
    # [END howto_operator_snowflake_merge_query]

    merge_silver_events >> merge_customer_summary
