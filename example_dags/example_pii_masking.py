"""
### example_pii_masking

Masks one landed day of customer events into the silver layer with `PiiMaskingOperator`:

* reads `{lake}/landing/customer_events/dt={{ ds }}/` (JSON lines, with PII);
* applies `policies/customer_events_pii.yaml` (strict: every column listed; `email` becomes a keyed
  HMAC-SHA256 token, `phone`/`ssn`/`full_name`/`ip_address` are partially masked);
* runs the leak guard on a sample, then writes Parquet to
  `{lake}/silver/customer_behavior_parquet/dt={{ ds }}/`, replacing only that partition (a rerun
  replaces, never duplicates; late events stay in the day they landed, they never replace an older
  partition). `table_format="delta"` writes a Delta table instead (one atomic `replaceWhere` commit
  per run), as the daily DAG does;
* returns the run report (XCom) and emits column lineage in which every masked column says `masking: true`.

The lake is `$LAKEOPS_LAKE_URI` (`s3://lakeops-lake` on the local stack's moto), read and written by
Spark through S3A. Connections: `spark_default` (the Spark master; the local stack sets `local[2]`),
`aws_default` (the lake; its credentials reach Spark through the spark-submit environment only) and
`lakeops_pii_key` (its password is the HMAC key, at least 32 bytes). See `docs/operators/pii_masking.md`.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_lakeops.operators.pii import PiiMaskingOperator

LAKE = os.environ.get("LAKEOPS_LAKE_URI", "s3://lakeops-lake").rstrip("/")

with DAG(
    dag_id="example_pii_masking",
    description="Landing JSON lines on S3 -> policy-driven PII masking on Spark -> silver Parquet on S3",
    schedule=None,
    start_date=datetime(2025, 10, 1),
    catchup=False,
    default_args={"owner": "data-platform", "retries": 1, "retry_delay": timedelta(minutes=2)},
    tags=["lakeops", "example", "pii", "spark"],
    doc_md=__doc__,
) as dag:
    # [START howto_operator_pii_masking]
    mask_customer_events = PiiMaskingOperator(
        task_id="mask_customer_events",
        input_path=f"{LAKE}/landing/customer_events/dt={{{{ ds }}}}/",
        input_format="json",
        output_path=f"{LAKE}/silver/customer_behavior_parquet",
        table_format="parquet",  # or "delta"
        policy="policies/customer_events_pii.yaml",  # relative to this file
        partition_by="dt",
        partition_values={"dt": "{{ ds }}"},  # silver dt=<day> holds exactly landing dt=<day>
        spark_conn_id="spark_default",
        hmac_key_conn_id="lakeops_pii_key",
        aws_conn_id="aws_default",
        spark_conf={"spark.sql.shuffle.partitions": "4"},
    )
    # [END howto_operator_pii_masking]
