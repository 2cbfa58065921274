"""Identifier validation and quoting for the Snowflake MERGE operator."""

from __future__ import annotations

import pytest

from airflow_provider_lakeops.operators._snowflake.identifiers import (
    TableName,
    checked_identifier,
    data_identifier,
    normalize_identifier,
    parse_table_name,
    quote,
    string_literal,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("customer_id", "CUSTOMER_ID"),
        ("LAKEOPS", "LAKEOPS"),
        ("_x$1", "_X$1"),
        ('"Mixed Case"', "Mixed Case"),
        ('"lower"', "lower"),
        ('"Amount ($)"', "Amount ($)"),
        ('"über"', "über"),
    ],
)
def test_normalize_identifier(value, expected):
    assert normalize_identifier(value, "column") == expected


@pytest.mark.parametrize(
    "value",
    [
        "id; DROP TABLE t",
        "a'b",
        'a"b',
        '"a"b"',
        "x -- y",
        "x /* y */",
        "x\\y",
        '"x;y"',
        '"x--y"',
        '"it\'s"',
        "a\nb",
        "`x`",
        '""',
        '" "',
        "",
        "1abc",
        "has space",
        "x" * 256,
    ],
    ids=[
        "semicolon",
        "single-quote",
        "inner-quote",
        "broken-quoted",
        "dash-comment",
        "block-comment",
        "backslash",
        "quoted-semicolon",
        "quoted-comment",
        "quoted-single-quote",
        "newline",
        "backtick",
        "empty-quoted",
        "blank-quoted",
        "empty",
        "digit-first",
        "space-unquoted",
        "too-long",
    ],
)
def test_normalize_identifier_refuses(value):
    with pytest.raises(ValueError, match="column"):
        normalize_identifier(value, "column")


def test_normalize_identifier_needs_a_string():
    with pytest.raises(TypeError, match="must be a string"):
        normalize_identifier(3, "keys")


def test_refusal_names_the_bad_character():
    with pytest.raises(ValueError, match=r"contains ';'"):
        normalize_identifier("x; drop", "keys")


def test_data_and_checked_identifiers():
    assert data_identifier("event_id", "c") == "EVENT_ID"
    assert data_identifier("Page Path", "c") == "Page Path"
    assert checked_identifier("lower", "c") == "lower"
    for bad in ("a;b", "a'b", "x--"):
        with pytest.raises(ValueError, match="refused"):
            data_identifier(bad, "c")
        with pytest.raises(ValueError, match="refused"):
            checked_identifier(bad, "c")


def test_quote_doubles_inner_quotes():
    assert quote("Mixed Case") == '"Mixed Case"'
    assert quote('a"b') == '"a""b"'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("t", TableName("DB", "SCH", "T")),
        ("s.t", TableName("DB", "S", "T")),
        ('lakeops.public."Events"', TableName("LAKEOPS", "PUBLIC", "Events")),
        ('"My DB"."My.Schema".t', TableName("My DB", "My.Schema", "T")),
    ],
)
def test_parse_table_name(value, expected):
    assert parse_table_name(value, "target_table", default_database="db", default_schema="sch") == expected


@pytest.mark.parametrize(
    "value",
    ["a.b.c.d", "a..b", "t; drop table x", 't"; drop table x; --', "t -- x", ".t", ""],
)
def test_parse_table_name_refuses(value):
    with pytest.raises(ValueError, match="target_table"):
        parse_table_name(value, "target_table", default_database="DB", default_schema="S")


def test_parse_table_name_needs_defaults_for_short_names():
    with pytest.raises(ValueError, match="has no database"):
        parse_table_name("s.t", "target_table", default_database=None, default_schema="S")
    with pytest.raises(ValueError, match="has no schema"):
        parse_table_name("t", "target_table", default_database="D", default_schema="")
    assert (
        parse_table_name("d.s.t", "target_table", default_database=None, default_schema=None).sql
        == '"D"."S"."T"'
    )


def test_table_name_forms():
    name = TableName("LAKEOPS", "PUBLIC", "Mixed")
    assert name.sql == '"LAKEOPS"."PUBLIC"."Mixed"'
    assert name.dotted == str(name) == "LAKEOPS.PUBLIC.Mixed"


def test_string_literal():
    assert string_literal("d", "delete_value") == "'d'"
    assert string_literal("DELETE", "delete_value") == "'DELETE'"
    assert string_literal(3, "delete_value") == "'3'"
    for bad in ("d'; drop table x; --", "", "x" * 65, "a\\b", 'a"b'):
        with pytest.raises(ValueError, match="delete_value"):
            string_literal(bad, "delete_value")
    with pytest.raises(TypeError):
        string_literal(True, "delete_value")
