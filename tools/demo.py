"""``make demo``: run the daily DAG twice and the CDC DAG three times on the embedded local stack,
printing what each step did.

The first run of the daily DAG builds every layer (landing, data-quality result, silver, Glue
table, Snowflake table, dbt marts); the second run of the same day shows the pipeline is idempotent:
the MERGE reports 0 inserted / 0 updated / 0 deleted and the Glue table keeps its version.

Then the CDC round trip on real servers: a PostgreSQL table is seeded, Debezium (on a real Kafka
Connect worker) captures it into a real Kafka broker, Spark streams the changes to bronze, the MERGE
applies them to a Snowflake replica and the replica is checked against the source. The source is
then changed (inserts, updates, deletes, one transaction changing a key several times) and the DAG
runs again; a third run with nothing new must MERGE 0/0/0. Each run ends with the check
``source = replica: N rows, checksum equal``.

Each run is a real ``airflow dags test`` in a subprocess (its log goes to
``.lakeops/demo/logs/run-<n>.log``); the summary is read back from the run's metadata database
(task states, durations, XComs), the lake and the OpenLineage file transport.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from airflow_provider_lakeops.testing import cdc
from airflow_provider_lakeops.testing.stack import (
    LAKE_URI,
    LocalStack,
    StackError,
    airflow_env,
    migrate_airflow_db,
)

DAG_ID = "lakeops_customer_behavior_daily"
CDC_DAG_ID = "lakeops_cdc_streaming"
DAY = "2025-10-31"
ROWS = 5000
CDC_SEED_ROWS = 200
#: the CDC DAG's Delta tables under the lake
CDC_TABLES = ("bronze/customer_events_cdc", "silver/customer_events_replica")


def _task_rows(db: Path, run_id: str, dag_id: str = DAG_ID) -> list[tuple[str, str, float]]:
    """``(task_id, state, seconds)`` of every task of the run, in start order."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT task_id, state, (julianday(end_date) - julianday(start_date)) * 86400.0 "
            "FROM task_instance WHERE dag_id = ? AND run_id = ? ORDER BY start_date",
            (dag_id, run_id),
        ).fetchall()
    return [(t, s or "none", float(d or 0.0)) for t, s, d in rows]


def _latest_run_id(db: Path, dag_id: str = DAG_ID) -> str:
    with sqlite3.connect(db) as con:
        row = con.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
    if row is None:
        raise RuntimeError(f"no run of {dag_id} in {db}")
    return str(row[0])


