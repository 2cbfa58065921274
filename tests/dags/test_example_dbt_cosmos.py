"""dag.test() of example_dbt_cosmos (dbt through Cosmos on the local target) and the Asset consumer DAG.

The dbt tasks run in this process (Cosmos' dbt runner); dbt-duckdb keeps the warehouse file open
afterwards, so the tests release it (``_release_duckdb``) before opening it read-only.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from airflow_provider_lakeops.dbt import RESULTS_XCOM_KEY, ensure_manifest
from airflow_provider_lakeops.lineage.graph import write_lineage_html
from airflow_provider_lakeops.sample_data import PII_COLUMNS, write_events
from airflow_provider_lakeops.testing.dagrun import asset_event_uris, xcom_value
from airflow_provider_lakeops.testing.warehouse import release_duckdb

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "example_dags"
DAG_ID = "example_dbt_cosmos"
MODELS = ("stg_customer_behavior", "dim_customer", "fct_customer_engagement")


@pytest.fixture(scope="module")
def manifest() -> Path:
    """The manifest Cosmos renders from (``make install`` writes it; refreshed here when stale)."""
    return ensure_manifest(REPO / "dbt")


def _silver(lake: Path, day: str = "2025-10-31", rows: int = 300, **kwargs) -> Path:
    folder = lake / "silver" / "customer_behavior" / f"dt={day}"
    write_events(folder, rows, fmt="parquet", day=day, **kwargs)
    return folder


def _query(db: Path, sql: str) -> list:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return [list(row) for row in con.sql(sql).fetchall()]


def _dag(dag_id: str, filename: str):
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES / filename))
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


def _page_text(path: Path) -> str:
    """The text nodes of an HTML page (parsed; the daily DAG's test renders one in Chromium)."""
    chunks: list[str] = []
    parser = HTMLParser()
    parser.handle_data = chunks.append  # type: ignore[method-assign]
    parser.feed(path.read_text(encoding="utf-8"))
    return "\n".join(chunks)


def _names(datasets: list[dict]) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in datasets}


def test_dbt_task_group_builds_models_runs_tests_and_emits_lineage(
    manifest, tmp_path, monkeypatch, lakeops_airflow_db, lakeops_lineage
):
    lake = tmp_path / "lake"
    silver = _silver(lake, duplicate_rate=0.05, update_rate=0.05, defect_rate=0.0)
    monkeypatch.setenv("LAKEOPS_LAKE_DIR", str(lake))
    table = ds.dataset(silver, format="parquet").to_table(columns=["customer_id", "event_id"])
    keys = zip(table.column("customer_id").to_pylist(), table.column("event_id").to_pylist(), strict=True)
    expected_events = len(set(keys))
    expected_customers = len(set(table.column("customer_id").to_pylist()))
    assert expected_events < table.num_rows  # the input really has re-sends / updates

    dr = _dag(DAG_ID, "example_dbt_cosmos.py").test()

    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == "success", states
    assert set(states) == {f"dbt.{m}.{kind}" for m in MODELS for kind in ("run", "test")} | {"publish_marts"}

    # the warehouse: de-duplicated staging, one fact row per customer and day, no PII anywhere
    release_duckdb()
    db = lake / "lakeops.duckdb"
    assert _query(db, "select count(*) from main.stg_customer_behavior") == [[expected_events]]
    assert _query(db, "select count(*), count(distinct customer_id) from main.fct_customer_engagement") == [
        [expected_customers, expected_customers]
    ]
    columns = {
        r[0]
        for r in _query(db, "select column_name from information_schema.columns where table_schema = 'main'")
    }
    assert {"event_key", "engagement_score", "conversion_rate"} <= columns
    assert not columns & set(PII_COLUMNS)

    # lineage: every dbt task in the same file transport, with the model's inputs and outputs
    namespace = f"duckdb://{db}"
    source = (namespace, "lakeops.silver.customer_behavior")
    expected_io = {
        "stg_customer_behavior": ({source}, {(namespace, "lakeops.main.stg_customer_behavior")}),
        "dim_customer": (
            {(namespace, "lakeops.main.stg_customer_behavior")},
            {(namespace, "lakeops.main.dim_customer")},
        ),
        "fct_customer_engagement": (
            {(namespace, "lakeops.main.stg_customer_behavior"), (namespace, "lakeops.main.dim_customer")},
            {(namespace, "lakeops.main.fct_customer_engagement")},
        ),
    }
    for model, (inputs, outputs) in expected_io.items():
        [run] = lakeops_lineage.task_events(DAG_ID, f"dbt.{model}.run", "COMPLETE", run_id=dr.run_id)
        assert _names(run["inputs"]) == inputs, model
        assert _names(run["outputs"]) == outputs, model
        [test] = lakeops_lineage.task_events(DAG_ID, f"dbt.{model}.test", "COMPLETE", run_id=dr.run_id)
        assert _names(test["inputs"]) == outputs, model

    # each dbt task recorded its results; the fact's tests include the relationships test to dim_customer
    fct_tests = xcom_value(dr, "dbt.fct_customer_engagement.test", RESULTS_XCOM_KEY)
    assert fct_tests["tests"] == {"pass": len(fct_tests["nodes"])}
    assert fct_tests["test_failures"] == 0
    assert any(
        ".relationships_fct_customer_engagement_customer_id" in n["unique_id"] for n in fct_tests["nodes"]
    )
    assert xcom_value(dr, "dbt.fct_customer_engagement.run", RESULTS_XCOM_KEY)["models"] == {"success": 1}

    # the lineage picture of this DAG names every task of the run and every dataset the dbt tasks touched
    graph = write_lineage_html(lakeops_lineage.path, tmp_path / "lineage.html", dag_id=DAG_ID)
    page_text = _page_text(tmp_path / "lineage.html")
    for task_id in states:
        assert f"{DAG_ID}.{task_id}" in page_text
    for inputs, outputs in expected_io.values():
        for namespace_, name in inputs | outputs:
            assert name in page_text
            assert namespace_ in page_text
    assert {(d.namespace, d.name) for d in graph.datasets.values()} >= {source}

    # Assets: the marts (ours, after the tests) and the physical tables Cosmos records
    events = asset_event_uris(dr)
    assert {"duckdb://lakeops/main/dim_customer", "duckdb://lakeops/main/fct_customer_engagement"} <= events
    assert any(uri.endswith("/lakeops/main/fct_customer_engagement") and str(db) in uri for uri in events)


