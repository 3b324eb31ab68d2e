"""MQTT ingest: subscribe (QoS 1, persistent session), store, and only then acknowledge.

The protocol is paho-mqtt 2's (`ingest.mqtt.link`), with manual acknowledgements: a message
is acknowledged once its readings are stored. What is ours is the domain around it: messages
wait in an inbox (`ingest.mqtt.inbox`) and are stored in batches on a worker thread; a
message without a time of its own is stamped on arrival, never in the future and never on a
stored reading's time; what a restart must not forget is kept in a file
(`ingest.mqtt.memory`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from paho.mqtt.client import topic_matches_sub

from core.clock import wall_clock_ms
from core.config import ConfigError, MqttSettings, MqttSubscription
from ingest.mqtt.inbox import Delivery, Inbox
from ingest.mqtt.link import MAX_PAYLOAD, BrokerLink, Timings
from ingest.mqtt.memory import DeliveryMemory, digest
from ingest.payloads import BadPayload, DeviceReading, readings_from_message
from ingest.units import FirstSight
from ingest.validation import Window
from storage.base import Store
from storage.errors import InvalidRecord, StorageError

log = logging.getLogger("sensorbot.mqtt")

MAX_BATCH = 2000  # messages stored in one write (per user)
MAX_READINGS_PER_MESSAGE = 1000  # as many as one request to the HTTP API
BAD_PAYLOAD_LINES_PER_MINUTE = 10
SENSORS_KEPT = 100_000  # last arrival times remembered; past it, asked of storage again


def check_subscriptions(settings: MqttSettings, store: Store) -> None:
    """A subscription naming a user that does not exist is a configuration error."""
    for number, subscription in enumerate(settings.subscriptions, start=1):
        if store.get_user(subscription.user) is None:
            user = shlex.quote(subscription.user)
            raise ConfigError(
                f"Configuration error: [[mqtt.subscriptions]] number {number} (topic "
                f"{subscription.topic!r}) names user {subscription.user!r}, who does not exist. "
                "Create the user with `sensorbot users add "
                f"{user} --id {user}`, or name an existing one (`sensorbot users list`)."
            )


def check_state_file(settings: MqttSettings) -> None:
    """The subscriber's memory must open at start, not fail at every attempt to run."""
    try:
        DeliveryMemory(settings.state_file, "").close()
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            f"Configuration error: [mqtt] state_file {str(settings.state_file)!r} cannot be "
            f"opened ({exc}). Give a file in a folder sensorbot may write to, relative to the "
            "config file's folder or absolute.") from None


class BadPayloadLog:
    """One short line per skipped message, at most BAD_PAYLOAD_LINES_PER_MINUTE a minute."""

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self._clock_ms = clock_ms
        self._window_start = -60_000
        self._lines = 0
        self._suppressed = 0

    def report(self, topic: str | bytes, problem: str) -> None:
        now = self._clock_ms()
        if now - self._window_start >= 60_000:
            if self._suppressed:
                log.warning("%d more MQTT messages skipped as malformed in the last minute",
                            self._suppressed)
            self._window_start, self._lines, self._suppressed = now, 0, 0
        if self._lines < BAD_PAYLOAD_LINES_PER_MINUTE:
            self._lines += 1
            # %r: a topic may hold a newline, which must not start a line of its own
            log.warning("skipped an MQTT message on %r: %s", topic, problem[:200])
        else:
            self._suppressed += 1


SensorKey = tuple[str, str]  # user, sensor


