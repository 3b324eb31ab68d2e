"""Deleting a sensor's items from the measurements (or statistics) table: Query its partition
for keys, and BatchWriteItem DeleteRequests, 25 at a time, a few batches at once. Never a
Scan."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from storage.base import DeletionProgress
from storage.dynamodb.client import BATCH_LIMIT, CapacityMeter, Item, batch_delete, query_pages

PARALLEL_BATCHES = 8


def partition_keys(client: Any, meter: CapacityMeter, table: str, partition: str,
                   sort_key: str) -> Iterator[list[Item]]:
    """The partition's item keys, a page at a time (expired items too: they are deleted)."""
    page: list[Item] = []
    for item in query_pages(client, meter, TableName=table,
                            KeyConditionExpression="sensorId = :pk",
                            ExpressionAttributeNames={"#sort": sort_key},
                            ExpressionAttributeValues={":pk": {"S": partition}},
                            ProjectionExpression="sensorId, #sort"):
        page.append(item)
        if len(page) == BATCH_LIMIT * PARALLEL_BATCHES:
            yield page
            page = []
    if page:
        yield page


def delete_partition(client: Any, meter: CapacityMeter, table: str, partition: str, *,
                     sort_key: str = "timestamp",
                     progress: Callable[[DeletionProgress], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> tuple[int, bool]:
    """Delete every item of `partition`: (how many, whether all). Stops between rounds of
    batches when `should_stop` says so; what is left can be deleted by running it again."""
    deleted = 0
    with ThreadPoolExecutor(PARALLEL_BATCHES, thread_name_prefix="delete") as pool:
        for keys in partition_keys(client, meter, table, partition, sort_key):
            if should_stop is not None and should_stop():
                return deleted, False
            batches = [keys[i:i + BATCH_LIMIT] for i in range(0, len(keys), BATCH_LIMIT)]
            list(pool.map(lambda batch: batch_delete(client, meter, table, batch), batches))
            deleted += len(keys)
            if progress is not None:
                progress(DeletionProgress(deleted, meter.read_units, meter.write_units))
    return deleted, True
