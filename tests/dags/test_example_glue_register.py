"""dag.test() of example_glue_register on the local stack: a Delta table and a Parquet export on S3
registered in Glue, a rerun that changes nothing, and the lineage of both."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_provider_lakeops.sample_data import write_events

DAG_ID = "example_glue_register"
BUCKET = "lakeops-lake"
ROOT = "tests/example-glue-register"
SILVER = f"s3://{BUCKET}/{ROOT}/silver/customer_behavior/"
EXPORT = f"s3://{BUCKET}/{ROOT}/exports/customer_behavior/"
TABLES = ("customer_behavior", "customer_behavior_export")
DAYS = ("2025-10-30", "2025-10-31")
GLUE_NS = "arn:aws:glue:us-east-1:123456789012"

pytestmark = pytest.mark.integration


def _clean(glue, s3) -> None:
    """Drop the tables and S3 objects this DAG owns (other tests share the moto server)."""
    for table in TABLES:
        try:
            glue.delete_table(DatabaseName="lakeops", Name=table)
        except glue.exceptions.EntityNotFoundException:
            pass
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=ROOT):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])


@pytest.fixture(scope="module")
def aws(lakeops_stack):
    glue, s3 = lakeops_stack.aws_client("glue"), lakeops_stack.aws_client("s3")
    _clean(glue, s3)
    yield {"glue": glue, "s3": s3}
    _clean(glue, s3)  # leave lakeops.customer_behavior to the daily DAG's tests


@pytest.fixture(scope="module")
def tables(aws, tmp_path_factory) -> dict[str, int]:
    """The silver table as Delta (delta-rs) and the export as Hive-partitioned Parquet, on S3."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import write_deltalake

    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

    local = tmp_path_factory.mktemp("lake")
    parts = []
    for day in DAYS:
        folder = local / f"dt={day}"
        write_events(folder, 300, fmt="parquet", day=day, clean=True)
        for file in sorted(folder.glob("*.parquet")):
            aws["s3"].upload_file(str(file), BUCKET, f"{ROOT}/exports/customer_behavior/dt={day}/{file.name}")
            parts.append(
                pq.read_table(file).append_column("dt", pa.array([day] * pq.read_metadata(file).num_rows))
            )
    table = pa.concat_tables(parts)
    options = delta_storage_options(aws_lake_access("aws_default"))
    write_deltalake(SILVER.rstrip("/"), table, partition_by=["dt"], storage_options=options)
    return {"rows": table.num_rows}


def _dag():
    from airflow.models import DagBag

    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    bag = DagBag(dag_folder=str(dag_file))
    assert bag.import_errors == {}
    return bag.get_dag(DAG_ID)


def _version(aws, table: str) -> str:
    return aws["glue"].get_table(DatabaseName="lakeops", Name=table)["Table"]["VersionId"]


def test_register_twice_with_lineage(aws, tables, lakeops_airflow_db, lakeops_lineage):
    dag = _dag()
    conf = {"silver": SILVER, "export": EXPORT}
    first = dag.test(run_conf=conf)
    assert first.state == "success", {ti.task_id: ti.state for ti in first.get_task_instances()}

    glue = aws["glue"]
    table = glue.get_table(DatabaseName="lakeops", Name="customer_behavior")["Table"]
    assert table["Parameters"]["table_type"] == "DELTA"
    assert table["Parameters"]["layer"] == "silver"
    names = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    assert names[:3] == ["event_id", "customer_id", "session_id"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]
    assert glue.get_partitions(DatabaseName="lakeops", TableName="customer_behavior")["Partitions"] == []
    export = glue.get_table(DatabaseName="lakeops", Name="customer_behavior_export")["Table"]
    assert export["Parameters"]["projection.dt.range"] == "2025-10-30,NOW"
    versions = {t: _version(aws, t) for t in TABLES}

    for task_id, prefix in (
        ("register_customer_behavior", SILVER),
        ("register_customer_behavior_export", EXPORT),
    ):
        [complete] = lakeops_lineage.task_events(DAG_ID, task_id, event_type="COMPLETE", run_id=first.run_id)
        dataset = (f"s3://{BUCKET}", prefix.removeprefix(f"s3://{BUCKET}/").rstrip("/"))
        [output] = complete["outputs"]
        assert (output["namespace"], output["name"]) == dataset
        glue_name = "table/lakeops/" + task_id.removeprefix("register_")
        assert output["facets"]["symlinks"]["identifiers"] == [
            {"namespace": GLUE_NS, "name": glue_name, "type": "TABLE"}
        ]
        assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [dataset]
        fields = {f["name"]: f["type"] for f in output["facets"]["schema"]["fields"]}
        assert fields["customer_id"] == "bigint"
        assert fields["dt"] == "string"

    second = dag.test(run_conf=conf)
    assert second.state == "success"
    assert {t: _version(aws, t) for t in TABLES} == versions, "a rerun must not create a table version"
    [ti] = [ti for ti in second.get_task_instances() if ti.task_id == "register_customer_behavior"]
    result = ti.xcom_pull(task_ids="register_customer_behavior")
    assert result["action"] == "unchanged"
    assert result["table_type"] == "DELTA"
