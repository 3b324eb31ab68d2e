"""One number grammar for every path: ASCII decimal numbers only, and nothing rounded to 0.

Python's float() reads "1_000", full-width "２１" and Arabic-Indic "٢١"; no sensor means
them, and 1e-400 is not 0. HTTP strings and JSON, MQTT payloads and Shelly queries all refuse
them alike.
"""

from __future__ import annotations

import pytest

from core.config import MqttSubscription
from ingest.payloads import BadPayload, readings_from_message, seconds_to_ms
from ingest.validation import Invalid, Window, parse_timestamp, parse_value
from tests.support.api import Api, make_api

NOW = 1_767_582_780_000
WINDOW = Window(NOW, 90 * 86_400_000)
ODD = ["1_000", "２１", "٢١", "1e-400", "0.0000000001e-390", "21\u00a0", "\u200b21", "0x10",
       "inf", "NaN", "1.5.2", "", "-", "e5", "21 22"]
GOOD = {"21": 21.0, " -1.5 ": -1.5, "+3": 3.0, "21.": 21.0, ".5": 0.5, "1e3": 1000.0,
        "-2.5E-3": -0.0025, "0": 0.0, "0.000": 0.0, "0e-500": 0.0, "1e100": 1e100}


@pytest.mark.parametrize("text", ODD)
def test_it_refuses_a_value_that_is_not_an_ascii_decimal_number(text):
    with pytest.raises(Invalid):
        parse_value(text)


@pytest.mark.parametrize(("text", "number"), GOOD.items())
def test_it_reads_every_ascii_decimal_number(text, number):
    assert parse_value(text) == number


@pytest.mark.parametrize("text", ["1_800_000_000_000", "１８００００００００００００", "1e-400"])
def test_it_refuses_such_timestamps_too(text):
    with pytest.raises(Invalid):
        parse_timestamp(text, WINDOW)


@pytest.mark.parametrize("text", ["1_767_582_780", "١٧٦٧٥٨٢٧٨٠"])
def test_a_ruuvi_gateways_seconds_are_ascii_digits_too(text):
    with pytest.raises(BadPayload):
        seconds_to_ms(text)


@pytest.mark.parametrize(("fmt", "payload"), [
    ("number", "1_000"), ("number", "２１"), ("number", "٢١"), ("number", "1e-400"),
    ("json", '{"temperature": 1e-400}'), ("json", '{"a": {"b": -1E-400}}'), ("json", "1e-400"),
    ("json", '{"temperature": 0.' + "0" * 400 + "1}"),
])
def test_an_mqtt_payload_holding_one_is_skipped(fmt, payload):
    subscription = MqttSubscription(topic="#", user="u", sensor="{0}", format=fmt)

    with pytest.raises(BadPayload):
        readings_from_message(subscription, "attic", payload.encode(), NOW, WINDOW)


def test_an_mqtt_payload_with_a_small_number_that_is_not_zero_is_still_read():
    subscription = MqttSubscription(topic="#", user="u", sensor="{0}", format="json")

    found = readings_from_message(subscription, "attic", b'{"temperature": 2.5e-3, "x": 0e-9}',
                                  NOW, WINDOW)

    assert [d.reading.value for d in found] == [0.0025, 0.0]


@pytest.fixture
def api(tmp_path) -> Api:
    from storage.sqlite import SQLiteStore

    api = make_api(SQLiteStore(tmp_path / "numbers.db"))
    api.clock.now = NOW
    return api


@pytest.mark.parametrize("text", ["1_000", "２１", "٢١", "1e-400"])
def test_the_http_api_refuses_them_in_strings_on_every_route_and_stores_nothing(api, text):
    write = api.headers("alice_write")

    answers = [
        api.client.post("/api/v2/sensor/attic/measurement", json={"value": text}, headers=write),
        api.client.post("/api/v1/sensor/attic/measurement", json={"value": text}, headers=write),
        api.client.post("/api/v3/readings", json={"readings": [{"sensor": "a", "value": text}]},
                        headers=write),
        api.client.get("/api/v1/shelly", params={"id": "ht", "temp": text}, headers=write),
    ]

    assert [a.status_code for a in answers] == [422] * 4
    assert all("number" in a.json()["detail"] or "small" in a.json()["detail"] for a in answers)
    assert api.stored() == []


@pytest.mark.parametrize("body", [b'{"value": 1e-400}', b'{"value": -0.5e-350}',
                                  b'{"readings": [{"sensor": "a", "value": 1e-400}]}'])
def test_the_http_api_refuses_a_json_number_that_would_read_as_zero(api, body):
    route = "/api/v3/readings" if b"readings" in body else "/api/v2/sensor/attic/measurement"

    answer = api.client.post(route, content=body, headers=api.headers("alice_write"))

    assert answer.status_code == 422
    assert "too small" in answer.json()["detail"]
    assert api.stored() == []
