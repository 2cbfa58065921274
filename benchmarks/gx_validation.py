"""GXValidateOperator vs Great Expectations called directly vs hand-written pandas checks.

1M rows x 10 expectations by default (the same rules in all three), on Parquet generated once by
``airflow_provider_lakeops.sample_data`` and reused. Each variant reads the data and validates it;
the median of ``--repeats`` warm runs is reported. The cost of ``import great_expectations`` is
measured separately in a fresh interpreter (it is paid once per worker process, never at DAG parse).

    python benchmarks/gx_validation.py [--rows 1000000] [--repeats 3] [--data-dir DIR]

Prints ratios; it asserts nothing (the target for our overhead is operator / GX direct <= 1.2).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

EVENT_TYPES = ["page_view", "search", "add_to_cart", "purchase", "login", "logout"]
EMAIL_REGEX = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
EXPECTATIONS: list[dict[str, Any]] = [
    {"expectation": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
    {"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "event_id"}},
    {"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "customer_id"}},
    {"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "session_id"}},
    {
        "expectation": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "event_type", "value_set": EVENT_TYPES},
    },
    {
        "expectation": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "currency", "value_set": ["USD", "EUR", "GBP"]},
    },
    {
        "expectation": "expect_column_values_to_match_regex",
        "kwargs": {"column": "email", "regex": EMAIL_REGEX},
    },
    {
        "expectation": "expect_column_values_to_be_between",
        "kwargs": {"column": "amount", "min_value": 0, "max_value": 100000},
    },
    {
        "expectation": "expect_column_values_to_be_between",
        "kwargs": {"column": "customer_id", "min_value": 1},
    },
    {"expectation": "expect_column_values_to_be_unique", "kwargs": {"column": "event_id"}},
]


def gx_import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import great_expectations; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def ensure_data(folder: Path, rows: int) -> Path:
    marker = folder / f".rows-{rows}"
    if not marker.exists():
        from airflow_provider_lakeops.sample_data import write_events

        print(f"generating {rows:,} rows of Parquet in {folder} (once) ...", flush=True)
        started = time.perf_counter()
        write_events(folder, rows, fmt="parquet")
        marker.write_text("ok")
        print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    return folder


def run_operator(folder: Path) -> dict[str, Any]:
    from airflow_provider_lakeops.operators.great_expectations import GXValidateOperator

    class _TI:
        def xcom_push(self, key: str, value: Any) -> None:
            json.dumps(value)

    op = GXValidateOperator(
        task_id="bench",
        expectations=EXPECTATIONS,
        suite_name="bench",
        data_path=str(folder),
        data_format="parquet",
        on_failure="warn",
    )
    return op.execute({"ti": _TI(), "run_id": "bench"})  # type: ignore[arg-type]


def run_gx_direct(folder: Path) -> dict[str, Any]:
    import great_expectations as gx
    import pandas as pd
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    frame = pd.read_parquet(folder)
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    batch = (
        context.data_sources.add_pandas("direct")
        .add_dataframe_asset("events")
        .add_batch_definition_whole_dataframe("all")
    )
    suite = context.suites.add(gx.ExpectationSuite(name="direct"))
    from great_expectations.expectations.registry import get_expectation_impl

    for item in EXPECTATIONS:
        suite.add_expectation(get_expectation_impl(item["expectation"])(**item["kwargs"]))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name="v", data=batch, suite=suite)
    )
    result = validation.run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 0},
    )
    return {"success": result.success, "evaluated": result.statistics["evaluated_expectations"]}


def run_pandas(folder: Path) -> dict[str, Any]:
    import pandas as pd

    df = pd.read_parquet(folder)
    amount = df["amount"].dropna()
    unexpected = {
        "row_count": int(len(df) < 1),
        "event_id_null": int(df["event_id"].isna().sum()),
        "customer_id_null": int(df["customer_id"].isna().sum()),
        "session_id_null": int(df["session_id"].isna().sum()),
        "event_type": int((~df["event_type"].dropna().isin(EVENT_TYPES)).sum()),
        "currency": int((~df["currency"].dropna().isin(["USD", "EUR", "GBP"])).sum()),
        "email": int((~df["email"].dropna().str.match(EMAIL_REGEX)).sum()),
        "amount": int(((amount < 0) | (amount > 100000)).sum()),
        "customer_id_min": int((df["customer_id"].dropna() < 1).sum()),
        "event_id_unique": int(df["event_id"].dropna().duplicated(keep=False).sum()),
    }
    return {"failed": sum(1 for v in unexpected.values() if v), "checks": len(unexpected)}


def timed(fn: Any, folder: Path, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn(folder)
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--data-dir", default=os.path.join(tempfile.gettempdir(), "lakeops-bench", "gx-events")
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("AIRFLOW_HOME", os.path.join(tempfile.gettempdir(), "lakeops-bench", "airflow"))
    import logging

    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    logging.getLogger("airflow.task").setLevel(logging.ERROR)

    folder = ensure_data(Path(args.data_dir) / f"rows-{args.rows}", args.rows)
    import_s = gx_import_seconds()
    import great_expectations  # noqa: F401 - warm the import for the timed runs

    run_gx_direct(folder)  # warm-ups: the first GX run builds its registries, the first operator run
    run_operator(folder)  # imports Airflow and the provider's modules (paid once per worker process)
    op_s, op_out = timed(run_operator, folder, args.repeats)
    gx_s, gx_out = timed(run_gx_direct, folder, args.repeats)
    pd_s, pd_out = timed(run_pandas, folder, args.repeats)
    report = {
        "rows": args.rows,
        "expectations": len(EXPECTATIONS),
        "repeats": args.repeats,
        "gx_import_seconds": round(import_s, 2),
        "operator_seconds": round(op_s, 3),
        "gx_direct_seconds": round(gx_s, 3),
        "pandas_seconds": round(pd_s, 3),
        "operator_over_gx_direct": round(op_s / gx_s, 3),
        "gx_direct_over_pandas": round(gx_s / pd_s, 2),
        "operator_over_pandas": round(op_s / pd_s, 2),
        "operator_failed_expectations": op_out["statistics"]["failed_error"] if op_out else None,
        "gx_direct_evaluated": gx_out["evaluated"] if gx_out else None,
        "pandas_failed_checks": pd_out["failed"] if pd_out else None,
    }
    width = max(len(k) for k in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
