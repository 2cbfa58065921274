"""Registering 1,000 hive partitions in Glue: GlueRegisterTableOperator vs one CreatePartition each.

Runs against a moto server started for the run (the local stack, S3 + Glue only) and prints the
AWS API calls made and the wall time of each approach, and their ratios. Target: <= 12 Glue calls
for 1,000 partitions.

    .venv/bin/python benchmarks/glue_partitions.py [--partitions 1000]

Scenarios (same data, 1,000 ``dt=.../`` folders with one small Parquet file each):

* ``lakeops, new table``: table created and every partition registered (``CreateTable`` then
  ``BatchCreatePartition`` x 10; ``GetTable`` reads the new version back).
* ``lakeops, 1,000 new partitions``: the table exists, 1,000 partitions arrive (the daily case):
  ``GetTable`` + ``GetPartitions`` + ``BatchCreatePartition`` x 10.
* ``lakeops, rerun``: nothing new: no write at all.
* ``baseline``: the amazon provider's ``GlueCatalogHook.create_partition`` once per partition.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=1000)
    args = parser.parse_args()
    n = args.partitions

    home = Path(tempfile.mkdtemp(prefix="lakeops-bench-glue-"))
    from airflow_provider_lakeops.testing.stack import LocalStack, airflow_env

    os.environ.update(airflow_env(home))
    with LocalStack(home, moto=True, snowflake=False) as stack:
        os.environ.update(stack.env())
        run(n)


def _glue_calls(calls: dict[str, int]) -> int:
    return sum(v for k, v in calls.items() if k.startswith("glue:"))


def _s3_calls(calls: dict[str, int]) -> int:
    return sum(v for k, v in calls.items() if k.startswith("s3:"))


def run(n: int) -> None:
    import boto3
    import pyarrow as pa
    import pyarrow.parquet as pq

    from airflow_provider_lakeops.operators.glue import GlueRegisterTableOperator

    extra = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]
    kwargs = {
        "endpoint_url": extra["endpoint_url"],
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    s3, glue = boto3.client("s3", **kwargs), boto3.client("glue", **kwargs)
    s3.create_bucket(Bucket="lakeops-lake")
    buf = io.BytesIO()
    pq.write_table(
        pa.table(
            {"event_id": ["e1", "e2"], "customer_id": pa.array([1, 2], pa.int64()), "amount": [1.5, 2.5]}
        ),
        buf,
    )
    started = time.perf_counter()
    for i in range(n):
        s3.put_object(
            Bucket="lakeops-lake", Key=f"bench/events/dt=d{i:05d}/part-0.parquet", Body=buf.getvalue()
        )
    print(f"setup: {n:,} partition folders written to moto S3 in {time.perf_counter() - started:.1f} s")

    def register(table: str) -> tuple[dict[str, Any], float]:
        op = GlueRegisterTableOperator(
            task_id="bench",
            database="bench",
            table=table,
            location="s3://lakeops-lake/bench/events/",
            aws_account_id="123456789012",
        )
        t0 = time.perf_counter()
        result = op.execute(context={})
        return result, time.perf_counter() - t0

    rows: list[tuple[str, int, int, float, int]] = []
    result, secs = register("events")
    rows.append(
        (
            "lakeops, new table",
            _glue_calls(result["api_calls"]),
            _s3_calls(result["api_calls"]),
            secs,
            result["partitions_added"],
        )
    )
    # the daily case: the table exists, the partitions are new (drop them outside the measurement)
    values = [
        p["Values"]
        for page in glue.get_paginator("get_partitions").paginate(DatabaseName="bench", TableName="events")
        for p in page["Partitions"]
    ]
    for i in range(0, len(values), 25):
        glue.batch_delete_partition(
            DatabaseName="bench",
            TableName="events",
            PartitionsToDelete=[{"Values": v} for v in values[i : i + 25]],
        )
    result, secs = register("events")
    steady = (_glue_calls(result["api_calls"]), secs)
    rows.append(
        (
            f"lakeops, {n:,} new partitions",
            steady[0],
            _s3_calls(result["api_calls"]),
            secs,
            result["partitions_added"],
        )
    )
    glue_detail = {k: v for k, v in result["api_calls"].items() if k.startswith("glue:")}
    result, secs = register("events")
    rows.append(
        (
            "lakeops, rerun (nothing new)",
            _glue_calls(result["api_calls"]),
            _s3_calls(result["api_calls"]),
            secs,
            result["partitions_added"],
        )
    )

    # baseline: the official hook, one CreatePartition per partition, into an identical empty table
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    table = glue.get_table(DatabaseName="bench", Name="events")["Table"]
    table_input = {
        k: table[k] for k in ("Name", "StorageDescriptor", "PartitionKeys", "TableType", "Parameters")
    }
    glue.create_table(DatabaseName="bench", TableInput={**table_input, "Name": "events_baseline"})
    calls: Counter[str] = Counter()
    t0 = time.perf_counter()
    hook = GlueCatalogHook(aws_conn_id="aws_default")
    client = hook.get_conn()
    client.meta.events.register("before-call", lambda model, **_: calls.update([f"glue:{model.name}"]))
    sd = hook.get_table("bench", "events_baseline")["StorageDescriptor"]
    for i in range(n):
        folder = f"dt=d{i:05d}/"
        hook.create_partition(
            "bench",
            "events_baseline",
            {"Values": [f"d{i:05d}"], "StorageDescriptor": {**sd, "Location": sd["Location"] + folder}},
        )
    base_secs = time.perf_counter() - t0
    rows.append(("baseline: CreatePartition each", sum(calls.values()), 0, base_secs, n))

    print(
        f"\nregistering {n:,} partitions on moto (Glue + S3 API calls made by the client; S3 = listing "
        "+ Parquet footer reads)"
    )
    print(f"{'scenario':<34}{'glue calls':>11}{'s3 calls':>10}{'seconds':>10}{'partitions':>12}")
    for name, g, s, secs, parts in rows:
        print(f"{name:<34}{g:>11,}{s:>10,}{secs:>10.2f}{parts:>12,}")
    print(f"\nGlue calls of the daily case: {glue_detail}")
    print(
        f"ratio, Glue API calls (baseline / lakeops {n:,} new "
        f"partitions): {sum(calls.values()) / steady[0]:.0f}x "
        f"({sum(calls.values()):,} vs {steady[0]}; target <= 12: {'met' if steady[0] <= 12 else 'NOT met'})"
    )
    print(
        f"ratio, wall time (baseline / lakeops {n:,} new partitions, incl. schema inference): "
        f"{base_secs / steady[1]:.1f}x ({base_secs:.2f} s vs {steady[1]:.2f} s)"
    )


if __name__ == "__main__":
    main()
