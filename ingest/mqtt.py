"""MQTT ingest: subscribe (QoS 1, persistent session), store, and only then acknowledge.

The connection is our own asyncio code over `ingest.mqtt_wire` (whose docstring says why not
paho-mqtt or aiomqtt): whole TCP reads are parsed at once, messages are stored in batches off
the event loop, and their PUBACKs go out together once the batch is stored.
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


class Delivery(NamedTuple):
    """One message as the broker delivered it on one connection."""

    topic: str
    payload: bytes | None  # None: larger than mqtt_wire.MAX_PACKET, passed over unread
    mid: int
    qos: int
    dup: bool
    arrived_ms: int
    connection: int

    @property
    def key(self) -> int:
        return hash((self.topic, self.payload, self.mid))


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
        self._tls = ssl.create_default_context(cafile=settings.ca_file or None) \
            if settings.tls else None

    async def run(self) -> None:
        """Until cancelled."""
        delay = RECONNECT_MIN_S
        while True:
            connections = self.connection
            try:
                await self._session()
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
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                writer.write(wire.GOODBYE)
                await asyncio.wait_for(writer.drain(), 5)
            writer.close()

    def ack(self, batch: list[Delivery]) -> None:
        """Acknowledge stored messages that arrived on the current connection; the broker
        redelivers the others, and they are recognised as already stored."""
        writer, current = self._writer, self.connection
        if writer is None:
            return
        ids = [d.mid for d in batch if d.qos and d.connection == current]
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
                raise wire.ProtocolError(f"a packet of type {packets[0]} before CONNACK")
            if packets[0].code:
                self._outage(f"the broker refused the connection: "
                             f"{wire.REFUSALS.get(packets[0].code, packets[0].code)}; check "
                             "[mqtt] username, password and client_id")
                raise EOFError("refused")
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
        now, connection = self._clock_ms(), self.connection
        arrived = [Delivery(p.topic, p.payload, p.packet_id, p.qos, p.dup, now, connection)
                   for p in packets if isinstance(p, wire.Publish)]
        if arrived:
            self._inbox.put(arrived)
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
        if self._down_since is None:  # one line per outage, not one per attempt
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


class MqttIngest:
    """The subscriber: `run` until `stop` is set."""

    def __init__(self, settings: MqttSettings, store: Store, *,
                 clock_ms: Callable[[], int] = wall_clock_ms) -> None:
        self._settings = settings
        self._store = store
        self._clock_ms = clock_ms
        self._units = FirstSight(store)
        self._bad = BadPayloadLog(clock_ms)
        self._routes: dict[str, list[MqttSubscription]] = {}
        self._recent: deque[int] = deque(maxlen=RECENT_MESSAGES)
        self._recent_keys: set[int] = set()
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
                if batch and await self._store_until_stored(batch, stop):
                    link.ack(batch)
            await self._store_what_arrived(inbox, link)
        finally:
            await link.close()
            connection.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connection

    async def _store_until_stored(self, batch: list[Delivery], stop: asyncio.Event) -> bool:
        """Store, retrying with backoff while storage fails; False if stopped first."""
        prepared = await asyncio.to_thread(self._prepare, batch)
        delay, failing_since = STORAGE_RETRY_MIN_S, None
        while True:
            try:
                await asyncio.to_thread(self._write, prepared)
            except InvalidRecord as exc:  # permanent: retrying would block every later message
                log.error("storage refused %d MQTT message(s), skipped: %s", len(batch), exc)
            except StorageError as exc:
                if failing_since is None:
                    failing_since = self._clock_ms()
                    log.warning("storage failed (%s); %d MQTT message(s) wait unacknowledged, "
                                "retrying with backoff", exc, len(batch))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return False
                delay = min(delay * 2, STORAGE_RETRY_MAX_S)
                continue
            if failing_since is not None:
                log.info("storage is back after %.0f s; the waiting MQTT messages are stored",
                         (self._clock_ms() - failing_since) / 1000)
            self._remember(batch)
            self.stored_messages += len(batch)
            return True

    async def _store_what_arrived(self, inbox: Inbox, link: BrokerLink) -> None:
        """On the way out, one attempt at what is already here: brokers that drop unacked
        messages (amqtt) lose less."""
        rest = inbox.drain(None)
        if not rest:
            return
        prepared = await asyncio.to_thread(self._prepare, rest)
        try:
            await asyncio.to_thread(self._write, prepared)
        except StorageError as exc:
            log.warning("%d MQTT message(s) left unacknowledged at stop (%s); the broker keeps "
                        "them", len(rest), exc)
            return
        link.ack(rest)

    # -- blocking work, on a worker thread -------------------------------------------------

    def _prepare(self, batch: list[Delivery]) -> Prepared:
        """Readings per user; malformed messages logged and left out."""
        window = Window(self._clock_ms(), self._store.retention_ms)
        prepared: Prepared = {}
        for delivery in batch:
            if delivery.dup and delivery.key in self._recent_keys:
                continue  # stored already; the broker did not get the ack
            if delivery.payload is None:
                self._bad.report(delivery.topic, BadPayload(
                    f"larger than {wire.MAX_PACKET // 1024} KiB"))
                continue
            for subscription in self._subscriptions_of(delivery.topic):
                try:
                    found = readings_from_message(subscription, delivery.topic,
                                                  delivery.payload, delivery.arrived_ms, window)
                except BadPayload as problem:
                    self._bad.report(delivery.topic, problem)
                    continue
                except Exception as error:  # a message must never stop the subscriber
                    log.exception("an MQTT message on %r could not be read; skipped",
                                  delivery.topic)
                    self._bad.report(delivery.topic, BadPayload(type(error).__name__))
                    continue
                prepared.setdefault(subscription.user, []).extend(
                    self._distinct(subscription.user, found, delivery.arrived_ms))
        return prepared

    def _distinct(self, user_id: str, found: list[DeviceReading], arrived_ms: int
                  ) -> list[DeviceReading]:
        """Readings stamped on arrival get strictly increasing times per sensor: messages
        queued while sensorbot was down arrive within one millisecond, and a sensor and time
        are stored once."""
        kept = []
        for item in found:
            reading = item.reading
            if reading.timestamp == arrived_ms:
                key = (user_id, reading.sensor)
                stamp = max(arrived_ms, self._last_arrival.get(key, 0) + 1)
                self._last_arrival[key] = stamp
                item = DeviceReading(reading._replace(timestamp=stamp), item.unit)
            kept.append(item)
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

    def _remember(self, batch: list[Delivery]) -> None:
        for delivery in batch:
            if len(self._recent) == self._recent.maxlen:
                self._recent_keys.discard(self._recent[0])
            self._recent.append(delivery.key)
            self._recent_keys.add(delivery.key)


class Inbox:
    """Messages waiting to be stored, taken in batches."""

    def __init__(self) -> None:
        self._items: deque[Delivery] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def put(self, deliveries: list[Delivery]) -> None:
        self._items.extend(deliveries)
        self._ready.set()
        if len(self._items) >= INBOX_LIMIT:
            self._room.clear()

    async def room(self) -> None:
        """Until fewer than INBOX_LIMIT messages wait (storage is slow or down)."""
        await self._room.wait()

    async def take(self, stop: asyncio.Event, limit: int) -> list[Delivery]:
        """Wait for messages (or stop), then take up to `limit` of them."""
        while not self._items and not stop.is_set():
            ready = asyncio.ensure_future(self._ready.wait())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            stopped.cancel()
            self._ready.clear()
        return self.drain(limit)

    def drain(self, limit: int | None) -> list[Delivery]:
        items = self._items
        count = len(items) if limit is None else min(limit, len(items))
        taken = [items.popleft() for _ in range(count)]
        if len(items) < INBOX_LIMIT:
            self._room.set()
        return taken
