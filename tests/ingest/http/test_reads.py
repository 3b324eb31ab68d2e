"""Reading back: the v2 series as ranchdata served it, v3 sensors and paged readings."""

from __future__ import annotations

import pytest

from core.config import Settings
from ingest.http import ranchdata
from storage.models import Reading
from storage.sqlite import SQLiteStore
from tests.support.api import make_api
from tests.support.common import NOW_MS

HOUR = 3_600_000


def seed(api, sensor="attic", count=5, step=HOUR, user="alice"):
    readings = [Reading(sensor, NOW_MS - i * step, 10 + i / 2) for i in range(count)]
    api.store.write_readings(user, readings, now_ms=NOW_MS)
    return sorted(readings, key=lambda r: r.timestamp)


def test_it_serves_the_v2_series_in_ranchdatas_format(api):
    api.store.write_readings("alice", [Reading("ruuvi/temperature", 1_799_996_400_000, 10.0),
                                       Reading("ruuvi/temperature", 1_799_998_200_123, 10.5)],
                             now_ms=NOW_MS)
    api.store.update_sensor("alice", "ruuvi/temperature", name="Attic", unit="°C", now_ms=NOW_MS)

    response = api.client.get("/api/v2/sensor/ruuvi%2Ftemperature/series",
                              headers=api.headers("alice_read"))

    assert response.status_code == 200
    assert response.json() == [
        {"id": "alice#ruuvi/temperature_1799996400000", "value": 10,
         "measurement_time": "2027-01-15T07:00:00.000Z", "serial": "ruuvi/temperature",
         "name": "Attic", "unit": "°C", "user_id": "alice"},
        {"id": "alice#ruuvi/temperature_1799998200123", "value": 10.5,
         "measurement_time": "2027-01-15T07:30:00.123Z", "serial": "ruuvi/temperature",
         "name": "Attic", "unit": "°C", "user_id": "alice"},
    ]
    assert b'"value":10,' in response.content


def test_the_series_defaults_to_the_last_24_hours_and_takes_an_inclusive_range(api):
    readings = seed(api, count=30)

    default = api.client.get("/api/v2/sensor/attic/series", headers=api.headers("alice_read"))
    ranged = api.client.get(f"/api/v2/sensor/attic/series?start={readings[2].timestamp}"
                            f"&end={readings[4].timestamp}", headers=api.headers("alice_read"))

    assert len(default.json()) == 25  # now - 24 h .. now, both ends included
    assert [item["value"] for item in ranged.json()] == [r.value for r in readings[2:5]]


@pytest.mark.parametrize(("query", "says"), [
    ("start=5&end=4", "after end"),
    ("start=yesterday", "start"),
    ("end=1.5", "end"),
    ("end=-4021005903655376781312", "query.end"),  # found by the fuzzer: once a 500
    ("start=99999999999999999999", "query.start"),
])
def test_it_refuses_a_bad_range(api, query, says):
    response = api.client.get(f"/api/v2/sensor/attic/series?{query}",
                              headers=api.headers("alice_read"))

    assert response.status_code == 422
    assert says in response.json()["detail"]


def test_the_series_refuses_a_range_of_more_than_20000_readings(backend_store, monkeypatch):
    # On DynamoDB the limit is the read's own (it stops one item past it): 20,001 items there
    # take 10 s of dynalite, so that case runs at a lower limit; SQLite runs the real one.
    limit = ranchdata.MAX_SERIES
    assert limit == 20_000
    if not isinstance(backend_store, SQLiteStore):
        limit = 300
        monkeypatch.setattr(ranchdata, "MAX_SERIES", limit)
    api = make_api(backend_store)
    seed(api, count=limit + 1, step=1000)

    too_many = api.client.get(f"/api/v2/sensor/attic/series?start={NOW_MS - (limit + 1) * 1000}",
                              headers=api.headers("alice_read"))
    enough = api.client.get(f"/api/v2/sensor/attic/series?start={NOW_MS - (limit - 1) * 1000}",
                            headers=api.headers("alice_read"))

    assert too_many.status_code == 422
    assert f"more than {limit:,} readings" in too_many.json()["detail"]
    assert "narrower" in too_many.json()["detail"]
    assert len(enough.json()) == limit


def test_it_lists_sensors_with_their_latest_reading(api):
    seed(api, "attic", count=3)
    api.store.update_sensor("alice", "attic", name="Attic", unit="°C", now_ms=NOW_MS)
    api.store.update_sensor("alice", "garage", name="Garage", now_ms=NOW_MS)

    response = api.client.get("/api/v3/sensors", headers=api.headers("alice_read"))

    assert response.json() == [
        {"sensor": "attic", "name": "Attic", "unit": "°C", "last_value": 10.0,
         "last_timestamp": NOW_MS, "last_seen": "2027-01-15T08:00:00.000Z"},
        {"sensor": "garage", "name": "Garage", "unit": None, "last_value": None,
         "last_timestamp": None, "last_seen": None},
    ]


def test_it_pages_v3_readings_with_next(api):
    readings = seed(api, count=10, step=60_000)
    headers = api.headers("alice_read")

    first = api.client.get("/api/v3/sensors/attic/readings?limit=4", headers=headers).json()
    second = api.client.get(f"/api/v3/sensors/attic/readings?limit=4&start={first['next']}",
                            headers=headers).json()
    last = api.client.get(f"/api/v3/sensors/attic/readings?limit=4&start={second['next']}",
                          headers=headers).json()

    pages = first["readings"] + second["readings"] + last["readings"]
    assert first["sensor"] == "attic"
    assert pages == [{"timestamp": r.timestamp, "value": r.value} for r in readings]
    assert last["next"] is None


@pytest.mark.parametrize("limit", ["0", "20001", "many"])
def test_it_refuses_a_bad_limit(api, limit):
    response = api.client.get(f"/api/v3/sensors/attic/readings?limit={limit}",
                              headers=api.headers("alice_read"))

    assert response.status_code == 422
    assert response.json()["detail"].startswith("query.limit")


def test_cors_preflight_allows_any_origin_without_credentials(api):
    response = api.client.options("/api/v2/sensor/attic/series", headers={
        "Origin": "https://dashboard.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    simple = api.client.get("/api/v3/sensors", headers={"Origin": "https://dashboard.example",
                                                        **api.headers("alice_read")})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in response.headers
    assert simple.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in simple.headers


def test_cors_answers_only_the_configured_origins(backend_store):
    api = make_api(backend_store, Settings(api={"cors_origins": ["https://mine.example"]}))
    headers = {**api.headers("alice_read")}

    mine = api.client.get("/api/v3/sensors", headers={**headers, "Origin": "https://mine.example"})
    other = api.client.get("/api/v3/sensors", headers={**headers, "Origin": "https://evil.example"})

    assert mine.headers["access-control-allow-origin"] == "https://mine.example"
    assert "access-control-allow-origin" not in other.headers


def test_health_needs_no_token(api):
    response = api.client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_the_schema_documents_every_route(api):
    paths = api.client.get("/openapi.json").json()["paths"]

    assert set(paths) == {
        "/api/v1/sensor/{sensor}/measurement", "/api/v2/sensor/{sensor}/measurement",
        "/api/v2/sensor/{sensor}/series", "/api/v3/readings", "/api/v3/sensors",
        "/api/v3/sensors/{sensor}/readings", "/api/v3/sensors/{sensor}/stats", "/healthz",
        "/api/v1/ruuvi", "/api/v1/shelly"}
    assert "requestBody" in paths["/api/v3/readings"]["post"]
