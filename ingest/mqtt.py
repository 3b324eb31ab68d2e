"""MQTT ingest: subscribe (QoS 1, persistent session), store, and only then acknowledge.

The connection is our own asyncio code over `ingest.mqtt_wire` (whose docstring says why not
paho-mqtt or aiomqtt): whole TCP reads are parsed at once, messages are stored in batches, and
their PUBACKs go out together once the batch is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from core.clock import wall_clock_ms
from core.config import ConfigError, MqttSettings, MqttSubscription
from ingest import mqtt_wire as wire
from ingest.payloads import BadPayload, DeviceReading, readings_from_message
from ingest.units import FirstSight
from ingest.validation import Window
from storage.base import Store
from storage.errors import InvalidRecord, StorageError

log = logging.getLogger("sensorbot.mqtt")

MAX_BATCH = 2000  # messages stored in one write (per user)
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 60
CONNECT_TIMEOUT_S = 10
KEEPALIVE_S = 30  # a PINGREQ every half of it; silence for 1.5 times it is a lost broker
READ_SIZE = 1 << 18
STORAGE_RETRY_MIN_S, STORAGE_RETRY_MAX_S = 1.0, 60.0
BAD_PAYLOAD_LINES_PER_MINUTE = 10
RECENT_MESSAGES = 4096  # remembered to recognise the broker's redelivery of a stored message
INBOX_LIMIT = 100_000  # messages waiting to be stored before reading from the broker pauses


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


class Arrival(NamedTuple):
    """Messages that came in one read on one connection (a PUBACK is valid on its own only)."""

    connection: int
    arrived_ms: int
    messages: list[wire.Publish]


Batch = list[Arrival]


def count(batch: Batch) -> int:
    return sum(len(arrival.messages) for arrival in batch)


class Refused(Exception):
    """The broker answered CONNECT with a refusal; the message says why."""


class BrokerLink:
    """One connection at a time: connect, subscribe, read, keep alive; after a loss, connect
    again with backoff, logging once per outage rather than once per attempt."""

    def __init__(self, settings: MqttSettings, inbox: Inbox, clock_ms: Callable[[], int],
                 subscribed: threading.Event) -> None:
        self._settings = settings
        self._inbox = inbox
        self._clock_ms = clock_ms
        self.subscribed = subscribed  # set while connected with the subscriptions made
        self.where = f"{settings.host}:{settings.port}"
        self.connection = 0  # counts successful connects: an ack is valid on its own only
        self._writer: asyncio.StreamWriter | None = None
        self._down_since: int | None = None
        self._closing = False
        self._tls = ssl.create_default_context(cafile=settings.ca_file or None) \
            if settings.tls else None

    async def run(self) -> None:
        """Until cancelled."""
        delay = RECONNECT_MIN_S
        while True:
            connections = self.connection
            try:
                await self._session()
            except Refused as exc:
                self._outage(str(exc))
            except wire.ProtocolError as exc:
                self._outage(f"it sent {exc}")
            except (OSError, EOFError) as exc:
                self._outage(f"lost the connection ({exc or type(exc).__name__})"
                             if self.connection else f"cannot connect ({exc})")
            except TimeoutError:
                self._outage("no answer in time")
            if self.connection != connections:  # it had connected: start the backoff again
                delay = RECONNECT_MIN_S
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def close(self) -> None:
        """Say goodbye after the acks already written; the broker keeps the session."""
        self._closing = True
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                writer.write(wire.GOODBYE)
                await asyncio.wait_for(writer.drain(), 5)
            writer.close()

    def ack(self, batch: Batch) -> None:
        """Acknowledge stored messages that arrived on the current connection; the broker
        redelivers the others, and they are recognised as already stored."""
        writer, current = self._writer, self.connection
        if writer is None:
            return
        ids = [m.packet_id for arrival in batch if arrival.connection == current
               for m in arrival.messages if m.qos]
        if ids:
            writer.write(wire.pubacks(ids))

    async def _session(self) -> None:
        """One connection, from CONNECT until it is lost (an exception says how)."""
        settings = self._settings
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            settings.host, settings.port, ssl=self._tls, limit=READ_SIZE), CONNECT_TIMEOUT_S)
        pinger: asyncio.Task[None] | None = None
        try:
            writer.write(wire.connect(settings.client_id, KEEPALIVE_S, settings.username,
                                      settings.password))
            decoder = wire.Decoder()
            packets: list[wire.Packet] = []
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                while not packets:
                    packets = decoder.feed(await self._read(reader))
            if not isinstance(packets[0], wire.Connack):
                raise wire.ProtocolError("something other than CONNACK first")
            if packets[0].code:
                raise Refused(f"the broker refused the connection: "
                              f"{wire.REFUSALS.get(packets[0].code, packets[0].code)}; check "
                              "[mqtt] username, password and client_id")
            self._connected(packets[0].session_present, writer)
            pinger = asyncio.create_task(self._ping(writer))
            self._handle(packets[1:])
            while True:
                await self._inbox.room()
                async with asyncio.timeout(KEEPALIVE_S * 1.5):
                    data = await self._read(reader)
                self._handle(decoder.feed(data))
        finally:
            if pinger is not None:
                pinger.cancel()
            self._writer = None
            self.subscribed.clear()
            writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> bytes:
        data = await reader.read(READ_SIZE)
        if not data:
            raise EOFError("the broker closed it")
        return data

    def _connected(self, session_present: bool, writer: asyncio.StreamWriter) -> None:
        self.connection += 1
        self._writer = writer
        topics = sorted({s.topic for s in self._settings.subscriptions})
        writer.write(wire.subscribe(1, topics))
        if self._down_since is None and self.connection == 1:
            log.info("connected to the MQTT broker at %s as %r; subscribed to %s", self.where,
                     self._settings.client_id, ", ".join(topics))
        elif self._down_since is not None:
            seconds = (self._clock_ms() - self._down_since) / 1000
            log.info("the MQTT broker at %s is back after %.0f s (session kept: %s)",
                     self.where, seconds, session_present)
        self._down_since = None

    def _handle(self, packets: list[wire.Packet]) -> None:
        if not packets:
            return
        messages = [p for p in packets if type(p) is wire.Publish]
        if messages:
            self._inbox.put(Arrival(self.connection, self._clock_ms(), messages))
        if len(messages) == len(packets):
            return
        for packet in packets:
            if isinstance(packet, wire.Suback):
                if wire.SUBACK_FAILURE in packet.codes:
                    log.error("the MQTT broker at %s refused a subscription; check its ACL",
                              self.where)
                self.subscribed.set()

    @staticmethod
    async def _ping(writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S / 2)
            writer.write(wire.PING)

    def _outage(self, reason: str) -> None:
        if self._down_since is None and not self._closing:  # once per outage, not per try
            self._down_since = self._clock_ms()
            log.warning("MQTT broker at %s: %s; reconnecting with backoff (%d s up to %d s)",
                        self.where, reason, RECONNECT_MIN_S, RECONNECT_MAX_S)


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


Prepared = dict[str, list[DeviceReading]]  # user → readings
Key = tuple[int, bytes | None]  # a message's packet id and payload


class MqttIngest:
    """The subscriber: `run` until `stop` is set, on an event loop of its own thread
    (`sensorbot.runner.start_mqtt`): it parses and stores on that loop, one batch at a time,
    which is the fastest way under the GIL (worker threads cost 8 % in benchmarks/mqtt.py),
    and a write that blocks it holds up nothing but the broker's next messages."""

    def __init__(self, settings: MqttSettings, store: Store, *,
                 clock_ms: Callable[[], int] = wall_clock_ms) -> None:
        self._settings = settings
        self._store = store
        self._clock_ms = clock_ms
        self._units = FirstSight(store)
        self._bad = BadPayloadLog(clock_ms)
        self._routes: dict[str, list[MqttSubscription]] = {}
        self._recent: deque[list[Key]] = deque()  # per batch, oldest first
        self._recent_count = 0
        self._recent_keys: set[Key] = set()
        self._last_arrival: dict[tuple[str, str], int] = {}
        self.stored_messages = 0
        self.connected = threading.Event()  # connected and subscribed, for tests and health

    async def run(self, stop: asyncio.Event) -> None:
        inbox = Inbox()
        link = BrokerLink(self._settings, inbox, self._clock_ms, self.connected)
        connection = asyncio.create_task(link.run())
        try:
            while not stop.is_set():
                batch = await inbox.take(stop, MAX_BATCH)
                if batch and not await self._store_and_ack(batch, link, stop):
                    return  # stopped while storage was failing: the broker keeps the rest
            self._store_what_arrived(inbox, link)
        finally:
            await link.close()
            connection.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connection

    async def _store_and_ack(self, batch: Batch, link: BrokerLink, stop: asyncio.Event
                             ) -> bool:
        """Store, retrying with backoff while storage fails, then acknowledge; False if
        stopped first."""
        prepared = self._prepare(batch)
        delay, failing_since = STORAGE_RETRY_MIN_S, None
        while True:
            try:
                self._write(prepared)
            except InvalidRecord as exc:  # permanent: retrying would block every later message
                log.error("storage refused %d MQTT message(s), skipped: %s", count(batch),
                          exc)
            except StorageError as exc:
                if failing_since is None:
                    failing_since = self._clock_ms()
                    log.warning("storage failed (%s); %d MQTT message(s) wait unacknowledged, "
                                "retrying with backoff", exc, count(batch))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return False
                delay = min(delay * 2, STORAGE_RETRY_MAX_S)
                continue
            if failing_since is not None:
                log.info("storage is back after %.0f s; the waiting MQTT messages are stored",
                         (self._clock_ms() - failing_since) / 1000)
            link.ack(batch)
            self.stored_messages += count(batch)
            return True

    def _store_what_arrived(self, inbox: Inbox, link: BrokerLink) -> None:
        """On the way out, one attempt at what is already here: brokers that drop unacked
        messages (amqtt) lose less."""
        rest = inbox.drain(None)
        if not rest:
            return
        prepared = self._prepare(rest)
        try:
            self._write(prepared)
        except StorageError as exc:
            log.warning("%d MQTT message(s) left unacknowledged at stop (%s); the broker keeps "
                        "them", count(rest), exc)
            return
        link.ack(rest)

    # -- the work itself, blocking the subscriber's own loop -------------------------------

    def _prepare(self, batch: Batch) -> Prepared:
        """Readings per user; malformed messages logged and left out."""
        window = Window(self._clock_ms(), self._store.retention_ms)
        prepared: Prepared = {}
        recent, routes, stamped = self._recent_keys, self._routes, []
        for arrival in batch:
            arrived_ms = arrival.arrived_ms
            for message in arrival.messages:
                if message.dup and (message.packet_id, message.payload) in recent:
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
                        stamped.append((message.packet_id, message.payload))
                    readings = prepared.get(subscription.user)
                    if readings is None:
                        prepared[subscription.user] = found
                    else:
                        readings.extend(found)
        # Stored twice, these would be two readings (a message that carries its own time is
        # the same reading again). Remembered now: it is stored, or this process stops first.
        self._remember(stamped)
        return prepared

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

    def _write(self, prepared: Prepared) -> None:
        now = self._clock_ms()
        for user_id, found in prepared.items():
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

    def _remember(self, keys: list[Key]) -> None:
        if not keys:
            return
        self._recent.append(keys)
        self._recent_keys.update(keys)
        self._recent_count += len(keys)
        while self._recent_count - len(self._recent[0]) >= RECENT_MESSAGES:
            oldest = self._recent.popleft()
            self._recent_count -= len(oldest)
            self._recent_keys.difference_update(oldest)


