"""DynamoDB specifics: the seed's items, the table layout, faults the service can return."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from storage.dynamodb import DynamoDBStore
from storage.dynamodb.client import CapacityMeter, batch_write
from storage.errors import StorageUnavailable
from storage.models import Reading
from tests.support.common import NOW_MS

NOW_S = NOW_MS // 1000


@pytest.fixture(params=["moto", "dynalite"])
def dynamo(request: pytest.FixtureRequest) -> DynamoDBStore:
    client = request.getfixturevalue(f"{request.param}_client")
    suffix = request.node.name.replace("[", "-").replace("]", "")[-40:]
    store = DynamoDBStore(client=client, measurements_table=f"m-{suffix}",
                          meta_table=f"meta-{suffix}", retention_days=28)
    store.init()
    return store


def test_it_reads_items_written_exactly_as_the_seed_lambda_wrote_them(dynamo):
    seed_items = [
        {"sensorId": {"S": "23#second"}, "timestamp": {"N": "1623219370957"},
         "value": {"N": "10"}, "createdAt": {"N": "1623219371812"},
         "expires_at": {"N": str(NOW_S + 3600)}},
        {"sensorId": {"S": "23#second"}, "timestamp": {"N": "1623219430957"},
         "value": {"N": "10.5"}, "createdAt": {"N": "1623219431000"},
         "expires_at": {"N": str(NOW_S + 3700)}},
    ]
    for item in seed_items:
        dynamo._client.put_item(TableName=dynamo.measurements_table, Item=item)
    # The seed counted expiry from insert time: its readings are older than our window.
    reading_time = 1623219370957

    got = dynamo.read_range("23", "second", 0, NOW_MS, now_ms=reading_time + 60_000)

    assert got == [Reading("second", 1623219370957, 10.0), Reading("second", 1623219430957, 10.5)]
    assert dynamo.latest_reading("23", "second", now_ms=reading_time + 60_000).value == 10.5


def test_it_writes_the_seed_layout(dynamo):
    dynamo.write_readings("23", [Reading("ruuvi/temperature", NOW_MS, 21.3)], now_ms=NOW_MS + 7)

    item = dynamo._client.get_item(
        TableName=dynamo.measurements_table,
        Key={"sensorId": {"S": "23#ruuvi/temperature"}, "timestamp": {"N": str(NOW_MS)}},
    )["Item"]

    assert item == {
        "sensorId": {"S": "23#ruuvi/temperature"}, "timestamp": {"N": str(NOW_MS)},
        "value": {"N": "21.3"}, "createdAt": {"N": str(NOW_MS + 7)},
        "expires_at": {"N": str(NOW_S + 28 * 86_400)},
    }


def test_it_hides_an_expired_item_that_ttl_has_not_deleted_yet(dynamo):
    dynamo._client.put_item(TableName=dynamo.measurements_table, Item={
        "sensorId": {"S": "23#attic"}, "timestamp": {"N": str(NOW_MS - 1000)},
        "value": {"N": "1"}, "createdAt": {"N": str(NOW_MS)}, "expires_at": {"N": str(NOW_S - 1)},
    })

    assert dynamo.read_range("23", "attic", 0, NOW_MS, now_ms=NOW_MS) == []
    assert dynamo.latest_reading("23", "attic", now_ms=NOW_MS) is None


def test_it_costs_one_write_unit_per_reading_once_a_sensor_is_known(dynalite_client):
    store = DynamoDBStore(client=dynalite_client, measurements_table="wcu-m",
                          meta_table="wcu-meta")
    store.init()
    store.write_readings("u1", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)
    before = store.capacity.write_units

    store.write_readings("u1", [Reading("attic", NOW_MS + i, 1.0) for i in range(1, 101)],
                         now_ms=NOW_MS)

    assert store.capacity.write_units - before == pytest.approx(100)


def test_it_enables_ttl_where_the_server_supports_it(moto_client):
    store = DynamoDBStore(client=moto_client)

    assert store.init() == []
    assert store.init() == []
    ttl = moto_client.describe_time_to_live(TableName="measurement")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_it_warns_and_carries_on_where_ttl_is_not_implemented(dynalite_client):
    store = DynamoDBStore(client=dynalite_client, measurements_table="ttl-m",
                          meta_table="ttl-meta", statistics_table="ttl-statistics")

    warnings = store.init()

    assert len(warnings) == 3
    assert "TTL" in warnings[0]
    assert store.init() == warnings  # idempotent


# -- faults, with botocore's Stubber ----------------------------------------------------------

@pytest.fixture
def stubbed() -> Any:
    client = boto3.client("dynamodb", region_name="eu-north-1")
    with Stubber(client) as stubber:
        yield client, stubber
    stubber.assert_no_pending_responses()


def put_requests(count: int) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": {"sensorId": {"S": f"u#s{i}"}, "timestamp": {"N": "1"}}}}
            for i in range(count)]


def test_it_retries_unprocessed_items_until_every_one_is_written(stubbed):
    client, stubber = stubbed
    items = [request["PutRequest"]["Item"] for request in put_requests(30)]
    leftover_1, leftover_2 = put_requests(30)[20:25], put_requests(30)[23:25]
    stubber.add_response("batch_write_item", {"UnprocessedItems": {"t": leftover_1}},
                         {"RequestItems": {"t": put_requests(30)[:25]},
                          "ReturnConsumedCapacity": "TOTAL"})
    stubber.add_response("batch_write_item", {"UnprocessedItems": {"t": leftover_2}},
                         {"RequestItems": {"t": leftover_1}, "ReturnConsumedCapacity": "TOTAL"})
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}},
                         {"RequestItems": {"t": leftover_2}, "ReturnConsumedCapacity": "TOTAL"})
    stubber.add_response("batch_write_item", {},
                         {"RequestItems": {"t": put_requests(30)[25:]},
                          "ReturnConsumedCapacity": "TOTAL"})
    sleeps: list[float] = []

    batch_write(client, CapacityMeter(), "t", items, sleep=sleeps.append)

    assert len(sleeps) == 2


def test_it_raises_when_unprocessed_items_outlast_the_retries(stubbed):
    client, stubber = stubbed
    for _ in range(4):
        stubber.add_response("batch_write_item", {"UnprocessedItems": {"t": put_requests(1)}},
                             {"RequestItems": ANY, "ReturnConsumedCapacity": "TOTAL"})
    items = [request["PutRequest"]["Item"] for request in put_requests(3)]

    with pytest.raises(StorageUnavailable, match="1 of 3 items unwritten"):
        batch_write(client, CapacityMeter(), "t", items, sleep=lambda _: None, attempts=4)


def test_it_surfaces_throttling_that_outlasts_the_retries(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("query", "ProvisionedThroughputExceededException",
                             "Rate of requests exceeds the allowed throughput.")
    store = DynamoDBStore(client=client)

    with pytest.raises(StorageUnavailable, match="throttling"):
        store.latest_reading("u1", "attic", now_ms=NOW_MS)


def test_it_surfaces_throttled_batch_writes(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("batch_write_item", "ThrottlingException", "slow down")

    with pytest.raises(StorageUnavailable):
        batch_write(client, CapacityMeter(), "t", [{"sensorId": {"S": "u#s"}}])


@pytest.mark.parametrize(("text", "expected"), [
    ("1" + "0" * 100, "1E+100"),
    ("9." + "9" * 37 + "E+125", "9." + "9" * 37 + "E+125"),
    ("-" + "9" * 38 + "0" * 88, "-" + "9" * 38 + "E+88"),
    ("0." + "0" * 129 + "1", "1E-130"),
    ("0.00000000000000000000000000000000000000000000000000001", "1E-53"),
])
def test_it_reads_every_number_dynamodb_holds_in_the_form_dynamodb_returns_it(text, expected):
    from decimal import Decimal

    from storage.dynamodb.meta import from_item

    assert from_item({"n": {"N": text}})["n"] == Decimal(expected)


def test_deleting_a_sensor_deletes_in_batches_reporting_progress_and_cost(dynamo):
    readings = [Reading("attic", NOW_MS - i * 1000, 1.0) for i in range(520)]
    dynamo.write_readings("23", readings, now_ms=NOW_MS)
    expired = {"sensorId": {"S": "23#attic"}, "timestamp": {"N": "1"}, "value": {"N": "1"},
               "expires_at": {"N": "2"}}  # TTL has not got to it yet
    dynamo._client.put_item(TableName=dynamo.measurements_table, Item=expired)
    calls: list[int] = []

    def count(params, **_):  # the sensor's statistics go in batches of their own
        if dynamo.measurements_table in params["RequestItems"]:
            calls.append(len(params["RequestItems"][dynamo.measurements_table]))

    event = "provide-client-params.dynamodb.BatchWriteItem"
    dynamo._client.meta.events.register(event, count)
    seen = []
    try:
        done = dynamo.delete_sensor("23", "attic", progress=seen.append)
    finally:
        dynamo._client.meta.events.unregister(event, count)

    assert (done.readings, done.complete) == (521, True)
    assert max(calls) <= 25 and sum(calls) == 521
    assert [p.readings for p in seen] == [200, 400, 521]
    assert done.write_units > 0 and done.read_units > 0
    left = dynamo._client.query(TableName=dynamo.measurements_table,
                                KeyConditionExpression="sensorId = :pk",
                                ExpressionAttributeValues={":pk": {"S": "23#attic"}})
    assert left["Items"] == []


def test_a_deletion_stopped_part_way_leaves_the_sensor_listed_to_finish_later(dynamo):
    dynamo.write_readings("23", [Reading("attic", NOW_MS - i * 1000, 1.0) for i in range(450)],
                          now_ms=NOW_MS)
    rounds = iter([False, True])

    stopped = dynamo.delete_sensor("23", "attic", should_stop=lambda: next(rounds))
    finished = dynamo.delete_sensor("23", "attic")

    assert (stopped.readings, stopped.complete) == (200, False)
    assert (finished.readings, finished.complete) == (250, True)
    assert dynamo.list_sensors("23") == []


def test_deleting_retries_what_dynamodb_left_unprocessed():
    client = boto3.client("dynamodb", region_name="eu-north-1")
    stub = Stubber(client)
    keys = [{"sensorId": {"S": "23#a"}, "timestamp": {"N": str(i)}} for i in range(3)]
    requests = [{"DeleteRequest": {"Key": key}} for key in keys]
    stub.add_response("batch_write_item", {"UnprocessedItems": {"m": requests[1:]}},
                      {"RequestItems": {"m": requests}, "ReturnConsumedCapacity": ANY})
    stub.add_response("batch_write_item", {"UnprocessedItems": {}},
                      {"RequestItems": {"m": requests[1:]}, "ReturnConsumedCapacity": ANY})
    from storage.dynamodb.client import batch_delete

    with stub:
        batch_delete(client, CapacityMeter(), "m", keys, sleep=lambda _: None)
    stub.assert_no_pending_responses()


def test_a_sensor_deleted_by_another_process_is_registered_again_within_the_hour(dynamo):
    from storage.dynamodb import DynamoDBStore

    api = DynamoDBStore(client=dynamo._client, measurements_table=dynamo.measurements_table,
                        meta_table=dynamo.meta_table, retention_days=28)
    api.write_readings("23", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)
    dynamo.delete_sensor("23", "attic")  # the bot's /forget, in another process

    api.write_readings("23", [Reading("attic", NOW_MS + 60_000, 2.0)], now_ms=NOW_MS + 60_000)
    soon = [s.sensor_id for s in dynamo.list_sensors("23")]
    later = NOW_MS + 3_600_000
    api.write_readings("23", [Reading("attic", later, 3.0)], now_ms=later)

    assert soon == []  # this process still knew it; the next check comes within the hour
    assert [s.sensor_id for s in dynamo.list_sensors("23")] == ["attic"]


@pytest.mark.parametrize("stored", ["1_000", "２１", "٢١"])
def test_a_string_value_ranchdata_stored_reads_as_a_number_only_as_javascript_read_it(stored):
    from storage.dynamodb.readings import reading_from_item

    item = {"timestamp": {"N": str(NOW_MS)}, "value": {"S": stored}}

    assert reading_from_item("attic", item) is None
    assert reading_from_item("attic", {**item, "value": {"S": " 21 "}}).value == 21.0
