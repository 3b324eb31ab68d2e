"""The MQTT subscriber against a real broker: device payloads, bad payloads, outages."""

from __future__ import annotations

import json
import logging
import time

import pytest

from ingest.mqtt.link import Timings
from storage.errors import StorageUnavailable
from tests.ingest.mqtt.broker import broker_kind
from tests.ingest.recorded import recorded
from tests.support.devices import (
    link_of,
    mqtt_settings,
    number_subscription,
    stored,
    wait_connected,
    wait_for,
)


def publish_recorded(publisher, prefix: str, name: str, **changes: str) -> str:
    """Publish a recorded payload under this test's topic root; return its topic."""
    message = recorded(name)
    topic = f"{prefix}/{message['topic']}"
    payload = message["payload"]
    if changes:
        document = json.loads(payload)
        document.update(changes)
        payload = json.dumps(document)
    publisher.publish(topic, payload)
    return topic


def test_it_stores_what_each_device_family_publishes(shared_broker, store, prefix,
                                                     start_ingest, publisher_for):
    settings = mqtt_settings(
        shared_broker,
        {"topic": f"{prefix}/zigbee2mqtt/+", "user": "cottage", "sensor": "{2}"},
        {"topic": f"{prefix}/tele/+/SENSOR", "user": "cottage", "sensor": "{2}"},
        {"topic": f"{prefix}/+/sensor/+/state", "user": "cottage", "sensor": "{1}/{3}",
         "format": "number"},
        {"topic": f"{prefix}/+/status/temperature:0", "user": "cottage", "sensor": "{1}",
         "fields": ["tC"]},
        {"topic": f"{prefix}/ruuvi/+/+", "user": "home", "sensor": "ruuvi/{3}",
         "format": "ruuvi"},
    )
    ingest = start_ingest(settings, store)
    wait_connected(ingest)
    publisher = publisher_for(shared_broker)
    for name in ("zigbee2mqtt_aqara_wsdcgq11lm", "tasmota_ds18b20", "tasmota_si7021",
                 "esphome_sensor_state", "shelly_plus_ht_temperature",
                 "ruuvi_gateway_mqtt_no_timestamps"):
        publish_recorded(publisher, prefix, name)
    publish_recorded(publisher, prefix, "ruuvi_gateway_mqtt", ts=str(int(time.time())))

    cottage = wait_for(lambda: len(stored(store)) == 14 and stored(store))
    assert cottage == {
        "living_room/battery": [91], "living_room/humidity": [41.59],
        "living_room/linkquality": [87], "living_room/power_outage_count": [3],
        "living_room/pressure": [1009.6], "living_room/temperature": [21.52],
        "living_room/voltage": [2985], "living_room/device_temperature": [24],
        "tasmota_1A2B3C/DS18B20/Temperature": [4.5],
        "bathroom/SI7021/Temperature": [21.3], "bathroom/SI7021/Humidity": [45.6],
        "bathroom/SI7021/DewPoint": [9.1],
        "cottage-esp/attic_temperature": [4.25],
        "shellyplusht-c4d8d5567a1c/tC": [21.3],
    }
    home = wait_for(lambda: len(stored(store, "home")) == 8 and stored(store, "home"))
    assert home["ruuvi/D8:BF:48:C1:DA:4B/temperature"] == [24.3]
    assert home["ruuvi/F4:1F:0C:28:CB:D6/battery"] == [2.995]
    wait_for(lambda: all(s.unit for s in store.list_sensors("cottage")
                         if s.sensor_id.endswith(("/temperature", "/tC", "/Humidity"))))
    units = {s.sensor_id: s.unit for s in store.list_sensors("cottage")}
    assert units["living_room/temperature"] == "°C"
    assert units["bathroom/SI7021/Humidity"] == "%"
    assert units["shellyplusht-c4d8d5567a1c/tC"] == "°C"
    assert wait_for(lambda: {s.sensor_id: s.unit for s in store.list_sensors("home")}[
        "ruuvi/D8:BF:48:C1:DA:4B/pressure"]) == "hPa"


def test_it_skips_malformed_payloads_with_one_line_each_and_carries_on(
        shared_broker, store, prefix, start_ingest, publisher_for, caplog):
    caplog.set_level(logging.WARNING, logger="sensorbot.mqtt")
    settings = mqtt_settings(
        shared_broker,
        {"topic": f"{prefix}/json/+", "user": "cottage", "sensor": "{2}"},
        {"topic": f"{prefix}/number/+", "user": "cottage", "sensor": "{2}", "format": "number"},
        {"topic": f"{prefix}/ruuvi/+", "user": "cottage", "sensor": "{2}", "format": "ruuvi"},
    )
    ingest = start_ingest(settings, store)
    wait_connected(ingest)
    publisher = publisher_for(shared_broker)
    bad = [("json/a", b"{not json"), ("json/b", b'{"state": "ON"}'), ("number/c", b"nan"),
           ("number/d", b"\xff\xfe"), ("ruuvi/e", b'{"data": "0201061BFF9904051"}'),
           ("json/f", b'{"temperature": 1e999}'),
           ("json/g", b'{"temperature": ' + b"1" * 5000 + b"}"),  # past int()'s 4,300 digits
           ("ruuvi/h", b'{"data": "0201061BFF99040512FC5394C37C0004FFFC040CAC364200CDCBB8334C8'
                       b'84F", "ts": 1e400}')]
    for topic, payload in bad:
        publisher.publish(f"{prefix}/{topic}", payload)
    publisher.publish(f"{prefix}/number/attic", "3.5")

    assert wait_for(lambda: stored(store)) == {"attic": [3.5]}
    skipped = [r.getMessage() for r in caplog.records if "skipped an MQTT message" in
               r.getMessage()]
    assert len(skipped) == len(bad)
    assert all(len(line) < 300 and "\n" not in line for line in skipped)
    assert not [r for r in caplog.records if r.exc_info]


