"""What a hostile tester broke on a real broker, each kept from coming back: readings stamped
on arrival overwritten or in the future, duplicates after a crash, memory that grew with
message size, retained messages stored on every subscription, messages of countless
readings, and topics that forge log lines."""

from __future__ import annotations

import json
import logging
import time
import tracemalloc

import pytest

from storage.models import Reading
from tests.ingest.mqtt.broker import Broker, broker_kind
from tests.support.devices import (
    RunningIngest,
    mqtt_settings,
    number_subscription,
    stored,
    wait_connected,
    wait_for,
)

needs_resends = pytest.mark.skipif(
    broker_kind() != "mosquitto", reason="amqtt 0.12 does not resend an unacknowledged "
                                         "message to a client that reconnects")


def readings(store, sensor: str) -> list[Reading]:
    return store.read_range("cottage", sensor, 0, 2**62, now_ms=int(time.time() * 1000))


def subscribe_once(ingest: RunningIngest) -> None:
    """Connect and leave: the session exists, and messages wait in the broker for it."""
    wait_connected(ingest)
    ingest.stop()


def queue(publisher, topic: str, values: range) -> None:
    """Publish while no subscriber is connected: the broker keeps them for its session."""
    for value in values:
        publisher.publish(topic, str(value))


def test_a_drained_backlog_is_stamped_no_later_than_the_clock_and_a_restart_replaces_nothing(
        shared_broker, store, prefix, start_ingest, publisher_for):
    settings = mqtt_settings(shared_broker, number_subscription(prefix))
    subscribe_once(start_ingest(settings, store))
    publisher = publisher_for(shared_broker)
    queue(publisher, f"{prefix}/attic", range(1500))

    first = start_ingest(settings, store)
    wait_for(lambda: len(readings(store, "attic")) == 1500, timeout=60)
    drained_at = int(time.time() * 1000)
    assert max(r.timestamp for r in readings(store, "attic")) <= drained_at
    first.stop()
    queue(publisher, f"{prefix}/attic", range(1500, 2000))  # at once, after a restart
    publisher.publish(f"{prefix}/mark", "1")  # after it, nothing more of the attic's comes
    start_ingest(settings, store)

    wait_for(lambda: readings(store, "mark"), timeout=60)
    kept = readings(store, "attic")
    assert sorted(r.value for r in kept) == list(range(2000))  # none replaced, none twice
    assert max(r.timestamp for r in kept) <= int(time.time() * 1000)


class CrashAfterWriting:
    """The real store, whose first write is followed by the subscriber's death before it
    acknowledges: a `kill -9` between storing and acknowledging."""

    def __init__(self, store) -> None:
        self._store = store
        self.crashed = False

    def write_readings(self, *args, **kwargs):
        written = self._store.write_readings(*args, **kwargs)
        if not self.crashed:
            self.crashed = True
            raise SystemExit("killed")
        return written

    def __getattr__(self, name):
        return getattr(self._store, name)


@needs_resends
def test_a_message_stored_but_not_acknowledged_before_a_crash_is_stored_once(
        shared_broker, store, prefix, start_ingest, publisher_for):
    settings = mqtt_settings(shared_broker, number_subscription(prefix))
    crashing = RunningIngest(settings, CrashAfterWriting(store))
    wait_connected(crashing)
    publisher_for(shared_broker).publish(f"{prefix}/attic", "-3.5")
    wait_for(lambda: crashing.error is not None)
    assert stored(store) == {"attic": [-3.5]}

    again = start_ingest(settings, store)  # a new process: the broker sends it again
    wait_connected(again)
    publisher_for(shared_broker).publish(f"{prefix}/done", "1")

    wait_for(lambda: "done" in stored(store))
    assert stored(store) == {"attic": [-3.5], "done": [1]}