class ArrivalStamps:
    """The time of a message that carries none: its arrival, or one millisecond after the
    last time given to any of its sensors, or stored for it (read from storage once per
    sensor and run), whichever is later. A backlog drained faster than one message a
    millisecond per sensor therefore runs ahead of the clock; the writer waits for the clock
    to catch up, so no time is in the future and no stored reading is replaced."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._last: dict[SensorKey, int] = {}

    def next(self, sensors: Iterable[SensorKey], arrived_ms: int, now_ms: int) -> int:
        keys = list(sensors)
        last = max((self._last_of(key, now_ms) for key in keys), default=-1)
        stamp = max(arrived_ms, last + 1)
        if len(self._last) > SENSORS_KEPT:
            self._last.clear()
        for key in keys:
            self._last[key] = stamp
        return stamp

    def _last_of(self, key: SensorKey, now_ms: int) -> int:
        known = self._last.get(key)
        if known is None:
            stored = self._store.latest_reading(*key, now_ms=now_ms, before_ms=now_ms + 1)
            known = self._last[key] = -1 if stored is None else stored.timestamp
        return known


@dataclass
class Plan:
    """A batch made ready to write: readings per user, and the latest time given."""

    readings: dict[str, list[DeviceReading]] = field(default_factory=dict)
    latest_stamp: int = 0


class MqttIngest:
    """The subscriber: `run` until `stop` is set, on an event loop of its own thread
    (`sensorbot.runner.start_mqtt`); paho's network thread feeds the inbox, and batches are
    prepared and written on a worker thread."""

    def __init__(self, settings: MqttSettings, store: Store, *,
                 clock_ms: Callable[[], int] = wall_clock_ms,
                 timings: Timings | None = None) -> None:
        self._settings = settings
        self._store = store
        self._clock_ms = clock_ms
        self._timings = timings or Timings()
        self._units = FirstSight(store)
        self._bad = BadPayloadLog(clock_ms)
        self._stamps = ArrivalStamps(store)
        self._routes: dict[str, list[MqttSubscription]] = {}
        self._session_began = 1  # the connection that began the broker's current session
        self._new_session = False
        self.stored_messages = 0
        self.connected = threading.Event()  # connected and subscribed, for tests and health
        self.link: BrokerLink | None = None  # the connection of the current run, likewise

    async def run(self, stop: asyncio.Event) -> None:
        inbox = Inbox(asyncio.get_running_loop())
        settings = self._settings
        memory = DeliveryMemory(settings.state_file,
                                f"{settings.host}:{settings.port} {settings.client_id}")
        self._session_began, self._new_session = 1, False
        link = self.link = BrokerLink(settings, inbox.put, self._clock_ms, self.connected,
                                      self._on_session, self._timings)
        link.start()
        try:
            while not stop.is_set():
                batch = await inbox.take(stop, MAX_BATCH)
                if batch and not await self._store_and_ack(batch, link, memory, stop):
                    return  # stopped while storage was failing: the broker keeps the rest
            await self._store_one_more(inbox, link, memory)
        finally:
            inbox.close()
            await asyncio.to_thread(link.stop)
            memory.close()

    def _on_session(self, generation: int, session_present: bool) -> None:
        """On paho's thread, before the connection's first message."""
        if not session_present:
            self._session_began, self._new_session = generation, True

    async def _store_and_ack(self, batch: list[Delivery], link: BrokerLink,
                             memory: DeliveryMemory, stop: asyncio.Event) -> bool:
        """Store, retrying with backoff while storage fails, then acknowledge; False if
        stopped first."""
        plans: list[Plan] = []  # made once: a retry writes the same times

        def store() -> None:
            if not plans:
                plans.append(self._plan(batch, memory))
            self._write(plans[0])

        delay, failing_since = self._timings.storage_retry_min, None
        while True:
            try:
                await asyncio.to_thread(store)
            except StorageError as exc:
                if failing_since is None:
                    failing_since = self._clock_ms()
                    log.warning("storage failed (%s); %d MQTT message(s) wait unacknowledged, "
                                "retrying with backoff", exc, len(batch))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return False
                delay = min(delay * 2, self._timings.storage_retry_max)
                continue
            if failing_since is not None:
                log.info("storage is back after %.0f s; the waiting MQTT messages are stored",
                         (self._clock_ms() - failing_since) / 1000)
            link.ack(batch)
            self.stored_messages += len(batch)
            return True

    async def _store_one_more(self, inbox: Inbox, link: BrokerLink,
                              memory: DeliveryMemory) -> None:
        """On the way out, one attempt at one more batch of what is already here: brokers
        that drop unacknowledged messages (amqtt) lose less. The rest waits in the broker."""
        batch = inbox.drain(MAX_BATCH)
        if not batch:
            return
        try:
            await asyncio.to_thread(lambda: self._write(self._plan(batch, memory)))
        except StorageError as exc:
            log.warning("%d MQTT message(s) left unacknowledged at stop (%s); the broker keeps "
                        "them", len(batch), exc)
            return
        link.ack(batch)

    # -- on a worker thread ------------------------------------------------------------------

    def _plan(self, batch: list[Delivery], memory: DeliveryMemory) -> Plan:
        """The batch's readings per user, each message stamped on arrival given its time
        (a resend the time it had), with those times and the topics' last payloads
        remembered before anything is written."""
        if self._new_session:
            self._new_session = False
            memory.forget_session()
        now = self._clock_ms()
        window = Window(now, self._store.retention_ms)
        resent = memory.stamps(d.packet_id for d in batch if d.dup and d.qos)
        last_payloads = memory.last_payloads(d.topic for d in batch if d.retained and d.topic)
        stamps: dict[int, tuple[bytes, int]] = {}
        payloads: dict[str, bytes | None] = {}
        plan = Plan()
        for delivery in batch:
            topic = delivery.topic
            if topic is None:
                self._bad.report(delivery.raw_topic, "its topic is not UTF-8")
                continue
            if not topic or "+" in topic or "#" in topic or "\0" in topic:
                self._bad.report(topic, "a broker must not send a topic that is empty or holds "
                                        "+, # or U+0000")
                continue
            if delivery.payload is None:
                self._bad.report(topic, f"larger than {MAX_PAYLOAD >> 20} MiB")
                continue
            if not delivery.payload:  # a retained message cleared: nothing to store
                payloads[topic] = None
                continue
            key = digest(delivery.raw_topic, delivery.payload)
            if delivery.retained and payloads.get(topic, last_payloads.get(topic)) == key:
                continue  # sent again on subscribing: stored already, or stale
            found = self._readings_of(delivery, window)
            if not found:
                continue
            payloads[topic] = key
            stamp = self._stamp(delivery, key, found, now, resent, stamps)
            if stamp is None:
                continue  # its copy is in this batch already
            for user, item in found:
                if stamp != delivery.arrived_ms and item.reading.timestamp == \
                        delivery.arrived_ms:
                    item = DeviceReading(item.reading._replace(timestamp=stamp), item.unit)
                plan.readings.setdefault(user, []).append(item)
            plan.latest_stamp = max(plan.latest_stamp, stamp)
        memory.remember(stamps, payloads)
        behind = plan.latest_stamp - self._clock_ms()
        if behind > 0:  # a backlog ran ahead of the clock: no reading is in the future
            time.sleep(behind / 1000)
        return plan

    def _stamp(self, delivery: Delivery, key: bytes, found: list[tuple[str, DeviceReading]],
               now: int, resent: dict[int, tuple[bytes, int]],
               stamps: dict[int, tuple[bytes, int]]) -> int | None:
        """The time for a message that carries none (a resend keeps the one it had; None if
        this batch holds it already); its arrival otherwise, which its readings carry."""
        arrived = delivery.arrived_ms
        if found[0][1].reading.timestamp != arrived:
            return arrived  # the message has a time of its own: the same reading again
        packet_id = delivery.packet_id
        if delivery.dup:
            earlier = stamps.get(packet_id) or resent.get(packet_id)
            if earlier is not None and earlier[0] == key:
                return None if packet_id in stamps else earlier[1]
        stamp = self._stamps.next(((user, item.reading.sensor) for user, item in found),
                                  arrived, now)
        if delivery.qos and delivery.generation >= self._session_began:
            stamps[packet_id] = (key, stamp)
        return stamp

    def _readings_of(self, delivery: Delivery, window: Window
                     ) -> list[tuple[str, DeviceReading]]:
        """The message's readings for each subscription it matches, or none (logged) when
        it is not what the format expects."""
        topic, payload = delivery.topic, delivery.payload
        assert topic is not None and payload is not None
        found: list[tuple[str, DeviceReading]] = []
        for subscription in self._subscriptions_of(topic):
            try:
                readings = readings_from_message(subscription, topic, payload,
                                                 delivery.arrived_ms, window)
            except BadPayload as problem:
                self._bad.report(topic, str(problem))
                return []
            except Exception as error:  # a message must never stop the subscriber
                log.exception("an MQTT message on %r could not be read; skipped", topic)
                self._bad.report(topic, type(error).__name__)
                return []
            if len(readings) > MAX_READINGS_PER_MESSAGE:
                self._bad.report(topic, f"it carries {len(readings):,} readings, more than "
                                        f"the {MAX_READINGS_PER_MESSAGE:,} a message may")
                return []
            found += [(subscription.user, reading) for reading in readings]
        return found

    def _write(self, plan: Plan) -> None:
        now = self._clock_ms()
        for user_id, found in plan.readings.items():
            try:
                self._store.write_readings(user_id, [d.reading for d in found], now_ms=now)
            except InvalidRecord as exc:  # permanent, and this user's only: the others go on
                log.error("storage refused %d MQTT reading(s) of %s, skipped: %s", len(found),
                          user_id, exc)
                continue
            self._units.note(user_id, found, now_ms=now)

    def _subscriptions_of(self, topic: str) -> list[MqttSubscription]:
        matching = self._routes.get(topic)
        if matching is None:
            if len(self._routes) > 10_000:  # topics with ids in them must not grow this forever
                self._routes.clear()
            matching = [s for s in self._settings.subscriptions
                        if topic_matches_sub(s.topic, topic)]
            self._routes[topic] = matching
        return matching
