"""The pure SQL builders of the Snowflake MERGE operator (no Snowflake needed)."""

from __future__ import annotations

import pytest

from airflow_provider_lakeops.exceptions import MergeError, SchemaEvolutionError
from airflow_provider_lakeops.operators._snowflake import sql as msql
from airflow_provider_lakeops.operators._snowflake.identifiers import TableName
from airflow_provider_lakeops.operators._snowflake.sql import Column

TARGET = TableName("LAKEOPS", "PUBLIC", "CUSTOMER_BEHAVIOR")
SOURCE = [
    Column("CUSTOMER_ID", "NUMBER(38,0)"),
    Column("EVENT_ID", "VARCHAR"),
    Column("AMOUNT", "FLOAT"),
    Column("UPDATED_AT", "TIMESTAMP_TZ(6)"),
    Column("OP", "VARCHAR"),
]
KEYS = ("CUSTOMER_ID", "EVENT_ID")


def plan(**overrides):
    args = {
        "target": TARGET,
        "source_columns": SOURCE,
        "target_columns": SOURCE[:4],
        "keys": KEYS,
        "column_mapping": {},
        "update_columns": None,
        "insert_columns": None,
        "operation_column": "OP",
        "ordering_column": "UPDATED_AT",
        "add_new_columns": False,
        "create_target": False,
    }
    args.update(overrides)
    return msql.plan_columns(**args)


def spec(**overrides):
    p = overrides.pop("plan", None) or plan()
    args = {
        "target": TARGET,
        "source": '"LAKEOPS"."PUBLIC"."SRC"',
        "plan": p,
        "operation_column": "OP",
        "delete_literal": "'d'",
        "ordering_column": "UPDATED_AT",
        "dedupe": True,
        "stale_guard": "UPDATED_AT",
    }
    args.update(overrides)
    return msql.MergeSpec(**args)


# ------------------------------------------------------------------ plan_columns
def test_plan_defaults_exclude_the_operation_column_and_keys_from_updates():
    p = plan()
    assert p.pairs == (
        ("CUSTOMER_ID", "CUSTOMER_ID"),
        ("EVENT_ID", "EVENT_ID"),
        ("AMOUNT", "AMOUNT"),
        ("UPDATED_AT", "UPDATED_AT"),
    )
    assert p.update_columns == ("AMOUNT", "UPDATED_AT")
    assert p.insert_columns == ("CUSTOMER_ID", "EVENT_ID", "AMOUNT", "UPDATED_AT")
    assert p.to_add == p.to_create == ()
    assert p.ordering_target == "UPDATED_AT"


def test_plan_mapping_renames_and_keys_follow_the_target_names():
    p = plan(
        source_columns=[Column("CUST", "NUMBER(38,0)"), *SOURCE[1:]], column_mapping={"CUST": "CUSTOMER_ID"}
    )
    assert p.pairs[0] == ("CUST", "CUSTOMER_ID")
    assert p.source_of("CUSTOMER_ID") == "CUST"


def test_plan_reports_untouched_target_columns():
    p = plan(target_columns=[*SOURCE[:4], Column("TIER", "TEXT")], operation_column="OP")
    assert p.untouched == ("TIER",)


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        (
            {"column_mapping": {"NOPE": "X"}},
            ValueError,
            "column_mapping names source columns that do not exist",
        ),
        ({"operation_column": "NOPE"}, ValueError, "operation_column 'NOPE' is not a source column"),
        ({"ordering_column": "NOPE"}, ValueError, "ordering_column 'NOPE'"),
        ({"keys": ("CUSTOMER_ID", "SESSION_ID")}, ValueError, r"key column\(s\) \['SESSION_ID'\]"),
        ({"column_mapping": {"AMOUNT": "EVENT_ID"}}, ValueError, "same target column"),
        ({"column_mapping": {"AMOUNT": "_LAKEOPS_OP"}}, ValueError, "reserved"),
        ({"update_columns": ("CUSTOMER_ID",)}, ValueError, "update_columns"),
        ({"insert_columns": ("AMOUNT",)}, ValueError, "must include every key"),
        ({"insert_columns": ("CUSTOMER_ID", "EVENT_ID", "NOPE")}, ValueError, "insert_columns"),
        ({"source_columns": [*SOURCE, Column("AMOUNT", "FLOAT")]}, ValueError, "duplicate column names"),
        ({"target_columns": None}, MergeError, "create_target_if_missing=True"),
    ],
    ids=[
        "mapping-unknown",
        "op-unknown",
        "ordering-unknown",
        "key-missing",
        "mapping-clash",
        "reserved",
        "update-key",
        "insert-no-keys",
        "insert-unknown",
        "duplicate-source",
        "no-target",
    ],
)
def test_plan_rejects(overrides, error, match):
    with pytest.raises(error, match=match):
        plan(**overrides)