def test_memory_stays_near_the_inbox_whatever_the_message_sizes(
        shared_broker, store, prefix, start_ingest, publisher_for):
    """90 messages of 900 KB (79 MB) drained at once: what the subscriber holds stays far
    below their sum (it kept each stored message whole to recognise resends: 4.4 GB for 4,400
    messages of 1 MiB)."""
    settings = mqtt_settings(shared_broker, {**number_subscription(prefix), "format": "json"})
    subscribe_once(start_ingest(settings, store))
    publisher = publisher_for(shared_broker)
    pad = "x" * 900_000
    for value in range(90):
        publisher.publish(f"{prefix}/cellar", json.dumps({"temperature": value, "note": pad}))

    tracemalloc.start()
    try:
        start_ingest(settings, store)
        wait_for(lambda: len(stored(store).get("cellar/temperature", [])) == 90, timeout=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20, f"{peak / 2**20:.0f} MiB"
    kept = [settings.state_file.with_name(settings.state_file.name + end) for end in ("", "-wal")]
    assert sum(path.stat().st_size for path in kept if path.exists()) < 2**20  # digests only


def test_a_retained_message_is_stored_once_and_an_empty_one_clears_it_quietly(
        own_broker, store, prefix, start_ingest, publisher_for, caplog):
    """ESPHome retains by default: a dead sensor's last value, sent again on every
    subscription, must not make it look alive."""
    caplog.set_level(logging.WARNING, logger="sensorbot.mqtt")
    settings = mqtt_settings(own_broker, number_subscription(prefix))
    publisher = publisher_for(own_broker)
    publisher.publish(f"{prefix}/attic", "4.5", retain=True)
    marks = iter(range(100))

    def settled() -> None:
        """Until what the broker sent before a marker is handled."""
        mark = next(marks)
        publisher_for(own_broker).publish(f"{prefix}/mark", str(mark))
        wait_for(lambda: mark in stored(store).get("mark", []), timeout=30)

    first = start_ingest(settings, store)
    wait_connected(first)
    settled()
    first.stop()
    second = start_ingest(settings, store)
    wait_connected(second)  # subscribed again: the broker resends it
    settled()
    own_broker.stop()
    wait_for(lambda: not second.ingest.connected.is_set())
    own_broker.start()
    # A broker that forgot the session (amqtt) drops a marker sent before the subscription.
    wait_connected(second)
    settled()
    assert stored(store)["attic"] == [4.5]

    publisher_for(own_broker).publish(f"{prefix}/attic", "", retain=True)
    publisher_for(own_broker).publish(f"{prefix}/attic", "5.5", retain=True)  # a new one
    settled()
    assert stored(store)["attic"] == [4.5, 5.5]
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]


def test_a_message_of_more_readings_than_an_api_request_is_skipped_with_one_line(
        shared_broker, store, prefix, start_ingest, publisher_for, caplog):
    caplog.set_level(logging.WARNING, logger="sensorbot.mqtt")
    settings = mqtt_settings(shared_broker, {**number_subscription(prefix), "format": "json"})
    wait_connected(start_ingest(settings, store))
    publisher = publisher_for(shared_broker)
    publisher.publish(f"{prefix}/flood", json.dumps({f"s{i}": i for i in range(1001)}))
    publisher.publish(f"{prefix}/most", json.dumps({f"s{i}": i for i in range(1000)}))

    wait_for(lambda: "most/s999" in stored(store))
    assert not [s for s in stored(store) if s.startswith("flood/")]
    [line] = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "1,001 readings, more than the 1,000 a message may" in line


def test_a_topic_cannot_forge_log_lines(tmp_path, store, prefix, start_ingest, publisher_for,
                                        caplog):
    """amqtt passes on a newline in a topic (mosquitto refuses it)."""
    caplog.set_level(logging.WARNING, logger="sensorbot.mqtt")
    broker = Broker("amqtt", tmp_path / "amqtt").start()
    settings = mqtt_settings(broker, number_subscription(prefix))
    wait_connected(start_ingest(settings, store))
    publisher = publisher_for(broker)
    publisher.publish(f"{prefix}/x\nCRITICAL sensorbot: all sensors offline", "garbage")
    publisher.publish(f"{prefix}/attic", "1")

    wait_for(lambda: stored(store))
    [line] = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "\n" not in line and "x\\nCRITICAL" in line
    broker.stop()
