"""``make demo``: run the daily DAG on the embedded local stack and print what it did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from airflow_provider_lakeops.testing.stack import LocalStack, StackError, airflow_env, migrate_airflow_db

DAG_ID = "lakeops_customer_behavior_daily"
DAY = "2025-10-31"


def main() -> int:
    repo = Path(__file__).resolve().parents[2]
    home = Path(os.environ.get("LAKEOPS_HOME", repo / ".lakeops" / "demo")).resolve()
    started = time.monotonic()
    env = airflow_env(home)
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(repo / "example_dags")
    try:
        with LocalStack(home) as stack:
            env.update(stack.env())
            migrate_airflow_db(env)
            print(f"local stack up: moto {stack.moto_endpoint}, fakesnow https://localhost:{stack.snowflake_port}")
            for attempt in (1, 2):
                t = time.monotonic()
                cmd = [str(Path(sys.executable).parent / "airflow"), "dags", "test", DAG_ID, DAY,
                       "-c", json.dumps({"day": DAY, "rows": 5000})]
                result = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
                status = "ok" if result.returncode == 0 else f"FAILED ({result.returncode})"
                print(f"run {attempt}: airflow dags test {DAG_ID} {DAY}: {status} in {time.monotonic() - t:.1f} s")
                if result.returncode != 0:
                    print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
                    return result.returncode
            landing = stack.lake_dir / "landing" / "customer_events" / f"dt={DAY}"
            rows = sum(1 for f in landing.glob("part-*.jsonl") for _ in open(f))
            print(f"landed rows: {rows:,} in {landing}")
            silver = stack.lake_dir / "silver" / "customer_behavior" / f"dt={DAY}"
            if silver.exists():
                print(f"silver Parquet files: {len(list(silver.glob('*.parquet')))} in {silver}")
            events = stack.lineage_file
            n = sum(1 for _ in open(events)) if events.exists() else 0
            print(f"OpenLineage events written: {n} in {events}")
            if events.exists():
                from airflow_provider_lakeops.lineage.graph import write_lineage_html

                out = home / "lineage.html"
                write_lineage_html(events, out, dag_id=DAG_ID)
                print(f"lineage picture: {out}")
    except StackError as exc:
        print(f"demo: the local stack could not start: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("demo: interrupted; every service stopped", file=sys.stderr)
        return 130
    print(f"demo finished in {time.monotonic() - started:.1f} s; every service stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
