"""Every table GlueRegisterTableOperator registers is read back *through the catalog* by an engine that
did not write it, on the local stack's moto (S3 + Glue), and compared (rows and schema) with what was
written. A registration that no engine can read is a failure.

| format  | written by                                 | read back through Glue by                       |
| ------- | ------------------------------------------ | ----------------------------------------------- |
| Delta   | Spark (S3A + Delta 4.4), partitioned, with | delta-rs (``DeltaTable`` at the Glue table's    |
|         | a ``replaceWhere`` leaving stale files     | location, ``table_type=DELTA``)                 |
| Iceberg | PyIceberg through a SQL catalog (sqlite),  | PyIceberg's ``GlueCatalog`` plans the files;    |
|         | not Glue                                   | pyarrow's Parquet reader reads them             |
| Parquet | Spark, partitioned                         | pyarrow: Glue's columns + registered partition  |
|         |                                            | locations                                       |
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_lakeops.exceptions import SchemaEvolutionError
from airflow_provider_lakeops.operators.glue import GlueRegisterTableOperator
from airflow_provider_lakeops.testing.stack import LAKE_URI
from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options, pyiceberg_properties

pytestmark = pytest.mark.integration

BUCKET = LAKE_URI.removeprefix("s3://")
ACCOUNT = "123456789012"
WRITES = ("Create", "Update", "Batch", "Put", "Delete")


@pytest.fixture(scope="module")
def aws(lakeops_stack) -> dict[str, Any]:
    kwargs = {
        "endpoint_url": lakeops_stack.moto_endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    s3 = boto3.client("s3", **kwargs)
    try:
        s3.create_bucket(Bucket=BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    return {"s3": s3, "glue": boto3.client("glue", **kwargs)}


@pytest.fixture
def where() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {"database": f"rb_{suffix}", "root": f"{LAKE_URI}/tests/readback-{suffix}"}


def register(database: str, table: str, location: str, **kwargs: Any) -> dict[str, Any]:
    op = GlueRegisterTableOperator(
        task_id="register",
        database=database,
        table=table,
        location=location,
        aws_account_id=ACCOUNT,
        **kwargs,
    )
    return op.execute(context={})


def glue_table(aws, database: str, table: str) -> dict[str, Any]:
    return aws["glue"].get_table(DatabaseName=database, Name=table)["Table"]


def glue_schema(table: dict[str, Any]) -> list[tuple[str, str]]:
    """Columns then partition keys, as Glue holds them."""
    return [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"] + table["PartitionKeys"]]


def versions(aws, database: str, table: str) -> int:
    return len(aws["glue"].get_table_versions(DatabaseName=database, TableName=table)["TableVersions"])


def assert_no_writes(result: dict[str, Any]) -> None:
    writes = {k for k in result["api_calls"] if k.split(":")[1].startswith(WRITES)}
    assert writes == set(), f"a rerun must not write: {result['api_calls']}"


def arrow_as_glue(schema: pa.Schema) -> list[tuple[str, str]]:
    """An Arrow schema in Glue terms, to compare what a reader got with what was written."""
    names = {
        pa.int64(): "bigint",
        pa.int32(): "int",
        pa.float64(): "double",
        pa.string(): "string",
        pa.large_string(): "string",
        pa.string_view(): "string",
    }
    return [(f.name, names[f.type]) for f in schema]


def rows(table: pa.Table, *columns: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(r[c] for c in columns) for r in table.to_pylist())


# --------------------------------------------------------------------------- Delta
def test_delta_written_by_spark_is_read_back_through_glue_by_delta_rs(lake_spark, aws, where):
    from deltalake import DeltaTable

    location = f"{where['root']}/delta_events"
    first = [(i, f"n{i}", i * 1.5, str(i % 2)) for i in range(10)]
    replaced = [(100 + i, f"r{i}", 0.5, "1") for i in range(3)]
    schema = "id bigint, name string, amount double, dt string"
    lake_spark.createDataFrame(first, schema).write.format("delta").partitionBy("dt").save(location)
    lake_spark.createDataFrame(replaced, schema).write.format("delta").mode("overwrite").option(
        "replaceWhere", "dt = '1'"
    ).save(location)
    written = sorted([r for r in first if r[3] == "0"] + replaced)
    written_schema = [
        (f.name, f.dataType.simpleString()) for f in lake_spark.read.format("delta").load(location).schema
    ]
    assert written_schema == [("id", "bigint"), ("name", "string"), ("amount", "double"), ("dt", "string")]
    # the files the replaceWhere removed are still in the folder: a footer/listing-based registration would
    # read 5 rows too many
    prefix = location.removeprefix(f"s3://{BUCKET}/") + "/dt=1/"
    on_disk = [o["Key"] for o in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    options = delta_storage_options(aws_lake_access("aws_default"))
    active = [u for u in DeltaTable(location, storage_options=options).file_uris() if "/dt=1/" in u]
    assert len(on_disk) > len(active)

    result = register(where["database"], "delta_events", location)
    assert (result["action"], result["table_type"], result["table_format"]) == ("created", "DELTA", "delta")
    assert result["delta_version"] == 1
    assert result["partitions_added"] == 0
    assert "s3:GetObject" not in result["api_calls"], "no Parquet footer may be read for a Delta table"

    # ---- read back through the catalog: Glue -> location + table type -> delta-rs
    table = glue_table(aws, where["database"], "delta_events")
    assert table["Parameters"]["table_type"] == "DELTA"
    assert table["Parameters"]["spark.sql.sources.provider"] == "delta"
    assert (
        table["StorageDescriptor"]["SerdeInfo"]["Parameters"]["path"]
        == table["StorageDescriptor"]["Location"]
    )
    assert glue_schema(table) == written_schema
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]
    assert (
        aws["glue"].get_partitions(DatabaseName=where["database"], TableName="delta_events")["Partitions"]
        == []
    )
    read = DeltaTable(table["StorageDescriptor"]["Location"], storage_options=options).to_pyarrow_table()
    assert rows(read, "id", "name", "amount", "dt") == written
    assert sorted(arrow_as_glue(read.schema)) == sorted(written_schema)

    # ---- a rerun over the same log writes nothing, even after a data-only commit
    lake_spark.createDataFrame([(7, "late", 1.0, "0")], schema).write.format("delta").mode("append").save(
        location
    )
    rerun = register(where["database"], "delta_events", location)
    assert (rerun["action"], rerun["changed"], rerun["delta_version"]) == ("unchanged", False, 2)
    assert_no_writes(rerun)
    assert versions(aws, where["database"], "delta_events") == 1

    # ---- schema evolution in the log follows the policy: strict refuses, additive appends
    lake_spark.createDataFrame([(8, "new", 2.0, "0", "web")], f"{schema}, channel string").write.format(
        "delta"
    ).mode("append").option("mergeSchema", "true").save(location)
    with pytest.raises(SchemaEvolutionError, match="channel"):
        register(where["database"], "delta_events", location, evolution_policy="strict")
    assert versions(aws, where["database"], "delta_events") == 1
    evolved = register(where["database"], "delta_events", location)
    assert (evolved["action"], evolved["columns_added"]) == ("updated", ["channel"])
    table = glue_table(aws, where["database"], "delta_events")
    assert glue_schema(table) == [*written_schema[:3], ("channel", "string"), ("dt", "string")]
    read = DeltaTable(table["StorageDescriptor"]["Location"], storage_options=options).to_pyarrow_table()
    assert len(read) == len(written) + 2
    assert {r["channel"] for r in read.to_pylist()} == {None, "web"}


def test_delta_without_its_log_is_not_registered(aws, where, tmp_path):
    """Parquet files without a log: table_format='delta' fails before any write; so does a table
    registered as Delta whose log disappeared (registering its files would read removed ones)."""
    from deltalake import write_deltalake

    location = f"{where['root']}/broken_delta"
    options = delta_storage_options(aws_lake_access("aws_default"))
    write_deltalake(
        location, pa.table({"id": [1, 2], "dt": ["a", "b"]}), partition_by=["dt"], storage_options=options
    )
    write_deltalake(
        location,
        pa.table({"id": [3], "dt": ["a"]}),
        partition_by=["dt"],
        mode="overwrite",
        storage_options=options,
    )
    registered = register(where["database"], "broken_delta", location)
    assert registered["table_type"] == "DELTA"
    prefix = location.removeprefix(f"s3://{BUCKET}/") + "/_delta_log/"
    for obj in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]:
        aws["s3"].delete_object(Bucket=BUCKET, Key=obj["Key"])

    with pytest.raises(FileNotFoundError, match="no Delta log .* registered as DELTA"):
        register(where["database"], "broken_delta", location)
    assert versions(aws, where["database"], "broken_delta") == 1

    other = f"rb_{uuid.uuid4().hex[:8]}"
    with pytest.raises(FileNotFoundError, match="no Delta log .*table_format='delta' was given"):
        register(other, "broken_delta", location, table_format="delta")
    assert other not in {d["Name"] for d in aws["glue"].get_databases()["DatabaseList"]}


# --------------------------------------------------------------------------- Iceberg
def _sql_catalog(tmp_path, warehouse: str):
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(
        "writer",
        uri=f"sqlite:///{tmp_path / 'iceberg.db'}",
        warehouse=warehouse,
        **pyiceberg_properties(aws_lake_access("aws_default")),
    )


def _read_through_glue(aws, database: str, table: str) -> tuple[pa.Table, str]:
    """Glue -> metadata_location -> PyIceberg's GlueCatalog plans the files -> pyarrow reads them."""
    from pyarrow import fs
    from pyiceberg.catalog.glue import GlueCatalog

    access = aws_lake_access("aws_default")
    catalog = GlueCatalog("reader", client=aws["glue"], **pyiceberg_properties(access))
    loaded = catalog.load_table((database, table))
    s3 = fs.S3FileSystem(
        access_key=access.access_key,
        secret_key=access.secret_key,
        endpoint_override=access.endpoint_url,
        region=access.region,
        scheme="http",
    )
    parts = []
    for task in loaded.scan().plan_files():
        assert not task.delete_files
        parts.append(pq.read_table(task.file.file_path.removeprefix("s3://"), filesystem=s3))
    return pa.concat_tables(parts), loaded.metadata_location


