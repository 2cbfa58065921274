from __future__ import annotations

import json

import pytest

from airflow_provider_lakeops.sample_data import (
    COLUMNS,
    EVENT_TYPES,
    MAX_ROWS,
    generate_events,
    write_events,
)


def _rows(n, **kw):
    return [r for chunk in generate_events(n, **kw) for r in chunk]


def test_same_seed_same_rows_and_other_seed_differs():
    assert _rows(500, seed=7) == _rows(500, seed=7)
    assert _rows(500, seed=7) != _rows(500, seed=8)


def test_columns_and_values_follow_the_contract():
    rows = _rows(2000, day="2025-10-31", defect_rate=0, duplicate_rate=0, update_rate=0)
    assert all(tuple(r) == COLUMNS for r in rows)
    assert {r["event_type"] for r in rows} <= set(EVENT_TYPES)
    assert len({r["event_id"] for r in rows}) == 2000
    assert all(r["event_ts"].startswith("2025-10-31T") and r["updated_at"] == r["event_ts"] for r in rows)
    assert all("@" in r["email"] for r in rows)
    priced = [r for r in rows if r["amount"] is not None]
    assert priced
    assert all(0.5 <= r["amount"] <= 2000 for r in priced)
    assert any(":" in r["ip_address"] for r in rows), "some IPv6 addresses expected"


def test_defects_duplicates_and_updates_are_produced_and_counted():
    counts: dict[str, int] = {}
    rows = _rows(20_000, counts=counts)
    assert all(counts[k] > 0 for k in counts), counts
    # a re-send or an update may copy a defective row: counts are of rows generated defective
    assert sum(r["event_type"] == "unknown_event" for r in rows) >= counts["unknown_event_type"]
    assert sum(r["amount"] is not None and r["amount"] < 0 for r in rows) >= counts["negative_amount"]
    unique_ids = {r["event_id"] for r in rows if r["event_type"] == "unknown_event"}
    assert len(unique_ids) == counts["unknown_event_type"]
    keys = [(r["customer_id"], r["event_id"]) for r in rows if r["event_id"] and r["customer_id"]]
    assert len(keys) - len(set(keys)) >= counts["duplicate"]
    updates = [r for r in rows if r["updated_at"] > r["event_ts"]]
    assert updates, "updates carry a later updated_at"


def test_chunks_bound_memory():
    chunks = list(generate_events(25_000, chunk_size=10_000))
    assert [len(c) for c in chunks] == [10_000, 10_000, 5_000]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rows": -1}, ValueError, "rows must be >= 0"),
        ({"rows": MAX_ROWS + 1}, ValueError, "above the generator's limit"),
        ({"rows": "10"}, TypeError, "rows must be an int"),
        ({"rows": 10, "defect_rate": 0.9}, ValueError, "defect_rate must be between 0 and 0.5"),
        ({"rows": 10, "day": "31/10/2025"}, ValueError, "day must be a date"),
        ({"rows": 10, "customers": 0}, ValueError, "customers must be >= 1"),
    ],
    ids=["negative", "absurd", "not-int", "rate", "bad-day", "no-customers"],
)
def test_bad_sizes_and_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        list(generate_events(**kwargs))


def test_bad_size_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="rows must be >= 0"):
        write_events(tmp_path / "out", -5)
    assert not list((tmp_path / "out").glob("part-*"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"day": "not-a-day"}, "not-a-day"),
        ({"rows": -1}, "rows must be >= 0"),
        ({"defect_rate": 2.0}, "defect_rate"),
    ],
)
def test_bad_arguments_keep_the_previous_run(tmp_path, kwargs, match):
    before = write_events(tmp_path, 50)
    args = {"rows": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        write_events(tmp_path, **args)
    assert sorted(str(p) for p in tmp_path.glob("part-*")) == before.files
    assert sum(1 for f in before.files for _ in open(f)) == 50


def test_write_jsonl_splits_files_and_replaces_previous_run(tmp_path):
    summary = write_events(tmp_path, 2500, rows_per_file=1000)
    assert [p.rsplit("/", 1)[1] for p in summary.files] == [
        "part-00000.jsonl",
        "part-00001.jsonl",
        "part-00002.jsonl",
    ]
    lines = [json.loads(line) for f in summary.files for line in open(f)]
    assert len(lines) == 2500
    again = write_events(tmp_path, 300)
    assert len(again.files) == 1
    assert len(list(tmp_path.glob("part-*"))) == 1
    assert not list(tmp_path.glob(".*tmp"))


def test_write_parquet_has_typed_columns(tmp_path):
    import pyarrow.parquet as pq

    summary = write_events(tmp_path, 1500, fmt="parquet", clean=True)
    table = pq.read_table(summary.files[0])
    assert table.num_rows == 1500
    assert table.schema.names == list(COLUMNS)
    assert str(table.schema.field("event_ts").type) == "timestamp[us, tz=UTC]"
    assert summary.defects["null_key"] == 0


def test_cli_reports_bad_rows(capsys):
    from airflow_provider_lakeops.sample_data import main

    with pytest.raises(SystemExit):
        main(["/tmp/never-written", "--rows", "-3"])
    assert "rows must be >= 0" in capsys.readouterr().err
