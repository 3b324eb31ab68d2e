"""POST /api/v1/ruuvi and GET /api/v1/shelly on the real app (docs/devices.md)."""

from __future__ import annotations

import copy
import json

import pytest

from tests.devices.recorded import recorded
from tests.support.api import Api, make_api

GATEWAY = recorded("ruuvi_gateway_http")["body"]
TAG_TIME = 1_767_582_720_000  # the recorded tag's own timestamp
RECORDED_NOW = 1_767_582_780_000


@pytest.fixture
def api(tmp_path) -> Api:
    from storage.sqlite import SQLiteStore

    api = make_api(SQLiteStore(tmp_path / "devices.db"))
    api.clock.now = RECORDED_NOW
    return api


def readings(api: Api) -> dict[str, tuple[float, int]]:
    return {r.sensor: (r.value, r.timestamp) for r in api.stored()}


def test_it_stores_a_ruuvi_gateways_tags_with_units(api):
    response = api.client.post("/api/v1/ruuvi", json=GATEWAY, headers=api.headers("alice_write"))

    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 8, "skipped": []}
    assert readings(api) == {
        "ruuvi/D8:BF:48:C1:DA:4B/temperature": (24.3, TAG_TIME),
        "ruuvi/D8:BF:48:C1:DA:4B/humidity": (53.49, TAG_TIME),
        "ruuvi/D8:BF:48:C1:DA:4B/pressure": (1000.44, TAG_TIME),
        "ruuvi/D8:BF:48:C1:DA:4B/battery": (2.977, TAG_TIME),
        "ruuvi/F4:1F:0C:28:CB:D6/temperature": (28.66, TAG_TIME + 1000),
        "ruuvi/F4:1F:0C:28:CB:D6/humidity": (54.9325, TAG_TIME + 1000),
        "ruuvi/F4:1F:0C:28:CB:D6/pressure": (1009.1, TAG_TIME + 1000),
        "ruuvi/F4:1F:0C:28:CB:D6/battery": (2.995, TAG_TIME + 1000),
    }
    units = {s.sensor_id: s.unit for s in api.store.list_sensors("alice")}
    assert units["ruuvi/D8:BF:48:C1:DA:4B/temperature"] == "°C"
    assert units["ruuvi/D8:BF:48:C1:DA:4B/humidity"] == "%"
    assert units["ruuvi/D8:BF:48:C1:DA:4B/pressure"] == "hPa"
    assert units["ruuvi/D8:BF:48:C1:DA:4B/battery"] == "V"


def test_it_never_overwrites_a_unit_the_user_chose(api):
    api.store.update_sensor("alice", "ruuvi/D8:BF:48:C1:DA:4B/temperature", now_ms=RECORDED_NOW,
                            unit="K")

    api.client.post("/api/v1/ruuvi", json=GATEWAY, headers=api.headers("alice_write"))

    sensor = api.store.get_sensor("alice", "ruuvi/D8:BF:48:C1:DA:4B/temperature")
    assert sensor.unit == "K"


def test_it_stamps_tags_without_a_timestamp_with_now(api):
    body = copy.deepcopy(GATEWAY)
    for tag in body["data"]["tags"].values():
        del tag["timestamp"]
    api.client.post("/api/v1/ruuvi", json=body, headers=api.headers("alice_write"))
    assert {stamp for _, stamp in readings(api).values()} == {RECORDED_NOW}


def test_a_tag_time_beyond_any_clock_skips_that_tag_not_a_500(api):
    body = copy.deepcopy(GATEWAY)
    body["data"]["tags"]["F4:1F:0C:28:CB:D6"]["timestamp"] = 1e400

    response = api.client.post("/api/v1/ruuvi", content=json.dumps(body).replace(
        "Infinity", "1e400"), headers=api.headers("alice_write"))

    assert response.status_code == 200
    assert response.json()["stored"] == 4
    assert [s["tag"] for s in response.json()["skipped"]] == ["F4:1F:0C:28:CB:D6"]
    assert "Unix seconds" in response.json()["skipped"][0]["reason"]


@pytest.mark.parametrize("garbled", [
    {"data": "0201061BFF99040516"},                 # truncated RAWv2
    {"data": "not hex at all"},
    {"data": "02010603FF"},                          # a structure running past the end
    {"rssi": -60},                                  # no data
])
def test_one_garbled_tag_is_skipped_and_named_and_the_others_are_stored(api, garbled):
    body = copy.deepcopy(GATEWAY)
    body["data"]["tags"]["F4:1F:0C:28:CB:D6"] = garbled
    body["data"]["tags"]["not-a-mac"] = {"data": "00"}

    response = api.client.post("/api/v1/ruuvi", json=body, headers=api.headers("alice_write"))

    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 4
    skipped = {s["tag"]: s["reason"] for s in response.json()["skipped"]}
    assert set(skipped) == {"F4:1F:0C:28:CB:D6", "not-a-mac"}
    assert "MAC" in skipped["not-a-mac"]
    assert {sensor.split("/")[1] for sensor in readings(api)} == {"D8:BF:48:C1:DA:4B"}


