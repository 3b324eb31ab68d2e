"""The migration's one Scan: every segment read to its end, throttling waited out."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from storage.dynamodb.client import CapacityMeter
from storage.dynamodb.scan import THROTTLED_TRIES, scan_sensor_keys
from storage.errors import StorageUnavailable

PAGE = {"Items": [{"sensorId": {"S": "23#attic"}}, {"sensorId": {"S": "23#sauna#1"}}],
        "Count": 2, "ScannedCount": 2, "ConsumedCapacity": {"CapacityUnits": 0.5}}


@pytest.fixture
def stubbed() -> Any:
    client = boto3.client("dynamodb", region_name="eu-north-1",
                          config=Config(retries={"total_max_attempts": 1}))
    with Stubber(client) as stubber:
        stubber.add_response("describe_table", {"Table": {"ItemCount": 3}}, {"TableName": "m"})
        yield client, stubber
    stubber.assert_no_pending_responses()


def test_it_waits_out_throttling_and_follows_every_page(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("scan", "ProvisionedThroughputExceededException")
    stubber.add_response("scan", {**PAGE, "LastEvaluatedKey": {"sensorId": {"S": "23#x"}}})
    stubber.add_client_error("scan", "ThrottlingException")
    stubber.add_response("scan", {**PAGE, "Items": PAGE["Items"][:1], "ScannedCount": 1})
    sleeps: list[float] = []
    seen: list[int] = []

    scan = scan_sensor_keys(client, CapacityMeter(), "m", segments=1,
                            progress=lambda p: seen.append(p.items), sleep=sleeps.append)

    assert scan.keys == {"23#attic": 2, "23#sauna#1": 1}
    assert (scan.items, scan.read_units, seen) == (3, 1.0, [2, 3])
    assert len(sleeps) == 2


def test_it_gives_up_on_endless_throttling_saying_what_to_do(stubbed):
    client, stubber = stubbed
    for _ in range(THROTTLED_TRIES):
        stubber.add_client_error("scan", "ProvisionedThroughputExceededException")

    with pytest.raises(StorageUnavailable, match="on-demand"):
        scan_sensor_keys(client, CapacityMeter(), "m", segments=1, progress=lambda _: None,
                         sleep=lambda _: None)