def _xcoms(db: Path, run_id: str, dag_id: str = DAG_ID) -> dict[str, Any]:
    """The ``return_value`` XComs of the run (JSON in the metadata DB), by task id."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT task_id, value FROM xcom WHERE dag_id = ? AND run_id = ? "
            "AND key IN ('return_value', 'dbt_results')",
            (dag_id, run_id),
        ).fetchall()
    out: dict[str, Any] = {}
    for task_id, value in rows:
        try:
            decoded = json.loads(value) if isinstance(value, (str, bytes)) else value
            out[task_id] = json.loads(decoded) if isinstance(decoded, str) else decoded
        except (TypeError, ValueError):
            continue
    return out


def _describe(task_id: str, x: dict[str, Any]) -> str:
    """One line per step, from its XCom (counts only: no values, no PII)."""
    if task_id == "land_events":
        defects = ", ".join(f"{k} {v}" for k, v in sorted(x.get("defects", {}).items()) if v)
        return f"{x.get('rows', 0):,} rows in {len(x.get('files', []))} file(s); defects: {defects or 'none'}"
    if task_id == "validate_events":
        exps = x.get("expectations", [])
        failed_warn = sum(1 for e in exps if e.get("status") == "failed" and e.get("severity") == "warn")
        failed_err = sum(1 for e in exps if e.get("status") != "passed" and e.get("severity") == "error")
        return (
            f"{'passed' if x.get('success') else 'FAILED'}: {len(exps)} expectations on "
            f"{x.get('rows', 0):,} rows; {failed_err} error-level and {failed_warn} warn-level failed"
        )
    if task_id == "mask_pii":
        masked = x.get("masked_columns", {})
        per = ", ".join(f"{k}: {', '.join(v)}" for k, v in sorted(masked.items()) if v)
        guard = x.get("leak_guard", {})
        table = f"{x.get('table_format', 'parquet')}" + (
            f" version {x['version']}" if x.get("version") is not None else ""
        )
        return (
            f"{x.get('rows_out', 0):,} rows to silver ({table}); masked {per}; leak guard "
            f"{guard.get('status')} on {guard.get('sampled_rows', 0):,} sampled rows"
        )
    if task_id == "compact_silver":
        opt, vac = x.get("optimize") or {}, x.get("vacuum") or {}
        return (
            f"Delta version {x.get('version_before')} -> {x.get('version_after')}: OPTIMIZE "
            f"{opt.get('files_removed', 0)} file(s) -> {opt.get('files_added', 0)}; VACUUM removed "
            f"{vac.get('files_deleted', 0)} file(s) older than {vac.get('retention_hours')} h"
        )
    if task_id == "register_silver":
        columns = (
            f"{len(x.get('columns_added') or [])} column(s) added, " if x.get("action") != "created" else ""
        )
        return (
            f"Glue table lakeops.customer_behavior ({x.get('table_type')}) {x.get('action')} "
            f"(version {x.get('table_version')}), {columns}{x.get('partitions_added', 0)} partition(s) added"
        )
    if task_id.startswith("dbt."):
        parts = [
            f"{kind} " + ", ".join(f"{n} {status}" for status, n in sorted(x.get(kind, {}).items()))
            for kind in ("models", "tests")
            if x.get(kind)
        ]
        return "; ".join(parts)
    if task_id in ("merge_to_snowflake", "merge_replica"):
        return (
            f"{x.get('inserted', 0):,} inserted, {x.get('updated', 0):,} "
            f"updated, {x.get('deleted', 0):,} deleted"
        )
    if task_id == "deploy_connector":
        return (
            f"connector {x.get('connector')} {x.get('action')}, {x.get('connector_state')} "
            f"(tasks {x.get('task_states')}); topics {', '.join(x.get('topics') or [])} "
            f"(from {x.get('topics_source')})"
        )
    if task_id == "wait_for_changes":
        return (
            f"slot {x.get('slot')} confirmed the watermark "
            f"{x.get('watermark_lsn')} in {x.get('waited_seconds')} s"
        )
    if task_id == "stream_to_bronze":
        return (
            f"{x.get('rows_bronze', 0):,} change(s) to bronze, {x.get('rows_quarantined', 0):,} quarantined, "
            f"{x.get('batches') or 0} batch(es)"
        )
    if task_id == "merge_silver":
        return (
            f"{x.get('rows_inserted', 0):,} inserted, {x.get('rows_updated', 0):,} updated, "
            f"{x.get('rows_deleted', 0):,} deleted; silver Delta version {x.get('silver_version')} "
            f"(bronze version {x.get('source_version')})"
        )
    if task_id in ("check_replica", "check_silver"):
        same = (
            "checksum equal" if x.get("source_checksum") == x.get("target_checksum") else "checksum DIFFERENT"
        )
        return (
            f"source = replica: {x.get('source_rows', 0):,} rows, {same}"
            if x.get("equal")
            else f"source {x.get('source_rows')} rows != replica {x.get('target_rows')} rows ({same})"
        )
    return ""


def _print_run(n: int, db: Path, seconds: float, dag_id: str = DAG_ID, day: str = DAY) -> dict[str, Any]:
    run_id = _latest_run_id(db, dag_id)
    tasks = _task_rows(db, run_id, dag_id)
    xcoms = _xcoms(db, run_id, dag_id)
    print(f"\nrun {n}: {dag_id} {day} ({run_id}) in {seconds:.1f} s")
    for task_id, state, secs in tasks:
        detail = _describe(task_id, xcoms.get(task_id) or {}) if isinstance(xcoms.get(task_id), dict) else ""
        print(f"  {task_id:<34} {state:<8} {secs:6.1f} s  {detail}")
    return {"run_id": run_id, "tasks": tasks, "xcoms": xcoms}


def main() -> int:
    repo = Path(__file__).resolve().parents[1]  # tools/demo.py -> the repository
    home = Path(os.environ.get("LAKEOPS_HOME", repo / ".lakeops" / "demo")).resolve()
    started = time.monotonic()
    for sub in ("lake", "dq-docs", "lineage", "airflow", "logs", "cosmos_cache"):  # start from nothing
        shutil.rmtree(home / sub, ignore_errors=True)
    env = airflow_env(home)
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(repo / "example_dags")
    env["AIRFLOW__LAKEOPS__METRICS_BACKEND"] = "cloudwatch"  # operators' metrics go to moto's CloudWatch
    db = Path(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    logs = home / "logs"
    try:
        with LocalStack(home, kafka_connect=True, postgres=True) as stack:
            env.update(stack.env())
            migrate_airflow_db(env)
            print(
                f"local stack up in {time.monotonic() - started:.1f} s: moto {stack.moto_endpoint}, "
                f"fakesnow https://localhost:{stack.snowflake_port}, Spark local[2]; lake {LAKE_URI} (S3)"
            )
            print(
                f"CDC servers: Kafka {stack.kafka_bootstrap}, Kafka Connect {stack.kafka_connect_url}, "
                f"PostgreSQL 127.0.0.1:{stack.postgres.port if stack.postgres else '-'} "
                f"(start seconds: {stack.start_seconds})"
            )
            summaries = []
            for attempt in (1, 2):
                summary, code = _run_and_print(
                    repo,
                    env,
                    db,
                    DAG_ID,
                    DAY,
                    attempt,
                    logs / f"run-{attempt}.log",
                    {"day": DAY, "rows": ROWS},
                )
                if code:
                    return code
                summaries.append(summary)
            if not _print_outputs(stack, home, summaries):
                print("demo: the rerun of the same day changed the end state (see above)", file=sys.stderr)
                return 1
            code = _cdc_round_trip(stack, env, repo, db, logs)
            if code:
                return code
            _print_lake(stack, ("silver/customer_behavior", *CDC_TABLES))
            if _print_lineage(stack, home) != 1:
                print("demo: a DAG's lineage is not one connected graph (see above)", file=sys.stderr)
                return 1
    except StackError as exc:
        print(f"demo: the local stack could not start: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("demo: interrupted; every service stopped", file=sys.stderr)
        return 130
    print(f"\ndemo finished in {time.monotonic() - started:.1f} s; every service stopped")
    return 0


def _print_outputs(stack: LocalStack, home: Path, summaries: list[dict[str, Any]]) -> bool:
    """Print what the pipeline left behind; return whether the rerun was idempotent."""
    first, second = (s["xcoms"] for s in summaries)
    merge1, merge2 = first.get("merge_to_snowflake", {}), second.get("merge_to_snowflake", {})
    glue1, glue2 = first.get("register_silver", {}), second.get("register_silver", {})
    idempotent = (
        (merge2.get("inserted"), merge2.get("updated"), merge2.get("deleted")) == (0, 0, 0)
        and glue2.get("action") == "unchanged"
        and glue2.get("table_version") == glue1.get("table_version")
    )
    print(
        "\nrerun of the same day: MERGE "
        f"{merge2.get('inserted')}/{merge2.get('updated')}/{merge2.get('deleted')}, "
        f"Glue {glue2.get('action')} at version {glue2.get('table_version')} -> "
        f"{'idempotent' if idempotent else 'NOT idempotent'}"
    )
    print(f"Snowflake (fakesnow) LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR: {merge1.get('inserted', 0):,} rows")

    warehouse = stack.lake_dir / "lakeops.duckdb"
    if warehouse.exists():
        from airflow_provider_lakeops.testing.warehouse import warehouse_rows

        for table in ("stg_customer_behavior", "dim_customer", "fct_customer_engagement"):
            ((count,),) = warehouse_rows(stack.lake_dir, f"select count(*) from main.{table}")
            print(f"dbt {table}: {count:,} rows in {warehouse}")
        top = warehouse_rows(
            stack.lake_dir,
            "select customer_id, event_date, engagement_score, engagement_tier "
            "from main.fct_customer_engagement order by engagement_score desc, customer_id limit 3",
        )
        for row in top:
            print(f"    customer {row[0]} on {row[1]}: engagement {row[2]} ({row[3]})")
    docs = stack.data_docs_dir
    if docs.exists():
        print(f"GX Data Docs: {docs / 'index.html'}")
    _print_lake(stack)
    _print_cloudwatch(stack)
    return idempotent


def _delta_options(stack: LocalStack) -> dict[str, str]:
    """delta-rs options for the stack's S3 (this process has no Airflow connections: the DAG runs do)."""
    from airflow_provider_lakeops.testing.stack import LOCAL_REGION
    from airflow_provider_lakeops.utils.lake import AwsLakeAccess, delta_storage_options

    access = AwsLakeAccess(
        region=LOCAL_REGION, endpoint_url=stack.moto_endpoint, access_key="testing", secret_key="testing"
    )
    return delta_storage_options(access)


