"""The subscriber's own MQTT connection against a real broker: refused credentials, a message
too large to keep, a broker that hangs, and acknowledgements that hold across a restart."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time

import pytest

from ingest.mqtt.link import Timings
from tests.ingest.mqtt.broker import PASSWORD, USERNAME, Broker, broker_kind
from tests.support.devices import (
    link_of,
    mqtt_settings,
    number_subscription,
    stored,
    wait_connected,
    wait_for,
)


def said(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


@pytest.mark.skipif(broker_kind() != "mosquitto", reason="a password file is mosquitto's")
def test_it_says_once_that_the_broker_refused_its_credentials(tmp_path, store, prefix,
                                                              start_ingest, caplog):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), USERNAME, PASSWORD],
                   check=True, capture_output=True)
    passwords.chmod(0o600)
    broker = Broker("mosquitto", tmp_path / "broker", mosquitto_options=(
        f"password_file {passwords}\n")).start()
    try:
        settings = mqtt_settings(broker, number_subscription(prefix))
        ingest = start_ingest(settings.model_copy(update={"password": "wrong"}), store,
                              Timings(reconnect_min=0.05, reconnect_max=0.1))

        wait_for(lambda: link_of(ingest).attempts >= 3)

        lines = said(caplog, "MQTT broker at")
        assert len(lines) == 1
        assert "refused the connection: not authorised" in lines[0]  # mosquitto: code 5
        assert "check [mqtt] username, password" in lines[0]
        assert not ingest.ingest.connected.is_set()
    finally:
        broker.stop()


def test_it_skips_a_message_too_large_to_keep_and_acknowledges_it(
        shared_broker, store, prefix, start_ingest, publisher_for, caplog):
    caplog.set_level(logging.WARNING, logger="sensorbot.mqtt")
    settings = mqtt_settings(shared_broker, number_subscription(prefix))
    first = start_ingest(settings, store)
    wait_connected(first)
    publisher = publisher_for(shared_broker)
    publisher.publish(f"{prefix}/camera", b"9" * 1_100_000)
    publisher.publish(f"{prefix}/attic", "2.5")

    assert wait_for(lambda: stored(store)) == {"attic": [2.5]}
    assert len(said(caplog, "larger than 1 MiB")) == 1
    first.stop()
    second = start_ingest(settings, store)  # the same session: nothing is delivered again
    wait_connected(second)
    publisher.publish(f"{prefix}/attic", "3.5")

    assert wait_for(lambda: len(stored(store)["attic"]) == 2 and stored(store)) == {
        "attic": [2.5, 3.5]}
    assert len(said(caplog, "larger than")) == 1


def test_it_drops_a_broker_that_stops_answering_and_comes_back_to_it(
        own_broker, store, prefix, start_ingest, publisher_for, caplog):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    settings = mqtt_settings(own_broker, number_subscription(prefix))
    ingest = start_ingest(settings, store, Timings(keepalive=2, connect=1))
    wait_connected(ingest)
    assert own_broker.process is not None
    os.kill(own_broker.process.pid, signal.SIGSTOP)  # it hangs: the socket stays open
    try:
        wait_for(lambda: said(caplog, "reconnecting with backoff"), timeout=10)
    finally:
        os.kill(own_broker.process.pid, signal.SIGCONT)
    wait_for(lambda: said(caplog, " is back after "), timeout=20)
    wait_connected(ingest)
    publisher_for(own_broker).publish(f"{prefix}/attic", "1.5")

    assert wait_for(lambda: stored(store)) == {"attic": [1.5]}
    outage = said(caplog, "reconnecting with backoff")
    assert len(outage) == 1
    assert "no answer in time" in outage[0]


def test_it_keeps_a_quiet_connection_alive_with_pings(shared_broker, store, prefix,
                                                      start_ingest, publisher_for, caplog):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    settings = mqtt_settings(shared_broker, number_subscription(prefix))
    # The broker drops a client silent for 1.5 keepalives.
    ingest = start_ingest(settings, store, Timings(keepalive=1))
    wait_connected(ingest)
    said_by_paho: list[str] = []
    link_of(ingest).client.on_log = lambda *logged: said_by_paho.append(logged[-1])

    wait_for(lambda: said_by_paho.count("Received PINGRESP") >= 3)  # quiet for 3 keepalives
    publisher_for(shared_broker).publish(f"{prefix}/attic", "0.5")

    assert wait_for(lambda: stored(store)) == {"attic": [0.5]}
    assert not said(caplog, "reconnecting")


class SlowStore:
    """The real store, whose first write takes longer than the broker waits for a ping."""

    def __init__(self, store, seconds: float) -> None:
        self._store, self._seconds = store, seconds
        self.written: list[str] = []  # the sensors of every reading written

    def write_readings(self, user_id, readings, **kwargs):
        if not self.written:
            time.sleep(self._seconds)  # the slow write under test, not a wait for something
        self.written += [reading.sensor for reading in readings]
        return self._store.write_readings(user_id, readings, **kwargs)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_a_slow_write_keeps_the_connection_alive(shared_broker, store, prefix, start_ingest,
                                                 publisher_for, caplog):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    slow = SlowStore(store, 3)
    settings = mqtt_settings(shared_broker, number_subscription(prefix))
    first = start_ingest(settings, slow, Timings(keepalive=1))  # silent 1.5 s: lost
    wait_connected(first)
    publisher_for(shared_broker).publish(f"{prefix}/attic", "4.5")

    assert wait_for(lambda: stored(store)) == {"attic": [4.5]}
    wait_for(lambda: first.ingest.stored_messages == 1)  # its acknowledgement precedes goodbye
    first.stop()
    second = start_ingest(settings, slow)  # the same session: nothing to deliver again
    wait_connected(second)
    publisher_for(shared_broker).publish(f"{prefix}/mark", "1")  # behind any resend
    wait_for(lambda: "mark" in stored(store))

    assert slow.written == ["attic", "mark"]
    assert not said(caplog, "reconnecting")


@pytest.mark.skipif(broker_kind() != "mosquitto",
                    reason="mosquitto hands a client id over to the newest connection")
def test_two_subscribers_with_one_client_id_are_told_and_back_off(
        shared_broker, store, prefix, start_ingest, caplog):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    settings = mqtt_settings(shared_broker, number_subscription(prefix),
                             client_id=f"twin-{prefix}")
    timings = Timings(reconnect_min=0.2, reconnect_max=10)
    first = start_ingest(settings, store, timings)
    wait_connected(first)
    started = time.monotonic()
    # e.g. `sensorbot run` and `sensorbot api` both subscribed
    second = start_ingest(settings, store, timings)

    hints = wait_for(lambda: said(caplog, "does another client use client_id"))
    assert f"'twin-{prefix}'" in hints[0]
    wait_for(lambda: min(link_of(first).attempts, link_of(second).attempts) >= 5)
    # Each waits 0.2, 0.4, 0.8, 1.6 s between takeovers (3 s to its fifth attempt), rather
    # than 0.2 s every time (under 1 s).
    assert time.monotonic() - started >= 2.5


def test_it_says_when_a_restarted_broker_forgot_its_session(tmp_path, store, prefix,
                                                            start_ingest, caplog):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    broker = Broker(broker_kind(), tmp_path / "broker",
                    mosquitto_options="persistence false\n").start()
    try:
        settings = mqtt_settings(broker, number_subscription(prefix))
        ingest = start_ingest(settings, store)
        wait_connected(ingest)
        assert not said(caplog, "forgotten")
        broker.stop()
        broker.start()

        wait_for(lambda: said(caplog, " is back after "), timeout=20)
        wait_connected(ingest)
        assert len(said(caplog, "had forgotten sensorbot's session")) == 1
    finally:
        broker.stop()


def test_a_broker_down_at_start_is_one_line_then_connected_not_back(tmp_path, store, prefix,
                                                                    start_ingest, caplog):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    broker = Broker(broker_kind(), tmp_path / "broker")  # not started yet
    try:
        settings = mqtt_settings(broker, number_subscription(prefix))
        ingest = start_ingest(settings, store)
        wait_for(lambda: said(caplog, "cannot connect"))
        broker.start()

        wait_connected(ingest)
        assert said(caplog, "connected to the MQTT broker")
        assert not said(caplog, " is back after ")
    finally:
        broker.stop()
