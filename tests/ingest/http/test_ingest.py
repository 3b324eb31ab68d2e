"""Writing readings: v1, v2, v3 — formats, validation, limits; a 4xx writes nothing."""

from __future__ import annotations

import json

import pytest

from core.config import Settings
from storage.models import Reading
from tests.support.api import make_api
from tests.support.common import NOW_MS

DAY = 86_400_000


def post_v2(api, sensor, body, **kwargs):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.client.post(f"/api/v2/sensor/{sensor}/measurement", content=content,
                           headers={**api.headers("alice_write"), **kwargs.pop("headers", {})},
                           **kwargs)


def test_it_answers_a_v2_write_byte_for_byte_as_ranchdata_did(api):
    response = post_v2(api, "attic", {"value": 21.5, "timestamp": 1_799_999_000_000})

    assert response.status_code == 200
    assert response.content == (b'{"message":"Successfully saved new measurement","sensor":"attic",'
                                b'"value":21.5,"timestamp":1799999000000}')
    assert api.stored() == [Reading("attic", 1_799_999_000_000, 21.5)]


def test_it_takes_the_gateways_v1_post_with_no_content_type_and_an_encoded_id(api):
    token = api.tokens["alice_write"]

    response = api.client.post(f"/api/v1/sensor/ruuvi%2Ftemperature/measurement?apikey={token}",
                               content=b'{"value": 21.3}')

    assert response.status_code == 200
    assert response.json() == {"message": "Successfully saved new measurement",
                               "sensor": "ruuvi/temperature", "value": 21.3, "timestamp": NOW_MS}
    assert api.stored() == [Reading("ruuvi/temperature", NOW_MS, 21.3)]


@pytest.mark.parametrize("path", ["ruuvi/temperature", "ruuvi%2Ftemperature", "a.b_c:d-1"])
def test_it_takes_sensor_ids_raw_or_percent_encoded(api, path):
    assert post_v2(api, path, {"value": 1}).status_code == 200
    assert [r.sensor for r in api.stored()] == [path.replace("%2F", "/")]


@pytest.mark.parametrize(("body", "stored"), [
    ({"value": "21.5"}, 21.5),
    ({"value": -40}, -40.0),
    ({"value": 0}, 0.0),
    ({"value": 3, "timestamp": "2027-01-15T07:59:00Z"}, 3.0),
    ({"value": 3, "timestamp": "2027-01-15T09:59:00+02:00"}, 3.0),
    ({"value": 3, "timestamp": str(NOW_MS - 60_000)}, 3.0),
])
def test_it_accepts_numeric_strings_and_iso_timestamps(api, body, stored):
    assert post_v2(api, "attic", body).status_code == 200
    assert [r.value for r in api.stored()] == [stored]


