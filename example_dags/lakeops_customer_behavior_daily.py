"""
### lakeops_customer_behavior_daily

The daily batch pipeline of the lakeops provider, on the embedded local stack by default
(``make demo`` runs it twice and prints what every step did):

The lake is ``$LAKEOPS_LAKE_URI`` (default ``s3://lakeops-lake``; the local stack's S3 is moto), read
and written through the ``aws_default`` connection by every step, Spark included (S3A):

0. **create_lake_bucket** - the lake's bucket (nothing happens when it exists);
1. **land_events** - one day of generated customer-behaviour events (with PII and known defects)
   lands in the lake as JSON lines (``landing/customer_events/dt=<day>/``);
2. **validate_events** - the Great Expectations gate (``dq/customer_events.yaml``): systemic defects
   fail the run, isolated ones are reported as warnings (``fail_on_warn`` turns them into failures);
3. **mask_pii** - the PII policy (``policies/customer_events_pii.yaml``) applied on Spark: keyed HMAC
   tokens and partial masks, a leak guard; the silver **Delta table** ``silver/customer_behavior``,
   whose ``dt=<day>`` partition is replaced atomically (``replaceWhere``);
4. **compact_silver** - Delta maintenance: OPTIMIZE (small files compacted); VACUUM keeps the table's
   retention;
5. **register_silver** - the silver Delta table in the Glue Data Catalog (database ``lakeops``), schema
   from the Delta log, no new table version when nothing changed;
6. **merge_to_snowflake** - the day's silver rows (read through the Delta log) merged into
   ``LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR``
   by ``(customer_id, event_id)``, latest ``updated_at`` wins; a rerun reports 0/0/0;
7. **dbt** - the dbt project through astronomer-cosmos (the source is the silver Delta table, read
   with delta-rs; staging view, customer dimension and engagement fact, tests after each model), then
   **publish_marts** updates the marts' Assets.

Every step names the data the same way in its OpenLineage events (``s3://lakeops-lake`` + the table
path; the Glue table is a symlink of it), so the run's lineage is one connected graph.

Every task emits OpenLineage events; every task and the run report to SNS and CloudWatch (moto on
the local stack) and to Slack / Datadog when their connections exist.

Parameters: ``day`` (default: the logical date), ``rows``, ``fail_on_warn``.
Environment: ``LAKEOPS_LAKE_URI`` (the lake), ``LAKEOPS_DBT_TARGET`` (``local`` or ``snowflake``),
``LAKEOPS_ALERTS_TOPIC_ARN``; ``LAKEOPS_SPARK_LAKE_JARS`` (S3A + Delta jars for Spark, set by the
local stack; on a cluster that has them, pass ``lake_jars=""``).
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
from airflow_provider_lakeops.operators.delta_maintenance import DeltaMaintenanceOperator
from airflow_provider_lakeops.operators.glue import GlueRegisterTableOperator
from airflow_provider_lakeops.operators.great_expectations import GXValidateOperator
from airflow_provider_lakeops.operators.pii import PiiMaskingOperator
from airflow_provider_lakeops.operators.sample_events import GenerateSampleEventsOperator
from airflow_provider_lakeops.operators.snowflake import SnowflakeMergeOperator

LAKE = os.environ.get("LAKEOPS_LAKE_URI", "s3://lakeops-lake").rstrip("/")
BUCKET = LAKE.removeprefix("s3://").split("/", 1)[0]
SILVER = f"{LAKE}/silver/customer_behavior"
DAY = "{{ params.day or ds }}"
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
    create_bucket = S3CreateBucketOperator(task_id="create_lake_bucket", bucket_name=BUCKET)

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
        # the Data Docs site is a local folder (served by whoever serves it); none when unset
        data_docs_dir=os.environ.get("LAKEOPS_DATA_DOCS_DIR"),
        fail_on_warn="{{ params.fail_on_warn }}",
    )

    mask = PiiMaskingOperator(
        task_id="mask_pii",
        input_path=f"{LAKE}/landing/customer_events/dt={DAY}/",
        input_format="json",
        output_path=SILVER,
        table_format="delta",
        policy="policies/customer_events_pii.yaml",
        partition_by="dt",
        partition_values={"dt": DAY},
        spark_conn_id="spark_default",
        hmac_key_conn_id="lakeops_pii_key",
        aws_conn_id="aws_default",
        spark_conf={"spark.sql.shuffle.partitions": "4"},
        outlets=[silver_asset(LAKE)],  # an Asset for consumers; lineage comes from the operator itself
    )

    compact = DeltaMaintenanceOperator(
        task_id="compact_silver",
        table_path=SILVER,
        optimize=True,
        optimize_where=f"dt = '{DAY}'",
        vacuum=True,  # keeps the table's own retention (7 days unless the table says otherwise)
        spark_conn_id="spark_default",
        aws_conn_id="aws_default",
    )

    register = GlueRegisterTableOperator(
        task_id="register_silver",
        database="lakeops",
        table="customer_behavior",
        location=f"{SILVER}/",
        table_format="delta",
        description="Customer behaviour events, PII masked (silver, Delta)",
        table_parameters={"layer": "silver", "owner_team": "data-platform"},
    )

    merge = SnowflakeMergeOperator(
        task_id="merge_to_snowflake",
        source_delta=SILVER,
        source_partitions={"dt": DAY},
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
        aws_conn_id="aws_default",  # the dbt source reads the silver Delta table on S3 (delta-rs)
        operator_args={"env": {"LAKEOPS_SILVER_URI": SILVER}},  # the table mask_pii writes; no secret
    )

    publish_marts = EmptyOperator(task_id="publish_marts", outlets=list(mart_assets(DBT_TARGET)))

    create_bucket >> land >> validate >> mask >> compact >> register >> merge >> dbt >> publish_marts
