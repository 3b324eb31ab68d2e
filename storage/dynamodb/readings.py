"""Readings on ranchdata's measurements table: `sensorId` = `<user>#<sensor>`, `timestamp` ms."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from storage.base import MAX_TIME_MS, SensorKey, StoredItem
from storage.dynamodb.client import CapacityMeter, Item, batch_write, query_pages
from storage.dynamodb.numbers import NumberSafeDeserializer
from storage.models import Reading, check_sensor_id, check_user_id, check_value

if TYPE_CHECKING:  # boto3-stubs, a dev dependency
    from mypy_boto3_dynamodb import DynamoDBClient

# Readings past retention may linger until TTL deletes them (up to two days): never return them.
NOT_EXPIRED = "attribute_not_exists(expires_at) OR expires_at > :now_s"
log = logging.getLogger("sensorbot.storage")
_deserializer = NumberSafeDeserializer()


def number(value: float | int) -> str:
    return str(Decimal(str(value)))


def partition_key(user_id: str, sensor: str) -> str:
    return f"{user_id}#{sensor}"


def measurement_item(user_id: str, reading: Reading, *, now_ms: int, retention_s: int) -> Item:
    return {
        "sensorId": {"S": partition_key(user_id, reading.sensor)},
        "timestamp": {"N": str(int(reading.timestamp))},
        "value": {"N": number(check_value(float(reading.value)))},
        "createdAt": {"N": str(now_ms)},
        "expires_at": {"N": str(int(reading.timestamp) // 1000 + retention_s)},
    }


def reading_from_item(sensor: str, item: Item) -> Reading | None:
    """The reading an item holds, or None for one without a number.

    ranchdata stored values as clients sent them: N, a numeric string (S), NULL, or no
    `value` at all; and timestamps with fractions of a millisecond, read as the whole one.
    """
    value = item.get("value", {})
    raw = value.get("N", value.get("S"))
    # Python's float() takes "1_0", "２１" and "٢١"; JavaScript's Number() never did.
    if not isinstance(raw, str) or "_" in raw or not raw.isascii():
        return None
    try:
        number = float(raw.strip())
        stamp = int(Decimal(item["timestamp"]["N"]).to_integral_value(ROUND_FLOOR))
    except (ValueError, InvalidOperation):
        return None
    return Reading(sensor, stamp, number) if math.isfinite(number) else None


def readings_from_items(sensor: str, items: Iterable[Item]) -> Iterator[Reading]:
    """The readings among `items`; the others are counted at DEBUG, never an error."""
    skipped = 0
    for item in items:
        reading = reading_from_item(sensor, item)
        if reading is None:
            skipped += 1
        else:
            yield reading
    if skipped:
        log.debug("skipped %d item(s) of sensor %r holding no number", skipped, sensor)


class ReadingsMixin:
    """The readings half of DynamoDBStore."""

    _client: DynamoDBClient
    _meter: CapacityMeter
    measurements_table: str
    retention_ms: int
    _pool: ThreadPoolExecutor | None
    _pool_lock: threading.Lock
    _register_sensors: Any  # MetaMixin records sensors seen for the first time

    def write_readings(self, user_id: str, readings: Sequence[Reading], *, now_ms: int) -> int:
        check_user_id(user_id)
        # One batch may not name a key twice; the last reading of a (sensor, time) wins.
        unique = {(check_sensor_id(r.sensor), int(r.timestamp)): r for r in readings}
        retention_s = self.retention_ms // 1000
        items = [
            measurement_item(user_id, r, now_ms=now_ms, retention_s=retention_s)
            for r in unique.values()
        ]
        self._register_sensors(user_id, {sensor for sensor, _ in unique}, now_ms)
        batch_write(self._client, self._meter, self.measurements_table, items)
        return len(readings)

    def _range_query(self, user_id: str, sensor: str, low: int, high: int, *, now_ms: int,
                     newest_first: bool = False, page_size: int | None = None) -> Any:
        request: dict[str, Any] = {
            "TableName": self.measurements_table,
            "KeyConditionExpression": "sensorId = :pk AND #ts BETWEEN :low AND :high",
            "FilterExpression": NOT_EXPIRED,
            "ExpressionAttributeNames": {"#ts": "timestamp", "#v": "value"},
            "ExpressionAttributeValues": {
                ":pk": {"S": partition_key(user_id, sensor)},
                ":low": {"N": str(low)},
                ":high": {"N": str(high)},
                ":now_s": {"N": str(now_ms // 1000)},
            },
            "ProjectionExpression": "#ts, #v",
            "ScanIndexForward": not newest_first,
        }
        if page_size:
            request["Limit"] = page_size
        return query_pages(self._client, self._meter, **request)

    def read_range(
        self, user_id: str, sensor: str, start_ms: int, end_ms: int, *, now_ms: int,
        limit: int | None = None,
    ) -> list[Reading]:
        low, end_ms = max(start_ms, now_ms - self.retention_ms), min(end_ms, MAX_TIME_MS)
        if low > end_ms or limit == 0:
            return []
        found: list[Reading] = []
        items = self._range_query(user_id, sensor, low, end_ms, now_ms=now_ms, page_size=limit)
        for reading in readings_from_items(sensor, items):
            found.append(reading)
            if limit is not None and len(found) >= limit:
                break
        return found

    def read_stored_items(self, user_id: str, sensor: str, start_ms: int, end_ms: int, *,
                          now_ms: int, limit: int) -> list[StoredItem]:
        """The range's items as stored, whatever their value: the v2 series's view."""
        low, end_ms = max(start_ms, now_ms - self.retention_ms), min(end_ms, MAX_TIME_MS)
        if low > end_ms or limit <= 0:
            return []
        found: list[StoredItem] = []
        for item in self._range_query(user_id, sensor, low, end_ms, now_ms=now_ms,
                                      page_size=limit):
            value = item.get("value")
            found.append(StoredItem(Decimal(item["timestamp"]["N"]),
                                    _deserializer.deserialize(value) if value else None,
                                    value is not None))
            if len(found) >= limit:
                break
        return found

    def latest_reading(self, user_id: str, sensor: str, *, now_ms: int,
                       before_ms: int | None = None) -> Reading | None:
        high = MAX_TIME_MS if before_ms is None else min(before_ms, MAX_TIME_MS + 1) - 1
        low = now_ms - self.retention_ms
        if low > high:
            return None
        # 16 small items still fit one 4 KB read unit, and skip past lingering expired ones.
        newest = self._range_query(user_id, sensor, low, high, now_ms=now_ms,
                                   newest_first=True, page_size=16)
        return next(readings_from_items(sensor, newest), None)

    def latest_readings(
        self, keys: Iterable[SensorKey], *, now_ms: int
    ) -> dict[SensorKey, Reading]:
        wanted = list(set(keys))
        if not wanted:
            return {}
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="latest")
        found = self._pool.map(lambda key: self.latest_reading(*key, now_ms=now_ms), wanted)
        return {key: reading for key, reading in zip(wanted, found, strict=True) if reading}

    def purge_expired(self, *, now_ms: int) -> int:
        return 0  # DynamoDB's TTL on expires_at deletes them; reads already skip them
