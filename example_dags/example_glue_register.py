"""
### example_glue_register

Registers lake tables in the Glue Data Catalog with `GlueRegisterTableOperator`, on the local stack's
moto server by default (`aws_default`), so that engines (Athena, Spark, Trino, delta-rs, PyIceberg)
find them by name.

1. **create_lake_bucket**: the lake bucket (the amazon provider's `S3CreateBucketOperator`; it skips
   an existing bucket).
2. **register_customer_behavior**: the silver **Delta** table (`params.silver`, default
   `$LAKEOPS_LAKE_URI/silver/customer_behavior/`, as the daily DAG writes it). The Delta log is the
   truth: columns and partition keys come from it, the table is registered natively
   (`table_type=DELTA`, `spark.sql.sources.provider=delta`) and no Glue partitions are written.
   A second run reports `unchanged` and leaves the table version alone.
3. **register_customer_behavior_export**: a Hive-partitioned **Parquet** export (`params.export`,
   default `$LAKEOPS_LAKE_URI/exports/customer_behavior/`) registered with Athena partition
   projection (`dt=YYYY-MM-DD` inferred as a date projection) instead of registered partitions.

Lineage: each registration reads and writes the table's S3 dataset (`s3://bucket` + path) and lists
the Glue table (`arn:aws:glue:{region}:{account}`, `table/lakeops/...`) as its symlink, so the
producer of the files and every consumer name the same dataset.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator
from airflow.sdk import DAG, Param

from airflow_provider_lakeops.operators.glue import GlueRegisterTableOperator

LAKE = os.environ.get("LAKEOPS_LAKE_URI", "s3://lakeops-lake").rstrip("/")
BUCKET = LAKE.removeprefix("s3://").split("/", 1)[0]

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=1),
}

with DAG(
    dag_id="example_glue_register",
    description="Register the silver Delta table and a Parquet export in the Glue Data Catalog",
    schedule=None,
    start_date=datetime(2025, 10, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["lakeops", "example", "glue"],
    doc_md=__doc__,
    params={
        "silver": Param(
            f"{LAKE}/silver/customer_behavior/", type="string", description="the silver Delta table"
        ),
        "export": Param(
            f"{LAKE}/exports/customer_behavior/",
            type="string",
            description="a Hive-partitioned Parquet folder",
        ),
    },
) as dag:
    create_bucket = S3CreateBucketOperator(task_id="create_lake_bucket", bucket_name=BUCKET)

    # [START howto_operator_glue_register_table]
    register = GlueRegisterTableOperator(
        task_id="register_customer_behavior",
        database="lakeops",
        table="customer_behavior",
        location="{{ params.silver }}",
        table_format="delta",  # None detects it from the _delta_log/ folder
        description="Customer behaviour events, PII masked (silver, Delta)",
        table_parameters={"layer": "silver", "owner_team": "data-platform"},
        evolution_policy="additive",
    )
    # [END howto_operator_glue_register_table]

    # [START howto_operator_glue_register_projection]
    register_export = GlueRegisterTableOperator(
        task_id="register_customer_behavior_export",
        database="lakeops",
        table="customer_behavior_export",
        location="{{ params.export }}",
        partition_mode="projection",  # dt=YYYY-MM-DD is inferred as a date projection
        evolution_policy="strict",
    )
    # [END howto_operator_glue_register_projection]

    create_bucket >> register >> register_export
