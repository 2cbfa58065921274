"""A deterministic, seedable generator of customer-behaviour events with PII and known defects.

Every downstream step gets something real to catch: nulls in key columns, malformed emails,
unknown event types, out-of-range amounts, exact re-sends (duplicate keys) and later updates of
earlier events (same keys, a later ``updated_at``). The same ``seed`` gives the same rows.
Rows are produced in chunks, so 10M rows never sit in memory at once.

Columns (the contract the operators, the policies and the dbt models rely on):

===============  =========  ==========================================================
column           type       notes
===============  =========  ==========================================================
event_id         string     ``evt-YYYYMMDD-000000001``; null only as a defect
customer_id      int64      1..customers; null only as a defect
session_id       string     ``ses-...``
event_type       string     one of :data:`EVENT_TYPES` (``unknown_event`` as a defect)
event_ts         timestamp  UTC, inside ``day``
updated_at       timestamp  ``>= event_ts``; later for updates of earlier events
page             string     ``/products/123`` ...
amount           double     purchase/add_to_cart only, 0.5..2000 (negative as a defect)
currency         string     ``USD`` / ``EUR`` / ``GBP`` when amount is set
email            string     PII (malformed, without ``@``, as a defect)
phone            string     PII, ``555-123-4567``
ssn              string     PII, ``123-45-6789``
full_name        string     PII, ``Jane Doe``
ip_address       string     PII, IPv4 (IPv6 for ~10 %)
event_date       string     ``YYYY-MM-DD`` (the partition value)
===============  =========  ==========================================================
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "COLUMNS",
    "EVENT_TYPES",
    "MAX_ROWS",
    "GenerationSummary",
    "generate_events",
    "write_events",
]

EVENT_TYPES: tuple[str, ...] = ("page_view", "search", "add_to_cart", "purchase", "login", "logout")
COLUMNS: tuple[str, ...] = (
    "event_id",
    "customer_id",
    "session_id",
    "event_type",
    "event_ts",
    "updated_at",
    "page",
    "amount",
    "currency",
    "email",
    "phone",
    "ssn",
    "full_name",
    "ip_address",
    "event_date",
)
PII_COLUMNS: tuple[str, ...] = ("email", "phone", "ssn", "full_name", "ip_address")
MAX_ROWS = 100_000_000
_EVENT_WEIGHTS = (50, 20, 12, 6, 7, 5)
_FIRST = (
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Zoë",
    "José",
    "Anaïs",
    "Søren",
    "Mei",
    "Olu",
    "Priya",
    "Chen",
    "Fatima",
    "Lars",
)
_LAST = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Núñez",
    "O'Brien",
    "Müller",
    "Kowalski",
    "Nakamura",
    "Okafor",
)
_DOMAINS = ("example.com", "mail.example.org", "shop.example.net", "corp.example.io")
_PAGES = ("/", "/search", "/cart", "/checkout", "/account", "/products/{n}", "/category/{n}")


@dataclass
class GenerationSummary:
    """What :func:`write_events` wrote (JSON-serialisable; no data values)."""

    rows: int
    path: str
    files: list[str]
    format: str
    day: str
    seed: int
    defects: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _validate(rows: int, customers: int | None, rates: dict[str, float], chunk_size: int) -> None:
    if isinstance(rows, bool) or not isinstance(rows, int):
        raise TypeError(f"rows must be an int, got {type(rows).__name__}")
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    if rows > MAX_ROWS:
        raise ValueError(
            f"rows={rows:,} is above the generator's limit of {MAX_ROWS:,}; generate in several days"
        )
    if customers is not None and customers < 1:
        raise ValueError(f"customers must be >= 1, got {customers}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    for name, rate in rates.items():
        if not (0.0 <= rate <= 0.5) or math.isnan(rate):
            raise ValueError(f"{name} must be between 0 and 0.5, got {rate}")


def _as_day(day: date | str) -> date:
    if isinstance(day, datetime):
        return day.date()
    if isinstance(day, date):
        return day
    try:
        return date.fromisoformat(str(day)[:10])
    except ValueError as exc:
        raise ValueError(f"day must be a date or 'YYYY-MM-DD', got {day!r}") from exc


def generate_events(
    rows: int,
    *,
    day: date | str = "2025-10-31",
    seed: int = 42,
    customers: int | None = None,
    defect_rate: float = 0.02,
    duplicate_rate: float = 0.01,
    update_rate: float = 0.02,
    chunk_size: int = 100_000,
    counts: dict[str, int] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Yield lists of at most ``chunk_size`` event dicts, ``rows`` in all.

    :param rows: number of rows (0..:data:`MAX_ROWS`), duplicates and updates included.
    :param day: the day the events happen (``YYYY-MM-DD``).
    :param seed: the same seed gives the same rows.
    :param customers: distinct customers (default ``max(10, rows // 20)``).
    :param defect_rate: share of rows with one defect (null key, malformed email, unknown
        event type, negative amount); 0 gives clean data.
    :param duplicate_rate: share of rows that re-send an earlier row unchanged.
    :param update_rate: share of rows that update an earlier event (same keys, later ``updated_at``).
    :param counts: if given, filled with the number of each defect produced.
    """
    rates = {"defect_rate": defect_rate, "duplicate_rate": duplicate_rate, "update_rate": update_rate}
    _validate(rows, customers, rates, chunk_size)
    the_day = _as_day(day)
    rng = random.Random(seed)
    n_customers = customers or max(10, rows // 20)
    start = datetime(the_day.year, the_day.month, the_day.day, tzinfo=timezone.utc)
    stamp = the_day.strftime("%Y%m%d")
    tally = counts if counts is not None else {}
    for key in (
        "null_key",
        "malformed_email",
        "unknown_event_type",
        "negative_amount",
        "duplicate",
        "update",
    ):
        tally.setdefault(key, 0)
    recent: list[dict[str, Any]] = []  # a bounded window of earlier rows to re-send or update
    seq = 0
    produced = 0
    while produced < rows:
        chunk: list[dict[str, Any]] = []
        for _ in range(min(chunk_size, rows - produced)):
            draw = rng.random()
            if recent and draw < duplicate_rate:
                row = dict(rng.choice(recent))
                tally["duplicate"] += 1
            elif recent and draw < duplicate_rate + update_rate:
                base = rng.choice(recent)
                row = dict(base)
                later = datetime.fromisoformat(base["updated_at"].replace("Z", "+00:00"))
                later += timedelta(seconds=rng.randint(1, 3600))
                row["updated_at"] = (
                    min(later, start + timedelta(days=1, microseconds=-1000))
                    .isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z")
                )
                row["page"] = _page(rng)
                if row["amount"] is not None:
                    row["amount"] = round(rng.uniform(0.5, 2000.0), 2)
                tally["update"] += 1
            else:
                seq += 1
                row = _new_row(rng, seq, stamp, start, n_customers)
                if rng.random() < defect_rate:
                    _add_defect(rng, row, tally)
                if len(recent) < 1000:
                    recent.append(row)
                else:
                    recent[rng.randrange(1000)] = row
            chunk.append(row)
        produced += len(chunk)
        yield chunk


def _page(rng: random.Random) -> str:
    return rng.choice(_PAGES).format(n=rng.randint(1, 500))


@lru_cache(maxsize=262_144)
def _customer(customer: int) -> tuple[str, ...]:
    """A customer's PII, stable across events (cached: seeding a Random per row is slow)."""
    crng = random.Random(customer * 7919)
    first, last = crng.choice(_FIRST), crng.choice(_LAST)
    if crng.random() < 0.1:
        ip = ":".join(f"{crng.randrange(65536):x}" for _ in range(8))
    else:
        ip = f"{crng.randint(1, 223)}.{crng.randrange(256)}.{crng.randrange(256)}.{crng.randint(1, 254)}"
    return (
        f"{first.lower()}.{last.lower().replace(chr(39), '')}{customer}@{crng.choice(_DOMAINS)}",
        f"{crng.randint(201, 989)}-{crng.randint(200, 999)}-{crng.randint(0, 9999):04d}",
        f"{crng.randint(100, 899):03d}-{crng.randint(1, 99):02d}-{crng.randint(1, 9999):04d}",
        f"{first} {last}",
        ip,
        crng.choice(("USD", "EUR", "GBP")),
    )


def _new_row(rng: random.Random, seq: int, stamp: str, start: datetime, n_customers: int) -> dict[str, Any]:
    customer = rng.randint(1, n_customers)
    email, phone, ssn, full_name, ip, currency = _customer(customer)
    event_type = rng.choices(EVENT_TYPES, weights=_EVENT_WEIGHTS)[0]
    ts = start + timedelta(milliseconds=rng.randrange(86_400_000 - 3_600_000))
    priced = event_type in {"purchase", "add_to_cart"}
    ts_text = ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
    return {
        "event_id": f"evt-{stamp}-{seq:09d}",
        "customer_id": customer,
        "session_id": f"ses-{customer:08d}-{rng.randrange(8):02d}",
        "event_type": event_type,
        "event_ts": ts_text,
        "updated_at": ts_text,
        "page": _page(rng),
        "amount": round(rng.uniform(0.5, 2000.0), 2) if priced else None,
        "currency": currency if priced else None,
        "email": email,
        "phone": phone,
        "ssn": ssn,
        "full_name": full_name,
        "ip_address": ip,
        "event_date": start.date().isoformat(),
    }


def _add_defect(rng: random.Random, row: dict[str, Any], tally: dict[str, int]) -> None:
    kind = rng.choice(("null_key", "malformed_email", "unknown_event_type", "negative_amount"))
    if kind == "null_key":
        row[rng.choice(("event_id", "customer_id"))] = None
    elif kind == "malformed_email":
        row["email"] = row["email"].replace("@", " at ")
    elif kind == "unknown_event_type":
        row["event_type"] = "unknown_event"
    else:
        row["amount"] = -round(rng.uniform(0.5, 2000.0), 2)
        row["currency"] = row["currency"] or "USD"
    tally[kind] += 1


def write_events(
    path: str | Path,
    rows: int,
    *,
    fmt: Literal["jsonl", "parquet"] = "jsonl",
    day: date | str = "2025-10-31",
    seed: int = 42,
    clean: bool = False,
    rows_per_file: int = 1_000_000,
    **kwargs: Any,
) -> GenerationSummary:
    """Write ``rows`` events under ``path`` (a folder), replacing what a previous run wrote there.

    Files are published atomically (written as dot-files, then renamed), so a reader never
    sees half a file. ``clean=True`` turns off defects, duplicates and updates.

    :return: a :class:`GenerationSummary` (paths, counts of each defect).
    """
    if fmt not in ("jsonl", "parquet"):
        raise ValueError(f"fmt must be 'jsonl' or 'parquet', got {fmt!r}")
    if rows_per_file < 1:
        raise ValueError(f"rows_per_file must be >= 1, got {rows_per_file}")
    if clean:
        kwargs.update(defect_rate=0.0, duplicate_rate=0.0, update_rate=0.0)
    counts: dict[str, int] = {}
    generator = generate_events(
        rows, day=day, seed=seed, counts=counts, chunk_size=min(100_000, rows_per_file), **kwargs
    )
    # the generator checks its arguments when it starts: start it before touching the folder, so a
    # bad argument leaves a previous run's files in place
    first = next(generator, None)
    chunks = itertools.chain([first] if first is not None else [], generator)
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".jsonl" if fmt == "jsonl" else ".parquet"
    for old in folder.glob(f"part-*{suffix}"):
        old.unlink()
    files: list[str] = []
    writer = _ParquetFiles(folder) if fmt == "parquet" else _JsonFiles(folder)
    in_file = 0
    for chunk in chunks:
        offset = 0
        while offset < len(chunk):
            if in_file == 0:
                files.append(writer.open(len(files)))
            take = min(rows_per_file - in_file, len(chunk) - offset)
            writer.write(chunk[offset : offset + take])
            offset += take
            in_file += take
            if in_file >= rows_per_file:
                writer.close()
                in_file = 0
    if in_file:
        writer.close()
    return GenerationSummary(
        rows=rows,
        path=str(folder),
        files=files,
        format=fmt,
        day=_as_day(day).isoformat(),
        seed=seed,
        defects=counts,
    )


class _JsonFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fh: Any = None
        self._tmp: Path | None = None
        self._final: Path | None = None

    def open(self, index: int) -> str:
        self._final = self.folder / f"part-{index:05d}.jsonl"
        self._tmp = self.folder / f".part-{index:05d}.jsonl.tmp"
        self._fh = open(self._tmp, "w", encoding="utf-8")
        return str(self._final)

    def write(self, rows: list[dict[str, Any]]) -> None:
        self._fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    def close(self) -> None:
        self._fh.close()
        if self._tmp is not None and self._final is not None:
            self._tmp.rename(self._final)


class _ParquetFiles(_JsonFiles):
    def open(self, index: int) -> str:
        import pyarrow.parquet as pq

        self._final = self.folder / f"part-{index:05d}.parquet"
        self._tmp = self.folder / f".part-{index:05d}.parquet.tmp"
        self._fh = pq.ParquetWriter(self._tmp, _arrow_schema())
        return str(self._final)

    def write(self, rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        columns = {c: [r[c] for r in rows] for c in COLUMNS}
        for ts in ("event_ts", "updated_at"):
            columns[ts] = [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in columns[ts]]
        self._fh.write_table(pa.table(columns, schema=_arrow_schema()))


def _arrow_schema() -> Any:
    import pyarrow as pa

    types = {
        "customer_id": pa.int64(),
        "amount": pa.float64(),
        "event_ts": pa.timestamp("us", tz="UTC"),
        "updated_at": pa.timestamp("us", tz="UTC"),
    }
    return pa.schema([(c, types.get(c, pa.string())) for c in COLUMNS])


def main(argv: list[str] | None = None) -> int:
    """``python -m airflow_provider_lakeops.sample_data OUT --rows N [--format parquet]``."""
    import argparse

    parser = argparse.ArgumentParser(description="Generate customer-behaviour events with PII and defects.")
    parser.add_argument("out")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl")
    parser.add_argument("--day", default="2025-10-31")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--clean", action="store_true")
    args = parser.parse_args(argv)
    try:
        summary = write_events(
            args.out, args.rows, fmt=args.format, day=args.day, seed=args.seed, clean=args.clean
        )
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    print(json.dumps(summary.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
