"""MQTT ingest: subscribe (QoS 1, persistent session), store, and only then acknowledge.

The connection and the inbox are in `ingest.mqtt.link`; here messages become readings, are
stored in batches, and are acknowledged once stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import threading
from collections.abc import Callable

from core.clock import wall_clock_ms
from core.config import ConfigError, MqttSettings, MqttSubscription
from ingest.mqtt import wire
from ingest.mqtt.link import Batch, BrokerLink, Inbox, message_count
from ingest.payloads import BadPayload, DeviceReading, readings_from_message
from ingest.units import FirstSight
from ingest.validation import Window
from storage.base import Store
from storage.errors import InvalidRecord, StorageError

log = logging.getLogger("sensorbot.mqtt")

MAX_BATCH = 5000  # messages stored in one write (per user)
STORAGE_RETRY_MIN_S, STORAGE_RETRY_MAX_S = 1.0, 60.0
BAD_PAYLOAD_LINES_PER_MINUTE = 10
RECENT_MESSAGES = 4096  # acknowledged messages remembered, should the broker resend one
WITHHELD_MESSAGES = 100_000  # and those stored after their connection was lost


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
        self._resends = ResendMemory()
        self._last_arrival: dict[tuple[str, str], int] = {}
        self._inbox: Inbox | None = None
        self.stored_messages = 0
        self.connected = threading.Event()  # connected and subscribed, for tests and health

    async def run(self, stop: asyncio.Event) -> None:
        inbox = self._inbox = Inbox()
        self._resends.new_run()
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
        if not session_present:
            self._resends.new_session(connection)

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
            self._resends.stored(stamped, link.connection)
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
        self._resends.stored(stamped, link.connection)
        link.ack(batch)

    def _prepare(self, batch: Batch) -> tuple[ReadingsByUser, dict[MessageKey, int]]:
        """Readings per user, malformed messages logged and left out; and the messages
        stamped on arrival (with their connection), which would be stored twice if the broker
        resent one."""
        window = Window(self._clock_ms(), self._store.retention_ms)
        readings: ReadingsByUser = {}
        resends, routes = self._resends, self._routes
        stamped: dict[MessageKey, int] = {}
        for arrival in batch:
            arrived_ms = arrival.arrived_ms
            for message in arrival.messages:
                if message.dup:
                    key = (message.topic, message.packet_id, message.payload)
                    if key in stamped or resends.recognise(key):
                        continue  # stored already; the broker did not get the ack
                subscriptions = routes.get(message.topic)
                if subscriptions is None:
                    subscriptions = self._subscriptions_of(message.topic)
                for subscription in subscriptions:
                    found = self._readings_of(subscription, message, arrived_ms, window)
                    if not found:
                        continue
                    if found[0].reading.timestamp == arrived_ms:  # the message has no time
                        found = self._distinct(subscription.user, found, arrived_ms)
                        stamped[(message.topic, message.packet_id, message.payload)] = \
                            arrival.connection
                    kept = readings.get(subscription.user)
                    if kept is None:
                        readings[subscription.user] = found
                    else:
                        kept.extend(found)
        return readings, stamped

    def _readings_of(self, subscription: MqttSubscription, message: wire.Publish, arrived_ms: int,
              window: Window) -> list[DeviceReading]:
        """The message's readings, or none (logged) when it is not what the format expects."""
        if message.payload is None:
            limit = wire.MAX_PACKET
            self._bad.report(message.topic, BadPayload(
                f"larger than {limit >> 20} MiB" if limit % (1 << 20) == 0 else
                f"larger than {limit >> 10} KiB"))
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


class ResendMemory:
    """Stored messages the broker may send again, to recognise them when it does.

    Only messages stamped on arrival need it: one that carries its own time is the same reading
    again. One stored after its connection was lost had its ack withheld, and a broker that
    kept the session resends it for certain [MQTT-4.4.0-1]: it is kept until then (at most
    WITHHELD_MESSAGES). One acknowledged may come again if the ack was lost with the
    connection: the last RECENT_MESSAGES are kept. A new session forgets everything: nothing
    of the old one is resent, and its packet ids start over."""

    def __init__(self) -> None:
        self._recent: dict[MessageKey, None] = {}  # oldest first
        self._withheld: dict[MessageKey, None] = {}
        self._session_began = 1  # the connection that began the current session

    def new_run(self) -> None:
        """A new connection counter starts with a new BrokerLink."""
        self._session_began = 1

    def new_session(self, connection: int) -> None:
        self._recent.clear()
        self._withheld.clear()
        self._session_began = connection

    def recognise(self, key: MessageKey) -> bool:
        """Whether a message with DUP set was stored already."""
        if key in self._withheld:  # here it is: from now on like any acknowledged one
            del self._withheld[key]
            self._keep(self._recent, key, RECENT_MESSAGES)
            return True
        return key in self._recent

    def stored(self, stamped: dict[MessageKey, int], current: int) -> None:
        """`stamped` messages (with the connection each came on) are stored; `current` is
        the connection now."""
        for key, connection in stamped.items():
            if connection < self._session_began:
                continue  # a session the broker no longer has
            if connection < current:
                self._keep(self._withheld, key, WITHHELD_MESSAGES)
            else:
                self._keep(self._recent, key, RECENT_MESSAGES)

    @staticmethod
    def _keep(keys: dict[MessageKey, None], key: MessageKey, most: int) -> None:
        keys[key] = None
        if len(keys) > most:
            del keys[next(iter(keys))]
