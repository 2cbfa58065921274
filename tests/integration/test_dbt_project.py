"""The dbt project on the local target (dbt-duckdb over the silver Delta table), checked against its spec.

The silver is a local Delta table (``deltalake.write_deltalake``, partitioned by ``dt``) named by
``LAKEOPS_SILVER_URI``; rows are edited before they are written, never in the table's files. dbt
runs in-process (dbtRunner, as Cosmos does); dbt-duckdb keeps the warehouse open afterwards, so each
run is followed by closing that connection before the test opens the file read-only. The same
source on S3 is exercised by ``tests/dags/test_example_dbt_cosmos.py`` (moto).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.testing.warehouse import release_duckdb

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt"
WEIGHTS = {"page_view": 1, "search": 2, "add_to_cart": 4, "purchase": 10}
SILVER = "silver/customer_behavior"


def _bytecode_env() -> dict[str, str]:
    """Let dbt child processes share one bytecode cache (this environment sets PYTHONDONTWRITEBYTECODE)."""
    cache = Path(os.environ.get("LAKEOPS_HOME") or tempfile.gettempdir()) / "pycache"
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(cache)}


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local lake folder: the warehouse file, and the silver Delta table that LAKEOPS_SILVER_URI names."""
    folder = tmp_path / "lake"
    folder.mkdir()
    monkeypatch.setenv("LAKEOPS_LAKE_DIR", str(folder))
    monkeypatch.setenv("LAKEOPS_SILVER_URI", str(folder / SILVER))
    monkeypatch.delenv("LAKEOPS_LAKE_URI", raising=False)
    return folder


def _events(
    rows: int, day: str = "2025-10-31", edit: Callable[[list[dict]], None] | None = None, **kwargs
) -> pa.Table:
    """Sample silver rows of one day with their ``dt`` column; ``edit`` changes the rows before they are
    written (same schema)."""
    with tempfile.TemporaryDirectory() as tmp:
        write_events(tmp, rows, fmt="parquet", day=day, **kwargs)
        table = pq.read_table(tmp)
    if edit is not None:
        records = table.to_pylist()
        edit(records)
        table = pa.Table.from_pylist(records, schema=table.schema)
    return table.append_column("dt", pa.array([day] * table.num_rows, pa.string()))


def _write_silver(lake: Path, table: pa.Table, **kwargs) -> None:
    from deltalake import write_deltalake

    write_deltalake(str(lake / SILVER), table, partition_by=["dt"], **kwargs)


def _silver_rows(lake: Path) -> list[dict]:
    from deltalake import DeltaTable

    return DeltaTable(str(lake / SILVER)).to_pyarrow_table().to_pylist()


def _dbt(args: list[str], work: Path, project: Path = PROJECT):
    """Run dbt in-process (environment from the ``lake`` fixture); artifacts go to ``work`` (never into
    the repository)."""
    from dbt.cli.main import dbtRunner

    try:
        result = dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(project),
                "--target",
                "local",
                "--target-path",
                str(work / "target"),
                "--log-path",
                str(work / "logs"),
                "--quiet",
            ]
        )
    finally:
        release_duckdb()
    return result


def _statuses(result) -> dict[str, str]:
    return {r.node.name: str(r.status) for r in result.result.results}


def _rows(lake: Path, sql: str) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(lake / "lakeops.duckdb"), read_only=True) as con:
        return con.sql(sql).fetchall()


def _expected(lake: Path) -> tuple[dict[tuple, dict], dict[tuple, object]]:
    """Engagement per (customer, day) computed in Python from the Delta table, following the model's spec."""
    latest: dict[tuple, dict] = {}
    for row in _silver_rows(lake):
        key = (row["customer_id"], row["event_id"])
        if None in key:  # left out by staging, as the MERGE skips them
            continue
        if key not in latest or row["updated_at"] > latest[key]["updated_at"]:
            latest[key] = row
    days: dict[tuple, dict] = defaultdict(
        lambda: {
            "events": 0,
            "sessions": set(),
            "counts": defaultdict(int),
            "converting": set(),
            "revenue": 0.0,
        }
    )
    for row in latest.values():
        day = days[(row["customer_id"], date.fromisoformat(row["event_date"]))]
        day["events"] += 1
        day["sessions"].add(row["session_id"])
        day["counts"][row["event_type"]] += 1
        if row["event_type"] == "purchase":
            day["converting"].add(row["session_id"])
            if row["amount"] is not None and row["amount"] >= 0:
                day["revenue"] += row["amount"]
    expected = {}
    for key, d in days.items():
        c = d["counts"]
        expected[key] = {
            "events": d["events"],
            "sessions": len(d["sessions"]),
            "purchases": c["purchase"],
            "conversion_rate": len(d["converting"]) / len(d["sessions"]),
            "engagement_score": min(100, sum(WEIGHTS.get(t, 0) * n for t, n in c.items())),
            "revenue": round(d["revenue"], 2),
        }
    return expected, {k: v["updated_at"] for k, v in latest.items()}


