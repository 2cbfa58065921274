"""
### lakeops_customer_behavior_daily

The daily batch pipeline of the lakeops provider, on the embedded local stack by default
(``make demo`` runs it twice and prints what every step did):

1. **land_events** - one day of generated customer-behaviour events (with PII and known defects)
   lands in the lake as JSON lines (``landing/customer_events/dt=<day>/``);
2. **validate_events** - the Great Expectations gate (``dq/customer_events.yaml``): systemic defects
   fail the run, isolated ones are reported as warnings (``fail_on_warn`` turns them into failures);
3. **mask_pii** - the PII policy (``policies/customer_events_pii.yaml``) applied on Spark: keyed HMAC
   tokens and partial masks, a leak guard, silver Parquet in ``silver/customer_behavior/dt=<day>/``;
4. **create_lake_bucket** + **register_silver** - the silver table in the Glue Data Catalog
   (database ``lakeops``), schema from the Parquet footers, new partitions added, no new table
   version when nothing changed;
5. **merge_to_snowflake** - the day's silver rows merged into ``LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR``
   by ``(customer_id, event_id)``, latest ``updated_at`` wins; a rerun reports 0/0/0;
6. **dbt** - the dbt project through astronomer-cosmos (staging view, customer dimension and
   engagement fact, tests after each model), then **publish_marts** updates the marts' Assets.

Every task emits OpenLineage events; every task and the run report to SNS and CloudWatch (moto on
the local stack) and to Slack / Datadog when their connections exist.

Parameters: ``day`` (default: the logical date), ``rows``, ``fail_on_warn``.
Environment: ``LAKEOPS_LAKE_DIR`` (the lake folder), ``LAKEOPS_DBT_TARGET`` (``local`` or ``snowflake``),
``LAKEOPS_ALERTS_TOPIC_ARN``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param

from airflow_provider_lakeops.assets import CUSTOMER_BEHAVIOR_TABLE, mart_assets, silver_asset
from airflow_provider_lakeops.dbt import lakeops_dbt_task_group, resolve_target
from airflow_provider_lakeops.notifications.callbacks import lakeops_callbacks
from airflow_provider_lakeops.operators.glue import GlueRegisterTableOperator
from airflow_provider_lakeops.operators.great_expectations import GXValidateOperator
from airflow_provider_lakeops.operators.pii import PiiMaskingOperator
from airflow_provider_lakeops.operators.sample_events import GenerateSampleEventsOperator
from airflow_provider_lakeops.operators.snowflake import SnowflakeMergeOperator

# The local lake (a folder): Spark here cannot write s3a://, see docs/local_stack.md.
LAKE = os.environ.get("LAKEOPS_LAKE_DIR", "/tmp/lakeops/lake")
DAY = "{{ params.day or ds }}"
BUCKET = "lakeops-lake"
DBT_TARGET = resolve_target()  # $LAKEOPS_DBT_TARGET, default "local"

callbacks = lakeops_callbacks(
    sns_topic_arn=os.environ.get(
        "LAKEOPS_ALERTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:lakeops-alerts"
    ),
    cloudwatch_namespace="Lakeops",
    slack_conn_id="slack_lakeops",  # skipped when the connection is not defined
    datadog_conn_id="datadog_lakeops",  # idem
)

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=2),
    **callbacks,
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
        "fail_on_warn": Param(
            False, type="boolean", description="fail the gate on warn-level expectations too"
        ),
    },
    **callbacks,
) as dag:
    # [START howto_operator_generate_sample_events]
    land = GenerateSampleEventsOperator(
        task_id="land_events",
        output_path=f"{LAKE}/landing/customer_events/dt={DAY}",
        rows="{{ params.rows }}",
        day=DAY,
    )
    # [END howto_operator_generate_sample_events]

    validate = GXValidateOperator(
        task_id="validate_events",
        suite="dq/customer_events.yaml",
        data_path=f"{LAKE}/landing/customer_events/dt={DAY}/",
        data_format="jsonl",
        result_location=f"{LAKE}/dq/results/customer_events/dt={DAY}/",
        data_docs_dir=f"{LAKE}/dq/docs",
        fail_on_warn="{{ params.fail_on_warn }}",
    )

    mask = PiiMaskingOperator(
        task_id="mask_pii",
        input_path=f"{LAKE}/landing/customer_events/dt={DAY}/",
        input_format="json",
        output_path=f"{LAKE}/silver/customer_behavior",
        policy="policies/customer_events_pii.yaml",
        partition_by="dt",
        partition_values={"dt": DAY},
        spark_conn_id="spark_default",
        hmac_key_conn_id="lakeops_pii_key",
        spark_conf={"spark.sql.shuffle.partitions": "4"},
        outlets=[silver_asset(LAKE)],  # an Asset for consumers; lineage comes from the operator itself
    )

    create_bucket = S3CreateBucketOperator(task_id="create_lake_bucket", bucket_name=BUCKET)

    register = GlueRegisterTableOperator(
        task_id="register_silver",
        database="lakeops",
        table="customer_behavior",
        location=f"s3://{BUCKET}/silver/customer_behavior/",
        source_path=f"{LAKE}/silver/customer_behavior",  # local stack: stage the silver folder to S3
        description="Customer behaviour events, PII masked (silver)",
        table_parameters={"layer": "silver", "owner_team": "data-platform"},
    )

    merge = SnowflakeMergeOperator(
        task_id="merge_to_snowflake",
        source_parquet=f"{LAKE}/silver/customer_behavior/dt={DAY}",
        target_table="LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR",
        keys=["customer_id", "event_id"],
        ordering_column="updated_at",
        create_target_if_missing=True,
        outlets=[CUSTOMER_BEHAVIOR_TABLE],
    )

    dbt = lakeops_dbt_task_group(
        group_id="dbt",
        target=DBT_TARGET,
        snowflake_conn_id="snowflake_default",
        operator_args={"env": {"LAKEOPS_LAKE_DIR": LAKE}},
    )

    publish_marts = EmptyOperator(task_id="publish_marts", outlets=list(mart_assets(DBT_TARGET)))

    land >> validate >> mask >> create_bucket >> register >> merge >> dbt >> publish_marts
