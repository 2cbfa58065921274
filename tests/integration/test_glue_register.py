"""GlueRegisterTableOperator against the moto server of the local stack (S3 + Glue Data Catalog).

Every test uses its own database and S3 prefix, so tests stay independent without resetting moto.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_lakeops.exceptions import PartitionRegistrationError, SchemaEvolutionError
from airflow_provider_lakeops.operators.glue import GlueRegisterTableOperator

pytestmark = pytest.mark.integration

BUCKET = "lakeops-lake"
ACCOUNT = "123456789012"


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
def names() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {
        "database": f"db_{suffix}",
        "table": "customer_behavior",
        "prefix": f"t_{suffix}/silver/customer_behavior/",
    }


def _table(**columns: Any) -> pa.Table:
    data = columns or {
        "event_id": ["evt-1", "evt-2"],
        "customer_id": pa.array([1, 2], pa.int64()),
        "amount": pa.array([1.5, None], pa.float64()),
    }
    return pa.table(data)


def put_parquet(aws: dict[str, Any], key: str, table: pa.Table) -> None:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=buf.getvalue())


def register(names: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    return make_op(names, **kwargs).execute(context={})


def make_op(names: dict[str, str], cls: type = GlueRegisterTableOperator, **kwargs: Any):
    args = {
        "database": names["database"],
        "table": names["table"],
        "location": f"s3://{BUCKET}/{names['prefix']}",
        "aws_account_id": ACCOUNT,
        **kwargs,
    }
    return cls(task_id="register", **args)


def glue_table(aws, names) -> dict[str, Any]:
    return aws["glue"].get_table(DatabaseName=names["database"], Name=names["table"])["Table"]


def columns(table: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]


def partitions(aws, names) -> set[tuple[str, ...]]:
    pages = (
        aws["glue"]
        .get_paginator("get_partitions")
        .paginate(DatabaseName=names["database"], TableName=names["table"])
    )
    return {tuple(p["Values"]) for page in pages for p in page["Partitions"]}


def test_create_then_rerun_is_unchanged(aws, names):
    for day in ("2025-10-30", "2025-10-31"):
        put_parquet(aws, f"{names['prefix']}dt={day}/part-0.parquet", _table())
    first = register(names, description="silver events", table_parameters={"layer": "silver"})
    assert first["action"] == "created"
    assert first["partitions_added"] == 2
    assert first["columns_added"] == ["event_id", "customer_id", "amount"]
    table = glue_table(aws, names)
    assert columns(table) == [("event_id", "string"), ("customer_id", "bigint"), ("amount", "double")]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["dt"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/{names['prefix']}"
    assert table["Parameters"]["layer"] == "silver"
    assert table["Description"] == "silver events"
    assert partitions(aws, names) == {("2025-10-30",), ("2025-10-31",)}
    part = aws["glue"].get_partition(
        DatabaseName=names["database"], TableName=names["table"], PartitionValues=["2025-10-31"]
    )["Partition"]
    assert part["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/{names['prefix']}dt=2025-10-31/"
    # the database did not exist: it was created lazily (CreateTable failed once, then CreateDatabase)
    assert first["api_calls"]["glue:CreateDatabase"] == 1
    assert aws["glue"].get_database(Name=names["database"])["Database"]["Name"] == names["database"]

    second = register(names, description="silver events", table_parameters={"layer": "silver"})
    assert second["action"] == "unchanged"
    assert second["table_version"] == first["table_version"] == glue_table(aws, names)["VersionId"]
    assert second["partitions_added"] == 0
    assert second["schema_diff"] == []
    writes = {
        k for k in second["api_calls"] if k.split(":")[1].startswith(("Create", "Update", "Batch", "Put"))
    }
    assert writes == set(), f"a rerun must not write: {second['api_calls']}"
    versions = aws["glue"].get_table_versions(DatabaseName=names["database"], TableName=names["table"])
    assert len(versions["TableVersions"]) == 1


def test_additive_change_appends_a_column(aws, names):
    put_parquet(aws, f"{names['prefix']}dt=2025-10-30/part-0.parquet", _table())
    created = register(names)
    newer = _table(
        event_id=["evt-3"], customer_id=pa.array([3], pa.int64()), amount=pa.array([2.0]), channel=["web"]
    )
    put_parquet(aws, f"{names['prefix']}dt=2025-10-31/part-0.parquet", newer)
    result = register(names)
    assert result["action"] == "updated"
    assert result["columns_added"] == ["channel"]
    assert result["schema_diff"] == [
        {"column": "channel", "change": "added", "old_type": None, "new_type": "string"}
    ]
    assert int(result["table_version"]) == int(created["table_version"]) + 1
    assert result["partitions_added"] == 1
    assert columns(glue_table(aws, names))[-1] == ("channel", "string")


def test_type_change_is_refused_with_the_diff_and_nothing_written(aws, names):
    key = f"{names['prefix']}dt=2025-10-30/part-0.parquet"
    put_parquet(aws, key, _table())
    register(names)
    before = glue_table(aws, names)["VersionId"]
    put_parquet(aws, key, _table(event_id=["evt-1"], customer_id=["C-1"], amount=pa.array([1.0])))
    with pytest.raises(SchemaEvolutionError) as err:
        register(names)
    assert err.value.diff == [
        {"column": "customer_id", "change": "type_changed", "old_type": "bigint", "new_type": "string"}
    ]
    text = str(err.value)
    assert "customer_id" in text
    assert "bigint" in text
    assert "string" in text
    assert "type_changed" in text
    assert glue_table(aws, names)["VersionId"] == before


def test_strict_refuses_and_replace_accepts(aws, names):
    key = f"{names['prefix']}dt=2025-10-30/part-0.parquet"
    put_parquet(aws, key, _table())
    register(names, evolution_policy="strict")
    put_parquet(
        aws, key, _table(event_id=["e"], customer_id=["C-1"], amount=pa.array([1.0]), channel=["web"])
    )
    with pytest.raises(SchemaEvolutionError, match="strict") as err:
        register(names, evolution_policy="strict")
    assert {d["change"] for d in err.value.diff} == {"type_changed", "added"}
    result = register(names, evolution_policy="replace", skip_archive=True)
    assert result["action"] == "updated"
    assert columns(glue_table(aws, names)) == [
        ("event_id", "string"),
        ("customer_id", "string"),
        ("amount", "double"),
        ("channel", "string"),
    ]


def _many_partitions(aws, names, count: int) -> None:
    body = io.BytesIO()
    pq.write_table(_table(), body)
    for i in range(count):
        aws["s3"].put_object(
            Bucket=BUCKET,
            Key=f"{names['prefix']}dt=2025-01-01/hour={i:04d}/part-0.parquet",
            Body=body.getvalue(),
        )


def test_250_partitions_in_three_batches(aws, names):
    _many_partitions(aws, names, 250)
    result = register(names, max_schema_files=5, partition_keys=["dt", {"name": "hour", "type": "int"}])
    assert result["partitions_added"] == 250
    assert result["partitions_found"] == 250
    assert result["api_calls"]["glue:BatchCreatePartition"] == 3
    assert result["api_calls"]["s3:GetObject"] == 5  # footers of the sampled files only
    assert len(partitions(aws, names)) == 250
    rerun = register(names, max_schema_files=5, partition_keys=["dt", {"name": "hour", "type": "int"}])
    assert rerun["partitions_added"] == 0
    assert "glue:BatchCreatePartition" not in rerun["api_calls"]


class _Interfering(GlueRegisterTableOperator):
    """Runs ``before_batch(n, params)`` right before the n-th BatchCreatePartition reaches moto."""

    before_batch: Callable[[int, dict[str, Any]], None]

    def _counted(self, client: Any) -> Any:
        client = super()._counted(client)
        if client.meta.service_model.service_name == "glue":
            calls = [0]

            def hook(params: dict[str, Any], **_: Any) -> None:
                calls[0] += 1
                self.before_batch(calls[0], params)

            client.meta.events.register("provide-client-params.glue.BatchCreatePartition", hook)
        return client


def test_partial_partition_errors_are_reported(aws, names):
    _many_partitions(aws, names, 120)

    def interfere(n: int, params: dict[str, Any]) -> None:
        if n == 1:  # another writer registers two of this batch first: AlreadyExists counts as success
            aws["glue"].batch_create_partition(
                DatabaseName=names["database"],
                TableName=names["table"],
                PartitionInputList=params["PartitionInputList"][:2],
            )
        if n == 2:  # the table disappears before the last batch: that batch fails as a whole
            aws["glue"].delete_table(DatabaseName=names["database"], Name=names["table"])

    op = make_op(names, cls=_Interfering, max_schema_files=3)
    op.before_batch = interfere
    with pytest.raises(PartitionRegistrationError) as err:
        op.execute(context={})
    assert err.value.added == 98  # 100 - 2 registered by the other writer
    assert len(err.value.failed) == 20
    assert {f["code"] for f in err.value.failed} == {"EntityNotFoundException"}
    assert err.value.failed[0]["values"] == ["2025-01-01", "0100"]
    assert "20 of 120 partition(s)" in str(err.value)
    assert "2025-01-01/0100: EntityNotFoundException" in str(err.value)
    # the lineage of the registered table is still reported on failure
    [output] = op.get_openlineage_facets_on_failure(None).outputs
    assert output.name == names["prefix"].rstrip("/")
    assert [i.name for i in output.facets["symlinks"].identifiers] == [
        f"table/{names['database']}/{names['table']}"
    ]


def test_missing_database_is_created_with_explicit_schema(aws, names):
    put_parquet(aws, f"{names['prefix']}part-0.parquet", _table())
    result = register(
        names,
        columns=[
            {"name": "event_id", "type": "string", "comment": "event key"},
            {"name": "customer_id", "type": "bigint"},
        ],
    )
    assert result["action"] == "created"
    assert aws["glue"].get_database(Name=names["database"])["Database"]["Name"] == names["database"]
    table = glue_table(aws, names)
    assert table["PartitionKeys"] == []
    assert table["StorageDescriptor"]["Columns"][0] == {
        "Name": "event_id",
        "Type": "string",
        "Comment": "event key",
    }
    assert "s3:GetObject" not in result["api_calls"]  # explicit schema: no footer read


def _databases(aws) -> set[str]:
    return {d["Name"] for d in aws["glue"].get_databases()["DatabaseList"]}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"table": "Customer-Behavior"}, ValueError, "not a valid Glue name"),
        ({"database": "x" * 300}, ValueError, "at most 255"),
        ({"file_format": "avro"}, ValueError, "not supported"),
        ({"location": f"s3://{BUCKET}/no/such/prefix/"}, FileNotFoundError, "no data files"),
        ({"location": "s3://no-such-bucket-lakeops/x/"}, FileNotFoundError, "does not exist"),
    ],
    ids=["bad-table", "long-db", "format", "empty-location", "missing-bucket"],
)
def test_bad_inputs_write_nothing(aws, names, kwargs, error, message):
    put_parquet(aws, f"{names['prefix']}dt=2025-10-30/part-0.parquet", _table())
    before = _databases(aws)
    with pytest.raises(error, match=message):
        register(names, **kwargs)
    assert _databases(aws) == before


def test_conflicting_file_schemas_write_nothing(aws, names):
    put_parquet(aws, f"{names['prefix']}dt=2025-10-30/part-0.parquet", _table())
    put_parquet(
        aws,
        f"{names['prefix']}dt=2025-10-31/part-0.parquet",
        _table(event_id=["e"], customer_id=["C-9"], amount=pa.array([1.0])),
    )
    with pytest.raises(ValueError, match="conflicting schemas") as err:
        register(names)
    assert "dt=2025-10-31/part-0.parquet" in str(err.value)
    assert names["database"] not in _databases(aws)


def test_large_footer_takes_a_second_ranged_read(aws, names):
    wide = pa.table({f"c_{i:04d}_{'x' * 40}": pa.array([i], pa.int64()) for i in range(1200)})
    put_parquet(aws, f"{names['prefix']}part-0.parquet", wide)
    result = register(names)
    assert result["api_calls"]["s3:GetObject"] == 2
    assert len(glue_table(aws, names)["StorageDescriptor"]["Columns"]) == 1200


@pytest.mark.parametrize(
    ("fmt", "filename", "body", "expected", "serde"),
    [
        (
            "csv",
            "part-0.csv",
            b"event_id,customer_id,amount,day\nevt-1,1,2.5,2025-10-31\nevt-2,2,,2025-10-31\n",
            [("event_id", "string"), ("customer_id", "bigint"), ("amount", "double"), ("day", "date")],
            "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        ),
        (
            "jsonl",
            "part-0.jsonl",
            b'{"event_id": "evt-1", "event_ts": "2025-10-31T10:00:00Z", "tags": ["a"], "note": null}\n',
            [("event_id", "string"), ("event_ts", "string"), ("tags", "array<string>"), ("note", "string")],
            "org.openx.data.jsonserde.JsonSerDe",
        ),
    ],
    ids=["csv", "jsonl"],
)
def test_text_formats(aws, names, fmt, filename, body, expected, serde):
    aws["s3"].put_object(Bucket=BUCKET, Key=f"{names['prefix']}dt=2025-10-31/{filename}", Body=body)
    assert register(names, file_format=fmt)["action"] == "created"
    table = glue_table(aws, names)
    assert columns(table) == expected
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == serde


def test_partition_projection_mode(aws, names):
    for day in ("2025-10-29", "2025-10-30", "2025-10-31"):
        put_parquet(aws, f"{names['prefix']}dt={day}/part-0.parquet", _table())
    result = register(names, partition_mode="projection")
    assert result["partitions_added"] == 0
    assert "glue:BatchCreatePartition" not in result["api_calls"]
    params = glue_table(aws, names)["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.dt.range"] == "2025-10-29,NOW"
    assert params["storage.location.template"] == f"s3://{BUCKET}/{names['prefix']}dt=${{dt}}/"
    assert partitions(aws, names) == set()
    put_parquet(aws, f"{names['prefix']}dt=2025-11-01/part-0.parquet", _table())
    assert register(names, partition_mode="projection")["action"] == "unchanged"


def test_source_path_stages_local_files_idempotently(aws, names, tmp_path):
    for day in ("2025-10-30", "2025-10-31"):
        folder = tmp_path / f"dt={day}"
        folder.mkdir()
        pq.write_table(_table(), folder / "part-0.parquet")
    (tmp_path / "_SUCCESS").write_text("")
    first = register(names, source_path=str(tmp_path))
    assert first["action"] == "created"
    assert first["partitions_added"] == 2
    keys = sorted(
        o["Key"] for o in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix=names["prefix"])["Contents"]
    )
    assert keys == [
        f"{names['prefix']}dt=2025-10-30/part-0.parquet",
        f"{names['prefix']}dt=2025-10-31/part-0.parquet",
    ]
    second = register(names, source_path=str(tmp_path))
    assert second["action"] == "unchanged"
    assert "s3:PutObject" not in second["api_calls"]
    assert "s3:CreateMultipartUpload" not in second["api_calls"]
    assert first["api_calls"]["s3:PutObject"] == 2


def test_local_location(names, tmp_path, lakeops_stack, aws):
    pq.write_table(_table(), tmp_path / "part-0.parquet")
    result = register(names, location=str(tmp_path))
    assert result["action"] == "created"
    assert glue_table(aws, names)["StorageDescriptor"]["Location"] == f"file://{tmp_path}/"


def test_lineage_facets(aws, names):
    put_parquet(aws, f"{names['prefix']}dt=2025-10-31/part-0.parquet", _table())
    op = make_op(names, aws_account_id=None)  # the account comes from STS GetCallerIdentity
    op.execute(context={})
    lineage = op.get_openlineage_facets_on_complete(None)
    # the storage location is the dataset (the writer's and the readers' name); the Glue table its symlink
    [output] = lineage.outputs
    assert (output.namespace, output.name) == (f"s3://{BUCKET}", names["prefix"].rstrip("/"))
    [link] = output.facets["symlinks"].identifiers
    assert (link.namespace, link.name, link.type) == (
        f"arn:aws:glue:us-east-1:{ACCOUNT}",
        f"table/{names['database']}/{names['table']}",
        "TABLE",
    )
    assert [(f.name, f.type) for f in output.facets["schema"].fields] == [
        ("event_id", "string"),
        ("customer_id", "bigint"),
        ("amount", "double"),
        ("dt", "string"),
    ]
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        (f"s3://{BUCKET}", names["prefix"].rstrip("/"))
    ]


# --------------------------------------------------------------------------- Delta and Iceberg
def _delta_options() -> dict[str, str]:
    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

    return delta_storage_options(aws_lake_access("aws_default"))


def test_delta_table_is_registered_from_its_log_with_lineage(aws, names):
    from deltalake import write_deltalake

    location = f"s3://{BUCKET}/{names['prefix']}"
    write_deltalake(
        location,
        _table(
            dt=["2025-10-31", "2025-11-01"],
            **{"event_id": ["evt-1", "evt-2"], "customer_id": pa.array([1, 2], pa.int64())},
        ),
        partition_by=["dt"],
        storage_options=_delta_options(),
    )
    op = make_op(names, table_parameters={"layer": "silver"}, description="events")
    result = op.execute(context={})
    assert (result["action"], result["changed"]) == ("created", True)
    assert (result["table_type"], result["table_format"], result["delta_version"]) == ("DELTA", "delta", 0)
    assert result["partitions_found"] == result["partitions_added"] == 0
    table = glue_table(aws, names)
    assert columns(table) == [("event_id", "string"), ("customer_id", "bigint")]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert table["Parameters"]["table_type"] == "DELTA"
    assert table["Parameters"]["layer"] == "silver"
    assert table["Description"] == "events"
    assert partitions(aws, names) == set()
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        (f"s3://{BUCKET}", names["prefix"].rstrip("/"))
    ]
    [output] = lineage.outputs
    assert (output.namespace, output.name) == (f"s3://{BUCKET}", names["prefix"].rstrip("/"))
    assert [(i.namespace, i.name) for i in output.facets["symlinks"].identifiers] == [
        (f"arn:aws:glue:us-east-1:{ACCOUNT}", f"table/{names['database']}/{names['table']}")
    ]
    assert [f.name for f in output.facets["schema"].fields] == ["event_id", "customer_id", "dt"]

    rerun = register(names, table_parameters={"layer": "silver"}, description="events")
    assert (rerun["action"], rerun["changed"], rerun["table_version"]) == (
        "unchanged",
        False,
        result["table_version"],
    )
    writes = {
        k for k in rerun["api_calls"] if k.split(":")[1].startswith(("Create", "Update", "Batch", "Put"))
    }
    assert writes == set()


def test_a_parquet_table_is_not_silently_turned_into_delta(aws, names):
    from deltalake import write_deltalake

    put_parquet(aws, f"{names['prefix']}dt=2025-10-30/part-0.parquet", _table())
    register(names)
    before = glue_table(aws, names)["VersionId"]
    write_deltalake(
        f"s3://{BUCKET}/{names['prefix']}",
        _table().append_column("dt", pa.array(["2025-10-31", "2025-10-31"])),
        partition_by=["dt"],
        storage_options=_delta_options(),
    )
    with pytest.raises(SchemaEvolutionError, match="table_type_changed") as err:
        register(names)
    assert err.value.diff[0]["new_type"] == "DELTA"
    assert glue_table(aws, names)["VersionId"] == before
    replaced = register(names, evolution_policy="replace")
    assert (replaced["action"], replaced["table_type"]) == ("updated", "DELTA")
    assert glue_table(aws, names)["Parameters"]["table_type"] == "DELTA"


def test_local_delta_location(names, tmp_path, lakeops_stack, aws):
    from deltalake import write_deltalake

    write_deltalake(str(tmp_path), _table())
    result = register(names, location=str(tmp_path), table_format="delta")
    assert result["table_type"] == "DELTA"
    table = glue_table(aws, names)
    assert table["StorageDescriptor"]["Location"] == f"file://{tmp_path}/"
    assert columns(table) == [("event_id", "string"), ("customer_id", "bigint"), ("amount", "double")]


def test_delta_arguments_that_do_not_apply_fail_before_any_write(aws, names):
    from deltalake import write_deltalake

    write_deltalake(f"s3://{BUCKET}/{names['prefix']}", _table(), storage_options=_delta_options())
    with pytest.raises(ValueError, match="Delta table: .*partition_mode='projection'"):
        register(names, partition_mode="projection")
    with pytest.raises(ValueError, match="Delta table: .*type_overrides"):
        register(names, type_overrides={"amount": "string"})
    assert names["database"] not in _databases(aws)


def test_iceberg_table_committed_through_pyiceberg_glue_catalog_is_left_unchanged(aws, names):
    """A table PyIceberg's own GlueCatalog keeps (with a dropped column of an older schema still listed,
    marked not current) is what lakeops would register: no write, under the strictest policy."""
    from pyiceberg.catalog.glue import GlueCatalog
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType

    from airflow_provider_lakeops.utils.lake import aws_lake_access, pyiceberg_properties

    catalog = GlueCatalog(
        "writer", client=aws["glue"], **pyiceberg_properties(aws_lake_access("aws_default"))
    )
    catalog.create_namespace(names["database"])
    location = f"s3://{BUCKET}/{names['prefix'].rstrip('/')}"
    schema = Schema(
        NestedField(1, "event_id", StringType(), required=False),
        NestedField(2, "customer_id", LongType(), required=False),
        NestedField(3, "note", StringType(), required=False),
    )
    table = catalog.create_table((names["database"], names["table"]), schema=schema, location=location)
    table.append(
        pa.table({"event_id": ["e"], "customer_id": pa.array([1], pa.int64()), "note": ["x"]}),
    )
    with table.update_schema() as update:
        update.delete_column("note")
    before = glue_table(aws, names)
    assert any(c["Name"] == "note" for c in before["StorageDescriptor"]["Columns"])
    result = register(names, evolution_policy="strict")
    assert (result["action"], result["changed"], result["table_type"]) == ("unchanged", False, "ICEBERG")
    assert result["metadata_location"] == before["Parameters"]["metadata_location"]
    assert glue_table(aws, names)["VersionId"] == before["VersionId"]