def _delta_versions(stack: LocalStack, uri: str) -> str:
    """``version N (operations ...)`` of the Delta table at ``uri``, read with delta-rs."""
    from deltalake import DeltaTable

    table = DeltaTable(uri, storage_options=_delta_options(stack))
    ops = [str(h.get("operation")) for h in reversed(table.history())]
    return f"version {table.version()} ({', '.join(ops)})"


def _print_lake(stack: LocalStack, tables: tuple[str, ...] = ("silver/customer_behavior",)) -> None:
    """The Delta tables' versions and the Glue tables' types."""
    from airflow_provider_lakeops.testing.stack import LAKE_URI

    for table in tables:
        try:
            print(f"Delta table {LAKE_URI}/{table}: {_delta_versions(stack, f'{LAKE_URI}/{table}')}")
        except Exception as exc:  # report, do not hide the rest of the summary
            print(f"Delta table {LAKE_URI}/{table}: not readable ({type(exc).__name__})")
    glue = stack.aws_client("glue")
    for page in glue.get_paginator("get_tables").paginate(DatabaseName="lakeops"):
        for t in page["TableList"]:
            kind = (t.get("Parameters") or {}).get("table_type") or t.get("TableType")
            print(f"Glue table lakeops.{t['Name']}: {kind} at {t['StorageDescriptor'].get('Location')}")


