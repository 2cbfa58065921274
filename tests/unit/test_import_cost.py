"""Importing any module of the package must not load heavy SDKs (DAG parsing stays fast)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "pyspark",
    "great_expectations",
    "pandas",
    "pyarrow",
    "boto3",
    "botocore",
    "snowflake.connector",
    "dbt",
    "confluent_kafka",
)

PROBE = r"""
import importlib, json, pkgutil, sys
import airflow_provider_lakeops as pkg
mods = []
for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
    if ".testing" in m.name or ".spark_apps" in m.name:
        continue
    importlib.import_module(m.name)
    mods.append(m.name)
heavy = %r
loaded = sorted({m for m in sys.modules for h in heavy if m == h or m.startswith(h + ".")})
print(json.dumps({"modules": mods, "loaded": loaded}))
"""


def test_importing_every_module_loads_no_heavy_sdk():
    out = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,)], capture_output=True, text=True, check=True, timeout=180
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "airflow_provider_lakeops.get_provider_info" in result["modules"]
    assert "airflow_provider_lakeops.operators.sample_events" in result["modules"]
    assert result["loaded"] == [], f"heavy modules loaded at import: {result['loaded']}"
