"""The device recipes of docs/devices.md, run on recorded payloads: the ids it promises are made."""

from __future__ import annotations

import re
import tomllib

import paho.mqtt.client as paho
import pytest

from core.config import MqttSubscription
from ingest.payloads import readings_from_message
from ingest.validation import Window
from tests.devices.recorded import recorded
from tests.support.docs import answers, block_with, make_project, page, run_block

DEVICES = page("docs/devices.md")
NOW = 1_767_582_780_000


def recipes() -> list[MqttSubscription]:
    blocks = re.findall(r"```toml\n(.*?)```", DEVICES, re.DOTALL)
    found = []
    for block in blocks:
        found += [MqttSubscription(**s) for s in tomllib.loads(block)["mqtt"]["subscriptions"]]
    return found


@pytest.mark.parametrize(("topic", "payload", "promised"), [
    ("zigbee2mqtt/living_room", "zigbee2mqtt_aqara_wsdcgq11lm",
     {"living_room/temperature", "living_room/humidity", "living_room/battery"}),
    ("tele/cellar/SENSOR", "tasmota_ds18b20", {"cellar/DS18B20/Temperature"}),
    ("tele/cellar/SENSOR", "tasmota_si7021",
     {"cellar/SI7021/Temperature", "cellar/SI7021/Humidity", "cellar/SI7021/DewPoint"}),
    ("cottage-esp/sensor/attic_temperature/state", "esphome_sensor_state",
     {"cottage-esp/attic_temperature"}),
    ("shellyplusht-c4d8d5567a1c/status/temperature:0", "shelly_plus_ht_temperature",
     {"shellyplusht-c4d8d5567a1c/temperature/tC"}),
    ("shellyplusht-c4d8d5567a1c/status/humidity:0", "shelly_plus_ht_humidity",
     {"shellyplusht-c4d8d5567a1c/humidity/rh"}),
    ("ruuvi/C8:25:2D:8E:D3:A1/D8:BF:48:C1:DA:4B", "ruuvi_gateway_mqtt",
     {"ruuvi/D8:BF:48:C1:DA:4B/temperature", "ruuvi/D8:BF:48:C1:DA:4B/humidity",
      "ruuvi/D8:BF:48:C1:DA:4B/pressure", "ruuvi/D8:BF:48:C1:DA:4B/battery"}),
])
def test_it_makes_the_ids_the_recipes_promise(topic, payload, promised):
    made = set()
    for subscription in recipes():
        if paho.topic_matches_sub(subscription.topic, topic):
            made |= {r.reading.sensor for r in readings_from_message(
                subscription, topic, recorded(payload)["payload"].encode(), NOW,
                Window(NOW, 90 * 86_400_000))}
    assert promised <= made
    shown = {sensor.split("/")[-1] for sensor in promised}
    assert all(f"/{leaf}`" in DEVICES for leaf in shown)


def test_the_device_routes_work_as_pasted(tmp_path):
    result = run_block(make_project(tmp_path), block_with("/api/v1/ruuvi"))

    assert result.returncode == 0, result.stderr
    assert [(status, path, body) for status, path, body in answers(result.stdout)] == [
        (200, "/api/v1/ruuvi", {"stored": 4, "skipped": [
            {"tag": "E4:0A:11:22:33:44",
             "reason": "an advertisement structure runs past the end of the data"}]}),
        (200, "/api/v1/shelly", {"stored": 2})]