def _print_lineage(stack: LocalStack, home: Path) -> int:
    """Draw both DAGs' lineage on one page; return the number of connected pieces of each DAG."""
    from airflow_provider_lakeops.lineage.graph import build_graph, read_events, write_lineage_html

    events = stack.lineage_file
    if not events.exists():
        print("OpenLineage: no events written", file=sys.stderr)
        return 1
    lines = read_events(events)
    out = home / "lineage.html"
    graph = write_lineage_html(events, out, dag_id=[DAG_ID, CDC_DAG_ID], title="lakeops demo")
    print(
        f"\nOpenLineage: {len(lines)} events, {len(graph.jobs)} jobs, {len(graph.datasets)} datasets "
        f"in {events}"
    )
    worst = 0
    for dag_id in (DAG_ID, CDC_DAG_ID):
        pieces = build_graph(lines, dag_id=dag_id).components()
        worst = max(worst, len(pieces))
        print(f"  {dag_id}: {len(pieces)} connected piece(s)")
    print(f"lineage picture: {out} ({len(graph.components())} piece(s) for both DAGs)")
    return worst


def _run_dag(
    repo: Path, env: dict[str, str], dag_id: str, day: str, log_file: Path, conf: dict[str, Any] | None = None
) -> int:
    cmd = [
        str(Path(sys.executable).parent / "airflow"),
        "dags",
        "test",
        dag_id,
        day,
        "-f",
        str(repo / "example_dags" / f"{dag_id}.py"),
    ]  # parse this file only
    if conf:
        cmd += ["-c", json.dumps(conf)]
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "w") as log:
        return subprocess.run(
            cmd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, check=False
        ).returncode


