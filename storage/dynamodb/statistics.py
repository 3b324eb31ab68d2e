"""Hourly statistics on a table of their own: `sensorId` = `<user>#<sensor>`, `hour` ms.

Short attribute names keep an item near 100 bytes, so a 30-day chart's 720 hours cost about
nine read units (eventually consistent reads of 4 KB each).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from storage.base import MAX_TIME_MS
from storage.dynamodb.client import CapacityMeter, Item, batch_write, error_code, query_pages
from storage.dynamodb.readings import NOT_EXPIRED, number, partition_key
from storage.errors import MissingTable, StorageError
from storage.models import HourStats

log = logging.getLogger("sensorbot.storage")


def statistics_item(key: str, hour: HourStats, *, retention_s: int) -> Item:
    item = {
        "sensorId": {"S": key},
        "hour": {"N": str(hour.hour)},
        "n": {"N": str(hour.n)},
        "min": {"N": number(hour.minimum)},
        "max": {"N": number(hour.maximum)},
        "mean": {"N": number(hour.mean)},
        "first": {"N": str(hour.first)},
        "last": {"N": str(hour.last)},
    }
    if retention_s:
        item["expires_at"] = {"N": str(hour.hour // 1000 + retention_s)}
    return item


def hour_from_item(item: Item) -> HourStats:
    return HourStats(int(item["hour"]["N"]), int(item["n"]["N"]), float(item["min"]["N"]),
                     float(item["max"]["N"]), float(item["mean"]["N"]),
                     int(item["first"]["N"]), int(item["last"]["N"]))


class StatisticsMixin:
    """The statistics third of DynamoDBStore."""

    _client: Any
    _meter: CapacityMeter
    statistics_table: str
    statistics_retention_ms: int
    _told_missing = False

    @contextmanager
    def _statistics_table(self) -> Iterator[None]:
        try:
            yield
        except StorageError as error:
            cause = error.__cause__
            if isinstance(cause, ClientError) and \
                    error_code(cause) == "ResourceNotFoundException":
                raise MissingTable(
                    f"there is no statistics table {self.statistics_table!r}: run `sensorbot "
                    "init --create-tables` (on AWS: deploy the stack again)") from cause
            raise

    def write_statistics(self, user_id: str, sensor: str, hours: Sequence[HourStats], *,
                         now_ms: int) -> int:
        retention_s = self.statistics_retention_ms // 1000
        key = partition_key(user_id, sensor)
        items = [statistics_item(key, hour, retention_s=retention_s)
                 for hour in {h.hour: h for h in hours}.values()]
        with self._statistics_table():
            batch_write(self._client, self._meter, self.statistics_table, items)
        return len(items)

    def read_statistics(self, user_id: str, sensor: str, start_ms: int, end_ms: int, *,
                        now_ms: int) -> list[HourStats]:
        if self.statistics_retention_ms:
            start_ms = max(start_ms, now_ms - self.statistics_retention_ms)
        end_ms = min(end_ms, MAX_TIME_MS)
        if start_ms > end_ms:
            return []
        request = dict(
            TableName=self.statistics_table,
            KeyConditionExpression="sensorId = :pk AND #hour BETWEEN :low AND :high",
            FilterExpression=NOT_EXPIRED,
            ExpressionAttributeNames={"#hour": "hour"},
            ExpressionAttributeValues={
                ":pk": {"S": partition_key(user_id, sensor)}, ":low": {"N": str(start_ms)},
                ":high": {"N": str(end_ms)}, ":now_s": {"N": str(now_ms // 1000)}})
        try:
            with self._statistics_table():
                return [hour_from_item(item)
                        for item in query_pages(self._client, self._meter, **request)]
        except MissingTable as missing:  # charts fall back to the readings
            if not self._told_missing:
                log.warning("%s", missing)
                self._told_missing = True
            return []
