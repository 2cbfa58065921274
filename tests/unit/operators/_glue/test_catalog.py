"""Table inputs, change detection, partition projection, value checks and batch-response handling."""

from __future__ import annotations

import pytest

from airflow_provider_lakeops.exceptions import SchemaEvolutionError
from airflow_provider_lakeops.operators._glue.catalog import (
    build_table_input,
    check_partition_keys,
    collect_batch_errors,
    metadata_changes,
    partition_inputs,
    plan_update,
    projection_parameters,
    table_input_from_table,
    validate_partition_values,
)
from airflow_provider_lakeops.operators._glue.schema import Column

COLS = [Column("id", "bigint"), Column("name", "string")]
DT = [Column("dt", "string")]
LOC = "s3://lake/silver/t/"


def _table(fmt="parquet", **kwargs):
    args = {
        "name": "t",
        "fmt": fmt,
        "location": LOC,
        "columns": COLS,
        "partition_keys": DT,
        "parameters": {},
        "description": None,
    }
    args.update(kwargs)
    return build_table_input(**args)


@pytest.mark.parametrize(
    ("fmt", "serde", "extra"),
    [
        ("parquet", "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", {}),
        ("csv", "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", {"skip.header.line.count": "1"}),
        ("json", "org.openx.data.jsonserde.JsonSerDe", {}),
    ],
)
def test_build_table_input_per_format(fmt, serde, extra):
    table = _table(fmt)
    sd = table["StorageDescriptor"]
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert sd["SerdeInfo"]["SerializationLibrary"] == serde
    assert sd["Location"] == LOC
    assert sd["Columns"] == [{"Name": "id", "Type": "bigint"}, {"Name": "name", "Type": "string"}]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert table["Parameters"] == {"classification": fmt, "EXTERNAL": "TRUE", **extra}
    assert "Description" not in table


