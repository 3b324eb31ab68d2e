"""The subscriber against a scripted broker (tests/support/fake_broker.py), in the situations
a real broker cannot be made to produce on demand: a malformed PUBLISH, a topic that is not
UTF-8, a session kept or lost, a resend with DUP set, a SUBACK refusing a filter."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from core.config import MqttSettings, MqttSubscription
from ingest.mqtt.link import FLAPS_TOLD, Timings
from ingest.mqtt.subscriber import MqttIngest
from storage.errors import StorageUnavailable
from storage.sqlite import SQLiteStore
from tests.support.devices import RunningIngest, link_of, stored, wait_for
from tests.support.fake_broker import (
    DISCONNECT,
    PUBACK,
    Answers,
    FakeBroker,
    publish,
    publish_raw,
)

NUMBER = {"topic": "a/+", "user": "cottage", "sensor": "{1}", "format": "number"}


@pytest.fixture
def fake(tmp_path) -> Iterator[FakeBroker]:
    broker = FakeBroker(tmp_path)
    yield broker
    broker.close()


# Reconnects and storage retries within a fraction of a second.
QUICK = Timings(connect=2, reconnect_min=0.05, storage_retry_min=0.05, storage_retry_max=0.2)


@pytest.fixture
def start_ingest(tmp_path):
    running: list[RunningIngest] = []

    def start(settings: MqttSettings, store: Any) -> RunningIngest:
        running.append(RunningIngest(settings, store, timings=QUICK))
        return running[-1]

    yield start
    for ingest in running:
        ingest.stop()


class Writes:
    """The real store's writes, failing with each of `failures` first, then with
    StorageUnavailable while `down` is set, and waiting while `held` is set."""

    def __init__(self, store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.failures: list[Exception] = []
        self.down, self.held, self.released = threading.Event(), threading.Event(), \
            threading.Event()
        self.attempts = 0
        self._real = store.write_readings
        monkeypatch.setattr(store, "write_readings", self._write)

    def _write(self, *args: Any, **kwargs: Any) -> int:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        if self.down.is_set():
            raise StorageUnavailable("the test's storage outage")
        if self.held.is_set():
            self.released.wait(5)
        return self._real(*args, **kwargs)


@pytest.fixture
def writes(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> Writes:
    return Writes(store, monkeypatch)


@pytest.fixture
def state_file(tmp_path):
    return tmp_path / "mqtt-state.db"


def settings_for(fake: FakeBroker, *subscriptions: dict[str, Any]) -> MqttSettings:
    client_id = f"sensorbot-{uuid.uuid4().hex[:8]}"
    return MqttSettings(enabled=True, url=fake.url, username="sensorbot", password="test",
                        client_id=client_id, state_file=fake.folder / f"{client_id}.db",
                        subscriptions=[MqttSubscription(**s) for s in subscriptions])


def said(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


@pytest.mark.parametrize("short", [b"\x32\x00", b"\x30\x01\x00", publish("", b"1", 4)],
                         ids=["length0", "length1", "empty-topic"])
def test_it_reconnects_after_a_publish_too_short_for_its_topic(fake, store, start_ingest,
                                                                caplog, short):
    """As often in a row, right after connecting, as a taken-over client id would be dropped:
    still one line, and no word of a twin."""
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    ingest = start_ingest(settings_for(fake, NUMBER), store)
    for number in range(1, FLAPS_TOLD + 1):
        fake.connection(number).send(short)

    last = fake.connection(FLAPS_TOLD + 1)
    last.send(publish("a/x", b"21.5", packet_id=1))

    assert wait_for(lambda: stored(store)) == {"x": [21.5]}
    lines = said(caplog, "reconnecting with backoff")
    assert len(lines) == 1
    assert "it sent something MQTT does not allow" in lines[0]
    assert not said(caplog, "client_id")  # a protocol error is no sign of a twin
    assert ingest.error is None


@pytest.mark.parametrize(("topic", "session_present", "expected"), [
    ("a/y", False, {"x": [21.5], "y": [21.5]}),
    ("a/y", True, {"x": [21.5], "y": [21.5]}),  # the topic is part of what is remembered
    ("a/x", False, {"x": [21.5, 21.5]}),  # a new session: the ids start over
    ("a/x", True, {"x": [21.5]}),  # the same message again: stored already
], ids=["other-topic-new-session", "other-topic-same-session", "new-session", "resend"])
def test_it_recognises_a_resend_by_topic_id_and_payload_within_one_session(
        fake, store, start_ingest, topic, session_present, expected):
    start_ingest(settings_for(fake, NUMBER), store)
    first = fake.connection(1)
    first.send(publish("a/x", b"21.5", packet_id=1))
    wait_for(lambda: first.count(PUBACK, 1))
    assert stored(store) == {"x": [21.5]}

    fake.answers = Answers(session_present=session_present)
    first.drop()
    second = fake.connection(2)
    second.send(publish(topic, b"21.5", packet_id=1, dup=True))

    wait_for(lambda: second.count(PUBACK, 1))  # stored, or recognised as stored
    assert stored(store) == expected


def stored_once_when_resent(fake: FakeBroker, settings: MqttSettings, store: SQLiteStore,
                            packet_id: int, ingest: MqttIngest | None = None) -> None:
    """The subscriber runs (again); the broker, which kept the session, sends a:x 21.5 again:
    it is acknowledged, and stored once."""
    fake.answers = Answers(session_present=True)
    again = RunningIngest(settings, store, ingest=ingest, timings=QUICK)
    try:
        second = fake.connection(2)
        second.send(publish("a/x", b"21.5", packet_id=packet_id, dup=True))
        wait_for(lambda: second.count(PUBACK, packet_id))
        assert stored(store) == {"x": [21.5]}
    finally:
        again.stop()


def test_it_remembers_a_message_only_once_it_is_stored(fake, store, writes):
    settings = settings_for(fake, NUMBER)
    writes.failures.append(RuntimeError("a fault of ours"))
    ingest = MqttIngest(settings, store, timings=QUICK)
    first = RunningIngest(settings, store, ingest=ingest)
    fake.connection(1).send(publish("a/x", b"21.5", packet_id=1))
    wait_for(lambda: first.error is not None)
    assert isinstance(first.error, RuntimeError)

    stored_once_when_resent(fake, settings, store, 1, ingest)  # as runner.supervise does


def test_it_stores_a_message_resent_while_storage_was_down_once_and_acks_it_once(
        fake, store, writes, start_ingest):
    ingest = start_ingest(settings_for(fake, NUMBER), store)
    writes.down.set()
    first = fake.connection(1)
    first.send(publish("a/x", b"21.5", packet_id=5))
    wait_for(lambda: writes.attempts >= 1)

    fake.answers = Answers(session_present=True)
    first.drop()
    second = fake.connection(2)
    second.send(publish("a/x", b"21.5", packet_id=5, dup=True))
    wait_for(lambda: link_of(ingest).received == 2)  # the copy waits behind the first one
    writes.down.clear()

    wait_for(lambda: second.count(PUBACK, 5))
    ingest.stop()
    wait_for(second.closed.is_set)
    assert stored(store) == {"x": [21.5]}
    assert first.count(PUBACK, 5) == 0
    assert second.count(PUBACK, 5) == 1  # not once more for the copy of connection 1


TWO = (NUMBER, {"topic": "b/+", "user": "cottage", "sensor": "b{1}", "format": "number"})


def test_it_names_a_refused_filter_and_does_not_count_as_connected(fake, store,
                                                                    start_ingest, caplog):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    fake.answers = Answers(suback=[1, 0x80])
    ingest = start_ingest(settings_for(fake, *TWO), store)
    assert fake.connection(1).filters == ["a/+", "b/+"]

    lines = wait_for(lambda: [r for r in caplog.records if "refused the subscription" in
                              r.getMessage()])
    fake.connection(1).send(publish("a/x", b"1", packet_id=1))  # handled after the SUBACK
    wait_for(lambda: stored(store))
    assert lines[0].levelno == logging.ERROR
    assert "refused the subscription to 'b/+';" in lines[0].getMessage()
    assert not ingest.ingest.connected.is_set()


def test_it_warns_of_a_filter_granted_qos_0_only(fake, store, start_ingest, caplog):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    fake.answers = Answers(suback=[1, 0])
    ingest = start_ingest(settings_for(fake, *TWO), store)
    fake.connection(1)

    wait_for(lambda: ingest.ingest.connected.is_set())
    lines = [r for r in caplog.records if "at QoS 0 only" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.WARNING]
    assert "grants 'b/+' at QoS 0 only" in lines[0].getMessage()
    assert not said(caplog, "refused")


def test_it_says_goodbye_after_its_last_acks_when_stopped(fake, store, writes):
    ingest = RunningIngest(settings_for(fake, NUMBER), store, timings=QUICK)
    writes.held.set()
    connection = fake.connection(1)
    connection.send(publish("a/x", b"21.5", packet_id=3))
    wait_for(lambda: writes.attempts >= 1)  # the write is under way

    def release_once_stopping() -> None:
        wait_for(ingest._stop.is_set)
        writes.released.set()

    threading.Thread(target=release_once_stopping, daemon=True).start()
    ingest.stop()

    wait_for(connection.closed.is_set)
    assert connection.from_client[-2:] == [(PUBACK, 3), (DISCONNECT, None)]
    assert stored(store) == {"x": [21.5]}


def test_it_does_not_take_a_new_sessions_message_for_one_of_the_old_session_stored_late(
        fake, store, writes, start_ingest):
    """A message of the old session still waiting to be stored when the broker lost the
    session must not be remembered as the new session's: the new session's resend of a
    message with the same topic, id and payload (its ids start over at 1), whose first
    sending was lost with the connection, would be taken for it and never stored."""
    ingest = start_ingest(settings_for(fake, NUMBER), store)
    writes.held.set()
    first = fake.connection(1)
    first.send(publish("a/y", b"5", packet_id=7))
    wait_for(lambda: writes.attempts >= 1)  # its write is under way
    first.send(publish("a/x", b"21.5", packet_id=1))  # it waits behind that write
    wait_for(lambda: link_of(ingest).received == 2)

    fake.answers = Answers(session_present=False)  # the broker lost the session
    first.drop()
    second = fake.connection(2)  # what it sends is lost with the connection
    fake.answers = Answers(session_present=True)
    second.drop()
    third = fake.connection(3)
    third.send(publish("a/x", b"21.5", packet_id=1, dup=True))  # a new reading, resent
    wait_for(lambda: link_of(ingest).received == 3)
    writes.released.set()

    wait_for(lambda: third.count(PUBACK, 1))
    assert stored(store) == {"x": [21.5, 21.5], "y": [5]}


def test_a_cleared_retained_message_is_forgotten_so_the_same_value_retained_again_is_stored(
        fake, store, start_ingest, caplog):
    """A device retained 4.5, cleared it, and retained 4.5 again while the broker had lost
    sensorbot's session: what the new subscription brings is a new reading, not the old one
    sent again."""
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    start_ingest(settings_for(fake, NUMBER), store)
    first = fake.connection(1)
    first.send(publish("a/x", b"4.5", packet_id=1, retain=True))
    first.send(publish("a/x", b"", packet_id=2, retain=True))
    wait_for(lambda: first.count(PUBACK, 2))
    assert stored(store) == {"x": [4.5]}

    fake.answers = Answers(session_present=False)
    first.drop()
    second = fake.connection(2)
    second.send(publish("a/x", b"4.5", packet_id=1, retain=True))

    wait_for(lambda: second.count(PUBACK, 1))
    assert stored(store) == {"x": [4.5, 4.5]}
    assert not said(caplog, "skipped")


def test_it_skips_a_topic_that_is_not_utf8_once_and_acknowledges_it(fake, store, start_ingest,
                                                                    caplog):
    """Rather than dropping the connection, to be sent the same message again and again."""
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    start_ingest(settings_for(fake, {**NUMBER, "topic": "#"}), store)
    connection = fake.connection(1)
    connection.send(publish_raw(b"a/\xff\nforged", b"21.5", packet_id=4))
    connection.send(publish("a/x", b"3.5", packet_id=5))

    wait_for(lambda: connection.count(PUBACK, 5))
    assert connection.count(PUBACK, 4) == 1
    assert stored(store) == {"x": [3.5]}
    [line] = said(caplog, "skipped an MQTT message")
    assert "b'a/\\xff\\nforged'" in line and "not UTF-8" in line
    assert not said(caplog, "reconnecting")


class CrashAfterWriting:
    """The real store's writes, after which the subscriber dies before it acknowledges: as a
    `kill -9` between storing and acknowledging."""

    def __init__(self, store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self._real = store.write_readings
        self.crashes = 1
        monkeypatch.setattr(store, "write_readings", self._write)

    def _write(self, *args: Any, **kwargs: Any) -> int:
        written = self._real(*args, **kwargs)
        if self.crashes:
            self.crashes -= 1
            raise SystemExit("killed")
        return written


def test_a_restarted_subscriber_stores_a_resent_message_once(fake, store, monkeypatch):
    settings = settings_for(fake, NUMBER)
    CrashAfterWriting(store, monkeypatch)
    first = RunningIngest(settings, store, timings=QUICK)
    fake.connection(1).send(publish("a/x", b"21.5", packet_id=9))
    wait_for(lambda: first.error is not None)  # stored, never acknowledged
    assert stored(store) == {"x": [21.5]}

    stored_once_when_resent(fake, settings, store, 9)  # a new process: nothing in memory


@pytest.mark.parametrize("topic", ["a/+", "a/#", "a/\0"], ids=["plus", "hash", "nul"])
def test_it_skips_a_topic_no_broker_may_send_once_and_acknowledges_it(fake, store, start_ingest,
                                                                      caplog, topic):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    start_ingest(settings_for(fake, {**NUMBER, "topic": "#"}), store)
    connection = fake.connection(1)
    connection.send(publish(topic, b"21.5", packet_id=4))
    connection.send(publish("a/x", b"3.5", packet_id=5))

    wait_for(lambda: connection.count(PUBACK, 5))
    assert connection.count(PUBACK, 4) == 1
    assert stored(store) == {"x": [3.5]}
    [line] = said(caplog, "skipped an MQTT message")
    assert "a broker must not send" in line
