"""v3 readings may name their sensor's unit: set when the sensor has none, never over the
user's choice; a bad unit is a 422 and nothing is stored."""

from __future__ import annotations

import json

from tests.support.common import NOW_MS


def post(api, readings):
    return api.client.post("/api/v3/readings", content=json.dumps({"readings": readings}),
                           headers=api.headers("alice_write"))


def units(api) -> dict[str, str | None]:
    answer = api.client.get("/api/v3/sensors", headers=api.headers("alice_read")).json()
    return {sensor["sensor"]: sensor["unit"] for sensor in answer}


def test_a_unit_given_with_a_reading_is_the_sensors_unit_from_then_on(api):
    response = post(api, [{"sensor": "attic", "value": 21.5, "unit": "°C"},
                          {"sensor": "cellar", "value": 40}])

    assert response.status_code == 200 and response.json() == {"stored": 2}
    assert units(api) == {"attic": "°C", "cellar": None}


def test_it_never_replaces_a_unit_the_sensor_has(api):
    post(api, [{"sensor": "attic", "value": 70.7}])
    api.store.update_sensor("alice", "attic", unit="°F", now_ms=NOW_MS)  # /unit attic °F

    assert post(api, [{"sensor": "attic", "value": 21.5, "unit": "°C"}]).status_code == 200
    assert units(api) == {"attic": "°F"}


def test_a_bad_unit_is_refused_and_nothing_is_stored(api):
    response = post(api, [{"sensor": "attic", "value": 1, "unit": "°C"},
                          {"sensor": "cellar", "value": 2, "unit": "x" * 33}])

    assert response.status_code == 422
    assert response.json()["detail"].startswith("readings[1]: unit must be a short text")
    assert api.stored() == []