def test_a_post_whose_only_tags_are_garbled_is_refused_naming_them(api):
    body = {"data": {"tags": {"F4:1F:0C:28:CB:D6": {"data": "0201061BFF99040516"},
                              "D8:BF:48:C1:DA:4B": {"data": "zz"}}}}

    response = api.client.post("/api/v1/ruuvi", json=body, headers=api.headers("alice_write"))

    assert response.status_code == 422
    assert "data.tags.F4:1F:0C:28:CB:D6" in response.json()["detail"]
    assert "data.tags.D8:BF:48:C1:DA:4B" in response.json()["detail"]
    assert api.stored() == []


@pytest.mark.parametrize("body", [
    {"tags": {}}, {"data": {"tags": []}}, [1, 2],
    {"data": {"tags": {"not-a-mac": {"data": "00"}}}},
    {"data": {"tags": {"D8:BF:48:C1:DA:4B": {"rssi": -60}}}},
    {"data": {"tags": {"D8:BF:48:C1:DA:4B": {"data": "0201061BFF99040512FC5394C37C0004FFFC040CAC"
                                                     "364200CDCBB8334C884F",
                                             "timestamp": "1600000000"}}}},  # past retention
])
def test_it_refuses_what_is_not_a_ruuvi_gateways_json(api, body):
    response = api.client.post("/api/v1/ruuvi", json=body, headers=api.headers("alice_write"))
    assert response.status_code == 422, response.text
    assert api.stored() == []


def test_it_passes_over_tags_of_other_data_formats(api):
    body = copy.deepcopy(GATEWAY)
    body["data"]["tags"]["F4:1F:0C:28:CB:D6"]["data"] = "02010611FF990403291A1ECE1EFC18F94202CA0B53"
    response = api.client.post("/api/v1/ruuvi", json=body, headers=api.headers("alice_write"))
    assert response.json() == {"stored": 4, "skipped": [
        {"tag": "F4:1F:0C:28:CB:D6", "reason": "Ruuvi data format 03 is not RAWv2 (5)"}]}


def test_it_needs_a_write_token_for_ruuvi(api):
    assert api.client.post("/api/v1/ruuvi", json=GATEWAY).status_code == 401
    assert api.client.post("/api/v1/ruuvi", json=GATEWAY,
                           headers=api.headers("alice_read")).status_code == 403
    assert api.stored() == []


def test_it_stores_a_shelly_ht_report(api):
    token = api.tokens["alice_write"]
    response = api.client.get(f"/api/v1/shelly?apikey={token}&hum=45&temp=-5.38&id=shellyht-00EB85")

    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 2}
    assert readings(api) == {"shellyht-00EB85/temperature": (-5.38, RECORDED_NOW),
                             "shellyht-00EB85/humidity": (45.0, RECORDED_NOW)}
    units = {s.sensor_id: s.unit for s in api.store.list_sensors("alice")}
    assert units == {"shellyht-00EB85/temperature": "°C", "shellyht-00EB85/humidity": "%"}


def test_it_reads_the_url_the_ht_makes_by_appending_a_second_question_mark(api):
    token = api.tokens["alice_write"]
    response = api.client.get(f"/api/v1/shelly?apikey={token}&id=cellar"
                              "?hum=80&temp=4.5&id=shellyht-00EB85&extra=1")
    assert response.status_code == 200, response.text
    assert set(readings(api)) == {"cellar/temperature", "cellar/humidity"}


@pytest.mark.parametrize(("query", "status"), [
    ("hum=45&temp=21&id=x", 401),
    ("apikey={read}&hum=45&temp=21&id=x", 403),
    ("apikey={write}&hum=45&temp=21", 422),
    ("apikey={write}&id=x", 422),
    ("apikey={write}&temp=warm&id=x", 422),
    ("apikey={write}&temp=21&id=bad%01id", 422),
])
def test_it_refuses_a_bad_shelly_report_and_stores_nothing(api, query, status):
    query = query.format(read=api.tokens["alice_read"], write=api.tokens["alice_write"])
    response = api.client.get(f"/api/v1/shelly?{query}")
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert api.stored() == []


def test_a_bad_shelly_value_names_its_parameter(api):
    response = api.client.get(f"/api/v1/shelly?apikey={api.tokens['alice_write']}"
                              "&temp=21&hum=zz&id=x")

    assert response.status_code == 422
    assert response.json()["detail"].startswith("hum: ")
    assert api.stored() == []


def test_it_documents_the_device_routes():
    from core.config import Settings
    from ingest.http.app import create_app
    from storage.sqlite import SQLiteStore

    paths = create_app(Settings(), store=SQLiteStore(":memory:")).openapi()["paths"]
    assert "post" in paths["/api/v1/ruuvi"]
    assert {p["name"] for p in paths["/api/v1/shelly"]["get"]["parameters"]} >= {
        "apikey", "id", "temp", "hum"}
