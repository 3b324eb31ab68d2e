"""The one Scan of the measurements table: which `<user>#<sensor>` keys it holds.

Run by an operator (`sensorbot migrate`) to adopt a table ranchdata filled, never on a request
or alert path (docs/storage.md): it reads every item, so it costs as much as the table is large.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from storage.base import ScanProgress, SensorKeyScan
from storage.dynamodb.client import (
    TRANSIENT_CODES,
    CapacityMeter,
    Item,
    error_code,
    translated,
)
from storage.errors import StorageUnavailable

if TYPE_CHECKING:  # boto3-stubs, a dev dependency
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import ScanOutputTypeDef

THROTTLED_TRIES = 40  # a table provisioned at 1 RCU (ranchdata's) throttles all the way through
MAX_BACKOFF_S = 5.0


class _Tally:
    """What every segment has seen so far, shared between their threads."""

    def __init__(self, estimate: int | None, report: Callable[[ScanProgress], None]) -> None:
        self.keys: Counter[str] = Counter()
        self.items = 0
        self.read_units = 0.0
        self.estimate = estimate
        self._report = report
        self._lock = threading.Lock()

    def add(self, page: ScanOutputTypeDef) -> None:
        keys = Counter(item["sensorId"]["S"] for item in page.get("Items", [])
                       if "S" in item.get("sensorId", {}))
        units = float((page.get("ConsumedCapacity") or {}).get("CapacityUnits", 0) or 0)
        with self._lock:
            self.keys.update(keys)
            self.items += int(page.get("ScannedCount", 0))
            self.read_units += units
            progress = ScanProgress(self.items, self.estimate, len(self.keys), self.read_units)
        self._report(progress)


def scan_sensor_keys(client: DynamoDBClient, meter: CapacityMeter, table: str, *, segments: int,
                     progress: Callable[[ScanProgress], None],
                     sleep: Callable[[float], None] = time.sleep) -> SensorKeyScan:
    """Every partition key of `table` with its item count, by a parallel Scan."""
    with translated():
        estimate = client.describe_table(TableName=table)["Table"].get("ItemCount")
    tally = _Tally(estimate, progress)

    def run(segment: int) -> None:
        for page in _pages(client, table, segment, segments, sleep):
            meter.add(page, write=False)
            tally.add(page)

    with ThreadPoolExecutor(max_workers=segments, thread_name_prefix="scan") as pool:
        list(pool.map(run, range(segments)))
    return SensorKeyScan(dict(tally.keys), tally.items, tally.read_units)


def _pages(client: DynamoDBClient, table: str, segment: int, segments: int,
           sleep: Callable[[float], None]) -> Iterator[ScanOutputTypeDef]:
    request: dict[str, Any] = {
        "TableName": table, "ProjectionExpression": "sensorId", "Segment": segment,
        "TotalSegments": segments, "ReturnConsumedCapacity": "TOTAL",
    }
    while True:
        page = _scan_page(client, request, sleep)
        yield page
        last_key: Item | None = page.get("LastEvaluatedKey")
        if not last_key:
            return
        request["ExclusiveStartKey"] = last_key


def _scan_page(client: DynamoDBClient, request: dict[str, Any],
               sleep: Callable[[float], None]) -> ScanOutputTypeDef:
    """One page; throttling is waited out (the table may have little read capacity)."""
    for attempt in range(THROTTLED_TRIES):
        try:
            with translated():
                return client.scan(**request)
        except StorageUnavailable as exc:
            cause = exc.__cause__
            if not isinstance(cause, ClientError) or error_code(cause) not in TRANSIENT_CODES:
                raise
            sleep(min(MAX_BACKOFF_S, 0.1 * 2**attempt))
    raise StorageUnavailable(
        f"DynamoDB kept throttling the scan of {request['TableName']} after {THROTTLED_TRIES} "
        "tries: give the table more read capacity (or switch it to on-demand) and run again")