def test_it_accepts_json_sent_with_a_form_content_type(api):
    response = post_v2(api, "attic", {"value": 4},
                       headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert response.status_code == 200


BAD_V2 = [
    (b'{"value": NaN}', 422, "finite"),
    (b'{"value": Infinity}', 422, "finite"),
    (b'{"value": "nan"}', 422, "finite"),
    (b'{"value": "-inf"}', 422, "finite"),
    (b'{"value": "warm"}', 422, "must be a number"),
    (b'{"value": true}', 422, "must be a number"),
    (b'{"value": null}', 422, "must be a number"),
    (b'{"value": [1]}', 422, "must be a number"),
    (b'{"value": 1e999}', 422, "finite"),
    (b'{"temperature": 1}', 422, '"value"'),
    (b"[1, 2]", 422, '"value"'),
    (b'{"value": 1, "timestamp": 1800000400000}', 422, "future"),
    (b'{"value": 1, "timestamp": 1700000000000}', 422, "retention"),
    (b'{"value": 1, "timestamp": 1800000000}', 422, "seconds"),
    (b'{"value": 1, "timestamp": "2027-01-15T08:00:00"}', 422, "zone"),
    (b'{"value": 1, "timestamp": "yesterday"}', 422, "ISO-8601"),
    (b'{"value": 1, "timestamp": 1.5}', 422, "retention"),
    (b'{"value": 1, "timestamp": false}', 422, "timestamp"),
    (b'{"value": 1', 400, "not valid JSON"),
    (b"\xff\xfe", 400, "not valid JSON"),
    (b"", 400, "empty"),
]


@pytest.mark.parametrize(("body", "status", "says"), BAD_V2)
def test_it_refuses_bad_input_with_a_reason_and_stores_nothing(api, body, status, says):
    response = post_v2(api, "attic", body)

    assert response.status_code == status
    assert says in response.json()["detail"]
    assert api.stored() == []


@pytest.mark.parametrize("sensor", ["x" * 201, "a%00b", "a%1Bb", "a%7Fb", "a%C2%85b"])
def test_it_refuses_bad_sensor_ids(api, sensor):
    response = post_v2(api, sensor, {"value": 1})

    assert response.status_code == 422
    assert "sensor id" in response.json()["detail"]
    assert "control characters" in response.json()["detail"]
    assert api.stored() == []


@pytest.mark.parametrize("path", ["a%0Ab", "a%0Db"])
def test_it_finds_no_route_for_a_line_break_in_a_sensor_id(api, path):
    response = post_v2(api, path, {"value": 1})

    assert response.status_code in (404, 422)
    assert "detail" in response.json()
    assert api.stored() == []


@pytest.mark.parametrize(("path", "sensor"), [
    ("Living%20room", "Living room"),
    ("olohuone/l%C3%A4mp%C3%B6tila", "olohuone/lämpötila"),
    ("olohuone%2Fl%C3%A4mp%C3%B6tila", "olohuone/lämpötila"),
    ("sauna%231", "sauna#1"),
    ("x" * 65, "x" * 65),
    ("%C3%A4" * 200, "ä" * 200),
])
def test_it_takes_every_sensor_id_ranchdata_stored_and_reads_it_back(api, path, sensor):
    assert post_v2(api, path, {"value": 1.5}).json()["sensor"] == sensor
    read = api.headers("alice_read")

    series = api.client.get(f"/api/v2/sensor/{path}/series", headers=read)
    readings = api.client.get(f"/api/v3/sensors/{path}/readings", headers=read)
    listed = api.client.get("/api/v3/sensors", headers=read)

    assert [(item["serial"], item["value"]) for item in series.json()] == [(sensor, 1.5)]
    assert series.json()[0]["id"] == f"alice#{sensor}_{NOW_MS}"
    assert readings.json()["readings"] == [{"timestamp": NOW_MS, "value": 1.5}]
    assert [item["sensor"] for item in listed.json()] == [sensor]


def test_it_takes_a_v3_batch_of_ranchdata_sensor_ids(api):
    sensors = ["Living room", "olohuone/lämpötila", "sauna#1", "x" * 200]
    body = {"readings": [{"sensor": sensor, "value": 1} for sensor in sensors]}

    response = api.client.post("/api/v3/readings", json=body, headers=api.headers("alice_write"))

    assert response.json() == {"stored": 4}
    assert sorted(r.sensor for r in api.stored()) == sorted(sensors)


def test_it_drops_the_fraction_of_a_millisecond_timestamp(api):
    response = post_v2(api, "attic", b'{"value": 2, "timestamp": 1799999999000.456}')
    batch = api.client.post("/api/v3/readings", headers=api.headers("alice_write"),
                            content=b'{"readings": [{"sensor": "b", "value": 1, '
                                    b'"timestamp": 1799999998000.9}]}')

    assert response.json()["timestamp"] == 1_799_999_999_000
    assert batch.json() == {"stored": 1}
    assert sorted(api.stored()) == [Reading("attic", 1_799_999_999_000, 2.0),
                                    Reading("b", 1_799_999_998_000, 1.0)]


def test_it_stores_a_v3_batch(api):
    readings = [{"sensor": "attic", "value": -1.5, "timestamp": NOW_MS - 1000},
                {"sensor": "cellar", "value": "4", "timestamp": "2027-01-15T07:59:00Z"},
                {"sensor": "attic", "value": -1.0}]

    response = api.client.post("/api/v3/readings", json={"readings": readings},
                               headers=api.headers("alice_write"))

    assert response.json() == {"stored": 3}
    assert sorted(api.stored(), key=lambda r: (r.sensor, r.timestamp)) == [
        Reading("attic", NOW_MS - 1000, -1.5), Reading("attic", NOW_MS, -1.0),
        Reading("cellar", NOW_MS - 60_000, 4.0)]


def test_a_batch_counts_what_it_leaves_stored_one_per_sensor_and_time(api):
    readings = [{"sensor": "a", "value": 1}, {"sensor": "a", "value": 2},  # both "now"
                {"sensor": "b", "value": 3, "timestamp": NOW_MS - 5},
                {"sensor": "b", "value": 4, "timestamp": NOW_MS - 5}]

    response = api.client.post("/api/v3/readings", json={"readings": readings},
                               headers=api.headers("alice_write"))

    assert response.json() == {"stored": 2}
    assert sorted(r.value for r in api.stored()) == [2.0, 4.0]  # the last one wins


@pytest.mark.parametrize(("readings", "says"), [
    ([], "1 to 1000"),
    ([{"sensor": "a", "value": 1}] * 1001, "1 to 1000"),
    ([{"sensor": "a", "value": 1}, {"sensor": "a", "value": "nan"}], "readings[1]: value"),
    ([{"sensor": "a", "value": 1}] * 5 + [{"sensor": "a\nb", "value": 1}], "readings[5]: sensor"),
    ([{"sensor": "a", "value": 1}, {"sensor": "x" * 201, "value": 1}], "readings[1]: sensor"),
    ([{"sensor": "a", "value": 1}, {"sensor": "\ud800", "value": 1}], "readings[1]: sensor"),
    ([{"sensor": "a", "value": 1}, {"value": 1}], 'readings[1] must be an object'),
    ([{"sensor": "a", "value": 1}, 7], "readings[1] must be an object"),
    ([{"sensor": "a", "value": 1, "timestamp": NOW_MS + DAY}], "readings[0]: timestamp"),
])
def test_it_stores_nothing_of_a_v3_batch_with_one_bad_item(api, readings, says):
    response = api.client.post("/api/v3/readings", headers=api.headers("alice_write"),
                               content=json.dumps({"readings": readings}).encode())

    assert response.status_code == 422
    assert says in response.json()["detail"]
    assert api.stored() == []


def test_it_refuses_a_body_over_one_mebibyte_before_reading_it(api):
    big = b'{"readings": [' + b'{"sensor": "a", "value": 1},' * 40_000 + b"]}"

    declared = api.client.post("/api/v3/readings", content=big,
                               headers=api.headers("alice_write"))
    streamed = api.client.post("/api/v3/readings", content=iter([big[:600_000], big[600_000:]]),
                               headers=api.headers("alice_write"))

    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert "1024 KiB" in declared.json()["detail"]
    assert api.stored() == []


def test_it_limits_readings_per_token_per_minute(backend_store):
    api = make_api(backend_store, Settings(api={"max_readings_per_minute": 10}))
    batch = {"readings": [{"sensor": "a", "value": i, "timestamp": NOW_MS - i} for i in range(8)]}
    headers = api.headers("alice_write")

    first = api.client.post("/api/v3/readings", json=batch, headers=headers)
    refused = api.client.post("/api/v3/readings", json=batch, headers=headers)
    other_token = api.client.post("/api/v3/readings", json=batch,
                                  headers=api.headers("bob_write"))
    api.clock.now += 60_000
    later = api.client.post("/api/v3/readings", json=batch, headers=headers)

    assert (first.status_code, refused.status_code, other_token.status_code) == (200, 429, 200)
    assert refused.headers["Retry-After"] == "36"  # 6 more readings at 10 a minute
    assert later.status_code == 200
    assert len(api.stored("alice")) == 8


def test_a_batch_larger_than_the_rate_limit_is_told_to_shrink(backend_store):
    api = make_api(backend_store, Settings(api={"max_readings_per_minute": 5}))
    batch = {"readings": [{"sensor": "a", "value": i, "timestamp": NOW_MS - i} for i in range(6)]}

    response = api.client.post("/api/v3/readings", json=batch, headers=api.headers("alice_write"))

    assert response.status_code == 429
    assert "smaller batches" in response.json()["detail"]
    assert api.stored() == []


@pytest.mark.parametrize("path", ["/api/v2/sensor/attic/measurement", "/api/v3/readings"])
def test_the_write_routes_called_directly_refuse_other_methods_as_fastapi_does(api, path):
    response = api.client.put(path, content=b'{"value": 1}', headers=api.headers("alice_write"))

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert api.stored() == []


def test_a_v3_batch_with_units_is_answered_as_one_without(api):
    body = {"readings": [{"sensor": "attic", "value": 1, "unit": "°C"},
                         {"sensor": "attic", "value": 2, "unit": "°C"}]}

    response = api.client.post("/api/v3/readings", content=json.dumps(body).encode(),
                               headers=api.headers("alice_write"))

    assert (response.status_code, response.content) == (200, b'{"stored":1}')
