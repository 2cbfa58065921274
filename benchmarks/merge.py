"""SnowflakeMergeOperator on a 1M-row batch vs a naive row-by-row upsert, on the fakesnow server.

Starts the local stack's fakesnow server (TLS, stock ``SnowflakeHook``) for the run and prints
the wall time and the number of statements of each approach, the counts the MERGE reported, and
the per-row ratio (target >= 100x). Timings are printed, never asserted.

    .venv/bin/python benchmarks/merge.py [--rows 1000000] [--naive-rows 10000]

Data (generated with pyarrow, loaded with CREATE TABLE + PUT + COPY INTO, never row by row):

* target: ``--rows`` events, key (customer_id, event_id);
* batch: ``--rows`` rows: 10 % updates (a later ``updated_at``, a new amount), 10 % new keys,
  1 % CDC deletes, 1 % duplicate keys (an older copy of an unchanged key: de-duplication must
  keep the newer one) and 78 % unchanged rows.

Scenarios:

* ``merge, table source``: the batch is a table; the operator runs its constant set of statements.
* ``merge, rerun``: the same batch again: 0 inserted / 0 updated / 0 deleted.
* ``merge, Parquet source``: the operator stages the batch's Parquet file itself (PUT + COPY) and merges.
* ``naive upsert``: ``--naive-rows`` rows of the same mix, one ``UPDATE`` (then an ``INSERT`` when
  nothing matched) or ``DELETE`` per row, as hand-written loops do, into a table of ``--naive-rows``
  rows (the sample's keys and others). A small table makes each ``UPDATE`` cheaper than on the
  1M-row target, so the per-row ratio printed is conservative.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COLUMNS_SQL = (
    "customer_id NUMBER(38,0), event_id VARCHAR, event_type VARCHAR, page VARCHAR, "
    "amount FLOAT, currency VARCHAR, updated_at TIMESTAMP_TZ(6)"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-rows", type=int, default=10_000)
    args = parser.parse_args()
    if args.rows < 1000 or args.naive_rows < 100:
        parser.error("--rows must be >= 1000 and --naive-rows >= 100")

    home = Path(tempfile.mkdtemp(prefix="lakeops-bench-merge-"))
    from airflow_provider_lakeops.testing.stack import LocalStack, airflow_env

    os.environ.update(airflow_env(home))
    with LocalStack(home, moto=False, snowflake=True) as stack:
        os.environ.update(stack.env())
        run(args.rows, args.naive_rows, home)


def make_tables(n: int) -> tuple[Any, Any, dict[str, int]]:
    """The target and the batch (pyarrow tables) and the counts the merge must report."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(42)
    base = 1_761_868_800_000_000  # 2025-10-31T00:00:00Z in microseconds

    def events(ids: Any, amounts: Any, stamps: Any, ops: Any = None) -> pa.Table:
        ids = pa.array(ids, pa.int64())
        data = {
            "customer_id": pc.divide(ids, 10),
            "event_id": pc.binary_join_element_wise("evt-", pc.cast(ids, pa.string()), ""),
            "event_type": pa.array(np.array(["page_view", "search", "purchase"])[np.asarray(ids) % 3]),
            "page": pc.binary_join_element_wise("/products/", pc.cast(pc.divide(ids, 7), pa.string()), ""),
            "amount": pa.array(amounts, pa.float64()),
            "currency": pa.array(np.where(np.asarray(ids) % 2 == 0, "USD", "EUR")),
            "updated_at": pa.array(stamps, pa.timestamp("us", tz="UTC")),
        }
        if ops is not None:
            data["op"] = pa.array(ops)
        return pa.table(data)

    ids = np.arange(n, dtype=np.int64)
    amounts = np.round(rng.uniform(0.5, 2000, n), 2)
    stamps = base + ids * 1000
    target = events(ids, amounts, stamps)

    n_upd, n_new, n_del, n_dup = n // 10, n // 10, n // 100, n // 100
    perm = rng.permutation(n)
    upd, dele = perm[:n_upd], perm[n_upd : n_upd + n_del]
    same = perm[n_upd + n_del :][: n - n_upd - n_new - n_del - n_dup]  # unchanged rows
    dup = same[:n_dup]
    new = np.arange(n, n + n_new, dtype=np.int64)
    parts = [
        events(upd, amounts[upd] + 1.0, stamps[upd] + 3_600_000_000, ["u"] * n_upd),
        events(new, np.round(rng.uniform(0.5, 2000, n_new), 2), base + new * 1000, ["c"] * n_new),
        events(dele, amounts[dele], stamps[dele] + 3_600_000_000, ["d"] * n_del),
        events(same, amounts[same], stamps[same], ["u"] * len(same)),
        events(dup, amounts[dup] - 1.0, stamps[dup] - 3_600_000_000, ["u"] * n_dup),  # older copies
    ]
    batch = pa.concat_tables(parts)
    batch = batch.take(pa.array(rng.permutation(batch.num_rows)))
    expected = {"inserted": n_new, "updated": n_upd, "deleted": n_del}
    return target, batch, expected