def test_iceberg_written_by_pyiceberg_sql_catalog_is_read_back_through_glue(aws, where, tmp_path):
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import IdentityTransform
    from pyiceberg.types import DoubleType, LongType, NestedField, StringType

    writer = _sql_catalog(tmp_path, f"{where['root']}/warehouse")
    writer.create_namespace("lake")
    schema = Schema(
        NestedField(1, "id", LongType(), required=False),
        NestedField(2, "name", StringType(), required=False),
        NestedField(3, "amount", DoubleType(), required=False),
        NestedField(4, "dt", StringType(), required=False),
    )
    spec = PartitionSpec(PartitionField(source_id=4, field_id=1000, transform=IdentityTransform(), name="dt"))
    table = writer.create_table("lake.orders", schema=schema, partition_spec=spec)
    batch1 = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": ["a", "b", "c"],
            "amount": [1.0, 2.5, None],
            "dt": ["2025-10-30", "2025-10-31", "2025-10-31"],
        }
    )
    table.append(batch1)
    first_metadata = table.metadata_location
    written_schema = [("id", "bigint"), ("name", "string"), ("amount", "double"), ("dt", "string")]

    result = register(where["database"], "orders", table.location())
    assert (result["action"], result["table_type"], result["table_format"]) == (
        "created",
        "ICEBERG",
        "iceberg",
    )
    assert result["metadata_location"] == first_metadata
    glue = glue_table(aws, where["database"], "orders")
    assert glue["Parameters"]["table_type"] == "ICEBERG"
    assert glue["Parameters"]["metadata_location"] == first_metadata
    assert glue_schema(glue) == written_schema
    read, metadata = _read_through_glue(aws, where["database"], "orders")
    assert metadata == first_metadata
    assert rows(read, "id", "name", "amount", "dt") == rows(batch1, "id", "name", "amount", "dt")
    assert arrow_as_glue(read.schema) == written_schema

    # ---- the writer commits again: the registration moves to the newer metadata file
    batch2 = pa.table({"id": pa.array([4], pa.int64()), "name": ["d"], "amount": [4.0], "dt": ["2025-11-01"]})
    table.append(batch2)
    moved = register(where["database"], "orders", table.location())
    assert (moved["action"], moved["changed"]) == ("updated", True)
    assert moved["metadata_location"] == table.metadata_location != first_metadata
    glue = glue_table(aws, where["database"], "orders")
    assert glue["Parameters"]["previous_metadata_location"] == first_metadata
    read, metadata = _read_through_glue(aws, where["database"], "orders")
    assert metadata == table.metadata_location
    assert rows(read, "id", "name", "amount", "dt") == rows(
        pa.concat_tables([batch1, batch2]), "id", "name", "amount", "dt"
    )

    # ---- same metadata: nothing changes
    same = register(where["database"], "orders", table.location())
    assert (same["action"], same["changed"]) == ("unchanged", False)
    assert_no_writes(same)
    assert versions(aws, where["database"], "orders") == 2


