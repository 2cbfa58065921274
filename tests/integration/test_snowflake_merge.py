"""SnowflakeMergeOperator against the fakesnow server of the local stack, through the stock SnowflakeHook.

The fakesnow server accepts a MERGE with duplicate source keys (Snowflake errors), so every
de-duplication test asserts on the data. Every test uses its own tables (one shared in-memory DB).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from airflow_provider_lakeops.exceptions import MergeError, SchemaEvolutionError
from airflow_provider_lakeops.operators._snowflake import sql as msql
from airflow_provider_lakeops.operators._snowflake.identifiers import TableName
from airflow_provider_lakeops.operators.snowflake import SnowflakeMergeOperator
from tests.integration._snowflake import q

pytestmark = pytest.mark.integration

COLS = "customer_id NUMBER(38,0), event_id VARCHAR, amount FLOAT, updated_at TIMESTAMP_NTZ(6)"


@pytest.fixture
def t() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8].upper()
    return {"src": f"SRC_{suffix}", "tgt": f"TGT_{suffix}"}


def make(sf, name: str, rows: list[tuple], cols: str = COLS) -> None:
    q(sf, f"CREATE OR REPLACE TABLE {name} ({cols})")
    if rows:
        width = len(rows[0])
        values = ", ".join("(" + ", ".join(["%s"] * width) + ")" for _ in rows)
        q(sf, f"INSERT INTO {name} VALUES {values}", [v for row in rows for v in row])


def merge(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("ordering_column", "updated_at")
    return SnowflakeMergeOperator(task_id="merge", **kwargs).execute(context={})


def counts(result: dict[str, Any]) -> tuple[int, int, int]:
    return result["inserted"], result["updated"], result["deleted"]


def rows(sf, table: str, order: str = "1, 2") -> list[tuple]:
    return q(sf, f"SELECT customer_id, event_id, amount FROM {table} ORDER BY {order}")


def test_insert_update_delete_noop_and_rerun_zeros(sf, t):
    make(
        sf,
        t["tgt"],
        [
            (1, "a", 1.0, "2025-01-01 00:00:00"),
            (2, "b", 2.0, "2025-01-01 00:00:00"),
            (3, "c", 3.0, "2025-01-01 00:00:00"),
        ],
    )
    make(
        sf,
        t["src"],
        [
            (1, "a", 10.0, "2025-01-02 00:00:00", "u"),  # changed -> update
            (2, "b", 2.0, "2025-01-01 00:00:00", "u"),  # unchanged -> no-op
            (3, "c", 3.0, "2025-01-02 00:00:00", "d"),  # CDC delete
            (4, "d", 4.0, "2025-01-02 00:00:00", "i"),  # new -> insert
            (5, "e", 5.0, "2025-01-02 00:00:00", "d"),
        ],  # delete of a missing key: ignored
        COLS + ", op VARCHAR",
    )
    args = {
        "target_table": t["tgt"],
        "source_table": t["src"],
        "keys": ["customer_id", "event_id"],
        "operation_column": "op",
    }
    first = merge(**args)
    assert counts(first) == (1, 1, 1)
    assert rows(sf, t["tgt"]) == [(1, "a", 10.0), (2, "b", 2.0), (4, "d", 4.0)]
    assert first["statements"] == len(first["query_ids"]) == 4  # describe, target columns, key check, MERGE
    assert counts(merge(**args)) == (0, 0, 0)
    assert rows(sf, t["tgt"]) == [(1, "a", 10.0), (2, "b", 2.0), (4, "d", 4.0)]


def test_composite_keys_match_on_every_key(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01"), (1, "b", 2.0, "2025-01-01")])
    make(sf, t["src"], [(1, "a", 5.0, "2025-01-02"), (2, "a", 6.0, "2025-01-02")])
    result = merge(target_table=t["tgt"], source_table=t["src"], keys=["customer_id", "event_id"])
    assert counts(result) == (1, 1, 0)
    assert rows(sf, t["tgt"]) == [(1, "a", 5.0), (1, "b", 2.0), (2, "a", 6.0)]


def test_dedupe_latest_keeps_the_latest_row_per_key(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01"), (2, "b", 2.0, "2025-01-01")])
    make(
        sf,
        t["src"],
        [
            (1, "a", 7.0, "2025-01-03 00:00:00", "u"),  # latest of key 1, not the last row
            (1, "a", 5.0, "2025-01-02 00:00:00", "u"),
            (1, "a", 6.0, "2025-01-01 12:00:00", "u"),
            (2, "b", 9.0, "2025-01-02 00:00:00", "u"),
            (2, "b", None, "2025-01-04 00:00:00", "d"),  # latest of key 2 is a delete
            (3, "c", 3.0, "2025-01-02 00:00:00", "i"),
            (3, "c", 3.0, "2025-01-02 00:00:00", "i"),
        ],  # exact re-send
        COLS + ", op VARCHAR",
    )
    result = merge(
        target_table=t["tgt"],
        source_table=t["src"],
        keys=["customer_id", "event_id"],
        operation_column="op",
        delete_value="d",
    )
    assert counts(result) == (1, 1, 1)
    assert rows(sf, t["tgt"]) == [(1, "a", 7.0), (3, "c", 3.0)]
    assert q(sf, f"SELECT COUNT(*) FROM {t['tgt']} WHERE customer_id = 3") == [(1,)]


def test_fail_mode_reports_counts_and_key_names_never_values(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01")])
    make(
        sf,
        t["src"],
        [
            (1, "secret-key-value", 1.0, "2025-01-01"),
            (1, "secret-key-value", 2.0, "2025-01-02"),
            (2, "b", 1.0, "2025-01-01"),
            (2, "b", 1.0, "2025-01-01"),
            (2, "b", 1.0, "2025-01-01"),
            (3, "c", 1.0, "2025-01-01"),
        ],
    )
    with pytest.raises(MergeError) as err:
        merge(
            target_table=t["tgt"],
            source_table=t["src"],
            keys=["customer_id", "event_id"],
            on_duplicates="fail",
            ordering_column=None,
        )
    message = str(err.value)
    assert "2 duplicate key(s) (3 surplus row(s))" in message
    assert "CUSTOMER_ID, EVENT_ID" in message
    assert "secret-key-value" not in message
    assert rows(sf, t["tgt"]) == [(1, "a", 1.0)]


def test_null_keys_are_skipped_or_fail(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01")])
    make(
        sf,
        t["src"],
        [(None, "x", 1.0, "2025-01-01"), (2, None, 1.0, "2025-01-01"), (3, "c", 3.0, "2025-01-01")],
    )
    args = {"target_table": t["tgt"], "source_table": t["src"], "keys": ["customer_id", "event_id"]}
    with pytest.raises(MergeError, match="2 source row"):
        merge(on_null_keys="fail", **args)
    assert rows(sf, t["tgt"]) == [(1, "a", 1.0)]
    assert counts(merge(**args)) == (1, 0, 0)
    assert counts(merge(**args)) == (0, 0, 0)  # NULL keys never pile up on reruns
    assert rows(sf, t["tgt"]) == [(1, "a", 1.0), (3, "c", 3.0)]


def test_only_newer_ignores_a_replayed_older_version(sf, t):
    make(sf, t["tgt"], [(1, "a", 9.0, "2025-02-01 00:00:00")])
    make(
        sf,
        t["src"],
        [(1, "a", 1.0, "2025-01-01 00:00:00", "u"), (1, "b", 1.0, "2025-01-01 00:00:00", "u")],
        COLS + ", op VARCHAR",
    )
    args = {
        "target_table": t["tgt"],
        "source_table": t["src"],
        "keys": ["customer_id", "event_id"],
        "operation_column": "op",
    }
    assert counts(merge(**args)) == (1, 0, 0)
    assert rows(sf, t["tgt"]) == [(1, "a", 9.0), (1, "b", 1.0)]
    assert counts(merge(only_newer=False, **args)) == (0, 1, 0)
    assert rows(sf, t["tgt"]) == [(1, "a", 1.0), (1, "b", 1.0)]


def test_mixed_case_and_quoted_identifiers_with_a_mapping(sf, t):
    target = f'"Mixed Tgt {t["tgt"][-4:]}"'
    q(
        sf,
        f'CREATE OR REPLACE TABLE {target} ("Customer Id" NUMBER(38,0), "eventId" VARCHAR, "Amount $" FLOAT)',
    )
    q(sf, f"INSERT INTO {target} VALUES (1, 'a', 1.0)")
    q(
        sf,
        f'CREATE OR REPLACE TABLE {t["src"]} (cust NUMBER(38,0), "eventId" VARCHAR, "Amount $" FLOAT, '
        '"Updated At" TIMESTAMP_NTZ(6))',
    )
    q(sf, f"INSERT INTO {t['src']} VALUES (1, 'a', 2.0, '2025-01-02'), (2, 'b', 3.0, '2025-01-02')")
    args = {
        "target_table": f"LAKEOPS.PUBLIC.{target}",
        "source_table": t["src"],
        "keys": ['"Customer Id"', '"eventId"'],
        "column_mapping": {"cust": '"Customer Id"'},
        "ordering_column": '"Updated At"',
        "add_new_columns": True,
    }
    assert counts(merge(**args)) == (1, 1, 0)
    got = q(
        sf, f'SELECT "Customer Id", "eventId", "Amount $", "Updated At" IS NOT NULL FROM {target} ORDER BY 1'
    )
    assert got == [(1, "a", 2.0, True), (2, "b", 3.0, True)]
    assert counts(merge(**args)) == (0, 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target_table": "TGT; DROP TABLE X"}, "refused"),
        ({"target_table": 'TGT"; DROP TABLE X; --'}, "refused"),
        ({"target_table": "TGT /* c */"}, "refused"),
        ({"source_table": "SRC -- c"}, "refused"),
        ({"column_mapping": {"amount": 'AMOUNT" FLOAT); DROP TABLE X; --'}}, "refused"),
        ({"column_mapping": {"amount; drop": "AMOUNT"}}, "refused"),
        ({"delete_value": "d'; DROP TABLE X; --", "operation_column": "op"}, "delete_value"),
        ({"source_sql": "DELETE FROM TGT", "source_table": None}, "single SELECT"),
    ],
    ids=[
        "target-semicolon",
        "target-quote",
        "target-comment",
        "source-comment",
        "mapping-value-quote",
        "mapping-key-semicolon",
        "delete-value-quote",
        "query-not-select",
    ],
)
def test_injection_is_refused_before_any_statement(sf, t, kwargs, match):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01")])
    make(sf, t["src"], [(1, "a", 2.0, "2025-01-02", "d")], COLS + ", op VARCHAR")
    args = {"target_table": t["tgt"], "source_table": t["src"], "keys": ["customer_id", "event_id"], **kwargs}
    if args.get("source_table") is None:
        args.pop("source_table")
    op = SnowflakeMergeOperator(task_id="merge", ordering_column="updated_at", **args)
    with pytest.raises(ValueError, match=match):
        op.execute(context={})
    assert rows(sf, t["tgt"]) == [(1, "a", 1.0)]
    assert q(sf, f"SELECT COUNT(*) FROM {t['src']}") == [(1,)]


def test_injection_in_static_arguments_fails_at_construction():
    with pytest.raises(ValueError, match="refused"):
        SnowflakeMergeOperator(
            task_id="m", target_table="T", source_table="S", keys=["id; DROP TABLE T"], on_duplicates="fail"
        )
    with pytest.raises(ValueError, match="refused"):
        SnowflakeMergeOperator(
            task_id="m", target_table="T", source_table="S", keys=["id"], ordering_column='"x" --'
        )


def test_empty_source_is_a_noop_in_every_mode(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01")])
    make(sf, t["src"], [])
    for mode in msql.MODES:
        result = merge(
            target_table=t["tgt"], source_table=t["src"], keys=["customer_id", "event_id"], mode=mode
        )
        assert counts(result) == (0, 0, 0), mode
    assert rows(sf, t["tgt"]) == [(1, "a", 1.0)]


def test_schema_drift_fails_or_adds_columns(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01")])
    make(
        sf,
        t["src"],
        [(1, "a", 2.0, "2025-01-02", "web"), (2, "b", 3.0, "2025-01-02", "app")],
        COLS + ", channel VARCHAR",
    )
    args = {"target_table": t["tgt"], "source_table": t["src"], "keys": ["customer_id", "event_id"]}
    with pytest.raises(SchemaEvolutionError, match="CHANNEL VARCHAR") as err:
        merge(**args)
    assert err.value.diff == [{"column": "CHANNEL", "change": "missing_in_target", "type": "VARCHAR"}]
    assert rows(sf, t["tgt"]) == [(1, "a", 1.0)]
    assert counts(merge(add_new_columns=True, **args)) == (1, 1, 0)
    assert q(sf, f"SELECT customer_id, channel FROM {t['tgt']} ORDER BY 1") == [(1, "web"), (2, "app")]
    assert counts(merge(add_new_columns=True, **args)) == (0, 0, 0)


def test_target_columns_the_source_lacks_are_kept_on_update(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01", "gold")], COLS + ", tier VARCHAR")
    make(sf, t["src"], [(1, "a", 2.0, "2025-01-02"), (2, "b", 3.0, "2025-01-02")])
    assert counts(merge(target_table=t["tgt"], source_table=t["src"], keys=["customer_id", "event_id"])) == (
        1,
        1,
        0,
    )
    assert q(sf, f"SELECT customer_id, amount, tier FROM {t['tgt']} ORDER BY 1") == [
        (1, 2.0, "gold"),
        (2, 3.0, None),
    ]


def test_missing_target_fails_unless_created(sf, t):
    make(sf, t["src"], [(1, "a", 2.0, "2025-01-02")])
    args = {"target_table": t["tgt"], "source_table": t["src"], "keys": ["customer_id", "event_id"]}
    with pytest.raises(MergeError, match="does not exist"):
        merge(**args)
    assert counts(merge(create_target_if_missing=True, **args)) == (1, 0, 0)
    types = dict(
        q(
            sf,
            "SELECT column_name, data_type FROM LAKEOPS.INFORMATION_SCHEMA.COLUMNS "
            "WHERE table_schema = 'PUBLIC' AND table_name = %s",
            (t["tgt"],),
        )
    )
    assert types == {
        "CUSTOMER_ID": "NUMBER",
        "EVENT_ID": "TEXT",
        "AMOUNT": "FLOAT",
        "UPDATED_AT": "TIMESTAMP_NTZ",
    }
    assert counts(merge(create_target_if_missing=True, **args)) == (0, 0, 0)


def test_failure_inside_the_merge_leaves_the_target_unchanged(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01"), (2, "b", 2.0, "2025-01-01")])
    make(
        sf,
        t["src"],
        [(1, "a", "10.5", "2025-01-02"), (3, "c", "not-a-number-secret", "2025-01-02")],
        "customer_id NUMBER(38,0), event_id VARCHAR, amount VARCHAR, updated_at TIMESTAMP_NTZ(6)",
    )
    query = f"SELECT customer_id, event_id, amount::FLOAT AS amount, updated_at FROM {t['src']}"
    with pytest.raises(MergeError, match="MERGE into") as err:
        merge(target_table=t["tgt"], source_sql=query, keys=["customer_id", "event_id"])
    assert "not-a-number-secret" not in str(err.value)  # data errors are redacted
    assert rows(sf, t["tgt"]) == [(1, "a", 1.0), (2, "b", 2.0)]


def test_overwrite_failure_after_the_delete_rolls_back(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01"), (2, "b", 2.0, "2025-01-01")])
    make(
        sf,
        t["src"],
        [(5, "e", "5", "2025-01-02"), (6, "f", "oops-secret", "2025-01-02")],
        "customer_id NUMBER(38,0), event_id VARCHAR, amount VARCHAR, updated_at TIMESTAMP_NTZ(6)",
    )
    with pytest.raises(MergeError, match="rolled back") as err:
        merge(
            target_table=t["tgt"], source_table=t["src"], keys=["customer_id", "event_id"], mode="overwrite"
        )
    assert "oops-secret" not in str(err.value)
    assert rows(sf, t["tgt"]) == [(1, "a", 1.0), (2, "b", 2.0)]


def test_overwrite_replaces_contents_and_readers_never_see_it_half_done(sf, t, lakeops_stack):
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    make(sf, t["tgt"], [(i, "old", 1.0, "2025-01-01") for i in range(1, 6)])
    make(
        sf,
        t["src"],
        [(i, "new", 2.0, "2025-01-02") for i in range(10, 13)] + [(10, "new", 3.0, "2025-01-03")],
    )
    # the operator's own statements, step by step, with a second session reading in between
    target = TableName("LAKEOPS", "PUBLIC", t["tgt"])
    plan = msql.plan_columns(
        target=target,
        source_columns=[msql.Column(c, "X") for c in ("CUSTOMER_ID", "EVENT_ID", "AMOUNT", "UPDATED_AT")],
        target_columns=[msql.Column(c, "X") for c in ("CUSTOMER_ID", "EVENT_ID", "AMOUNT", "UPDATED_AT")],
        keys=("CUSTOMER_ID", "EVENT_ID"),
        column_mapping={},
        update_columns=None,
        insert_columns=None,
        operation_column=None,
        ordering_column="UPDATED_AT",
        add_new_columns=False,
        create_target=False,
    )
    spec = msql.MergeSpec(
        target=target,
        source=TableName("LAKEOPS", "PUBLIC", t["src"]).sql,
        plan=plan,
        ordering_column="UPDATED_AT",
    )
    writer = SnowflakeHook(snowflake_conn_id="snowflake_default").get_conn()
    try:
        seen = []
        for statement in msql.overwrite_statements(spec):
            writer.cursor().execute(statement)
            seen.append(q(sf, f"SELECT COUNT(*), MIN(event_id) FROM {t['tgt']}")[0])
    finally:
        writer.close()
    assert seen == [(5, "old"), (5, "old"), (5, "old"), (3, "new")]
    # and through the operator: the result equals the de-duplicated source; a rerun keeps it
    make(sf, t["tgt"], [(i, "old", 1.0, "2025-01-01") for i in range(1, 6)])
    result = merge(
        target_table=t["tgt"], source_table=t["src"], keys=["customer_id", "event_id"], mode="overwrite"
    )
    assert counts(result) == (3, 0, 5)
    assert rows(sf, t["tgt"]) == [(10, "new", 3.0), (11, "new", 2.0), (12, "new", 2.0)]
    merge(target_table=t["tgt"], source_table=t["src"], keys=["customer_id", "event_id"], mode="overwrite")
    assert rows(sf, t["tgt"]) == [(10, "new", 3.0), (11, "new", 2.0), (12, "new", 2.0)]


def test_append_inserts_new_keys_only(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01")])
    make(
        sf,
        t["src"],
        [
            (1, "a", 9.0, "2025-01-02", "u"),
            (2, "b", 2.0, "2025-01-02", "i"),
            (3, "c", 3.0, "2025-01-02", "d"),
        ],
        COLS + ", op VARCHAR",
    )
    args = {
        "target_table": t["tgt"],
        "source_table": t["src"],
        "keys": ["customer_id", "event_id"],
        "mode": "append",
        "operation_column": "op",
    }
    assert counts(merge(**args)) == (1, 0, 0)
    assert rows(sf, t["tgt"]) == [(1, "a", 1.0), (2, "b", 2.0)]
    assert counts(merge(**args)) == (0, 0, 0)


def test_query_source_with_update_and_insert_columns(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01")])
    make(sf, t["src"], [(1, "a", 5.0, "2025-01-02"), (2, "b", 6.0, "2025-01-02")])
    result = merge(
        target_table=t["tgt"],
        source_sql=f"SELECT * FROM {t['src']} WHERE amount > 0;",
        keys=["customer_id", "event_id"],
        update_columns=["updated_at"],
        insert_columns=["customer_id", "event_id", "updated_at"],
    )
    assert counts(result) == (1, 1, 0)
    assert q(sf, f"SELECT customer_id, amount, updated_at IS NOT NULL FROM {t['tgt']} ORDER BY 1") == [
        (1, 1.0, True),
        (2, None, True),
    ]


def test_statement_count_does_not_depend_on_rows(sf, t):
    make(sf, t["tgt"], [])
    make(sf, t["src"], [(i, "e", 1.0, "2025-01-01") for i in range(5)])
    small = merge(target_table=t["tgt"], source_table=t["src"], keys=["customer_id", "event_id"])
    digits = "(VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9))"
    q(
        sf,
        f"INSERT INTO {t['src']} SELECT 100 + a.i * 100 + b.i * 10 + c.i, 'e', 1.0, '2025-01-01' "
        f"FROM {digits} AS a (i) CROSS JOIN {digits} AS b (i) CROSS JOIN {digits} AS c (i)",
    )
    big = merge(target_table=t["tgt"], source_table=t["src"], keys=["customer_id", "event_id"])
    assert counts(big) == (1000, 0, 0)
    assert small["statements"] == big["statements"] == 4


def test_lineage_of_a_table_source(sf, t):
    make(sf, t["tgt"], [(1, "a", 1.0, "2025-01-01")])
    make(
        sf,
        t["src"],
        [(1, "a", 5.0, "2025-01-02"), (2, "b", 6.0, "2025-01-02")],
        "cust NUMBER(38,0), event_id VARCHAR, amount FLOAT, updated_at TIMESTAMP_NTZ(6)",
    )
    op = SnowflakeMergeOperator(
        task_id="merge",
        target_table=t["tgt"],
        source_table=t["src"],
        keys=["customer_id", "event_id"],
        column_mapping={"cust": "customer_id"},
        ordering_column="updated_at",
    )
    op.execute(context={})
    lineage = op.get_openlineage_facets_on_complete(None)
    (source,) = lineage.inputs
    (output,) = lineage.outputs
    assert (source.namespace, source.name) == ("snowflake://lakeops", f"LAKEOPS.PUBLIC.{t['src']}")
    assert (output.namespace, output.name) == ("snowflake://lakeops", f"LAKEOPS.PUBLIC.{t['tgt']}")
    fields = output.facets["columnLineage"].fields
    assert fields["CUSTOMER_ID"].inputFields[0].field == "CUST"
    assert fields["CUSTOMER_ID"].inputFields[0].name == f"LAKEOPS.PUBLIC.{t['src']}"
    assert set(fields) == {"CUSTOMER_ID", "EVENT_ID", "AMOUNT", "UPDATED_AT"}
    assert output.outputFacets["outputStatistics"].rowCount == 2
    failed = op.get_openlineage_facets_on_failure(None)
    assert failed.outputs[0].outputFacets == {}


def test_lineage_of_a_query_source_names_the_tables_it_reads(sf, t):
    make(sf, t["tgt"], [])
    make(sf, t["src"], [(1, "a", 5.0, "2025-01-02")])
    op = SnowflakeMergeOperator(
        task_id="merge",
        target_table=t["tgt"],
        keys=["customer_id", "event_id"],
        source_sql=f"SELECT * FROM LAKEOPS.PUBLIC.{t['src']}",
        ordering_column="updated_at",
    )
    op.execute(context={})
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("snowflake://lakeops", f"LAKEOPS.PUBLIC.{t['src']}")
    ]
    assert "columnLineage" not in lineage.outputs[0].facets
