"""A Delta partition replaced with ``replaceWhere`` (what ``PiiMaskingOperator`` does with
``table_format="delta"``) is atomic for a concurrent reader: while Spark replaces partition
``dt=2025-10-31`` on the local S3 several times, delta-rs reads it in a thread over and over, and every
read shows all the rows of one generation, never a mix or a partial set."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from airflow_provider_lakeops.testing.stack import LAKE_URI
from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options

pytestmark = [pytest.mark.integration, pytest.mark.spark]

ROWS = 600  # per generation, written by 4 tasks: 4 files a commit, so a mix would be visible
REPLACEMENTS = 5
DAY = "2025-10-31"


def _generation(spark, generation: int):
    return spark.range(ROWS, numPartitions=4).selectExpr(
        "id", f"{generation} as generation", f"'{DAY}' as dt"
    )


def test_concurrent_reader_sees_old_or_new_never_a_mix(lake_spark):
    from deltalake import DeltaTable

    uri = f"{LAKE_URI}/tests/partition-replace-{uuid.uuid4().hex[:8]}"
    lake_spark.conf.set("spark.databricks.delta.snapshotPartitions", "2")
    other = lake_spark.range(50).selectExpr("id", "-1 as generation", "'2025-10-30' as dt")
    _generation(lake_spark, 0).unionByName(other).write.format("delta").partitionBy("dt").save(uri)
    options = delta_storage_options(aws_lake_access("aws_default"))

    reads: list[tuple[float, float, int, frozenset[int], int]] = []  # start, end, version, gens, rows
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                started = time.monotonic()
                table = DeltaTable(uri, storage_options=options)  # the latest version at each read
                rows = table.to_pyarrow_table(partitions=[("dt", "=", DAY)], columns=["generation"])
                gens = frozenset(rows.column("generation").to_pylist())
                reads.append((started, time.monotonic(), table.version(), gens, rows.num_rows))
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    thread = threading.Thread(target=reader, name="delta-rs-reader", daemon=True)
    thread.start()
    writes: list[tuple[float, float]] = []
    try:
        while len(reads) < 2 and thread.is_alive():  # the reader is running before the first write
            time.sleep(0.05)
        for generation in range(1, REPLACEMENTS + 1):
            started = time.monotonic()
            _generation(lake_spark, generation).write.format("delta").mode("overwrite").option(
                "replaceWhere", f"dt = '{DAY}'"
            ).save(uri)
            writes.append((started, time.monotonic()))
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors

    for _start, _end, version, gens, rows in reads:
        assert len(gens) == 1, f"a read of version {version} mixed generations {sorted(gens)}"
        assert rows == ROWS, f"a read of version {version} saw {rows} rows, not {ROWS}"
        (generation,) = gens
        assert generation == version  # version N holds exactly generation N
    during = [r for r in reads if any(r[0] < w_end and r[1] > w_start for w_start, w_end in writes)]
    assert len(during) >= REPLACEMENTS, f"only {len(during)} of {len(reads)} reads overlapped a write"
    seen = {next(iter(r[3])) for r in reads}
    assert len(seen) >= 3, f"the reader saw only generations {sorted(seen)}"

    final = DeltaTable(uri, storage_options=options)
    assert final.version() == REPLACEMENTS
    rows = final.to_pyarrow_table().to_pylist()
    assert sorted({(r["dt"], r["generation"]) for r in rows}) == [("2025-10-30", -1), (DAY, REPLACEMENTS)]