def test_iceberg_bad_inputs_write_nothing(aws, where, tmp_path):
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField

    writer = _sql_catalog(tmp_path, f"{where['root']}/warehouse")
    writer.create_namespace("lake")
    table = writer.create_table("lake.t", schema=Schema(NestedField(1, "id", LongType(), required=False)))
    table.append(pa.table({"id": pa.array([1], pa.int64())}))
    before = {d["Name"] for d in aws["glue"].get_databases()["DatabaseList"]}
    with pytest.raises(FileNotFoundError, match="no Iceberg metadata"):
        register(where["database"], "t", f"{where['root']}/warehouse/lake.db/", table_format="iceberg")
    with pytest.raises(ValueError, match="cannot be used"):
        register(where["database"], "t", table.location(), columns={"id": "bigint"})
    # metadata copied under another root names a location that is not the one given
    other = f"{where['root']}/copy/"
    key = table.metadata_location.removeprefix(f"s3://{BUCKET}/")
    aws["s3"].copy_object(
        Bucket=BUCKET,
        Key=other.removeprefix(f"s3://{BUCKET}/") + "metadata/" + key.rsplit("/", 1)[-1],
        CopySource={"Bucket": BUCKET, "Key": key},
    )
    with pytest.raises(ValueError, match="says the Iceberg table lives at"):
        register(where["database"], "t", other)
    assert {d["Name"] for d in aws["glue"].get_databases()["DatabaseList"]} == before