def load(conn: Any, table: str, data: Any, folder: Path, extra_columns: str = "") -> float:
    """CREATE TABLE + PUT + COPY INTO (the efficient way in); returns seconds."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(data, folder / "part-00000.parquet")
    cur = conn.cursor()
    cur.execute(f"CREATE OR REPLACE TABLE {table} ({COLUMNS_SQL}{extra_columns})")
    cur.execute(f"PUT 'file://{folder}/*.parquet' @%{table} AUTO_COMPRESS = FALSE OVERWRITE = TRUE")
    cur.execute(
        f"COPY INTO {table} FROM @%{table} FILE_FORMAT = (TYPE = PARQUET) "
        "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE FORCE = TRUE PURGE = TRUE"
    )
    return time.perf_counter() - started


def pa_concat(*tables: Any) -> Any:
    import pyarrow as pa

    return pa.concat_tables(tables)


def merge(**kwargs: Any) -> tuple[dict[str, Any], float]:
    from airflow_provider_lakeops.operators.snowflake import SnowflakeMergeOperator

    op = SnowflakeMergeOperator(
        task_id="bench_merge",
        keys=["customer_id", "event_id"],
        ordering_column="updated_at",
        operation_column="op",
        delete_value="d",
        **kwargs,
    )
    started = time.perf_counter()
    result = op.execute(context={"run_id": f"bench-{time.time_ns()}"})
    return result, time.perf_counter() - started


def naive_upsert(conn: Any, table: str, rows: list[dict[str, Any]]) -> tuple[float, int, dict[str, int]]:
    """One UPDATE (INSERT when nothing matched) or DELETE per row: the loop people write by hand."""
    cur = conn.cursor()
    statements = 0
    counts = {"inserted": 0, "updated": 0, "deleted": 0}
    started = time.perf_counter()
    for row in rows:
        key = {"c": row["customer_id"], "e": row["event_id"]}
        if row["op"] == "d":
            cur.execute(f"DELETE FROM {table} WHERE customer_id = %(c)s AND event_id = %(e)s", key)
            statements += 1
            counts["deleted"] += cur.rowcount or 0
            continue
        values = {
            **key,
            "t": row["event_type"],
            "p": row["page"],
            "a": row["amount"],
            "cur": row["currency"],
            "u": row["updated_at"].isoformat(),
        }
        cur.execute(
            f"UPDATE {table} SET event_type = %(t)s, page = %(p)s, amount = %(a)s, currency = %(cur)s, "
            "updated_at = %(u)s WHERE customer_id = %(c)s AND event_id = %(e)s",
            values,
        )
        statements += 1
        if cur.rowcount:
            counts["updated"] += cur.rowcount
        else:
            cur.execute(
                f"INSERT INTO {table} (customer_id, event_id, event_type, page, amount, currency, "
                "updated_at) VALUES (%(c)s, %(e)s, %(t)s, %(p)s, %(a)s, %(cur)s, %(u)s)",
                values,
            )
            statements += 1
            counts["inserted"] += 1
    return time.perf_counter() - started, statements, counts


def run(n: int, naive_n: int, home: Path) -> None:
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    t0 = time.perf_counter()
    target, batch, expected = make_tables(n)
    print(
        f"generated target {target.num_rows:,} rows and batch {batch.num_rows:,} rows "
        f"in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    conn = SnowflakeHook(snowflake_conn_id="snowflake_default").get_conn()
    results: list[dict[str, Any]] = []
    try:
        seconds = load(conn, "BENCH_TARGET", target, home / "target")
        seconds += load(conn, "BENCH_BATCH", batch, home / "batch", ", op VARCHAR")
        print(f"loaded both tables with PUT + COPY INTO in {seconds:.1f} s", flush=True)

        result, secs = merge(target_table="BENCH_TARGET", source_table="BENCH_BATCH")
        counts = {k: result[k] for k in ("inserted", "updated", "deleted")}
        results.append(
            {
                "scenario": "merge, table source",
                "rows": n,
                "seconds": secs,
                "statements": result["statements"],
                **counts,
                "ok": counts == expected,
            }
        )
        (total,) = conn.cursor().execute("SELECT COUNT(*) FROM BENCH_TARGET").fetchone()
        (dupes,) = (
            conn.cursor()
            .execute(
                "SELECT COUNT(*) FROM (SELECT customer_id, event_id FROM BENCH_TARGET GROUP BY 1, 2 "
                "HAVING COUNT(*) > 1)"
            )
            .fetchone()
        )
        print(
            f"target after merge: {total:,} rows (expected "
            f"{n + expected['inserted'] - expected['deleted']:,}), "
            f"{dupes} duplicate keys",
            flush=True,
        )

        result, secs = merge(target_table="BENCH_TARGET", source_table="BENCH_BATCH")
        counts = {k: result[k] for k in ("inserted", "updated", "deleted")}
        results.append(
            {
                "scenario": "merge, rerun",
                "rows": n,
                "seconds": secs,
                "statements": result["statements"],
                **counts,
                "ok": counts == {"inserted": 0, "updated": 0, "deleted": 0},
            }
        )

        seconds = load(conn, "BENCH_TARGET", target, home / "target2")
        (home / "batch-parquet").mkdir()
        import pyarrow.parquet as pq

        pq.write_table(batch, home / "batch-parquet" / "part-00000.parquet")
        result, secs = merge(target_table="BENCH_TARGET", source_parquet=str(home / "batch-parquet"))
        counts = {k: result[k] for k in ("inserted", "updated", "deleted")}
        results.append(
            {
                "scenario": "merge, Parquet source (staged by the operator)",
                "rows": n,
                "seconds": secs,
                "statements": result["statements"],
                **counts,
                "ok": counts == expected,
            }
        )

        # the naive loop over a sample with the same mix, on a target of the same size as the sample
        # (the sample's keys + other rows): a smaller table makes each UPDATE cheaper, so the ratio
        # below is conservative (it favours the naive loop)
        import pyarrow.compute as pc

        sample = batch.slice(0, naive_n)
        mask = pc.is_in(target["event_id"], value_set=sample["event_id"])
        matched = target.filter(mask)
        naive_target = pa_concat(
            matched, target.filter(pc.invert(mask)).slice(0, max(0, naive_n - matched.num_rows))
        )
        load(conn, "BENCH_NAIVE", naive_target, home / "naive")
        secs, statements, counts = naive_upsert(conn, "BENCH_NAIVE", sample.to_pylist())
        results.append(
            {
                "scenario": f"naive row-by-row upsert ({naive_target.num_rows:,}-row table)",
                "rows": naive_n,
                "seconds": secs,
                "statements": statements,
                **counts,
                "ok": None,
            }
        )
    finally:
        conn.close()

    print()
    print(
        f"{'scenario':48} {'rows':>10} {'seconds':>9} {'rows/s':>10} {'statements':>10} "
        f"{'inserted':>9} {'updated':>9} {'deleted':>8}"
    )
    for r in results:
        print(
            f"{r['scenario']:48} {r['rows']:>10,} {r['seconds']:>9.2f} {r['rows'] / r['seconds']:>10,.0f} "
            f"{r['statements']:>10,} {r['inserted']:>9,} {r['updated']:>9,} {r['deleted']:>8,}"
            + ("" if r["ok"] is None else ("  ok" if r["ok"] else "  UNEXPECTED COUNTS"))
        )
    merged, naive = results[0], results[-1]
    ratio = (naive["seconds"] / naive["rows"]) / (merged["seconds"] / merged["rows"])
    print()
    print(f"per-row time, naive / MERGE (table source): {ratio:,.0f}x (target >= 100x)")
    print(f"statements per batch (table source): {merged['statements']} (target <= 5, constant)")
    print(json.dumps({"per_row_ratio": round(ratio, 1), "results": results}, default=str))


if __name__ == "__main__":
    main()
