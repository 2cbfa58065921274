"""LakeopsGlueCatalogHook (hooks/glue_catalog.py) against the moto server of the local stack."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.integration


def _table_input(name: str, location: str, columns: list[str]) -> dict:
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": "dt", "Type": "string"}],
        "StorageDescriptor": {
            "Columns": [{"Name": c, "Type": "string"} for c in columns],
            "Location": location,
        },
    }


@pytest.fixture
def hook(lakeops_stack):
    from airflow_provider_lakeops.hooks.glue_catalog import LakeopsGlueCatalogHook

    return LakeopsGlueCatalogHook(aws_conn_id="aws_default")


def test_it_is_the_amazon_providers_hook(hook):
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    from airflow_provider_lakeops.hooks import glue_catalog

    assert isinstance(hook, GlueCatalogHook)
    assert type(hook).__module__ == "airflow_provider_lakeops.hooks.glue_catalog"
    assert glue_catalog.LakeopsGlueCatalogHook is type(hook)  # built once, then a module attribute


def test_create_update_and_partitions(hook):
    database, table = f"db_{uuid.uuid4().hex[:8]}", "events"
    location = "s3://lakeops-lake/silver/events/"
    assert hook.get_table_or_none(database, table) is None  # the database does not exist either

    assert (
        hook.create_or_update_table(database, _table_input(table, location, ["id"]), existing=None)
        == "created"
    )
    existing = hook.get_table_or_none(database, table)
    assert existing is not None
    assert [c["Name"] for c in existing["StorageDescriptor"]["Columns"]] == ["id"]
    assert (
        hook.create_or_update_table(
            database, _table_input(table, location, ["id", "amount"]), existing=existing
        )
        == "updated"
    )
    updated = hook.get_table_or_none(database, table)
    assert [c["Name"] for c in updated["StorageDescriptor"]["Columns"]] == ["id", "amount"]
    assert updated["VersionId"] != existing["VersionId"]

    days = [f"2025-10-{d:02d}" for d in range(1, 32)] + [f"2025-11-{d:02d}" for d in range(1, 31)]
    days += [f"2025-12-{d:02d}" for d in range(1, 32)] + [f"2026-01-{d:02d}" for d in range(1, 31)]
    inputs = [
        {
            "Values": [d],
            "StorageDescriptor": {**updated["StorageDescriptor"], "Location": f"{location}dt={d}/"},
        }
        for d in days
    ]
    report = hook.batch_create_partitions(database, table, inputs)
    assert (report.added, report.already_present, report.batches, report.failed) == (len(days), 0, 2, [])
    again = hook.batch_create_partitions(database, table, inputs + inputs[:3])
    # duplicates come back per partition as AlreadyExistsException (as Glue and moto report them)
    assert (again.added, again.already_present, again.batches, again.failed) == (0, len(days) + 3, 2, [])
    paginator = hook.conn.get_paginator("get_partitions")
    registered = [
        p["Values"][0]
        for page in paginator.paginate(DatabaseName=database, TableName=table)
        for p in page["Partitions"]
    ]
    assert sorted(registered) == days

    assert hook.delete_partitions(database, table, [[d] for d in days[:30]]) == []
    remaining = [
        p["Values"][0]
        for page in paginator.paginate(DatabaseName=database, TableName=table)
        for p in page["Partitions"]
    ]
    assert sorted(remaining) == days[30:]
    with pytest.raises(ValueError, match="batch_size must be 1..100"):
        hook.batch_create_partitions(database, table, inputs, batch_size=101)
