"""Parse time of each example DAG file: ``DagBag(file)`` in a fresh interpreter, median of --runs.

For files that build the dbt task group through ``airflow_provider_lakeops.dbt.lakeops_dbt_task_group``
it also measures the same file "without Cosmos": the factory is swapped for one ``EmptyOperator``
in the child process, so the difference is what Cosmos (import + manifest load + rendering) costs.
Target: <= 1.0 s per file, Cosmos included.

Every child gets its own bytecode cache (``PYTHONPYCACHEPREFIX``) that a warm-up run fills first, as
an installed environment has ``.pyc`` files; the warm-up (no cache) time is printed as "cold".
Nothing is asserted: the script prints a table and the ratio to the target. The "cpu" column is
the child's CPU time for the parse, which a busy machine inflates less than the wall time.

    python benchmarks/dag_parse.py [--runs 5] [FILE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "example_dags"
TARGET_S = 1.0

CHILD = r"""
import json, sys, time
path, stub = sys.argv[1], sys.argv[2] == "stub"
import airflow  # the DAG processor has Airflow loaded before it parses a file
from airflow.models import DagBag
if stub:
    import airflow_provider_lakeops.dbt as lakeops_dbt
    from airflow.providers.standard.operators.empty import EmptyOperator

    def _no_cosmos(*, group_id="dbt", **_):
        return EmptyOperator(task_id=group_id)

    lakeops_dbt.lakeops_dbt_task_group = _no_cosmos
started, cpu = time.perf_counter(), time.process_time()
bag = DagBag(dag_folder=path)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu": cpu, "dags": len(bag.dags),
                  "errors": {k: str(v)[-300:] for k, v in bag.import_errors.items()},
                  "cosmos": "cosmos.airflow.task_group" in sys.modules}))
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        {
            "PYTHONPYCACHEPREFIX": str(home / "pycache"),
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow' / 'airflow.db'}",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__COSMOS__ENABLE_CACHE_DBT_LS": "False",
            "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos_cache"),
            "DO_NOT_TRACK": "1",
            "SCARF_ANALYTICS": "false",
        }
    )
    env.setdefault("LAKEOPS_LAKE_DIR", str(home / "lake"))
    return env


def _parse_once(path: Path, env: dict[str, str], stub: bool) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), "stub" if stub else "real"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"parsing {path.name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(path: Path, env: dict[str, str], runs: int, stub: bool = False) -> dict:
    cold = _parse_once(path, env, stub)  # fills the bytecode cache
    runs_ = [_parse_once(path, env, stub) for _ in range(runs)]
    samples = [r["seconds"] for r in runs_]
    return {
        **cold,
        "cold": cold["seconds"],
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "cpu": statistics.median(r["cpu"] for r in runs_),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per file (after one warm-up)")
    parser.add_argument("files", nargs="*", help="DAG files (default: every example_dags/*.py)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be >= 1")

    from airflow_provider_lakeops.dbt import ensure_manifest

    ensure_manifest(REPO / "dbt")  # LoadMode.DBT_MANIFEST needs it; make install writes it
    files = [Path(f).resolve() for f in args.files] or sorted(EXAMPLES.glob("*.py"))
    with tempfile.TemporaryDirectory(prefix="lakeops-dag-parse-") as tmp:
        env = _env(Path(tmp))
        print(
            "DagBag parse time per file, fresh interpreter, "
            f"median of {args.runs} (s); target <= {TARGET_S:.1f} s"
        )
        print(
            f"{'file':42} {'dags':>4} {'median':>7} {'min':>6} "
            f"{'max':>6} {'cpu':>6} {'cold':>6} {'/target':>8}"
            f"  without Cosmos (median wall / cpu)"
        )
        worst = 0.0
        for path in files:
            result = measure(path, env, args.runs)
            if result["errors"]:
                print(f"{path.name:42} import errors: {result['errors']}")
                continue
            worst = max(worst, result["median"])
            extra = ""
            if result["cosmos"] and "lakeops_dbt_task_group" in path.read_text(encoding="utf-8"):
                bare = measure(path, env, args.runs, stub=True)
                extra = (
                    f"{bare['median']:.3f} / {bare['cpu']:.3f} s (Cosmos adds "
                    f"{result['median'] - bare['median']:.3f} / {result['cpu'] - bare['cpu']:.3f} s)"
                )
            print(
                f"{path.name:42} {result['dags']:>4} {result['median']:>7.3f} {result['min']:>6.3f} "
                f"{result['max']:>6.3f} {result['cpu']:>6.3f} {result['cold']:>6.2f} "
                f"{result['median'] / TARGET_S:>7.2f}x  {extra}"
            )
        print(
            f"slowest file: {worst:.3f} s = {worst / TARGET_S:.2f}x the {TARGET_S:.1f} s target "
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; 'cpu' = process CPU time)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