def _run_and_print(
    repo: Path,
    env: dict[str, str],
    db: Path,
    dag_id: str,
    day: str,
    attempt: int,
    log_file: Path,
    conf: dict[str, Any] | None = None,
    *,
    label: str = "run",
) -> tuple[dict[str, Any], int]:
    """Run one DAG run and print its tasks; on failure print the log's tail and return its exit code."""
    started = time.monotonic()
    code = _run_dag(repo, env, dag_id, day, log_file, conf)
    summary = _print_run(attempt, db, time.monotonic() - started, dag_id, day)
    failed = [task for task, state, _ in summary["tasks"] if state != "success"]
    if code == 0 and not failed:
        return summary, 0
    print(
        f"{label} {attempt} FAILED (exit {code}; tasks not successful: {', '.join(failed) or '-'}); "
        f"log: {log_file}",
        file=sys.stderr,
    )
    print(log_file.read_text()[-4000:], file=sys.stderr)
    return summary, code or 1


def _bronze_ops(stack: LocalStack) -> dict[str, int]:
    """Rows per Debezium operation in the bronze Delta table (read through its log)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(f"{LAKE_URI}/{CDC_TABLES[0]}", storage_options=_delta_options(stack))
    except TableNotFoundError:
        return {}
    counts: dict[str, int] = {}
    for op in table.to_pyarrow_table(columns=["op"]).column("op").to_pylist():
        counts[str(op)] = counts.get(str(op), 0) + 1
    return counts


def _cdc_round_trip(stack: LocalStack, env: dict[str, str], repo: Path, db: Path, logs: Path) -> int:
    """Seed, run, change, run, run again: the replica must equal the source after each run."""
    pg = stack.postgres
    if pg is None:
        raise StackError("the CDC round trip needs the stack's PostgreSQL")
    cdc.prepare_source(pg)
    seeded = cdc.seed(pg, CDC_SEED_ROWS)
    print(f"\nCDC source {cdc.SOURCE_TABLE} on PostgreSQL 127.0.0.1:{pg.port}: {seeded} rows seeded")
    before: dict[str, int] = {}
    merges = []
    for attempt, hour in ((1, 10), (2, 11), (3, 12)):
        if attempt == 2:
            changes = cdc.mutate(pg, 0, CDC_SEED_ROWS)
            print(
                f"\nsource changed: {changes['insert']} insert(s), {changes['update']} update(s), "
                f"{changes['delete']} delete(s), one transaction changing a key three times"
            )
        elif attempt == 3:
            print("\nno source change: the rerun must MERGE 0/0/0")
        day = f"{DAY}T{hour:02d}:00:00+00:00"
        summary, code = _run_and_print(
            repo, env, db, CDC_DAG_ID, day, attempt, logs / f"cdc-run-{attempt}.log", label="CDC run"
        )
        if code:
            return code
        after = _bronze_ops(stack)
        landed = {op: n - before.get(op, 0) for op, n in sorted(after.items()) if n - before.get(op, 0)}
        before = after
        print(
            f"  bronze rows landed by operation: {landed or 'none'} "
            "(r snapshot, c insert, u update, d delete)"
        )
        merges.append(summary["xcoms"].get("merge_replica") or {})
        check = summary["xcoms"].get("check_replica") or {}
        print(f"  {_describe('check_replica', check)}")
        if not check.get("equal"):
            return 1
    last = merges[-1]
    if (last.get("inserted"), last.get("updated"), last.get("deleted")) != (0, 0, 0):
        print("demo: the CDC rerun with no source change still changed the replica", file=sys.stderr)
        return 1
    return 0


def _print_cloudwatch(stack: LocalStack) -> None:
    import boto3

    cw = boto3.client(
        "cloudwatch",
        endpoint_url=stack.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    names = sorted(
        {
            m["MetricName"]
            for page in cw.get_paginator("list_metrics").paginate(Namespace="Lakeops")
            for m in page["Metrics"]
        }
    )
    print(
        f"CloudWatch (moto) namespace Lakeops: {len(names)} metric names: {', '.join(names[:12])}"
        f"{' ...' if len(names) > 12 else ''}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