def test_plan_schema_drift_fails_with_a_diff_or_adds_columns():
    extra = [*SOURCE, Column("CHANNEL", "VARCHAR")]
    with pytest.raises(SchemaEvolutionError) as err:
        plan(source_columns=extra)
    assert err.value.diff == [{"column": "CHANNEL", "change": "missing_in_target", "type": "VARCHAR"}]
    assert "add_new_columns=True" in str(err.value)
    assert plan(source_columns=extra, add_new_columns=True).to_add == (Column("CHANNEL", "VARCHAR"),)


def test_plan_creates_a_missing_target_from_the_source_types():
    p = plan(target_columns=None, create_target=True)
    assert p.to_create == tuple(SOURCE[:4])


# ------------------------------------------------------------------ statements
def test_deduplicated_source_filters_null_keys_and_keeps_the_latest():
    sql = msql.deduplicated_source(spec())
    assert 'WHERE "SRC"."CUSTOMER_ID" IS NOT NULL AND "SRC"."EVENT_ID" IS NOT NULL' in sql
    assert (
        'QUALIFY ROW_NUMBER() OVER (PARTITION BY "SRC"."CUSTOMER_ID", "SRC"."EVENT_ID" '
        'ORDER BY "SRC"."UPDATED_AT" DESC NULLS LAST) = 1'
    ) in sql
    assert '"D"."OP" AS "_LAKEOPS_OP"' in sql
    assert "QUALIFY" not in msql.deduplicated_source(spec(dedupe=False))
    with pytest.raises(ValueError, match="ordering column"):
        msql.deduplicated_source(spec(ordering_column=None))


def test_merge_sql_has_delete_changed_only_update_and_guarded_insert():
    sql = msql.merge_sql(spec())
    assert sql.startswith('MERGE INTO "LAKEOPS"."PUBLIC"."CUSTOMER_BEHAVIOR" AS "T" USING (')
    assert 'ON "T"."CUSTOMER_ID" = "S"."CUSTOMER_ID" AND "T"."EVENT_ID" = "S"."EVENT_ID"' in sql
    guard = '("T"."UPDATED_AT" IS NULL OR "S"."UPDATED_AT" >= "T"."UPDATED_AT")'
    assert f"""WHEN MATCHED AND "S"."_LAKEOPS_OP" = 'd' AND {guard} THEN DELETE""" in sql
    assert (
        '("T"."AMOUNT" IS DISTINCT FROM "S"."AMOUNT" OR "T"."UPDATED_AT" IS DISTINCT FROM "S"."UPDATED_AT") '
        'THEN UPDATE SET "AMOUNT" = "S"."AMOUNT", "UPDATED_AT" = "S"."UPDATED_AT"'
    ) in sql
    assert """WHEN NOT MATCHED AND "S"."_LAKEOPS_OP" IS DISTINCT FROM 'd' THEN INSERT""" in sql
    assert sql.index("THEN DELETE") < sql.index("THEN UPDATE") < sql.index("THEN INSERT")


def test_merge_sql_without_cdc_guard_or_updates():
    sql = msql.merge_sql(
        spec(
            operation_column=None,
            delete_literal=None,
            stale_guard=None,
            plan=plan(operation_column=None, source_columns=SOURCE[:4]),
        )
    )
    assert "DELETE" not in sql
    assert "_LAKEOPS_OP" not in sql
    assert ">=" not in sql
    keys_only = plan(
        source_columns=SOURCE[:2], target_columns=SOURCE[:2], operation_column=None, ordering_column=None
    )
    sql = msql.merge_sql(
        spec(plan=keys_only, operation_column=None, ordering_column=None, dedupe=False, stale_guard=None)
    )
    assert "WHEN MATCHED" not in sql
    assert "WHEN NOT MATCHED THEN INSERT" in sql


def test_append_is_insert_only_and_overwrite_is_one_transaction():
    append = msql.merge_sql(spec(), "append")
    assert "WHEN MATCHED" not in append
    assert "WHEN NOT MATCHED" in append
    begin, delete, insert, commit = msql.overwrite_statements(spec())
    assert (begin, commit) == ("BEGIN", "COMMIT")
    assert delete == 'DELETE FROM "LAKEOPS"."PUBLIC"."CUSTOMER_BEHAVIOR"'
    assert insert.startswith(
        'INSERT INTO "LAKEOPS"."PUBLIC"."CUSTOMER_BEHAVIOR" ("CUSTOMER_ID", "EVENT_ID", '
    )
    assert insert.endswith("""WHERE "S"."_LAKEOPS_OP" IS DISTINCT FROM 'd'""")
    assert msql.write_statements(spec(), "overwrite")[0] == "BEGIN"
    assert len(msql.write_statements(spec(), "merge")) == 1
    with pytest.raises(ValueError, match="not 'overwrite'"):
        msql.merge_sql(spec(), "overwrite")


