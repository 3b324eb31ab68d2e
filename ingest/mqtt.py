"""MQTT ingest: subscribe (QoS 1, persistent session), store, and only then acknowledge.

The connection and the inbox are in `ingest.mqtt_link`; here messages become readings, are
stored in batches, and are acknowledged once stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable

from core.clock import wall_clock_ms
from core.config import ConfigError, MqttSettings, MqttSubscription
from ingest import mqtt_wire as wire
from ingest.mqtt_link import Batch, BrokerLink, Inbox, message_count
from ingest.payloads import BadPayload, DeviceReading, readings_from_message
from ingest.units import FirstSight
from ingest.validation import Window
from storage.base import Store
from storage.errors import InvalidRecord, StorageError

log = logging.getLogger("sensorbot.mqtt")

MAX_BATCH = 5000  # messages stored in one write (per user)
STORAGE_RETRY_MIN_S, STORAGE_RETRY_MAX_S = 1.0, 60.0
BAD_PAYLOAD_LINES_PER_MINUTE = 10
RECENT_MESSAGES = 4096  # remembered to recognise the broker's resending of a stored message


def check_subscriptions(settings: MqttSettings, store: Store) -> None:
    """A subscription naming a user that does not exist is a configuration error."""
    for number, subscription in enumerate(settings.subscriptions, start=1):
        if store.get_user(subscription.user) is None:
            raise ConfigError(
                f"Configuration error: [[mqtt.subscriptions]] number {number} (topic "
                f"{subscription.topic!r}) names user {subscription.user!r}, who does not exist. "
                f"Create the user with `sensorbot users add NAME --id {subscription.user}`, or "
                "name an existing one (`sensorbot users list`)."
            )


class BadPayloadLog:
    """One short line per skipped message, at most BAD_PAYLOAD_LINES_PER_MINUTE a minute."""

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self._clock_ms = clock_ms
        self._window_start = -60_000
        self._lines = 0
        self._suppressed = 0

    def report(self, topic: str, problem: BadPayload) -> None:
        now = self._clock_ms()
        if now - self._window_start >= 60_000:
            if self._suppressed:
                log.warning("%d more MQTT messages skipped as malformed in the last minute",
                            self._suppressed)
            self._window_start, self._lines, self._suppressed = now, 0, 0
        if self._lines < BAD_PAYLOAD_LINES_PER_MINUTE:
            self._lines += 1
            log.warning("skipped an MQTT message on %s: %s", topic, str(problem)[:200])
        else:
            self._suppressed += 1


ReadingsByUser = dict[str, list[DeviceReading]]
MessageKey = tuple[str, int, bytes | None]  # topic, packet id, payload: what a resend repeats


class MqttIngest:
    """The subscriber: `run` until `stop` is set, on an event loop of its own thread
    (`sensorbot.runner.start_mqtt`). It parses on that loop and writes on a worker thread,
    one batch at a time; the loop meanwhile only keeps the connection alive."""

    def __init__(self, settings: MqttSettings, store: Store, *,
                 clock_ms: Callable[[], int] = wall_clock_ms) -> None:
        self._settings = settings
        self._store = store
        self._clock_ms = clock_ms
        self._units = FirstSight(store)
        self._bad = BadPayloadLog(clock_ms)
        self._routes: dict[str, list[MqttSubscription]] = {}
        self._recent: deque[list[MessageKey]] = deque()  # per batch, oldest first
        self._recent_count = 0
        self._recent_keys: set[MessageKey] = set()
        self._last_arrival: dict[tuple[str, str], int] = {}
        self._inbox: Inbox | None = None
        self.stored_messages = 0
        self.connected = threading.Event()  # connected and subscribed, for tests and health

    async def run(self, stop: asyncio.Event) -> None:
        inbox = self._inbox = Inbox()
        link = BrokerLink(self._settings, inbox, self._clock_ms, self.connected,
                          self._on_connect)
        connection = asyncio.create_task(link.run())
        try:
            while not stop.is_set():
                batch = await inbox.take(stop, MAX_BATCH)
                if batch and not await self._store_and_ack(batch, link, stop):
                    return  # stopped while storage was failing: the broker keeps the rest
            await self._store_one_more(inbox, link)
        finally:
            await link.close()
            connection.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connection

    def _on_connect(self, connection: int, session_present: bool) -> None:
        if session_present:  # what it has no ack for, it sends again [MQTT-4.4.0-1]
            assert self._inbox is not None
            self._inbox.forget_resent(connection)
        else:  # a new session: nothing of the old one comes again, and its ids start over
            self._recent.clear()
            self._recent_keys.clear()
            self._recent_count = 0

    async def _store_and_ack(self, batch: Batch, link: BrokerLink, stop: asyncio.Event
                             ) -> bool:
        """Store, retrying with backoff while storage fails, then acknowledge; False if
        stopped first."""
        readings, stamped = self._prepare(batch)
        delay, failing_since = STORAGE_RETRY_MIN_S, None
        while True:
            try:
                await self._write(readings)
            except StorageError as exc:
                if failing_since is None:
                    failing_since = self._clock_ms()
                    log.warning("storage failed (%s); %d MQTT message(s) wait unacknowledged, "
                                "retrying with backoff", exc, message_count(batch))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return False
                delay = min(delay * 2, STORAGE_RETRY_MAX_S)
                continue
            if failing_since is not None:
                log.info("storage is back after %.0f s; the waiting MQTT messages are stored",
                         (self._clock_ms() - failing_since) / 1000)
            self._remember(stamped)
            link.ack(batch)
            self.stored_messages += message_count(batch)
            return True

    async def _store_one_more(self, inbox: Inbox, link: BrokerLink) -> None:
        """On the way out, one attempt at one more batch of what is already here: brokers
        that drop unacknowledged messages (amqtt) lose less. The rest waits in the broker."""
        batch = inbox.drain(MAX_BATCH)
        if not batch:
            return
        readings, stamped = self._prepare(batch)
        try:
            await self._write(readings)
        except StorageError as exc:
            log.warning("%d MQTT message(s) left unacknowledged at stop (%s); the broker keeps "
                        "them", message_count(batch), exc)
            return
        self._remember(stamped)
        link.ack(batch)

    def _prepare(self, batch: Batch) -> tuple[ReadingsByUser, set[MessageKey]]:
        """Readings per user, malformed messages logged and left out; and the keys of the
        messages stamped on arrival, which would be stored twice if the broker resent one."""
        window = Window(self._clock_ms(), self._store.retention_ms)
        readings: ReadingsByUser = {}
        recent, routes = self._recent_keys, self._routes
        stamped: set[MessageKey] = set()
        for arrival in batch:
            arrived_ms = arrival.arrived_ms
            for message in arrival.messages:
                if message.dup:
                    key = (message.topic, message.packet_id, message.payload)
                    if key in recent or key in stamped:
                        continue  # stored already; the broker did not get the ack
                subscriptions = routes.get(message.topic)
                if subscriptions is None:
                    subscriptions = self._subscriptions_of(message.topic)
                for subscription in subscriptions:
                    found = self._read(subscription, message, arrived_ms, window)
                    if not found:
                        continue
                    if found[0].reading.timestamp == arrived_ms:  # the message has no time
                        found = self._distinct(subscription.user, found, arrived_ms)
                        stamped.add((message.topic, message.packet_id, message.payload))
                    kept = readings.get(subscription.user)
                    if kept is None:
                        readings[subscription.user] = found
                    else:
                        kept.extend(found)
        return readings, stamped

    def _read(self, subscription: MqttSubscription, message: wire.Publish, arrived_ms: int,
              window: Window) -> list[DeviceReading]:
        """The message's readings, or none (logged) when it is not what the format expects."""
        if message.payload is None:
            self._bad.report(message.topic, BadPayload(
                f"larger than {wire.MAX_PACKET // 1024} KiB"))
            return []
        try:
            return readings_from_message(subscription, message.topic, message.payload,
                                         arrived_ms, window)
        except BadPayload as problem:
            self._bad.report(message.topic, problem)
        except Exception as error:  # a message must never stop the subscriber
            log.exception("an MQTT message on %r could not be read; skipped", message.topic)
            self._bad.report(message.topic, BadPayload(type(error).__name__))
        return []

    def _distinct(self, user_id: str, found: list[DeviceReading], arrived_ms: int
                  ) -> list[DeviceReading]:
        """Readings stamped on arrival get strictly increasing times per sensor: messages
        queued while sensorbot was down arrive within one millisecond, and a sensor and time
        are stored once."""
        kept = []
        for item in found:
            reading = item.reading
            key = (user_id, reading.sensor)
            stamp = max(arrived_ms, self._last_arrival.get(key, 0) + 1)
            self._last_arrival[key] = stamp
            kept.append(DeviceReading(reading._replace(timestamp=stamp), item.unit)
                        if stamp != arrived_ms else item)
        return kept

    async def _write(self, readings: ReadingsByUser) -> None:
        """On a worker thread, with reading from the broker paused meanwhile: a write that
        takes long (DynamoDB throttling) must not hold up the keep-alive pings."""
        assert self._inbox is not None
        with self._inbox.writing():
            await asyncio.to_thread(self._write_now, readings)

    def _write_now(self, readings: ReadingsByUser) -> None:
        now = self._clock_ms()
        for user_id, found in readings.items():
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
                        if wire.topic_matches(s.topic, topic)]
            self._routes[topic] = matching
        return matching

    def _remember(self, stamped: set[MessageKey]) -> None:
        if not stamped:
            return
        keys = list(stamped)
        self._recent.append(keys)
        self._recent_keys.update(keys)
        self._recent_count += len(keys)
        while self._recent_count - len(self._recent[0]) >= RECENT_MESSAGES:
            oldest = self._recent.popleft()
            self._recent_count -= len(oldest)
            self._recent_keys.difference_update(oldest)
