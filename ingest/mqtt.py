"""MQTT ingest: subscribe (QoS 1, persistent session), store, and only then acknowledge.

paho-mqtt 2 rather than aiomqtt: acknowledging a message only once it is stored needs manual
acks, which paho-mqtt 2 has as public API (`manual_ack=True`, `Client.ack`) while aiomqtt 2.5
does not expose them (empicano/aiomqtt#345, open). paho's network thread also reconnects with
exponential backoff by itself; messages cross to the event loop with `call_soon_threadsafe`,
and readings are written off the loop, in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from core.clock import wall_clock_ms
from core.config import ConfigError, MqttSettings, MqttSubscription
from ingest.payloads import BadPayload, DeviceReading, readings_from_message
from ingest.units import FirstSight
from ingest.validation import Window
from storage.base import Store
from storage.errors import InvalidRecord, StorageError

log = logging.getLogger("sensorbot.mqtt")

MAX_BATCH = 500  # messages stored in one write (per user)
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 60
STORAGE_RETRY_MIN_S, STORAGE_RETRY_MAX_S = 1.0, 60.0
BAD_PAYLOAD_LINES_PER_MINUTE = 10
RECENT_MESSAGES = 4096  # remembered to recognise the broker's redelivery of a stored message


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


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the broker delivered it on one connection."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    dup: bool
    arrived_ms: int
    connection: int

    @property
    def key(self) -> int:
        return hash((self.topic, self.payload, self.mid))


class BrokerLink:
    """The paho client: connects, subscribes on every (re)connect, logs once per outage.

    Its callbacks run on paho's network thread and hand each message to `deliver`.
    """

    def __init__(self, settings: MqttSettings, deliver: Callable[[Delivery], None],
                 clock_ms: Callable[[], int], subscribed: threading.Event) -> None:
        self._settings = settings
        self.subscribed = subscribed  # set while connected with the subscriptions made
        self._deliver = deliver
        self._clock_ms = clock_ms
        self.where = f"{settings.host}:{settings.port}"
        self.connection = 0  # counts successful connects: an ack is valid on its own only
        self._down_since: int | None = None
        self._stopping = False
        self._lock = threading.Lock()
        self.client = self._build()

    def _build(self) -> paho.Client:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self._settings.client_id,
                             clean_session=False, protocol=paho.MQTTv311, manual_ack=True)
        if self._settings.username:
            client.username_pw_set(self._settings.username, self._settings.password or None)
        if self._settings.tls:  # the system's CA certificates, or the broker's own CA
            client.tls_set(ca_certs=self._settings.ca_file or None)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        self.client.connect_async(self._settings.host, self._settings.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect (after the acks already queued) and end the network thread."""
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, batch: list[Delivery]) -> None:
        """Acknowledge stored messages that arrived on the current connection; the broker
        redelivers the others, and they are recognised as already stored."""
        with self._lock:
            current = self.connection
        for delivery in batch:
            if delivery.connection == current:
                self.client.ack(delivery.mid, delivery.qos)

    # -- paho callbacks (network thread) ---------------------------------------------------

    def _on_connect(self, client: paho.Client, _userdata: Any, flags: Any, reason: Any,
                    _properties: Any) -> None:
        if reason.is_failure:
            self._outage(f"the broker refused the connection ({reason}); check [mqtt] "
                         "username and password")
            return
        with self._lock:
            self.connection += 1
        topics = sorted({s.topic for s in self._settings.subscriptions})
        client.subscribe([(topic, 1) for topic in topics])
        if self._down_since is None and self.connection == 1:
            log.info("connected to the MQTT broker at %s as %r; subscribed to %s", self.where,
                     self._settings.client_id, ", ".join(topics))
        elif self._down_since is not None:
            seconds = (self._clock_ms() - self._down_since) / 1000
            log.info("the MQTT broker at %s is back after %.0f s (session kept: %s)",
                     self.where, seconds, flags.session_present)
        self._down_since = None

    def _on_connect_fail(self, _client: paho.Client, _userdata: Any) -> None:
        self._outage("cannot connect")

    def _on_disconnect(self, _client: paho.Client, _userdata: Any, _flags: Any, reason: Any,
                       _properties: Any) -> None:
        self.subscribed.clear()
        if not self._stopping:
            self._outage(f"lost the connection ({reason})")

    def _on_subscribe(self, _client: paho.Client, _userdata: Any, _mid: int,
                      reasons: list[Any], _properties: Any) -> None:
        for reason in reasons:
            if reason.is_failure:
                log.error("the MQTT broker at %s refused a subscription (%s); check its ACL",
                          self.where, reason)
        self.subscribed.set()

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage
                    ) -> None:
        self._deliver(Delivery(message.topic, bytes(message.payload), message.mid, message.qos,
                               bool(message.dup), self._clock_ms(), self.connection))

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
        inbox = Inbox(asyncio.get_running_loop())
        link = BrokerLink(self._settings, inbox.put, self._clock_ms, self.connected)
        link.start()
        try:
            while not stop.is_set():
                batch = await inbox.take(stop, MAX_BATCH)
                if batch and await self._store_until_stored(batch, stop):
                    link.ack(batch)
            await self._store_what_arrived(inbox, link)
        finally:
            await asyncio.to_thread(link.stop)

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
                        if paho.topic_matches_sub(s.topic, topic)]
            self._routes[topic] = matching
        return matching

    def _remember(self, batch: list[Delivery]) -> None:
        for delivery in batch:
            if len(self._recent) == self._recent.maxlen:
                self._recent_keys.discard(self._recent[0])
            self._recent.append(delivery.key)
            self._recent_keys.add(delivery.key)


class Inbox:
    """Messages from paho's thread to the event loop: appended to a deque, with one wake-up of
    the loop per batch rather than one per message."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[Delivery] = deque()
        self._ready = asyncio.Event()
        self._signalled = False

    def put(self, delivery: Delivery) -> None:
        """Called on paho's thread."""
        self._items.append(delivery)
        if not self._signalled:
            self._signalled = True
            with contextlib.suppress(RuntimeError):  # the loop closed while shutting down
                self._loop.call_soon_threadsafe(self._ready.set)

    async def take(self, stop: asyncio.Event, limit: int) -> list[Delivery]:
        """Wait for messages (or stop), then take up to `limit` of them."""
        while not self._items and not stop.is_set():
            ready = asyncio.ensure_future(self._ready.wait())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            stopped.cancel()
            self._ready.clear()
            self._signalled = False  # from here on, a new message wakes the loop again
        return self.drain(limit)

    def drain(self, limit: int | None) -> list[Delivery]:
        taken: list[Delivery] = []
        while self._items and (limit is None or len(taken) < limit):
            taken.append(self._items.popleft())
        return taken
