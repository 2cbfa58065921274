"""Glue names, type strings, Arrow mapping, schema merging and evolution (pure functions)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from airflow_provider_lakeops.exceptions import SchemaEvolutionError
from airflow_provider_lakeops.operators._glue.schema import (
    Column,
    arrow_schema_to_columns,
    columns_from_glue,
    diff_columns,
    evolve,
    format_diff,
    merge_file_schemas,
    parse_columns,
    validate_glue_name,
)
from airflow_provider_lakeops.operators._glue.types import VOID, arrow_type_to_glue, normalize_hive_type


# ------------------------------------------------------------------------------------- names
@pytest.mark.parametrize("name", ["lakeops", "customer_behavior", "t1", "_x", "a" * 255], ids=str.__len__)
def test_valid_glue_names(name):
    assert validate_glue_name("table", name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "empty"),
        (None, "empty"),
        ("Customer", "'customer'"),
        ("customer-behavior", "'customer_behavior'"),
        ("with space", "'with_space'"),
        ("a" * 256, "at most 255"),
    ],
    ids=["empty", "none", "uppercase", "hyphen", "space", "too-long"],
)
def test_invalid_glue_names_say_how_to_fix(name, fragment):
    with pytest.raises(ValueError, match="table name") as err:
        validate_glue_name("table", name)
    assert fragment in str(err.value)


# ------------------------------------------------------------------------------------- types
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("BIGINT", "bigint"),
        ("integer", "int"),
        ("decimal", "decimal(10,0)"),
        ("decimal( 12 , 2 )", "decimal(12,2)"),
        ("varchar(20)", "varchar(20)"),
        ("array< string >", "array<string>"),
        ("map<string, array<int>>", "map<string,array<int>>"),
        ("struct<A:int, b : decimal(5,1)>", "struct<a:int,b:decimal(5,1)>"),
    ],
)
def test_normalize_hive_type(text, canonical):
    assert normalize_hive_type(text) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "varchar",
        "decimal(40,2)",
        "decimal(5,6)",
        "array<string",
        "map<string>",
        "struct<>",
        "uuid",
        "bigint extra",
        42,
    ],
    ids=[
        "empty",
        "varchar-no-len",
        "decimal-precision",
        "decimal-scale",
        "unclosed",
        "map-one-arg",
        "empty-struct",
        "unknown",
        "trailing",
        "not-a-string",
    ],
)
def test_invalid_hive_types(text):
    with pytest.raises(ValueError, match="invalid Glue column type"):
        normalize_hive_type(text)


@pytest.mark.parametrize(
    ("arrow", "glue"),
    [
        (pa.bool_(), "boolean"),
        (pa.int8(), "tinyint"),
        (pa.int16(), "smallint"),
        (pa.int32(), "int"),
        (pa.int64(), "bigint"),
        (pa.uint32(), "bigint"),
        (pa.uint64(), "decimal(20,0)"),
        (pa.float32(), "float"),
        (pa.float64(), "double"),
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.binary(), "binary"),
        (pa.date32(), "date"),
        (pa.timestamp("us", tz="UTC"), "timestamp"),
        (pa.timestamp("ns"), "timestamp"),
        (pa.decimal128(12, 2), "decimal(12,2)"),
        (pa.dictionary(pa.int32(), pa.string()), "string"),
        (pa.list_(pa.int64()), "array<bigint>"),
        (pa.map_(pa.string(), pa.float64()), "map<string,double>"),
        (pa.struct([("Street", pa.string()), ("n", pa.int32())]), "struct<street:string,n:int>"),
    ],
    ids=str,
)
def test_arrow_types_map_to_glue(arrow, glue):
    assert arrow_type_to_glue(arrow, where="c") == glue


def test_text_formats_keep_timestamps_as_strings_and_mark_nulls():
    assert arrow_type_to_glue(pa.timestamp("s"), where="c", text_format=True) == "string"
    assert arrow_type_to_glue(pa.null(), where="c", text_format=True) == VOID


@pytest.mark.parametrize(
    "arrow", [pa.null(), pa.time64("us"), pa.duration("s"), pa.decimal256(50, 2)], ids=str
)
def test_types_without_glue_equivalent_point_to_type_overrides(arrow):
    with pytest.raises(ValueError, match="type_overrides"):
        arrow_type_to_glue(arrow, where="file.parquet: column 'x'")


# ------------------------------------------------------------------------------------- columns
def test_arrow_schema_to_columns_lowercases_and_applies_overrides():
    schema = pa.schema([("Event_ID", pa.string()), ("blank", pa.null())])
    columns = arrow_schema_to_columns(schema, source="f", type_overrides={"blank": "string"})
    assert columns == [Column("event_id", "string"), Column("blank", "string")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([("a-b", pa.string())], "not a valid Glue name"),
        ([("A", pa.string()), ("a", pa.int64())], "appears twice"),
    ],
    ids=["bad-name", "case-duplicate"],
)
def test_arrow_schema_to_columns_rejects_bad_names(fields, message):
    with pytest.raises(ValueError, match=message):
        arrow_schema_to_columns(pa.schema(fields), source="s3://b/t/f.parquet")


def test_parse_columns_accepts_dicts_pairs_and_mappings():
    expected = [Column("id", "bigint"), Column("name", "string", "who")]
    assert (
        parse_columns(
            [{"name": "id", "type": "BIGINT"}, {"Name": "name", "Type": "string", "Comment": "who"}]
        )
        == expected
    )
    assert parse_columns([("id", "bigint"), ("name", "string")])[1] == Column("name", "string")
    assert parse_columns({"id": "bigint"}) == [Column("id", "bigint")]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("id bigint", "must be a list"),
        ([{"name": "id"}], "invalid Glue column type"),
        ([("ID", "int")], "valid Glue name"),
        ([("id", "int"), ("id", "bigint")], "appears twice"),
        ([42], "needs a name and a type"),
    ],
    ids=["string", "no-type", "uppercase", "duplicate", "not-a-pair"],
)
def test_parse_columns_errors(value, message):
    with pytest.raises(ValueError, match=message):
        parse_columns(value)


def test_columns_from_glue_keeps_comments():
    assert columns_from_glue([{"Name": "ID", "Type": "bigint", "Comment": "key"}]) == [
        Column("id", "bigint", "key")
    ]


# ------------------------------------------------------------------------------------- merging
def test_merge_unions_columns_in_first_seen_order():
    old = ("dt=1/a.parquet", [Column("id", "bigint"), Column("name", "string")])
    new = ("dt=2/a.parquet", [Column("id", "bigint"), Column("name", "string"), Column("email", "string")])
    assert [c.name for c in merge_file_schemas([old, new])] == ["id", "name", "email"]


def test_merge_reports_conflicting_types_with_both_files():
    with pytest.raises(ValueError, match="conflicting schemas") as err:
        merge_file_schemas([("f1", [Column("amount", "double")]), ("f2", [Column("amount", "string")])])
    assert "'amount': double in f1 but string in f2" in str(err.value)


def test_merge_widens_text_types_and_resolves_void():
    merged = merge_file_schemas(
        [
            ("a.csv", [Column("n", "bigint"), Column("x", VOID), Column("y", VOID)]),
            ("b.csv", [Column("n", "double"), Column("x", "date"), Column("y", VOID)]),
        ],
        text_format=True,
    )
    assert merged == [Column("n", "double"), Column("x", "date"), Column("y", "string")]


def test_merge_does_not_widen_parquet():
    with pytest.raises(ValueError, match="conflicting"):
        merge_file_schemas([("a", [Column("n", "bigint")]), ("b", [Column("n", "double")])])


# ------------------------------------------------------------------------------------- evolution
OLD = [Column("id", "bigint", "the key"), Column("name", "string")]


def test_unchanged_schema_keeps_catalog_comments():
    result = evolve(OLD, [Column("id", "BIGINT"), Column("name", "string")], policy="strict")
    assert not result.changed
    assert result.columns == OLD


def test_additive_appends_new_columns():
    result = evolve(
        OLD, [Column("email", "string"), Column("id", "bigint"), Column("name", "string")], policy="additive"
    )
    assert result.columns_added == ["email"]
    assert [c.name for c in result.columns] == ["id", "name", "email"]
    assert result.columns[0].comment == "the key"


@pytest.mark.parametrize(
    ("new", "change"),
    [
        ([Column("id", "string"), Column("name", "string")], "type_changed"),
        ([Column("id", "bigint")], "removed"),
    ],
    ids=["type-change", "removed"],
)
def test_additive_refuses_breaking_changes_with_readable_diff(new, change):
    with pytest.raises(SchemaEvolutionError) as err:
        evolve(OLD, new, policy="additive", table="lakeops.t")
    assert err.value.diff[0]["change"] == change
    assert "lakeops.t" in str(err.value)
    assert "column" in str(err.value)
    assert "old type" in str(err.value)


def test_strict_refuses_even_additions():
    with pytest.raises(SchemaEvolutionError, match="strict") as err:
        evolve(OLD, [*OLD, Column("email", "string")], policy="strict")
    assert err.value.diff == [{"column": "email", "change": "added", "old_type": None, "new_type": "string"}]


def test_replace_takes_the_new_schema():
    result = evolve(OLD, [Column("id", "string"), Column("email", "string")], policy="replace")
    assert result.columns == [Column("id", "string", "the key"), Column("email", "string")]
    assert {d["change"] for d in result.diff} == {"type_changed", "removed", "added"}


def test_positional_formats_refuse_moved_and_inserted_columns():
    diff = diff_columns(OLD, [Column("name", "string"), Column("id", "bigint")], positional=True)
    assert [d["change"] for d in diff] == ["moved", "moved"]
    assert diff_columns(OLD, [*OLD, Column("x", "int")], positional=True)[0]["change"] == "added"
    with pytest.raises(SchemaEvolutionError, match="moved"):
        evolve(
            OLD,
            [Column("id", "bigint"), Column("x", "int"), Column("name", "string")],
            policy="additive",
            positional=True,
        )


def test_format_diff_is_a_table():
    text = format_diff(
        [
            {"column": "amount", "change": "type_changed", "old_type": "double", "new_type": "string"},
            {"column": "phone", "change": "removed", "old_type": "string", "new_type": None},
        ]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["column", "change", "old", "type", "new", "type"]
    assert lines[1].split() == ["amount", "type_changed", "double", "string"]
    assert lines[2].split() == ["phone", "removed", "string", "-"]
