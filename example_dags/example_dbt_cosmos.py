"""
### example_dbt_cosmos

Runs the lakeops dbt project (``dbt/``) through an astronomer-cosmos ``DbtTaskGroup`` on the
``local`` target: dbt-duckdb's ``delta`` plugin (delta-rs) reads the masked silver **Delta table**
through its log (``$LAKEOPS_SILVER_URI``, else ``$LAKEOPS_LAKE_URI/silver/customer_behavior``,
default ``s3://lakeops-lake/silver/customer_behavior``, partitioned by ``dt``), copies it into the
warehouse, and builds ``stg_customer_behavior`` (view), ``dim_customer`` and
``fct_customer_engagement`` (incremental) in the local file ``$LAKEOPS_LAKE_DIR/lakeops.duckdb``.

* ``aws_conn_id="aws_default"``: each dbt process gets that connection's region, endpoint and
  credentials as ``AWS_*`` variables at run time (the local stack's moto S3); no credentials live in
  the dbt project, the DAG, the rendered fields or XCom.
* Before ``stg_customer_behavior`` runs, the source's location is checked (an S3 URI or an absolute
  path) and a missing Delta table fails the task with its path.

* ``LoadMode.DBT_MANIFEST``: parsing this file runs no dbt command (the manifest comes from
  ``python -m airflow_provider_lakeops.dbt parse``, run by ``make install``).
* ``TestBehavior.AFTER_EACH``: each model's tests run right after it; a failing test fails the task.
* Cosmos emits OpenLineage events for every model into the same stream as the other operators;
  ``stg_customer_behavior``'s inputs also name the silver table as its writers do
  (``s3://lakeops-lake`` + ``silver/customer_behavior``): one graph from the lake to the marts.
* Each dbt task pushes a summary of dbt's ``run_results.json`` to XCom (key ``dbt_results``).
* ``publish_marts`` records the dbt marts as Airflow Assets (``duckdb://lakeops/main/<table>``)
  once every model and test passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_provider_lakeops.assets import mart_assets
from airflow_provider_lakeops.dbt import lakeops_dbt_task_group

default_args = {
    "owner": "data-platform",
    "retries": 1,
    "retry_delay": timedelta(minutes=2),
}

with DAG(
    dag_id="example_dbt_cosmos",
    description="dbt staging + marts over the silver Delta table, through Cosmos",
    schedule=None,
    start_date=datetime(2025, 10, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["lakeops", "example", "dbt"],
    doc_md=__doc__,
) as dag:
    # [START howto_operator_dbt_task_group]
    dbt = lakeops_dbt_task_group(
        group_id="dbt",
        target="local",  # "snowflake": profile from the snowflake_default connection
        aws_conn_id="aws_default",  # S3 access of the Delta source, as AWS_* variables at run time
    )
    # [END howto_operator_dbt_task_group]

    # the marts as Airflow Assets, updated only once every model and test passed
    publish_marts = EmptyOperator(task_id="publish_marts", outlets=list(mart_assets("local")))

    dbt >> publish_marts
