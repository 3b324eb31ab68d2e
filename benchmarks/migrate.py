"""`sensorbot migrate` over a ranchdata table on dynalite (issue 10).

Run: `DYNALITE_BIN=.tools/node_modules/.bin/dynalite .venv/bin/python benchmarks/migrate.py
[--items N]`. Fills a fresh in-memory dynalite table the way ranchdata filled it (about 1 %
odd items), then times the migration's scan + registration, and, as the baseline measured in
the same run, one plain sequential boto3 Scan of the same table (no projection, no work).
Prints items/s, read units per item and the ratio to the baseline. 1 M items are the target;
on a small machine measure fewer and extrapolate (the scan is linear in the table's size).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sensorbot.migrate import migrate  # noqa: E402
from storage.dynamodb import DynamoDBStore  # noqa: E402
from storage.dynamodb.client import CapacityMeter, batch_write, build_client  # noqa: E402
from tests.support.dynalite import find_dynalite, start_dynalite  # noqa: E402

NOW_MS = 1_800_000_000_000
USERS = ("23", "24", "cottage")
SENSORS_PER_USER = 20
TARGET = 1_000_000


def ranch_item(i: int) -> dict[str, Any]:
    """One item as measurement.js stored it; every 100th has a string, null or no value."""
    sensor = f"{USERS[i % len(USERS)]}#sensor-{i % (len(USERS) * SENSORS_PER_USER)}"
    item: dict[str, Any] = {
        "sensorId": {"S": sensor}, "timestamp": {"N": str(NOW_MS - i * 1000)},
        "createdAt": {"N": str(NOW_MS - i * 1000 + 40)},
        "expires_at": {"N": str((NOW_MS - i * 1000) // 1000 + 28 * 86_400)},
        "value": {"N": f"{20 + (i % 100) / 10}"},
    }
    odd = i % 100
    if odd == 1:
        item["value"] = {"S": "5.25"}
    elif odd == 2:
        item["value"] = {"NULL": True}
    elif odd == 3:
        del item["value"]
    return item


def fill(client: Any, table: str, count: int, *, workers: int = 4) -> float:
    meter = CapacityMeter()
    chunk = 2_500

    def write(start: int) -> None:
        items = [ranch_item(i) for i in range(start, min(start + chunk, count))]
        batch_write(client, meter, table, items)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(write, range(0, count, chunk)))
    return time.perf_counter() - started


def plain_scan(client: Any, table: str) -> tuple[float, int]:
    started, items, request = time.perf_counter(), 0, {"TableName": table}
    while True:
        page = client.scan(**request)
        items += page["ScannedCount"]
        if "LastEvaluatedKey" not in page:
            return time.perf_counter() - started, items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--segments", type=int, default=4)
    args = parser.parse_args()
    binary = find_dynalite()
    if binary is None:
        sys.exit("dynalite is not installed (make test installs it into .tools/)")
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    server = start_dynalite(binary)
    try:
        client = build_client("eu-north-1", server.endpoint)
        store = DynamoDBStore(client=client, measurements_table="measurement",
                              meta_table="sensorbot-meta")
        store.init()
        fill_s = fill(client, "measurement", args.items)
        print(f"filled {args.items:,} ranchdata items in {fill_s:.0f} s "
              f"({args.items / fill_s:,.0f} items/s)")
        plain_s, plain_items = plain_scan(client, "measurement")
        started = time.perf_counter()
        done = migrate(store, tokens=None, old_chats=None, now_ms=NOW_MS,
                       segments=args.segments)
        migrate_s = time.perf_counter() - started
    finally:
        server.stop()
    scan = done.scan
    assert scan is not None and scan.items == args.items == plain_items
    assert len(done.sensors_new) == len(USERS) * SENSORS_PER_USER
    rate, plain_rate = scan.items / migrate_s, plain_items / plain_s
    print(f"migrate, {args.segments} segments: {migrate_s:.1f} s, {rate:,.0f} items/s, "
          f"{scan.read_units / scan.items:.5f} read units per item "
          f"({scan.read_units:,.0f} in all), {len(done.sensors_new)} sensors registered")
    print(f"baseline, one plain sequential Scan: {plain_s:.1f} s, {plain_rate:,.0f} items/s")
    print(f"ratio migrate/baseline: {rate / plain_rate:.2f}")
    if args.items < TARGET:
        factor = TARGET / args.items
        print(f"extrapolated to {TARGET:,} items (linear): migrate {migrate_s * factor:.0f} s, "
              f"{scan.read_units * factor:,.0f} read units; filling {fill_s * factor / 60:.0f} "
              "min")


if __name__ == "__main__":
    main()