FCT_SQL = (
    "select customer_id, event_date, events, sessions, purchases, conversion_rate, engagement_score, "
    "revenue, engagement_tier, is_first_active_day from main.fct_customer_engagement "
    "order by customer_id, event_date"
)


def _assert_fct_matches(lake: Path) -> None:
    expected, _ = _expected(lake)
    rows = _rows(lake, FCT_SQL)
    assert {(r[0], r[1]) for r in rows} == set(expected)
    for cid, day, events, sessions, purchases, rate, score, revenue, tier, _first in rows:
        want = expected[(cid, day)]
        assert (events, sessions, purchases, score) == (
            want["events"],
            want["sessions"],
            want["purchases"],
            want["engagement_score"],
        ), (cid, day)
        assert float(rate) == pytest.approx(want["conversion_rate"], abs=1e-6)
        assert float(revenue) == pytest.approx(want["revenue"], abs=0.01)
        assert tier == ("high" if score >= 30 else "medium" if score >= 10 else "low")


def test_models_deduplicate_and_match_an_independent_computation(lake, tmp_path):
    _write_silver(lake, _events(400, defect_rate=0.0, duplicate_rate=0.05, update_rate=0.08))

    result = _dbt(["build"], tmp_path)

    assert result.success, _statuses(result)
    statuses = _statuses(result)
    assert {
        s
        for n, s in statuses.items()
        if n in {"stg_customer_behavior", "dim_customer", "fct_customer_engagement"}
    } == {"success"}
    assert {
        s
        for n, s in statuses.items()
        if n.startswith(
            ("source_", "not_null", "unique", "accepted", "relationships", "value_between", "non_negative")
        )
    } == {"pass"}
    _, latest = _expected(lake)
    stg = _rows(lake, "select customer_id, event_id, updated_at from main.stg_customer_behavior")
    assert len(stg) == len(latest)  # one row per key: re-sends and older versions removed
    assert {(c, e): u for c, e, u in stg} == {k: v.replace(tzinfo=None) for k, v in latest.items()}
    # the source was copied into the warehouse (materialization: table), so later dbt processes see it
    assert _rows(lake, "select count(*) from silver.customer_behavior") == [(400,)]
    _assert_fct_matches(lake)


def test_a_replaced_partition_is_read_through_the_delta_log(lake, tmp_path):
    """Overwriting a day leaves the old Parquet files in the folder: only the Delta log says which count."""
    _write_silver(lake, _events(300, seed=1, clean=True))
    _write_silver(lake, _events(120, seed=2, clean=True), mode="overwrite", predicate="dt = '2025-10-31'")
    files = list((lake / SILVER).rglob("*.parquet"))
    assert len(files) > 1  # a glob of the folder would read both versions (420 rows)

    result = _dbt(["run", "--select", "stg_customer_behavior"], tmp_path)

    assert result.success, _statuses(result)
    current = {(r["customer_id"], r["event_id"]) for r in _silver_rows(lake)}
    assert len(current) == 120
    assert set(_rows(lake, "select customer_id, event_id from main.stg_customer_behavior")) == current


def test_rerun_is_idempotent_and_a_new_day_is_added_incrementally(lake, tmp_path):
    _write_silver(lake, _events(300, day="2025-10-31", customers=40, defect_rate=0.0))
    assert _dbt(["build"], tmp_path).success
    first = _rows(lake, FCT_SQL)

    assert _dbt(["build"], tmp_path).success  # same input again: the same rows, nothing doubled
    assert _rows(lake, FCT_SQL) == first

    _write_silver(lake, _events(300, day="2025-11-01", seed=7, customers=40, defect_rate=0.0), mode="append")
    result = _dbt(["build"], tmp_path)
    assert result.success, _statuses(result)
    after = _rows(lake, FCT_SQL)
    assert [r for r in after if str(r[1]) == "2025-10-31"] == first  # day one unchanged
    assert {str(r[1]) for r in after} == {"2025-10-31", "2025-11-01"}
    returning = {r[0] for r in first} & {r[0] for r in after if str(r[1]) == "2025-11-01"}
    assert returning
    assert all(not r[9] for r in after if str(r[1]) == "2025-11-01" and r[0] in returning)
    first_days = dict(
        _rows(lake, "select customer_id, cast(first_event_date as varchar) from main.dim_customer")
    )
    assert all(first_days[c] == "2025-10-31" for c in returning)
    _assert_fct_matches(lake)


