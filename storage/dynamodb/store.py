"""DynamoDB backend: ranchdata's measurements table plus one metadata table (docs/storage.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from storage.base import DAY_MS, DeletionProgress, ScanProgress, SensorDeletion, SensorKeyScan
from storage.dynamodb.client import CapacityMeter, error_code, shared_client, translated
from storage.dynamodb.deletion import delete_partition
from storage.dynamodb.meta import GSI, MetaMixin
from storage.dynamodb.readings import ReadingsMixin, partition_key
from storage.dynamodb.scan import scan_sensor_keys
from storage.dynamodb.statistics import StatisticsMixin
from storage.errors import StorageUnavailable

if TYPE_CHECKING:  # boto3-stubs, a dev dependency
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoDBStore(ReadingsMixin, MetaMixin, StatisticsMixin):
    def __init__(
        self,
        *,
        measurements_table: str = "measurement",
        meta_table: str = "sensorbot-meta",
        retention_days: int = 90,
        region: str = "",  # "": the AWS configuration's
        endpoint_url: str = "",
        client: DynamoDBClient | None = None,
        statistics_table: str = "sensorbot-statistics",
        statistics_retention_days: int = 0,
    ) -> None:
        self._client = client if client is not None else shared_client(region, endpoint_url)
        self._meter = CapacityMeter()
        self.measurements_table = measurements_table
        self.meta_table = meta_table
        self.retention_ms = retention_days * DAY_MS
        self.statistics_table = statistics_table
        self.statistics_retention_ms = statistics_retention_days * DAY_MS
        self._known_sensors: dict[str, dict[str, int]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def capacity(self) -> CapacityMeter:
        return self._meter

    @property
    def region(self) -> str:
        """Where the tables are: the region the client resolved."""
        return str(self._client.meta.region_name)

    def existing_tables(self) -> set[str]:
        """Which of its tables exist."""
        found = set()
        for name in (self.measurements_table, self.meta_table, self.statistics_table):
            with translated():  # no credentials, no network: one sentence, not a traceback
                try:
                    self._client.describe_table(TableName=name)
                except ClientError as exc:
                    if error_code(exc) == "ResourceNotFoundException":
                        continue
                    raise
            found.add(name)
        return found

    def init(self) -> list[str]:
        """Create the tables and their TTL; idempotent. Returns warnings."""
        self._create_table(
            self.measurements_table,
            keys=[("sensorId", "S", "HASH"), ("timestamp", "N", "RANGE")],
        )
        self._create_table(
            self.meta_table,
            keys=[("pk", "S", "HASH"), ("sk", "S", "RANGE")],
            index=[("gsi1pk", "S", "HASH"), ("gsi1sk", "S", "RANGE")],
        )
        self._create_table(self.statistics_table,
                           keys=[("sensorId", "S", "HASH"), ("hour", "N", "RANGE")])
        warnings = [self._enable_ttl(table) for table in
                    (self.measurements_table, self.meta_table, self.statistics_table)]
        return [w for w in warnings if w]

    def _create_table(self, name: str, *, keys: list[tuple[str, str, str]],
                      index: list[tuple[str, str, str]] | None = None) -> None:
        attributes = {a: t for a, t, _ in keys + (index or [])}
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t}
                                     for a, t in attributes.items()],
            "KeySchema": [{"AttributeName": a, "KeyType": k} for a, _, k in keys],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if index:
            request["GlobalSecondaryIndexes"] = [{
                "IndexName": GSI,
                "KeySchema": [{"AttributeName": a, "KeyType": k} for a, _, k in index],
                "Projection": {"ProjectionType": "ALL"},
            }]
        with translated():
            try:
                self._client.create_table(**request)
            except ClientError as exc:
                if error_code(exc) != "ResourceInUseException":
                    raise
            self._wait_until_active(name)

    def _wait_until_active(self, name: str, *, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        delay = 0.02
        while True:
            table = self._client.describe_table(TableName=name)["Table"]
            indexes = table.get("GlobalSecondaryIndexes", [])
            if table["TableStatus"] == "ACTIVE" and all(
                index.get("IndexStatus", "ACTIVE") == "ACTIVE" for index in indexes
            ):
                return
            if time.monotonic() > deadline:
                raise StorageUnavailable(f"table {name} is still not ACTIVE after {timeout_s} s")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _enable_ttl(self, table: str) -> str | None:
        try:
            described = self._client.describe_time_to_live(TableName=table)
            if described["TimeToLiveDescription"].get("TimeToLiveStatus") in {"ENABLED",
                                                                                "ENABLING"}:
                return None
            self._client.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
            )
        except ClientError as exc:
            return (f"warning: could not enable TTL on {table} ({error_code(exc)}); expired "
                    "items are still hidden from reads, but are not deleted")
        return None

    def delete_sensor(
        self, user_id: str, sensor: str, *,
        progress: Callable[[DeletionProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SensorDeletion:
        meter = CapacityMeter()  # this deletion's own cost, whatever else the process does
        rules = [r for r in self.list_alert_rules(user_id) if r.sensor == sensor]
        for rule in rules:
            self._delete_key(meter, f"USER#{user_id}", f"RULE#{rule.rule_id}")
        readings, complete = delete_partition(
            self._client, meter, self.measurements_table, partition_key(user_id, sensor),
            progress=progress, should_stop=should_stop)
        if complete:
            _, complete = delete_partition(
                self._client, meter, self.statistics_table, partition_key(user_id, sensor),
                sort_key="hour", should_stop=should_stop)
        if complete:
            self._delete_key(meter, f"USER#{user_id}", f"SENSOR#{sensor}")
            self._known_sensors.get(user_id, {}).pop(sensor, None)
        self._meter.add({"ConsumedCapacity": {"CapacityUnits": meter.read_units}}, write=False)
        self._meter.add({"ConsumedCapacity": {"CapacityUnits": meter.write_units}}, write=True)
        return SensorDeletion(sensor, readings, len(rules), complete, meter.read_units,
                              meter.write_units)

    def _delete_key(self, meter: CapacityMeter, pk: str, sk: str) -> None:
        with translated():
            response = self._client.delete_item(
                TableName=self.meta_table, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                ReturnConsumedCapacity="TOTAL")
        meter.add(response, write=True)

    def scan_sensor_keys(self, *, segments: int,
                         progress: Callable[[ScanProgress], None]) -> SensorKeyScan:
        """Every `<user>#<sensor>` of the measurements table: `sensorbot migrate` only."""
        return scan_sensor_keys(self._client, self._meter, self.measurements_table,
                                segments=segments, progress=progress)

    def ping(self) -> None:
        with translated():
            self._client.describe_table(TableName=self.measurements_table)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