def test_statements_do_not_grow_with_columns_beyond_their_text():
    many = [Column(f"C{i}", "VARCHAR") for i in range(50)]
    p = plan(source_columns=[*SOURCE[:4], *many], target_columns=[*SOURCE[:4], *many], operation_column=None)
    assert len(msql.write_statements(spec(plan=p, operation_column=None, delete_literal=None), "merge")) == 1


def test_precheck_counts_without_values():
    sql = msql.precheck_sql(spec())
    assert 'GROUP BY "SRC"."CUSTOMER_ID", "SRC"."EVENT_ID"' in sql
    for column in ("SOURCE_ROWS", "NULL_KEY_ROWS", "DUPLICATE_KEYS", "DUPLICATE_ROWS"):
        assert f'AS "{column}"' in sql


def test_ddl_and_staging_statements():
    cols = [Column("ID", "NUMBER(38,0)"), Column("Page Path", "VARCHAR")]
    assert msql.create_table_sql(TARGET, cols) == (
        'CREATE TABLE IF NOT EXISTS "LAKEOPS"."PUBLIC"."CUSTOMER_BEHAVIOR" '
        '("ID" NUMBER(38,0), "Page Path" VARCHAR)'
    )
    assert msql.add_column_sql(TARGET, cols[1]) == (
        'ALTER TABLE "LAKEOPS"."PUBLIC"."CUSTOMER_BEHAVIOR" ADD COLUMN "Page Path" VARCHAR'
    )
    stg = TableName("LAKEOPS", "PUBLIC", "LAKEOPS_STG_ABC")
    assert msql.create_staging_sql(stg, cols).startswith('CREATE OR REPLACE TRANSIENT TABLE "LAKEOPS"')
    assert msql.put_sql("/tmp/lakeops-merge-x/files", stg) == (
        'PUT \'file:///tmp/lakeops-merge-x/files/*.parquet\' @"LAKEOPS"."PUBLIC".%LAKEOPS_STG_ABC '
        "AUTO_COMPRESS = FALSE OVERWRITE = TRUE"
    )
    assert "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE" in msql.copy_into_staging_sql(stg)
    assert msql.drop_table_sql(stg) == 'DROP TABLE IF EXISTS "LAKEOPS"."PUBLIC"."LAKEOPS_STG_ABC"'
    for bad in ("relative/dir", "/tmp/it's", "/tmp/a;b", "/tmp/*"):
        with pytest.raises(ValueError, match="unsafe staging folder"):
            msql.put_sql(bad, stg)
    with pytest.raises(ValueError, match="simple upper-case"):
        msql.put_sql("/tmp/x", TableName("LAKEOPS", "PUBLIC", "lower case"))
    sql, params = msql.columns_query(TableName("Mixed DB", "PUBLIC", "T"))
    assert '"Mixed DB".INFORMATION_SCHEMA.COLUMNS' in sql
    assert params == {"schema": "PUBLIC", "table": "T"}


def test_parse_merge_counts():
    names = ["number of rows inserted", "number of rows updated", "number of rows deleted"]
    assert msql.parse_merge_counts(names, (3, 2, 1)) == {"inserted": 3, "updated": 2, "deleted": 1}
    assert msql.parse_merge_counts(["number of rows inserted"], (4,)) == {
        "inserted": 4,
        "updated": 0,
        "deleted": 0,
    }
    assert msql.parse_merge_counts(names, None) == {"inserted": 0, "updated": 0, "deleted": 0}


# ------------------------------------------------------------------ types
@pytest.mark.parametrize(
    ("type_code", "precision", "scale", "expected"),
    [
        (0, 38, 0, "NUMBER(38,0)"),
        (0, 10, 2, "NUMBER(10,2)"),
        (0, None, None, "NUMBER(38,0)"),
        (1, None, None, "FLOAT"),
        (2, None, None, "VARCHAR"),
        (3, None, None, "DATE"),
        (7, 0, 9, "TIMESTAMP_TZ(9)"),
        (8, 0, 6, "TIMESTAMP_NTZ(6)"),
        (6, None, None, "TIMESTAMP_LTZ"),
        (5, None, None, "VARIANT"),
        (13, None, None, "BOOLEAN"),
        (12, 0, 3, "TIME(3)"),
    ],
)
def test_type_from_metadata(type_code, precision, scale, expected):
    assert msql.type_from_metadata(type_code, precision, scale) == expected


def test_type_from_metadata_refuses_unknown_codes():
    with pytest.raises(ValueError, match="unsupported Snowflake column type code 99"):
        msql.type_from_metadata(99, None, None)