# --------------------------------------------------------------------------- Parquet
def test_parquet_written_by_spark_is_read_back_through_glue_by_pyarrow(lake_spark, aws, where):
    from pyarrow import fs

    location = f"{where['root']}/parquet_events/"
    data = [(i, f"n{i}", i * 0.5, f"2025-10-3{i % 2}") for i in range(8)]
    df = lake_spark.createDataFrame(data, "id bigint, name string, amount double, dt string")
    df.write.partitionBy("dt").parquet(location)
    written_schema = [(f.name, f.dataType.simpleString()) for f in df.schema]

    result = register(where["database"], "parquet_events", location)
    assert (result["action"], result["table_type"], result["table_format"]) == (
        "created",
        "EXTERNAL_TABLE",
        "parquet",
    )
    assert result["partitions_added"] == 2

    # ---- read back through Glue's view of the table: its columns and its registered partitions
    table = glue_table(aws, where["database"], "parquet_events")
    assert glue_schema(table) == written_schema
    keys = [k["Name"] for k in table["PartitionKeys"]]
    access = aws_lake_access("aws_default")
    s3 = fs.S3FileSystem(
        access_key=access.access_key,
        secret_key=access.secret_key,
        endpoint_override=access.endpoint_url,
        region=access.region,
        scheme="http",
    )
    columns = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    got = []
    partitions = aws["glue"].get_partitions(DatabaseName=where["database"], TableName="parquet_events")
    for partition in partitions["Partitions"]:
        folder = partition["StorageDescriptor"]["Location"].removeprefix("s3://")
        for info in s3.get_file_info(fs.FileSelector(folder)):
            name = info.path.rsplit("/", 1)[-1]
            if not info.is_file or name.startswith(("_", ".")):
                continue
            part = pq.read_table(info.path, filesystem=s3, columns=columns)
            assert arrow_as_glue(part.schema) == written_schema[: len(columns)]
            values = dict(zip(keys, partition["Values"], strict=True))
            got += [(*(r[c] for c in columns), *values.values()) for r in part.to_pylist()]
    assert sorted(got) == sorted(data)

    rerun = register(where["database"], "parquet_events", location)
    assert (rerun["action"], rerun["changed"]) == ("unchanged", False)
    assert_no_writes(rerun)
