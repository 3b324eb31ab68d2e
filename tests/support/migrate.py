"""Test helpers for ranchdata's table and `sensorbot migrate`: what the old code wrote, and
how it wrote it. The `ranch` fixture lives in tests/conftest.py."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from alerts.delivery import Notice
from sensorbot.cli import main
from storage.base import DAY_MS
from storage.dynamodb import DynamoDBStore
from tests.support.common import NOW_MS

READ, WRITE = "old-read-token-of-23", "old-write-token-of-23"
TOKENS = f"R:{READ}:23#W:{WRITE}:23#R:shortkey:my ranch#w:dead-lowercase-token:23#"
MINUTE = 60_000

# (user, sensor id as ranchdata stored it, the bodies its clients posted)
OLD_WRITES: list[tuple[str, str, list[dict[str, Any]]]] = [
    ("23", "attic", [{"value": 4.4 - i / 10, "timestamp": NOW_MS - (30 - i) * MINUTE}
                     for i in range(30)]),
    ("23", "Living room", [{"value": 21}]),
    ("23", "olohuone/lämpötila", [{"value": 20.5, "timestamp": NOW_MS - MINUTE}]),
    ("23", "sauna#1", [{"value": 80, "timestamp": NOW_MS - 2 * MINUTE}]),
    ("23", "x" * 65, [{"value": 1}]),
    ("23", "telldus", [{"value": "5.25", "timestamp": NOW_MS - 3 * MINUTE},   # strings
                       {"value": "n/a", "timestamp": NOW_MS - 2 * MINUTE}]),
    ("23", "gateway/battery", [{}, {"value": None, "timestamp": NOW_MS - MINUTE}]),  # no number
    ("23", "python", [{"value": 2.5, "timestamp": NOW_MS - 4 * MINUTE + 0.456}]),  # fractions
    ("my ranch", "cellar", [{"value": 4.0}]),
    ("7", "barn", [{"value": -3}]),   # a user the token string does not name
]
EXPECTED_23 = {"attic", "Living room", "olohuone/lämpötila", "sauna#1", "x" * 65, "telldus",
               "gateway/battery", "python"}


def ranch_put(client: Any, table: str, user: str, sensor: str, body: dict[str, Any]) -> None:
    """measurement.js's getValueItem and saveValue: the DocumentClient stores what came."""
    now = NOW_MS - 1000
    item: dict[str, Any] = {"createdAt": now, "timestamp": body.get("timestamp", now),
                            "sensorId": f"{user}#{sensor}",
                            "expires_at": round((now + 28 * DAY_MS) / 1000)}
    if "value" in body:  # undefined is left out; null becomes NULL; a string stays S
        item["value"] = body["value"]
    serializer = TypeSerializer()
    exact = json.loads(json.dumps(item), parse_float=Decimal)  # numbers as JSON spelt them
    marshalled = {key: serializer.serialize(value) for key, value in exact.items()}
    client.put_item(TableName=table, Item=marshalled)


class Recorder:
    """The outermost I/O of the alert cycle: records which sensor each notice is about."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, str]] = []

    async def send(self, notice: Notice) -> None:
        self.sent.append((notice.chat.chat_id, notice.sensor.sensor_id, notice.rule.rule_id))


def migrate(ranch: dict[str, Any], *extra: str) -> int:
    return main(["migrate", "--config", str(ranch["config"]), "--tokens", TOKENS,
                 "--telegram-users", str(ranch["users_json"]), *extra])


def sensors_of(store: DynamoDBStore, user: str) -> set[str]:
    return {sensor.sensor_id for sensor in store.list_sensors(user)}