def test_csv_delimiter_and_json_paths():
    assert (
        _table("csv", csv_delimiter="|")["StorageDescriptor"]["SerdeInfo"]["Parameters"]["field.delim"] == "|"
    )
    assert _table("json")["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"paths": "id,name"}


def _registered(**overrides):
    """A GetTable answer for the table lakeops would create, plus what Glue and others add."""
    table = {
        **_table(description="silver"),
        "DatabaseName": "db",
        "VersionId": "3",
        "CreateTime": "x",
        "CatalogId": "123456789012",
        "Owner": "someone",
    }
    table["Parameters"] = {**table["Parameters"], "transient_lastDdlTime": "1", "set_by_crawler": "x"}
    table.update(overrides)
    return table


def test_metadata_changes_ignore_parameters_set_by_others():
    assert metadata_changes(_registered(), _table(description="silver")) == []


@pytest.mark.parametrize(
    ("desired", "what", "breaking"),
    [
        (_table(location="s3://lake/other/"), "location_changed", True),
        (_table("json"), "format_changed", True),
        (_table(description="new text"), "description_changed", False),
        (_table(parameters={"layer": "silver"}), "parameters_changed", False),
    ],
    ids=["location", "format", "description", "parameters"],
)
def test_metadata_changes(desired, what, breaking):
    [change] = [c for c in metadata_changes(_registered(), desired) if c["change"] == what]
    assert change["breaking"] is breaking


def test_plan_update_none_when_unchanged():
    assert plan_update(
        _registered(), _table(description="silver"), columns_changed=False, policy="additive", name="db.t"
    ) == (None, [])


def test_plan_update_keeps_unmanaged_fields():
    desired = _table(columns=[*COLS, Column("email", "string")], parameters={"layer": "silver"})
    update, changes = plan_update(
        _registered(), desired, columns_changed=True, policy="additive", name="db.t"
    )
    assert [c["change"] for c in changes] == ["parameters_changed"]
    assert update["Owner"] == "someone"
    assert update["Description"] == "silver"
    assert update["Parameters"]["set_by_crawler"] == "x"
    assert update["Parameters"]["layer"] == "silver"
    assert [c["Name"] for c in update["StorageDescriptor"]["Columns"]] == ["id", "name", "email"]
    assert not {"DatabaseName", "VersionId", "CreateTime", "CatalogId"} & set(update)


def test_plan_update_refuses_relocation_unless_replace():
    moved = _table(location="s3://lake/v2/")
    with pytest.raises(SchemaEvolutionError, match="another location") as err:
        plan_update(_registered(), moved, columns_changed=False, policy="additive", name="db.t")
    assert err.value.diff[0]["change"] == "location_changed"
    update, _ = plan_update(_registered(), moved, columns_changed=False, policy="replace", name="db.t")
    assert update["StorageDescriptor"]["Location"] == "s3://lake/v2/"


def test_table_input_from_table_drops_read_only_fields():
    assert set(table_input_from_table(_registered())) == {
        "Name",
        "TableType",
        "Parameters",
        "PartitionKeys",
        "StorageDescriptor",
        "Description",
        "Owner",
    }


def test_partition_keys_cannot_change():
    check_partition_keys(_registered(), DT, "db.t")
    with pytest.raises(SchemaEvolutionError, match="cannot change in place") as err:
        check_partition_keys(_registered(), [Column("dt", "date")], "db.t")
    assert err.value.diff[0] == {
        "column": "(partition_keys)",
        "change": "partition_keys_changed",
        "old_type": "dt:string",
        "new_type": "dt:date",
    }


def test_partition_inputs_copy_the_table_storage():
    sd = _table()["StorageDescriptor"]
    [entry] = partition_inputs(sd, LOC, {("2025-10-31",): "dt=2025-10-31/"}, [("2025-10-31",)])
    assert entry["Values"] == ["2025-10-31"]
    assert entry["StorageDescriptor"]["Location"] == LOC + "dt=2025-10-31/"
    assert entry["StorageDescriptor"]["Columns"] == sd["Columns"]
    assert sd["Location"] == LOC  # the table's descriptor is not modified


def test_partition_values_checked_against_key_types():
    keys = [Column("dt", "date"), Column("hour", "int")]
    validate_partition_values(keys, [("2025-10-31", "7"), ("2025-11-01", "__HIVE_DEFAULT_PARTITION__")])
    with pytest.raises(ValueError, match="do not match") as err:
        validate_partition_values(keys, [("2025-13-01", "7"), ("2025-10-31", "x")])
    assert "dt (date): '2025-13-01'" in str(err.value)
    assert "hour (int): 'x'" in str(err.value)


def test_projection_inferred_for_date_keys():
    params = projection_parameters(LOC, DT, [("2025-10-31",), ("2025-10-01",)], None)
    assert params == {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.range": "2025-10-01,NOW",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "storage.location.template": LOC + "dt=${dt}/",
    }


def test_projection_explicit_settings():
    keys = [Column("dt", "string"), Column("country", "string")]
    params = projection_parameters(
        LOC, keys, [("2025-10-31", "US")], {"country": {"type": "enum", "values": "US,NZ"}}
    )
    assert params["projection.country.values"] == "US,NZ"
    assert params["storage.location.template"] == LOC + "dt=${dt}/country=${country}/"


@pytest.mark.parametrize(
    ("keys", "partitions", "projection", "message"),
    [
        ([], [], None, "needs partition keys"),
        ([Column("country", "string")], [("US",)], None, "needs a projection config"),
        (DT, [("2025-10-31",)], {"hour": {"type": "integer"}}, "unknown partition keys"),
        (DT, [("2025-10-31",)], {"dt": {"range": "x"}}, "needs a 'type'"),
    ],
    ids=["no-keys", "not-a-date", "unknown-key", "no-type"],
)
def test_projection_errors(keys, partitions, projection, message):
    with pytest.raises(ValueError, match=message):
        projection_parameters(LOC, keys, partitions, projection)


def test_collect_batch_errors_counts_already_exists_as_success():
    batch = [{"Values": [str(i)]} for i in range(5)]
    response = {
        "Errors": [
            {
                "PartitionValues": ["1"],
                "ErrorDetail": {"ErrorCode": "AlreadyExistsException", "ErrorMessage": "exists"},
            },
            {
                "PartitionValues": ["3"],
                "ErrorDetail": {"ErrorCode": "InvalidInputException", "ErrorMessage": "bad SD"},
            },
        ]
    }
    added, already, failed = collect_batch_errors(batch, response)
    assert (added, already) == (3, 1)
    assert failed == [{"values": ["3"], "code": "InvalidInputException", "message": "bad SD"}]
    assert collect_batch_errors(batch, {}) == (5, 0, [])  # boto3 omits an empty Errors list
