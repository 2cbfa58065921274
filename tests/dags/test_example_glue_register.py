"""dag.test() of example_glue_register on the local stack: staging, registration, rerun, lineage."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from airflow_provider_lakeops.sample_data import write_events

DAG_ID = "example_glue_register"
BUCKET = "lakeops-lake"
PREFIX = "silver/customer_behavior/"
TABLES = ("customer_behavior", "customer_behavior_projected")


def _clean(glue, s3) -> None:
    """Drop the tables and S3 objects this DAG owns (other tests share the moto server)."""
    for table in TABLES:
        try:
            glue.delete_table(DatabaseName="lakeops", Name=table)
        except glue.exceptions.EntityNotFoundException:
            pass
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    except s3.exceptions.NoSuchBucket:
        pass


@pytest.fixture(scope="module")
def aws(lakeops_stack):
    kwargs = {
        "endpoint_url": lakeops_stack.moto_endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    glue, s3 = boto3.client("glue", **kwargs), boto3.client("s3", **kwargs)
    _clean(glue, s3)
    yield {"glue": glue, "s3": s3}
    _clean(glue, s3)  # leave lakeops.customer_behavior to the daily DAG's tests


@pytest.fixture(scope="module")
def silver(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lake") / "silver" / "customer_behavior"
    for day in ("2025-10-30", "2025-10-31"):
        write_events(root / f"dt={day}", 300, fmt="parquet", day=day, clean=True)
    return root


def _dag():
    from airflow.models import DagBag

    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    bag = DagBag(dag_folder=str(dag_file))
    assert bag.import_errors == {}
    return bag.get_dag(DAG_ID)


def _version(aws, table: str) -> str:
    return aws["glue"].get_table(DatabaseName="lakeops", Name=table)["Table"]["VersionId"]


def test_register_twice_with_lineage(aws, silver, lakeops_airflow_db, lakeops_lineage):
    dag = _dag()
    first = dag.test(run_conf={"silver_path": str(silver)})
    assert first.state == "success", {ti.task_id: ti.state for ti in first.get_task_instances()}

    glue = aws["glue"]
    table = glue.get_table(DatabaseName="lakeops", Name="customer_behavior")["Table"]
    names = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    assert names[:3] == ["event_id", "customer_id", "session_id"]
    assert "dt" not in names
    assert table["Parameters"]["layer"] == "silver"
    parts = glue.get_partitions(DatabaseName="lakeops", TableName="customer_behavior")["Partitions"]
    assert sorted(p["Values"][0] for p in parts) == ["2025-10-30", "2025-10-31"]
    projected = glue.get_table(DatabaseName="lakeops", Name="customer_behavior_projected")["Table"]
    assert projected["Parameters"]["projection.dt.range"] == "2025-10-30,NOW"
    versions = {t: _version(aws, t) for t in TABLES}

    [complete] = lakeops_lineage.task_events(
        DAG_ID, "register_customer_behavior", event_type="COMPLETE", run_id=first.run_id
    )
    [output] = complete["outputs"]
    assert output["namespace"] == "arn:aws:glue:us-east-1:123456789012"
    assert output["name"] == "table/lakeops/customer_behavior"
    assert output["facets"]["symlinks"]["identifiers"] == [
        {"namespace": f"s3://{BUCKET}", "name": PREFIX.rstrip("/"), "type": "TABLE"}
    ]
    fields = {f["name"]: f["type"] for f in output["facets"]["schema"]["fields"]}
    assert fields["customer_id"] == "bigint"
    assert fields["event_ts"] == "timestamp"
    assert fields["dt"] == "string"
    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [
        (f"s3://{BUCKET}", PREFIX.rstrip("/"))
    ]

    second = dag.test(run_conf={"silver_path": str(silver)})
    assert second.state == "success"
    assert {t: _version(aws, t) for t in TABLES} == versions, "a rerun must not create a table version"
    [ti] = [ti for ti in second.get_task_instances() if ti.task_id == "register_customer_behavior"]
    result = ti.xcom_pull(task_ids="register_customer_behavior")
    assert result["action"] == "unchanged"
    assert result["partitions_added"] == 0
