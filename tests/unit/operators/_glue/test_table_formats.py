"""Delta and Iceberg registration (_glue/table_formats.py): format detection on local folders, the Delta
log and Iceberg metadata read with the real delta-rs and PyIceberg, and the table inputs they give."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from airflow_provider_lakeops.exceptions import SchemaEvolutionError
from airflow_provider_lakeops.operators._glue.catalog import metadata_changes, plan_update, table_kind
from airflow_provider_lakeops.operators._glue.schema import Column
from airflow_provider_lakeops.operators._glue.table_formats import (
    DELTA,
    HIVE,
    ICEBERG,
    delta_table_input,
    detect_table_format,
    iceberg_table_input,
    latest_iceberg_metadata,
    metadata_sequence,
    read_delta,
    read_iceberg,
    registered_format,
    validate_table_format,
)
from airflow_provider_lakeops.utils.storage import parse_location

COLS = [Column("id", "bigint"), Column("name", "string")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), (" Delta ", DELTA), ("ICEBERG", ICEBERG), ("hive", HIVE)],
    ids=["none", "empty", "delta", "iceberg", "hive"],
)
def test_validate_table_format(value, expected):
    assert validate_table_format(value) == expected


def test_validate_table_format_rejects_others():
    with pytest.raises(ValueError, match="table_format must be one of delta, iceberg, hive or None"):
        validate_table_format("hudi")


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"table_type": "DELTA"}, DELTA),
        ({"spark.sql.sources.provider": "delta"}, DELTA),
        ({"table_type": "iceberg"}, ICEBERG),
        ({"classification": "parquet"}, HIVE),
    ],
    ids=["athena-delta", "spark-delta", "iceberg", "parquet"],
)
def test_registered_format(parameters, expected):
    assert registered_format({"Parameters": parameters}) == expected
    assert registered_format(None) is None


@pytest.mark.parametrize(
    ("name", "sequence"),
    [
        ("00003-6f2c1d4e-aaaa.metadata.json", 3),
        ("v12.metadata.json", 12),
        ("s3://b/t/metadata/00010-x.gz.metadata.json", 10),
        ("notes.metadata.json", None),
    ],
    ids=["java", "hadoop", "uri", "none"],
)
def test_metadata_sequence(name, sequence):
    assert metadata_sequence(name) == sequence


def _delta(tmp_path, table: pa.Table, partition_by=None, mode="error"):
    from deltalake import write_deltalake

    write_deltalake(str(tmp_path), table, partition_by=partition_by, mode=mode)


def test_delta_schema_and_partitions_come_from_the_log_not_the_files(tmp_path):
    _delta(tmp_path, pa.table({"id": [1, 2], "name": ["a", "b"], "dt": ["x", "y"]}), ["dt"])
    # an overwrite with another schema leaves the old files in place; the log says which count
    from deltalake import write_deltalake

    write_deltalake(
        str(tmp_path),
        pa.table({"id": [3], "amount": pa.array([1.5]), "dt": ["x"]}),
        partition_by=["dt"],
        mode="overwrite",
        schema_mode="overwrite",
    )
    assert len(list(tmp_path.glob("dt=*/*.parquet"))) == 3  # the two removed files are still there
    snapshot = read_delta(parse_location(str(tmp_path)), {})
    assert snapshot.version == 1
    assert [(c.name, c.type) for c in snapshot.columns] == [("id", "bigint"), ("amount", "double")]
    assert [(c.name, c.type) for c in snapshot.partition_keys] == [("dt", "string")]


def test_delta_types(tmp_path):
    import datetime as dt
    import decimal

    _delta(
        tmp_path,
        pa.table(
            {
                "n": pa.array([1], pa.int32()),
                "ts": pa.array([dt.datetime(2025, 1, 1, tzinfo=dt.UTC)], pa.timestamp("us", "UTC")),
                "price": pa.array([decimal.Decimal("1.25")], pa.decimal128(10, 2)),
                "tags": pa.array([["a"]], pa.list_(pa.string())),
                "day": pa.array([dt.date(2025, 1, 1)], pa.date32()),
            }
        ),
    )
    snapshot = read_delta(parse_location(str(tmp_path)), {})
    assert [(c.name, c.type) for c in snapshot.columns] == [
        ("n", "int"),
        ("ts", "timestamp"),
        ("price", "decimal(10,2)"),
        ("tags", "array<string>"),
        ("day", "date"),
    ]
    assert snapshot.partition_keys == []


def test_unreadable_delta_log_is_a_clear_error(tmp_path):
    (tmp_path / "_delta_log").mkdir()
    (tmp_path / "_delta_log" / "00000000000000000000.json").write_text("not json\n")
    with pytest.raises(ValueError, match="the Delta log cannot be read"):
        read_delta(parse_location(str(tmp_path)), {})


def test_detection_on_local_folders(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    assert detect_table_format(parse_location(str(files)), None, None, None) == HIVE
    delta = tmp_path / "delta"
    _delta(delta, pa.table({"id": [1]}))
    assert detect_table_format(parse_location(str(delta)), None, None, None) == DELTA
    assert detect_table_format(parse_location(str(delta)), None, "hive", None) == HIVE
    with pytest.raises(FileNotFoundError, match="no Iceberg metadata"):
        detect_table_format(parse_location(str(delta)), None, "iceberg", None)
    with pytest.raises(FileNotFoundError, match="no Delta log .*table_format='delta' was given"):
        detect_table_format(parse_location(str(files)), None, "delta", None)
    registered = {"Parameters": {"table_type": "DELTA"}}
    with pytest.raises(FileNotFoundError, match="registered as DELTA"):
        detect_table_format(parse_location(str(files)), None, None, registered)


def _iceberg(tmp_path):
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType

    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path / 'c.db'}", warehouse=f"file://{tmp_path}")
    catalog.create_namespace("ns")
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "name", StringType(), required=False, doc="the name"),
    )
    table = catalog.create_table("ns.t", schema=schema)
    table.append(pa.table({"id": pa.array([1], pa.int64()), "name": ["a"]}, schema=table.schema().as_arrow()))
    return table


def test_iceberg_latest_metadata_and_its_table_input(tmp_path):
    table = _iceberg(tmp_path)
    location = parse_location(table.location())
    assert detect_table_format(location, None, None, None) == ICEBERG
    sequence, uri = latest_iceberg_metadata(location, None)
    assert uri.endswith(table.metadata_location.rsplit("/", 1)[-1])
    assert sequence == 1  # 00000 at create, 00001 after the append
    snapshot = read_iceberg(uri, sequence, {})
    assert [(c.name, c.type) for c in snapshot.columns] == [("id", "bigint"), ("name", "string")]
    assert snapshot.field_parameters["id"] == {
        "iceberg.field.id": "1",
        "iceberg.field.optional": "false",
        "iceberg.field.current": "true",
    }
    created = iceberg_table_input(
        name="t",
        snapshot=snapshot,
        columns=snapshot.columns,
        existing=None,
        parameters={"layer": "s"},
        description=None,
    )
    assert created["Parameters"] == {"table_type": "ICEBERG", "metadata_location": uri, "layer": "s"}
    assert created["StorageDescriptor"]["Location"] == snapshot.location
    assert created["PartitionKeys"] == []
    assert created["StorageDescriptor"]["Columns"][0]["Parameters"]["iceberg.field.id"] == "1"
    older = {
        "Parameters": {
            "table_type": "ICEBERG",
            "metadata_location": "s3://b/t/metadata/00000-a.metadata.json",
        }
    }
    moved = iceberg_table_input(
        name="t", snapshot=snapshot, columns=snapshot.columns, existing=older, parameters={}, description="d"
    )
    assert moved["Parameters"]["previous_metadata_location"] == older["Parameters"]["metadata_location"]
    assert moved["Description"] == "d"


def test_tied_or_bad_iceberg_metadata(tmp_path):
    metadata = tmp_path / "metadata"
    metadata.mkdir()
    (metadata / "00001-a.metadata.json").write_text(json.dumps({"format-version": 2}))
    (metadata / "00001-b.metadata.json").write_text(json.dumps({"format-version": 2}))
    with pytest.raises(ValueError, match="share the newest sequence number 1"):
        latest_iceberg_metadata(parse_location(str(tmp_path)), None)
    (metadata / "00002-c.metadata.json").write_text("{}")
    sequence, uri = latest_iceberg_metadata(parse_location(str(tmp_path)), None)
    with pytest.raises(ValueError, match="not readable as Iceberg metadata"):
        read_iceberg(uri, sequence, {})


def _delta_input(**kwargs):
    args = {
        "name": "t",
        "location": "s3://lake/t/",
        "columns": COLS,
        "partition_keys": [Column("dt", "string")],
        "parameters": {},
        "description": None,
        **kwargs,
    }
    return delta_table_input(**args)


def test_delta_table_input_is_the_native_form():
    table = _delta_input(parameters={"layer": "silver"})
    assert table["Parameters"] == {
        "table_type": "DELTA",
        "spark.sql.sources.provider": "delta",
        "classification": "delta",
        "EXTERNAL": "TRUE",
        "layer": "silver",
    }
    assert table["StorageDescriptor"]["SerdeInfo"]["Parameters"]["path"] == "s3://lake/t/"
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert table_kind(table) == "DELTA"


def test_a_parquet_table_does_not_silently_become_delta():
    from airflow_provider_lakeops.operators._glue.catalog import build_table_input

    parquet = build_table_input(
        name="t",
        fmt="parquet",
        location="s3://lake/t/",
        columns=COLS,
        partition_keys=[Column("dt", "string")],
        parameters={},
        description=None,
    )
    delta = _delta_input()
    [change] = [c for c in metadata_changes(parquet, delta) if c["breaking"]]
    assert (change["change"], change["old_type"], change["new_type"]) == (
        "table_type_changed",
        "EXTERNAL_TABLE",
        "DELTA",
    )
    with pytest.raises(SchemaEvolutionError, match="table_type_changed"):
        plan_update(parquet, delta, columns_changed=False, policy="additive", name="db.t")
    update, _ = plan_update(parquet, delta, columns_changed=False, policy="replace", name="db.t")
    assert update is not None
    assert update["Parameters"]["table_type"] == "DELTA"
    assert plan_update(delta, _delta_input(), columns_changed=False, policy="strict", name="db.t")[0] is None
