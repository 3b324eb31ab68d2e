"""Device payloads as their documentation shows them, to readings (pure, no broker)."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import MqttSubscription
from ingest.payloads import BadPayload, readings_from_message
from ingest.validation import Invalid, Window, parse_reading
from storage.models import Reading
from tests.ingest.recorded import recorded

NOW = 1_767_582_780_000  # a minute after the recorded payloads' own times
WINDOW = Window(NOW, 90 * 86_400_000)


def parse(name: str, sensor: str, fmt: str = "json", fields: list[str] | None = None,
          payload: bytes | None = None) -> dict[str, tuple[float, int, str | None]]:
    message = recorded(name)
    subscription = MqttSubscription(topic="#", user="u", sensor=sensor, format=fmt,
                                    fields=fields or [])
    raw = payload if payload is not None else message["payload"].encode()
    found = readings_from_message(subscription, message["topic"], raw, NOW, WINDOW)
    return {r.reading.sensor: (r.reading.value, r.reading.timestamp, r.unit) for r in found}


def test_it_reads_every_numeric_field_of_zigbee2mqtt():
    assert parse("zigbee2mqtt_aqara_wsdcgq11lm", "{1}") == {
        "living_room/battery": (91, NOW, None),
        "living_room/humidity": (41.59, NOW, "%"),
        "living_room/linkquality": (87, NOW, None),
        "living_room/power_outage_count": (3, NOW, None),
        "living_room/pressure": (1009.6, NOW, "hPa"),
        "living_room/temperature": (21.52, NOW, "°C"),
        "living_room/voltage": (2985, NOW, None),
        "living_room/device_temperature": (24, NOW, None),
    }  # last_seen is a time, not a reading


def test_it_reads_tasmota_nested_fields_and_skips_time_ids_and_units():
    assert parse("tasmota_ds18b20", "{1}") == {
        "tasmota_1A2B3C/DS18B20/Temperature": (4.5, NOW, "°C")}
    assert parse("tasmota_si7021", "{1}") == {
        "bathroom/SI7021/Temperature": (21.3, NOW, "°C"),
        "bathroom/SI7021/Humidity": (45.6, NOW, "%"),
        "bathroom/SI7021/DewPoint": (9.1, NOW, "°C"),
    }


def test_it_takes_tasmotas_fahrenheit_at_its_word():
    payload = b'{"Time":"x","DS18B20":{"Temperature":40.1},"TempUnit":"F"}'
    assert parse("tasmota_ds18b20", "{1}", payload=payload) == {
        "tasmota_1A2B3C/DS18B20/Temperature": (40.1, NOW, "°F")}


def test_it_reads_an_esphome_state_as_one_number():
    assert parse("esphome_sensor_state", "{0}/{2}", "number") == {
        "cottage-esp/attic_temperature": (4.25, NOW, None)}


def test_it_reads_shelly_gen2_status_without_its_id():
    assert parse("shelly_plus_ht_temperature", "{0}/{2}") == {
        "shellyplusht-c4d8d5567a1c/temperature:0/tC": (21.3, NOW, "°C"),
        "shellyplusht-c4d8d5567a1c/temperature:0/tF": (70.3, NOW, "°F"),
    }
    assert parse("shelly_plus_ht_humidity", "{0}/{2}") == {
        "shellyplusht-c4d8d5567a1c/humidity:0/rh": (45.3, NOW, "%")}


def test_it_keeps_only_the_listed_fields():
    assert parse("shelly_plus_ht_temperature", "{0}/temperature", fields=["tC"]) == {
        "shellyplusht-c4d8d5567a1c/temperature/tC": (21.3, NOW, "°C")}


def test_it_decodes_ruuvi_gateway_mqtt_at_the_gateways_time():
    stamp = 1_767_582_720_000
    assert parse("ruuvi_gateway_mqtt", "ruuvi/{2}", "ruuvi") == {
        "ruuvi/D8:BF:48:C1:DA:4B/temperature": (24.3, stamp, "°C"),
        "ruuvi/D8:BF:48:C1:DA:4B/humidity": (53.49, stamp, "%"),
        "ruuvi/D8:BF:48:C1:DA:4B/pressure": (1000.44, stamp, "hPa"),
        "ruuvi/D8:BF:48:C1:DA:4B/battery": (2.977, stamp, "V"),
    }


def test_it_stamps_ruuvi_messages_without_a_time_on_arrival():
    assert parse("ruuvi_gateway_mqtt_no_timestamps", "ruuvi/{2}", "ruuvi") == {
        "ruuvi/F4:1F:0C:28:CB:D6/temperature": (28.66, NOW, "°C"),
        "ruuvi/F4:1F:0C:28:CB:D6/humidity": (54.9325, NOW, "%"),
        "ruuvi/F4:1F:0C:28:CB:D6/pressure": (1009.1, NOW, "hPa"),
        "ruuvi/F4:1F:0C:28:CB:D6/battery": (2.995, NOW, "V"),
    }


def test_it_uses_an_epoch_ms_timestamp_in_the_payload():
    payload = json.dumps({"temperature": 3.5, "timestamp": NOW - 60_000}).encode()
    assert parse("zigbee2mqtt_aqara_wsdcgq11lm", "{1}", payload=payload) == {
        "living_room/temperature": (3.5, NOW - 60_000, "°C")}


@pytest.mark.parametrize(("fmt", "payload", "why"), [
    ("number", b"nan", "finite"),
    ("number", b"online", "must be a number"),
    ("number", b"\xff\xfe", "not text"),
    ("json", b"{not json", "not JSON"),
    ("json", b'"ON"', "not an object"),
    ("json", b'{"state": "ON", "update_available": false}', "no numeric fields"),
    ("json", b'{"temperature": 1e300}', "1e-100 to 1e100"),
    ("json", b'{"temperature": 3, "timestamp": 1700000000}', "retention"),
    ("json", b'{"temperature": 3, "timestamp": 99999999999999}', "future"),
    ("json", b'{"bad\\u0001key": 3}', "is not valid"),
    ("ruuvi", b'{"data": "0201061BFF9904051234"}', "runs past the end"),
    ("ruuvi", b'{"rssi": -60}', '"data"'),
    ("ruuvi", b'{"data": "0201061BFF99040512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F",'
              b' "ts": "soon"}', "Unix seconds"),
])
def test_it_refuses_payloads_that_are_not_what_the_format_expects(fmt, payload, why):
    with pytest.raises(BadPayload, match=why):
        parse("zigbee2mqtt_aqara_wsdcgq11lm", "{1}", fmt, payload=payload)


def test_it_refuses_a_topic_too_short_for_the_template():
    subscription = MqttSubscription(topic="tele/#", user="u", sensor="{3}")
    with pytest.raises(BadPayload, match="too few levels"):
        readings_from_message(subscription, "tele/x", b"{}", NOW, WINDOW)


def test_it_reads_a_bare_number_under_the_json_format():
    found = readings_from_message(MqttSubscription(topic="a/+", user="u", sensor="{1}"),
                                  "a/attic", b"-1.5", NOW, WINDOW)
    assert [r.reading for r in found] == [Reading("attic", NOW, -1.5)]


# The json format checks each field with a fast path of its own; it must accept and refuse
# exactly what the HTTP API's validation (parse_reading) does.
JSON_NUMBERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e-100, 9.99e-101, 1e100, 1.0001e100, -1e100, 5e-324]))
FIELD_NAMES = st.text(min_size=1, max_size=30).filter(lambda name: "/" not in name)


@settings(max_examples=400, deadline=None)
@given(name=FIELD_NAMES, value=JSON_NUMBERS, stamp=st.integers(NOW - 10**11, NOW + 10**7))
def test_the_json_format_validates_as_the_http_api_does(name, value, stamp):
    payload = orjson.dumps({name: value, "timestamp": stamp})
    try:
        expected: Reading | None = parse_reading(f"s/{name}", value, stamp, WINDOW)
    except Invalid:
        expected = None
    subscription = MqttSubscription(topic="#", user="u", sensor="s")
    try:
        found = [d.reading for d in readings_from_message(subscription, "t", payload, NOW,
                                                          WINDOW)]
    except BadPayload:
        found = None
    if name.lower() in ("timestamp", "time", "last_seen", "id"):
        return  # not a reading by name
    assert found == (None if expected is None else [expected])
