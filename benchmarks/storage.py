"""Storage benchmarks (issue 2). Run: `make bench` or `.venv/bin/python benchmarks/storage.py`.

Prints each figure with its target, and the store's write rate as a ratio to raw
`sqlite3.executemany` on the same schema, measured in the same run.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.models import Reading  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402

NOW_MS = 1_800_000_000_000
READINGS = 100_000
BATCH = 1000  # the most one v3 API request carries
SENSORS = 10


def readings(count: int, sensors: int) -> list[Reading]:
    return [Reading(f"sensor-{i % sensors}", NOW_MS - count + i, 20 + (i % 100) / 10)
            for i in range(count)]


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def best_of(runs: int, action: Callable[[], float]) -> float:
    return min(action() for _ in range(runs))


def store_write(folder: Path, rows: list[Reading]) -> float:
    path = folder / f"store-{time.perf_counter_ns()}.db"
    store = SQLiteStore(path)
    elapsed = timed(lambda: [store.write_readings("u1", rows[i:i + BATCH], now_ms=NOW_MS)
                             for i in range(0, len(rows), BATCH)])
    store.close()
    return elapsed


def raw_write(folder: Path, rows: list[Reading], *, batch: int = BATCH) -> float:
    path = folder / f"raw-{time.perf_counter_ns()}.db"
    SQLiteStore(path).close()  # the same schema and file settings
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
    tuples = [("u1", r.sensor, r.timestamp, r.value, NOW_MS) for r in rows]

    def write() -> None:
        for i in range(0, len(tuples), batch):
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?, ?)",
                           tuples[i:i + batch])
            db.execute("COMMIT")

    elapsed = timed(write)
    db.close()
    return elapsed


def latest_of_many(folder: Path) -> float:
    store = SQLiteStore(folder / "latest.db")
    rows = [Reading(f"s{s}", NOW_MS - k * 60_000, float(k)) for s in range(1000) for k in range(20)]
    for i in range(0, len(rows), BATCH):
        store.write_readings("u1", rows[i:i + BATCH], now_ms=NOW_MS)
    keys = [("u1", f"s{s}") for s in range(1000)]
    assert len(store.latest_readings(keys, now_ms=NOW_MS)) == 1000
    return best_of(5, lambda: timed(lambda: store.latest_readings(keys, now_ms=NOW_MS)))


def dynalite_capacity() -> tuple[float, float] | None:
    from storage.dynamodb import DynamoDBStore
    from storage.dynamodb.client import build_client
    from tests.support.dynalite import find_dynalite, start_dynalite

    binary = find_dynalite()
    if binary is None:
        print("dynalite: not installed (make test installs it); DynamoDB figures skipped")
        return None
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    server = start_dynalite(binary)
    try:
        store = DynamoDBStore(client=build_client("eu-north-1", server.endpoint))
        store.init()
        rows = readings(10_000, SENSORS)
        for i in range(0, len(rows), BATCH):
            store.write_readings("u1", rows[i:i + BATCH], now_ms=NOW_MS)
        write_units = store.capacity.write_units / len(rows)
        before = store.capacity.read_units
        store.latest_reading("u1", "sensor-3", now_ms=NOW_MS)
        return write_units, store.capacity.read_units - before
    finally:
        server.stop()


def main() -> None:
    rows = readings(READINGS, SENSORS)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        store_s = best_of(3, lambda: store_write(folder, rows))
        raw_s = best_of(3, lambda: raw_write(folder, rows))
        one_tx_s = best_of(3, lambda: raw_write(folder, rows, batch=READINGS))
        latest_s = latest_of_many(folder)
    store_rate, raw_rate = READINGS / store_s, READINGS / raw_s
    print(f"SQLite, {READINGS:,} readings in batches of {BATCH}:")
    print(f"  through the store   {store_rate:12,.0f} readings/s")
    print(f"  raw executemany     {raw_rate:12,.0f} readings/s")
    print(f"  ratio store/raw     {store_rate / raw_rate:12.2f}   (target >= 0.5)")
    print(f"  (raw, all in one transaction: {READINGS / one_tx_s:,.0f} readings/s,"
          f" ratio {store_rate * one_tx_s / READINGS:.2f})")
    print(f"SQLite, latest reading of 1,000 sensors: {latest_s * 1000:.1f} ms   (target <= 50 ms)")
    capacity = dynalite_capacity()
    if capacity:
        write_units, read_units = capacity
        print("dynalite, 10,000 readings of 10 sensors:")
        print(f"  write units per stored reading  {write_units:.4f}   (target <= 1.01)")
        print(f"  read units per latest lookup    {read_units:.2f}     (target <= 0.5)")


if __name__ == "__main__":
    main()