def test_failing_dbt_tests_fail_the_task_and_stop_downstream(
    manifest, tmp_path, monkeypatch, lakeops_airflow_db, lakeops_lineage
):
    lake = tmp_path / "lake"
    folder = lake / "silver" / "customer_behavior" / "dt=2025-10-31"
    summary = write_events(folder, 200, fmt="parquet", defect_rate=0.3)
    assert summary.defects["null_key"] > 0  # left out by staging (as the MERGE skips them): no failure
    # a keyed row without an event type breaks an error-level test
    path = next(folder.glob("part-*.parquet"))
    table = pq.read_table(path)
    rows = table.to_pylist()
    broken = [i for i, r in enumerate(rows) if r["customer_id"] is not None and r["event_id"] is not None][:5]
    for i in broken:
        rows[i]["event_type"] = None
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    monkeypatch.setenv("LAKEOPS_LAKE_DIR", str(lake))
    dag = _dag(DAG_ID, "example_dbt_cosmos.py")
    for task in dag.tasks:  # no retry in the test: the failure is in the data, a retry cannot help
        task.retries = 0

    dr = dag.test()

    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == "failed", states
    assert states["dbt.stg_customer_behavior.run"] == "success"
    assert states["dbt.stg_customer_behavior.test"] == "failed"
    for task_id in ("dbt.dim_customer.run", "dbt.fct_customer_engagement.run", "publish_marts"):
        assert states[task_id] == "upstream_failed", task_id

    results = xcom_value(dr, "dbt.stg_customer_behavior.test", RESULTS_XCOM_KEY)
    failed = {n["unique_id"].split(".")[2] for n in results["nodes"] if n["status"] == "fail"}
    assert "not_null_stg_customer_behavior_event_type" in failed
    assert "not_null_stg_customer_behavior_customer_id" not in failed
    assert results["test_failures"] >= len(broken)  # rows, counted by dbt
    # unknown event types and negative amounts are warnings, not failures
    warned = {n["unique_id"].split(".")[2] for n in results["nodes"] if n["status"] == "warn"}
    assert any(name.startswith("accepted_values_stg_customer_behavior_event_type") for name in warned)

    assert lakeops_lineage.task_events(DAG_ID, "dbt.stg_customer_behavior.test", "FAIL", run_id=dr.run_id)
    assert not {uri for uri in asset_event_uris(dr) if uri.startswith("duckdb://lakeops/")}


def test_consumer_dag_is_scheduled_on_the_merged_table_asset(lakeops_airflow_db):
    from airflow.sdk import Asset

    from airflow_provider_lakeops.assets import CUSTOMER_BEHAVIOR_TABLE

    dag = _dag("lakeops_merged_table_consumer", "lakeops_merged_table_consumer.py")
    assert [a.uri for a in dag.timetable.asset_condition.objects] == [
        "snowflake://lakeops/LAKEOPS/PUBLIC/CUSTOMER_BEHAVIOR"
    ]
    assert CUSTOMER_BEHAVIOR_TABLE == Asset("snowflake://lakeops/LAKEOPS/PUBLIC/CUSTOMER_BEHAVIOR")

    dr = dag.test()  # a manual run: no triggering events, the task reports zero

    assert dr.state == "success"
    assert xcom_value(dr, "report_triggering_events", "return_value") == 0
