"""
### example_glue_register

Registers the silver customer-behaviour table in the Glue Data Catalog with
`GlueRegisterTableOperator`, on the local stack's moto server by default (`aws_default`).

1. **create_lake_bucket**: the lake bucket `lakeops-lake` (the amazon provider's
   `S3CreateBucketOperator`; it skips an existing bucket).
2. **register_customer_behavior**: stages the local silver Parquet (`params.silver_path`, default
   `$LAKEOPS_LAKE_DIR/silver/customer_behavior`) to `s3://lakeops-lake/silver/customer_behavior/`
   (only new or changed files), reads the schema from the Parquet footers, creates or evolves
   `lakeops.customer_behavior` (additive policy) and registers the missing `dt=` partitions.
   A second run reports `unchanged` and leaves the table version alone.
3. **register_customer_behavior_projected**: the same files as a second table that uses Athena
   partition projection instead of registered partitions.

Lineage: each registration emits the Glue table (`arn:aws:glue:{region}:{account}`,
`table/lakeops/...`) with its schema and a symlink to the S3 location.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator
from airflow.sdk import DAG, Param

from airflow_provider_lakeops.operators.glue import GlueRegisterTableOperator

LAKE = os.environ.get("LAKEOPS_LAKE_DIR", "/tmp/lakeops/lake")
BUCKET = "lakeops-lake"
SILVER_S3 = f"s3://{BUCKET}/silver/customer_behavior/"

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=1),
}

with DAG(
    dag_id="example_glue_register",
    description="Register the silver table in the Glue Data Catalog from its Parquet files",
    schedule=None,
    start_date=datetime(2025, 10, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["lakeops", "example", "glue"],
    doc_md=__doc__,
    params={
        "silver_path": Param(
            f"{LAKE}/silver/customer_behavior",
            type="string",
            description="Local silver folder staged to S3 before registration",
        ),
    },
) as dag:
    create_bucket = S3CreateBucketOperator(task_id="create_lake_bucket", bucket_name=BUCKET)

    # [START howto_operator_glue_register_table]
    register = GlueRegisterTableOperator(
        task_id="register_customer_behavior",
        database="lakeops",
        table="customer_behavior",
        location=SILVER_S3,
        source_path="{{ params.silver_path }}",  # local stack only: Spark writes s3:// directly in production
        description="Customer behaviour events, PII masked (silver)",
        table_parameters={"layer": "silver", "owner_team": "data-platform"},
        evolution_policy="additive",
    )
    # [END howto_operator_glue_register_table]

    # [START howto_operator_glue_register_projection]
    register_projected = GlueRegisterTableOperator(
        task_id="register_customer_behavior_projected",
        database="lakeops",
        table="customer_behavior_projected",
        location=SILVER_S3,
        partition_mode="projection",  # dt=YYYY-MM-DD is inferred as a date projection
        evolution_policy="strict",
    )
    # [END howto_operator_glue_register_projection]

    create_bucket >> register >> register_projected
