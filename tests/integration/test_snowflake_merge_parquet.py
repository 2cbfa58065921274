"""SnowflakeMergeOperator with a Parquet source: local folder and S3 (moto), staged with PUT + COPY INTO
on the fakesnow server through the stock SnowflakeHook."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_lakeops.exceptions import MergeError
from airflow_provider_lakeops.operators.snowflake import SnowflakeMergeOperator
from tests.integration._snowflake import q

pytestmark = pytest.mark.integration

BUCKET = "lakeops-lake"


def ts(day: int, hour: int = 0) -> datetime:
    return datetime(2025, 10, day, hour, tzinfo=timezone.utc)


def batch(
    ids: list[int], amounts: list[float | None], days: list[int], ops: list[str] | None = None
) -> pa.Table:
    data: dict[str, Any] = {
        "event_id": [f"evt-{i}" for i in ids],
        "customer_id": pa.array([i % 3 for i in ids], pa.int64()),
        "amount": pa.array(amounts, pa.float64()),
        "updated_at": pa.array([ts(d) for d in days], pa.timestamp("us", tz="UTC")),
        "Page Path": [f"/p/{i}" for i in ids],
    }
    if ops is not None:
        data["op"] = ops
    return pa.table(data)


def write_folder(folder: Path, *tables: pa.Table) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, table in enumerate(tables):
        pq.write_table(table, folder / f"part-{i:05d}-abc.snappy.parquet")
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-00000-abc.snappy.parquet.crc").write_text("not parquet")
    return folder


def staging_tables(sf) -> list[tuple]:
    return q(
        sf,
        "SELECT table_name FROM LAKEOPS.INFORMATION_SCHEMA.COLUMNS "
        "WHERE table_schema = 'PUBLIC' AND table_name LIKE 'LAKEOPS_STG_%'",
    )


@pytest.fixture
def target() -> str:
    return f"PQ_{uuid.uuid4().hex[:8].upper()}"


def merge(**kwargs: Any) -> dict[str, Any]:
    op = SnowflakeMergeOperator(
        task_id="merge_parquet", keys=["customer_id", "event_id"], ordering_column="updated_at", **kwargs
    )
    return {"result": op.execute(context={"run_id": f"test-{uuid.uuid4().hex}"}), "op": op}


def test_local_folder_creates_merges_dedupes_and_reruns_to_zero(sf, tmp_path, target):
    folder = write_folder(
        tmp_path / "dt=2025-10-31",
        batch([1, 2, 3], [1.0, 2.0, None], [1, 1, 1]),
        batch([2, 4], [20.0, 4.0], [2, 1]),
    )  # a later version of evt-2 in the 2nd file
    run = merge(source_parquet=str(folder), target_table=target, create_target_if_missing=True)
    result = run["result"]
    assert (result["inserted"], result["updated"], result["deleted"]) == (4, 0, 0)
    # create staging, PUT, COPY, target columns, key check, CREATE target, MERGE, DROP staging
    assert result["statements"] == 8
    got = q(
        sf,
        f'SELECT event_id, customer_id, amount, "Page Path", updated_at IS NOT NULL FROM {target} ORDER BY 1',
    )
    assert got == [
        ("evt-1", 1, 1.0, "/p/1", True),
        ("evt-2", 2, 20.0, "/p/2", True),
        ("evt-3", 0, None, "/p/3", True),
        ("evt-4", 1, 4.0, "/p/4", True),
    ]
    types = dict(
        q(
            sf,
            "SELECT column_name, data_type FROM LAKEOPS.INFORMATION_SCHEMA.COLUMNS "
            "WHERE table_schema = 'PUBLIC' AND table_name = %s",
            (target,),
        )
    )
    assert types == {
        "EVENT_ID": "TEXT",
        "CUSTOMER_ID": "NUMBER",
        "AMOUNT": "FLOAT",
        "UPDATED_AT": "TIMESTAMP_TZ",
        "Page Path": "TEXT",
    }
    assert staging_tables(sf) == []

    again = merge(source_parquet=str(folder), target_table=target)["result"]
    assert (again["inserted"], again["updated"], again["deleted"]) == (0, 0, 0)
    assert again["statements"] == 7  # no CREATE the second time
    assert staging_tables(sf) == []


def test_cdc_deletes_from_parquet_and_lineage(sf, tmp_path, target):
    first = write_folder(tmp_path / "day1", batch([1, 2, 3], [1.0, 2.0, 3.0], [1, 1, 1], ["c", "c", "c"]))
    merge(
        source_parquet=str(first), target_table=target, operation_column="op", create_target_if_missing=True
    )
    second = write_folder(tmp_path / "day2", batch([1, 2, 5], [10.0, None, 5.0], [2, 2, 2], ["u", "d", "c"]))
    run = merge(source_parquet=str(second), target_table=target, operation_column="op")
    assert (run["result"]["inserted"], run["result"]["updated"], run["result"]["deleted"]) == (1, 1, 1)
    assert q(sf, f"SELECT event_id, amount FROM {target} ORDER BY 1") == [
        ("evt-1", 10.0),
        ("evt-3", 3.0),
        ("evt-5", 5.0),
    ]
    assert "OP" not in {
        r[0]
        for r in q(
            sf, "SELECT column_name FROM LAKEOPS.INFORMATION_SCHEMA.COLUMNS WHERE table_name = %s", (target,)
        )
    }
    lineage = run["op"].get_openlineage_facets_on_complete(None)
    (source,) = lineage.inputs
    assert (source.namespace, source.name) == ("file", str(second))
    output = lineage.outputs[0]
    assert (output.namespace, output.name) == ("snowflake://lakeops", f"LAKEOPS.PUBLIC.{target}")
    assert output.facets["columnLineage"].fields["Page Path"].inputFields[0].field == "Page Path"
    assert output.facets["columnLineage"].fields["EVENT_ID"].inputFields[0].field == "event_id"
    assert output.outputFacets["outputStatistics"].rowCount == 2


def test_empty_folder_is_a_noop_when_allowed_and_missing_folder_fails(sf, tmp_path, target):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = merge(
        source_parquet=str(empty), target_table=target, create_target_if_missing=True, require_data=False
    )["result"]
    assert (result["inserted"], result["updated"], result["deleted"], result["statements"]) == (0, 0, 0, 0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        merge(source_parquet=str(tmp_path / "nope"), target_table=target)


def test_empty_folder_fails_by_default_and_writes_nothing(sf, tmp_path, target):
    empty = tmp_path / "empty"
    (empty / "dt=2025-10-31").mkdir(parents=True)
    (empty / "dt=2025-10-31" / "part-00000.parquet").write_bytes(b"")  # an empty file is no data
    with pytest.raises(MergeError, match="no Parquet files under .*require_data=False"):
        merge(source_parquet=str(empty), target_table=target, create_target_if_missing=True)
    assert q(sf, f"SELECT COUNT(*) FROM LAKEOPS.INFORMATION_SCHEMA.TABLES WHERE table_name = '{target}'") == [
        (0,)
    ]


def test_hive_partitioned_folder_merges_every_partition_with_its_columns(sf, tmp_path, target):
    root = tmp_path / "bronze"
    write_folder(root / "ingest_date=2025-10-30" / "batch=0000000000-a", batch([1, 2], [1.0, 2.0], [30, 30]))
    write_folder(root / "ingest_date=2025-10-31" / "batch=0000000001-a", batch([3], [3.0], [31]))
    (root / "_spark_metadata").mkdir()
    (root / "_spark_metadata" / "0.parquet").write_text("not data")
    result = merge(source_parquet=str(root), target_table=target, create_target_if_missing=True)["result"]
    assert result["inserted"] == 3
    rows = q(sf, f"SELECT event_id, ingest_date, batch FROM {target} ORDER BY event_id")
    assert rows == [
        ("evt-1", "2025-10-30", "0000000000-a"),
        ("evt-2", "2025-10-30", "0000000000-a"),
        ("evt-3", "2025-10-31", "0000000001-a"),
    ]
    assert merge(source_parquet=str(root), target_table=target)["result"]["inserted"] == 0


def test_a_folder_that_is_not_a_partition_is_refused(sf, tmp_path, target):
    root = tmp_path / "mixed"
    write_folder(root / "dt=2025-10-31", batch([1], [1.0], [31]))
    write_folder(root / "old_copy", batch([2], [2.0], [31]))
    with pytest.raises(ValueError, match="old_copy is not a column=value partition folder"):
        merge(source_parquet=str(root), target_table=target, create_target_if_missing=True)


def test_files_with_conflicting_schemas_fail_before_anything_is_written(sf, tmp_path, target):
    folder = tmp_path / "conflict"
    folder.mkdir()
    pq.write_table(batch([1], [1.0], [1]), folder / "a.parquet")
    pq.write_table(batch([2], [2.0], [1]).set_column(2, "amount", pa.array(["2.0"])), folder / "b.parquet")
    with pytest.raises(ValueError, match="'amount' is FLOAT in a.parquet but VARCHAR in b.parquet"):
        merge(source_parquet=str(folder), target_table=target, create_target_if_missing=True)
    assert q(
        sf, "SELECT COUNT(*) FROM LAKEOPS.INFORMATION_SCHEMA.COLUMNS WHERE table_name = %s", (target,)
    ) == [(0,)]


def test_files_without_the_keys_fail_before_staging(sf, tmp_path, target):
    folder = tmp_path / "nokeys"
    folder.mkdir()
    pq.write_table(batch([1], [1.0], [1]).drop_columns(["event_id"]), folder / "a.parquet")
    with pytest.raises(ValueError, match=r"key column\(s\) \['EVENT_ID'\] are not provided"):
        merge(source_parquet=str(folder), target_table=target, create_target_if_missing=True)
    assert staging_tables(sf) == []


def test_s3_prefix_is_downloaded_and_staged(sf, lakeops_stack, target):
    s3 = boto3.client(
        "s3",
        endpoint_url=lakeops_stack.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        s3.create_bucket(Bucket=BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    prefix = f"t_{target.lower()}/silver/customer_behavior/dt=2025-10-31"
    for key, table in (
        (f"{prefix}/part-0.parquet", batch([1, 2], [1.0, 2.0], [1, 1])),
        (f"{prefix}/part-1.parquet", batch([2, 3], [5.0, 3.0], [3, 1])),
        (f"{prefix}1/part-0.parquet", batch([9], [9.0], [1])),  # a sibling prefix
        (f"{prefix}/_temporary/part-0.parquet", batch([8], [8.0], [1])),
    ):  # hidden: skipped
        buf = io.BytesIO()
        pq.write_table(table, buf)
        s3.put_object(Bucket=BUCKET, Key=key, Body=buf.getvalue())
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/_SUCCESS", Body=b"")
    run = merge(source_parquet=f"s3://{BUCKET}/{prefix}", target_table=target, create_target_if_missing=True)
    assert (run["result"]["inserted"], run["result"]["updated"]) == (3, 0)
    assert q(sf, f"SELECT event_id, amount FROM {target} ORDER BY 1") == [
        ("evt-1", 1.0),
        ("evt-2", 5.0),
        ("evt-3", 3.0),
    ]
    lineage = run["op"].get_openlineage_facets_on_complete(None)
    # a partition folder names its table (lineage.naming.table_root)
    assert (lineage.inputs[0].namespace, lineage.inputs[0].name) == (
        f"s3://{BUCKET}",
        prefix.rsplit("/", 1)[0],
    )
    rerun = merge(source_parquet=f"s3://{BUCKET}/{prefix}/", target_table=target)["result"]
    assert (rerun["inserted"], rerun["updated"], rerun["deleted"]) == (0, 0, 0)
    # a sub-folder that is not a partition would be invisible data: refused, naming it
    buf = io.BytesIO()
    pq.write_table(batch([7], [7.0], [1]), buf)
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/nested/part-0.parquet", Body=buf.getvalue())
    with pytest.raises(ValueError, match="nested is not a column=value partition folder"):
        merge(source_parquet=f"s3://{BUCKET}/{prefix}", target_table=target)
