"""dag.test() of example_dbt_cosmos (dbt through Cosmos on the local target) and the Asset consumer DAG.

The silver source is a Delta table (``deltalake.write_deltalake``, partitioned by ``dt``): on the local
stack's moto S3 (``s3://lakeops-lake/...``, read with the ``aws_default`` connection the DAG names)
or in a local folder. Rows are edited before they are written, never in the table's files. The dbt
tasks run in this process (Cosmos' dbt runner); dbt-duckdb keeps the warehouse file open
afterwards, so the tests release it (``release_duckdb``) before opening it read-only.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pyarrow as pa
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


SILVER = "silver/customer_behavior"


@pytest.fixture
def s3_lake(lakeops_stack, tmp_path, monkeypatch) -> tuple[str, str, dict[str, str]]:
    """A lake root of its own on moto (``LAKEOPS_LAKE_URI``), ``aws_default`` with a secret of its own
    (to look for it afterwards), the warehouse in a local folder: (lake URI, secret, storage options)."""
    from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

    conn = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    secret = f"dbt-cosmos-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({**conn, "password": secret}))
    lake = f"s3://lakeops-lake/tests/{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("LAKEOPS_LAKE_URI", lake)
    monkeypatch.delenv("LAKEOPS_SILVER_URI", raising=False)
    (tmp_path / "lake").mkdir()
    monkeypatch.setenv("LAKEOPS_LAKE_DIR", str(tmp_path / "lake"))
    return lake, secret, delta_storage_options(aws_lake_access("aws_default"))


def _events(rows: int, day: str = "2025-10-31", edit: Callable[[list[dict]], None] | None = None, **kwargs):
    """Sample silver rows of one day with a ``dt`` column; ``edit`` changes them before they are written."""
    with tempfile.TemporaryDirectory() as tmp:
        summary = write_events(tmp, rows, fmt="parquet", day=day, **kwargs)
        table = pq.read_table(tmp)
    if edit is not None:
        records = table.to_pylist()
        edit(records)
        table = pa.Table.from_pylist(records, schema=table.schema)
    return table.append_column("dt", pa.array([day] * table.num_rows, pa.string())), summary


def _write_silver(uri: str, table: pa.Table, storage_options: dict[str, str] | None = None) -> None:
    from deltalake import write_deltalake

    write_deltalake(uri, table, partition_by=["dt"], mode="overwrite", storage_options=storage_options)


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


def _rendered_fields(dag_run) -> list:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(RenderedTaskInstanceFields).where(
                RenderedTaskInstanceFields.dag_id == dag_run.dag_id,
                RenderedTaskInstanceFields.run_id == dag_run.run_id,
            )
        ).all()
        return [row.rendered_fields for row in rows]


def test_dbt_task_group_reads_the_s3_delta_silver_builds_models_and_emits_lineage(
    manifest, s3_lake, tmp_path, lakeops_airflow_db, lakeops_lineage, capfd
):
    lake_uri, secret, storage_options = s3_lake
    table, _ = _events(300, duplicate_rate=0.05, update_rate=0.05, defect_rate=0.0)
    _write_silver(f"{lake_uri}/{SILVER}", table, storage_options)
    keys = zip(table.column("customer_id").to_pylist(), table.column("event_id").to_pylist(), strict=True)
    expected_events = len(set(keys))
    expected_customers = len(set(table.column("customer_id").to_pylist()))
    assert expected_events < table.num_rows  # the input really has re-sends / updates
    aws_before = {k for k in os.environ if k.startswith("AWS_")}
    dag = _dag(DAG_ID, "example_dbt_cosmos.py")
    for task in dag.tasks:  # a failure shows at once instead of after the retry delay
        task.retries = 0

    dr = dag.test()

    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == "success", states
    assert set(states) == {f"dbt.{m}.{kind}" for m in MODELS for kind in ("run", "test")} | {"publish_marts"}

    # the warehouse: de-duplicated staging, one fact row per customer and day, no PII anywhere
    release_duckdb()
    db = tmp_path / "lake" / "lakeops.duckdb"
    assert _query(db, "select count(*) from silver.customer_behavior") == [[table.num_rows]]
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

    # lineage: every dbt task in the same file transport, with the model's inputs and outputs; staging
    # also reads the S3 silver under the name its writers give it
    namespace = f"duckdb://{db}"
    source = (namespace, "lakeops.silver.customer_behavior")
    silver = ("s3://lakeops-lake", f"{lake_uri.removeprefix('s3://lakeops-lake/')}/{SILVER}")
    expected_io = {
        "stg_customer_behavior": ({source, silver}, {(namespace, "lakeops.main.stg_customer_behavior")}),
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
    for model in MODELS:
        results = xcom_value(dr, f"dbt.{model}.test", RESULTS_XCOM_KEY)
        assert results["tests"] == {"pass": len(results["nodes"])}, model
        assert results["test_failures"] == 0
        assert xcom_value(dr, f"dbt.{model}.run", RESULTS_XCOM_KEY)["models"] == {"success": 1}
    fct_tests = xcom_value(dr, "dbt.fct_customer_engagement.test", RESULTS_XCOM_KEY)
    assert any(
        ".relationships_fct_customer_engagement_customer_id" in n["unique_id"] for n in fct_tests["nodes"]
    )

    # the lineage picture of this DAG names every task of the run and every dataset the dbt tasks touched
    graph = write_lineage_html(lakeops_lineage.path, tmp_path / "lineage.html", dag_id=DAG_ID)
    page_text = _page_text(tmp_path / "lineage.html")
    for task_id in states:
        assert f"{DAG_ID}.{task_id}" in page_text
    for inputs, outputs in expected_io.values():
        for namespace_, name in inputs | outputs:
            assert name in page_text
            assert namespace_ in page_text
    assert {(d.namespace, d.name) for d in graph.datasets.values()} >= {source, silver}

    # Assets: the marts (ours, after the tests) and the physical tables Cosmos records
    events = asset_event_uris(dr)
    assert {"duckdb://lakeops/main/dim_customer", "duckdb://lakeops/main/fct_customer_engagement"} <= events
    assert any(uri.endswith("/lakeops/main/fct_customer_engagement") and str(db) in uri for uri in events)

    # the connection's secret: in no event, XCom, rendered field or log line, and not left in os.environ
    assert secret not in lakeops_lineage.text()
    for task_id in states:
        assert secret not in json.dumps(xcom_value(dr, task_id, RESULTS_XCOM_KEY), default=str)
    assert secret not in json.dumps(_rendered_fields(dr), default=str)
    out, err = capfd.readouterr()
    assert secret not in out + err
    assert {k for k in os.environ if k.startswith("AWS_")} == aws_before


def test_failing_dbt_tests_fail_the_task_and_stop_downstream(
    manifest, lakeops_stack, tmp_path, monkeypatch, lakeops_airflow_db, lakeops_lineage
):
    def break_rows(rows: list[dict]) -> None:  # a keyed row without an event type breaks an error-level test
        keyed = [i for i, r in enumerate(rows) if r["customer_id"] is not None and r["event_id"] is not None]
        for i in keyed[:5]:
            rows[i]["event_type"] = None

    table, summary = _events(200, defect_rate=0.3, edit=break_rows)
    assert summary.defects["null_key"] > 0  # left out by staging (as the MERGE skips them): no failure
    silver = tmp_path / "lake" / SILVER  # a local Delta table this time
    _write_silver(str(silver), table)
    monkeypatch.setenv("LAKEOPS_LAKE_DIR", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEOPS_SILVER_URI", str(silver))
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
    assert results["test_failures"] >= 5  # rows, counted by dbt
    # unknown event types and negative amounts are warnings, not failures
    warned = {n["unique_id"].split(".")[2] for n in results["nodes"] if n["status"] == "warn"}
    assert any(name.startswith("accepted_values_stg_customer_behavior_event_type") for name in warned)

    [run] = lakeops_lineage.task_events(DAG_ID, "dbt.stg_customer_behavior.run", "COMPLETE", run_id=dr.run_id)
    assert ("file", str(silver)) in _names(run["inputs"])  # the local table, named as its writers do
    assert lakeops_lineage.task_events(DAG_ID, "dbt.stg_customer_behavior.test", "FAIL", run_id=dr.run_id)
    assert not {uri for uri in asset_event_uris(dr) if uri.startswith("duckdb://lakeops/")}


def test_a_missing_delta_table_fails_the_staging_task_with_its_path(
    manifest, s3_lake, tmp_path, lakeops_airflow_db, capfd
):
    lake_uri, _, _ = s3_lake  # nothing written there
    dag = _dag(DAG_ID, "example_dbt_cosmos.py")
    for task in dag.tasks:
        task.retries = 0

    dr = dag.test()

    states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
    assert dr.state == "failed", states
    assert states["dbt.stg_customer_behavior.run"] == "failed"
    for task_id in ("dbt.dim_customer.run", "dbt.fct_customer_engagement.run", "publish_marts"):
        assert states[task_id] == "upstream_failed", task_id
    out, err = capfd.readouterr()
    assert f"no Delta table at {lake_uri}/{SILVER}" in out + err
    assert not (tmp_path / "lake" / "lakeops.duckdb").exists()  # dbt never ran: no model built


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