class Inbox:
    """Messages waiting to be stored, taken in batches."""

    def __init__(self) -> None:
        self._arrivals: deque[Arrival] = deque()
        self._count = 0
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def put(self, arrival: Arrival) -> None:
        self._arrivals.append(arrival)
        self._count += len(arrival.messages)
        self._ready.set()
        if self._count >= INBOX_LIMIT:
            self._room.clear()

    async def room(self) -> None:
        """Until fewer than INBOX_LIMIT messages wait (storage is slow or down)."""
        await self._room.wait()

    async def take(self, stop: asyncio.Event, limit: int) -> Batch:
        """Wait for messages (or stop), then take up to `limit` of them."""
        while not self._arrivals and not stop.is_set():
            ready = asyncio.ensure_future(self._ready.wait())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            stopped.cancel()
            self._ready.clear()
        return self.drain(limit)

    def drain(self, limit: int | None) -> Batch:
        taken: Batch = []
        wanted = self._count if limit is None else min(limit, self._count)
        while wanted > 0:
            arrival = self._arrivals.popleft()
            if len(arrival.messages) > wanted:  # split it: the rest stays first in line
                self._arrivals.appendleft(arrival._replace(messages=arrival.messages[wanted:]))
                arrival = arrival._replace(messages=arrival.messages[:wanted])
            taken.append(arrival)
            wanted -= len(arrival.messages)
            self._count -= len(arrival.messages)
        if self._count < INBOX_LIMIT:
            self._room.set()
        return taken
