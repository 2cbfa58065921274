"""Import time each lakeops module adds on top of ``import airflow.sdk``, in fresh interpreters.

Prints a table (median of --runs runs, ms) and compares with the official providers' operator
modules measured the same way. Goal: <= 50 ms added for any operator module.

    python benchmarks/import_cost.py [--runs 5]
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import statistics
import subprocess
import sys

BASELINES = [
    "airflow.providers.apache.spark.operators.spark_submit",
    "airflow.providers.snowflake.operators.snowflake",
    "airflow.providers.amazon.aws.operators.glue",
    "airflow.providers.openlineage.extractors",
]
PROBE = (
    "import time, airflow.sdk; t = time.perf_counter(); import {mod}; print((time.perf_counter() - t) * 1000)"
)


def lakeops_modules() -> list[str]:
    import airflow_provider_lakeops as pkg

    names = []
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if ".testing" in m.name or ".spark_apps" in m.name:
            continue
        names.append(m.name)
    return sorted(names)


def measure(module: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE.format(mod=module)], capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--goal-ms", type=float, default=50.0)
    args = parser.parse_args()
    importlib.import_module("airflow_provider_lakeops")
    modules = lakeops_modules()
    width = max(len(m) for m in modules + BASELINES)
    print(f"import cost on top of `import airflow.sdk`, median of {args.runs} fresh interpreters", flush=True)
    print(f"{'module':<{width}}  added ms", flush=True)
    rows = []
    for m in modules:
        ms = measure(m, args.runs)
        rows.append((m, ms))
        flag = "" if ms <= args.goal_ms else f"  > goal {args.goal_ms:.0f} ms"
        print(f"{m:<{width}}  {ms:8.1f}{flag}", flush=True)
    print("\nofficial provider modules (for scale)", flush=True)
    base = []
    for m in BASELINES:
        try:
            ms = measure(m, args.runs)
        except subprocess.CalledProcessError:
            ms = float("nan")
        base.append((m, ms))
        print(f"{m:<{width}}  {ms:8.1f}", flush=True)
    ours = [ms for m, ms in rows if ".operators." in m]
    theirs = [ms for _, ms in base if ms == ms]
    if ours and theirs:
        print(
            f"\nworst lakeops operator module: {max(ours):.1f} ms; best official operator module: "
            f"{min(theirs):.1f} ms; ratio {min(theirs) / max(max(ours), 0.1):.1f}x"
        )
    return 0 if all(ms <= args.goal_ms for m, ms in rows if ".operators." in m) else 1


if __name__ == "__main__":
    raise SystemExit(main())
