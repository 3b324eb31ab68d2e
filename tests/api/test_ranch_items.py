"""Items ranchdata's DocumentClient stored, read back through the API (docs/storage.md)."""

from __future__ import annotations

import pytest

from tests.support.api import make_api
from tests.support.common import NOW_MS
from tests.support.migrate import ranch_put
from tests.support.moto_numbers import moto_keeps_numbers

MINUTE = 60_000
T = NOW_MS - 10 * MINUTE
BODIES = [
    {"value": 21, "timestamp": T},
    {"value": "5.25", "timestamp": T + MINUTE},          # telldus-style clients
    {"timestamp": T + 2 * MINUTE},                        # the gateway's {} (no value)
    {"value": None, "timestamp": T + 3 * MINUTE},
    {"value": "n/a", "timestamp": T + 4 * MINUTE},
    {"value": {"t": 1.5}, "timestamp": T + 5 * MINUTE},
    {"value": 2.5, "timestamp": T + 6 * MINUTE + 0.456},  # time.time() * 1000
]


@pytest.fixture
def api(backend_store):
    if not hasattr(backend_store, "measurements_table"):
        pytest.skip("only ranchdata's DynamoDB table holds items sensorbot did not write")
    api = make_api(backend_store)
    for body in BODIES:
        ranch_put(backend_store._client, backend_store.measurements_table, "alice", "attic",
                  body)
    backend_store.update_sensor("alice", "attic", now_ms=NOW_MS)
    return api


def test_the_v2_series_answers_as_ranchdatas_get_did_for_the_same_items(api):
    response = api.client.get(f"/api/v2/sensor/attic/series?start={T}",
                              headers=api.headers("alice_read"))

    assert response.status_code == 200
    common = {"serial": "attic", "name": "attic", "unit": "", "user_id": "alice"}
    times = [f"2027-01-15T07:{50 + i}:00.000Z" for i in range(7)]
    assert response.json() == [
        {"id": f"alice#attic_{T}", "value": 21, "measurement_time": times[0], **common},
        {"id": f"alice#attic_{T + MINUTE}", "value": "5.25", "measurement_time": times[1],
         **common},
        {"id": f"alice#attic_{T + 2 * MINUTE}", "measurement_time": times[2], **common},
        {"id": f"alice#attic_{T + 3 * MINUTE}", "value": None, "measurement_time": times[3],
         **common},
        {"id": f"alice#attic_{T + 4 * MINUTE}", "value": "n/a", "measurement_time": times[4],
         **common},
        {"id": f"alice#attic_{T + 5 * MINUTE}", "value": {"t": 1.5},
         "measurement_time": times[5], **common},
        {"id": f"alice#attic_{T + 6 * MINUTE}.456", "value": 2.5,
         "measurement_time": times[6], **common},
    ]


def test_v3_reads_numbers_in_strings_and_skips_items_without_a_number(api):
    read = api.headers("alice_read")

    readings = api.client.get(f"/api/v3/sensors/attic/readings?start={T}", headers=read)
    sensors = api.client.get("/api/v3/sensors", headers=read)

    assert readings.json()["readings"] == [
        {"timestamp": T, "value": 21}, {"timestamp": T + MINUTE, "value": 5.25},
        {"timestamp": T + 6 * MINUTE, "value": 2.5}]
    assert [(s["last_value"], s["last_timestamp"]) for s in sensors.json()] == [
        (2.5, T + 6 * MINUTE)]


@pytest.fixture(params=["moto", "dynalite"])
def ranch_api(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    import uuid

    from storage.dynamodb import DynamoDBStore

    if request.param == "moto":
        moto_keeps_numbers(monkeypatch)
    suffix = uuid.uuid4().hex[:10]
    store = DynamoDBStore(client=request.getfixturevalue(f"{request.param}_client"),
                          measurements_table=f"big-m-{suffix}", meta_table=f"big-meta-{suffix}")
    store.init()
    yield make_api(store)
    store.close()


def test_the_v2_series_and_v3_read_a_value_of_1e100_as_dynamodb_returns_it(ranch_api):
    # Real DynamoDB (and dynalite) answer 1e100 in plain notation, 101 digits long.
    api = ranch_api
    for i, value in enumerate(["1" + "0" * 100, "1E+100", "-1" + "0" * 38, "1e-100"]):
        api.store._client.put_item(TableName=api.store.measurements_table, Item={
            "sensorId": {"S": "alice#huge"}, "timestamp": {"N": str(T + i * MINUTE)},
            "value": {"N": value}, "createdAt": {"N": str(T)}})
    api.store.update_sensor("alice", "huge", now_ms=NOW_MS)
    read = api.headers("alice_read")

    series = api.client.get(f"/api/v2/sensor/huge/series?start={T}", headers=read)
    readings = api.client.get(f"/api/v3/sensors/huge/readings?start={T}", headers=read)

    assert series.status_code == 200, series.text
    assert [item["value"] for item in series.json()] == [1e100, 1e100, -1e38, 1e-100]
    assert [r["value"] for r in readings.json()["readings"]] == [1e100, 1e100, -1e38, 1e-100]


def test_the_v2_series_reads_back_1e100_posted_through_the_api(ranch_api):
    api = ranch_api
    posted = api.client.post("/api/v2/sensor/huge/measurement", headers=api.headers("alice_write"),
                             json={"value": 1e100, "timestamp": T})

    series = api.client.get(f"/api/v2/sensor/huge/series?start={T}",
                            headers=api.headers("alice_read"))

    assert posted.status_code == 200
    assert series.status_code == 200, series.text
    assert [item["value"] for item in series.json()] == [1e100]