def test_unknown_event_types_and_negative_amounts_only_warn(lake, tmp_path):
    def break_rows(rows: list[dict]) -> None:
        rows[0]["event_type"] = "unknown_event"
        priced = next(i for i, r in enumerate(rows) if r["event_type"] == "purchase" and i > 0)
        rows[priced]["amount"] = -12.5

    _write_silver(lake, _events(200, clean=True, edit=break_rows))

    result = _dbt(["build"], tmp_path)

    assert result.success
    statuses = _statuses(result)
    assert (
        statuses[
            "accepted_values_stg_customer_behavior_event_type__page_view__search__add_to_cart__purchase__login__logout"
        ]
        == "warn"
    )
    assert statuses["non_negative_stg_customer_behavior_amount"] == "warn"
    assert statuses["non_negative_fct_customer_engagement_revenue"] == "pass"  # negative amounts left out
    _assert_fct_matches(lake)


def test_rows_with_a_null_key_are_left_out_and_reported_as_warnings(lake, tmp_path):
    """Like the Snowflake MERGE (which skips them), staging leaves null-key rows out; the source tests
    warn."""

    def null_keys(rows: list[dict]) -> None:
        rows[0]["customer_id"] = None
        rows[1]["event_id"] = None

    _write_silver(lake, _events(200, clean=True, edit=null_keys))

    result = _dbt(["build"], tmp_path)

    assert result.success, _statuses(result)
    statuses = _statuses(result)
    assert statuses["source_not_null_lakeops_customer_behavior_customer_id"] == "warn"
    assert statuses["source_not_null_lakeops_customer_behavior_event_id"] == "warn"
    assert statuses["not_null_stg_customer_behavior_customer_id"] == "pass"
    assert _rows(lake, "select count(*) from main.stg_customer_behavior") == [(198,)]
    _assert_fct_matches(lake)


def test_a_missing_delta_table_fails_the_model_and_builds_nothing(lake, tmp_path, monkeypatch):
    missing = lake / "silver" / "no_such_table"
    monkeypatch.setenv("LAKEOPS_SILVER_URI", str(missing))

    result = _dbt(["run"], tmp_path)

    assert not result.success
    [stg] = [r for r in result.result.results if r.node.name == "stg_customer_behavior"]
    assert str(stg.status) == "error"
    assert str(missing) in stg.message
    assert {str(r.status) for r in result.result.results if r.node.name != "stg_customer_behavior"} == {
        "skipped"
    }


def test_parse_command_writes_a_manifest_that_later_runs_rerender(lake, tmp_path):
    """The Makefile's command; the lake at run time wins over the one seen at parse time."""
    project = tmp_path / "dbt"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    env = {
        **{k: v for k, v in os.environ.items() if k != "LAKEOPS_SILVER_URI"},
        **_bytecode_env(),
        "LAKEOPS_LAKE_DIR": str(tmp_path / "no-such-lake"),
        "LAKEOPS_LAKE_URI": "s3://parse-time-lake",
    }
    out = subprocess.run(
        [sys.executable, "-m", "airflow_provider_lakeops.dbt", "parse", "--project-dir", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    manifest = project / "target" / "manifest.json"
    assert f"dbt manifest written: {manifest} (Cosmos renders from cosmos_manifest.json)" in out.stdout
    slim = json.loads((project / "target" / "cosmos_manifest.json").read_text())
    assert "macros" not in slim
    assert slim["nodes"] == json.loads(manifest.read_text())["nodes"]
    nodes = json.loads(manifest.read_text())["nodes"]
    assert {n["name"] for n in nodes.values() if n["resource_type"] == "model"} == {
        "stg_customer_behavior",
        "dim_customer",
        "fct_customer_engagement",
    }
    [source] = slim["sources"].values()
    assert source["meta"]["plugin"] == "delta"
    assert source["meta"]["delta_table_path"] == "s3://parse-time-lake/silver/customer_behavior"
    assert "storage_options" not in source["meta"]  # no credentials in the manifest

    _write_silver(lake, _events(100, clean=True))
    from dbt.cli.main import dbtRunner

    try:  # reuse the parse's target/ (partial_parse.msgpack), as Cosmos does; the fixture's env wins
        result = dbtRunner().invoke(
            [
                "run",
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(project),
                "--target",
                "local",
                "--select",
                "stg_customer_behavior",
                "--quiet",
            ]
        )
    finally:
        release_duckdb()
    assert result.success
    assert _rows(lake, "select count(*) from main.stg_customer_behavior") == [(100,)]


def test_parse_command_fails_clearly_on_a_broken_project(tmp_path, capsys, monkeypatch):
    from airflow_provider_lakeops.dbt import main

    for key, value in _bytecode_env().items():
        monkeypatch.setenv(key, value)
    project = tmp_path / "dbt"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "models" / "marts" / "broken.sql").write_text("select * from {{ ref('no_such_model') }}")

    assert main(["parse", "--project-dir", str(project)]) == 1
    err = capsys.readouterr().err
    assert "dbt parse failed" in err
    assert "no_such_model" in err
    assert not (project / "target" / "manifest.json").exists()