def test_it_limits_bad_payload_lines_to_ten_a_minute(shared_broker, store, prefix,
                                                     start_ingest, publisher_for, caplog):
    caplog.set_level(logging.WARNING, logger="sensorbot.mqtt")
    settings = mqtt_settings(shared_broker, number_subscription(prefix))
    ingest = start_ingest(settings, store)
    wait_connected(ingest)
    publisher = publisher_for(shared_broker)
    for index in range(30):
        publisher.publish(f"{prefix}/s{index}", "garbage")
    publisher.publish(f"{prefix}/good", "1")

    wait_for(lambda: stored(store))
    skipped = [r for r in caplog.records if "skipped an MQTT message" in r.getMessage()]
    assert len(skipped) == 10


def test_it_stores_messages_published_while_it_was_stopped(shared_broker, store, prefix,
                                                           start_ingest, publisher_for):
    settings = mqtt_settings(shared_broker, number_subscription(prefix))
    first = start_ingest(settings, store)
    wait_connected(first)
    first.stop()
    publisher = publisher_for(shared_broker)
    for value in range(5):
        publisher.publish(f"{prefix}/attic", str(value))
        time.sleep(0.002)  # one reading per millisecond of arrival

    start_ingest(settings, store)

    assert wait_for(lambda: len(stored(store).get("attic", [])) == 5 and stored(store)) == {
        "attic": [0, 1, 2, 3, 4]}


class FlakyStore:
    """The real store, whose writes fail with 503-meaning StorageUnavailable while `down`."""

    def __init__(self, store) -> None:
        self._store = store
        self.down = False
        self.failed_writes = 0

    def write_readings(self, *args, **kwargs):
        if self.down:
            self.failed_writes += 1
            raise StorageUnavailable("database is locked")
        return self._store.write_readings(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_it_stores_a_message_after_a_storage_outage_once_storage_is_back(
        shared_broker, store, prefix, start_ingest, publisher_for, caplog):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    flaky = FlakyStore(store)
    settings = mqtt_settings(shared_broker, number_subscription(prefix))
    ingest = start_ingest(settings, flaky)
    wait_connected(ingest)
    flaky.down = True
    publisher_for(shared_broker).publish(f"{prefix}/attic", "-2.5")

    wait_for(lambda: flaky.failed_writes >= 2)
    assert stored(store) == {}
    flaky.down = False

    assert wait_for(lambda: stored(store)) == {"attic": [-2.5]}

    def said(start: str) -> int:
        return len([r for r in caplog.records if r.getMessage().startswith(start)])

    assert wait_for(lambda: said("storage is back")) == 1  # logged just after the write
    assert said("storage failed") == 1


@pytest.mark.skipif(broker_kind() != "mosquitto",
                    reason="amqtt 0.12 does not resend an unacknowledged QoS 1 message to a "
                           "client that reconnects (it drops it after 5 s); needs mosquitto")
def test_it_leaves_unstored_messages_to_the_broker_across_a_restart(
        shared_broker, store, prefix, start_ingest, publisher_for):
    flaky = FlakyStore(store)
    settings = mqtt_settings(shared_broker, number_subscription(prefix))
    first = start_ingest(settings, flaky)
    wait_connected(first)
    flaky.down = True
    publisher_for(shared_broker).publish(f"{prefix}/attic", "-7")
    wait_for(lambda: flaky.failed_writes >= 1)
    first.stop()  # while storage is still down: the message was never acknowledged

    start_ingest(settings, store)

    assert wait_for(lambda: stored(store)) == {"attic": [-7]}


def test_it_reconnects_after_a_broker_restart_and_logs_the_outage_once(
        own_broker, store, prefix, start_ingest, publisher_for, caplog):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    settings = mqtt_settings(own_broker, number_subscription(prefix))
    ingest = start_ingest(settings, store, Timings(reconnect_min=0.05, reconnect_max=0.2))
    wait_connected(ingest)
    publisher_for(own_broker).publish(f"{prefix}/attic", "1")
    wait_for(lambda: stored(store))

    own_broker.stop()
    tried = link_of(ingest).attempts
    wait_for(lambda: link_of(ingest).attempts >= tried + 3)  # while it is down
    own_broker.start()
    wait_connected(ingest)
    publisher_for(own_broker).publish(f"{prefix}/attic", "2")

    assert wait_for(lambda: len(stored(store)["attic"]) == 2 and stored(store)) == {
        "attic": [1, 2]}
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "reconnecting with backoff" in m]) == 1
    assert len([m for m in messages if " is back after " in m]) == 1
    assert not [m for m in messages if "client_id" in m]  # a restart is no sign of a twin
