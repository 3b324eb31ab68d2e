"""The subscriber's connection to the broker, and the inbox its messages wait in.

Our own asyncio code over `ingest.mqtt.wire` (whose docstring says why not paho-mqtt or
aiomqtt): whole TCP reads are parsed at once into the inbox, from which `ingest.mqtt` takes
batches; acknowledgements go out together once a batch is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import NamedTuple

from core.config import MqttSettings
from ingest.mqtt import wire

log = logging.getLogger("sensorbot.mqtt")

RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 60
STABLE_S = 60  # a connection that lasted this long starts the backoff again from its minimum
FLAPPING_S = 5  # one lost this soon after connecting was most likely taken over
CONNECT_TIMEOUT_S = 10
KEEPALIVE_S = 30  # a PINGREQ every half of it; silence for 1.5 times it is a lost broker
READ_SIZE = 1 << 18
INBOX_MESSAGES = 100_000  # waiting to be stored before reading from the broker pauses
INBOX_BYTES = 32 << 20  # the same, in what they take


class Arrival(NamedTuple):
    """Messages that came in one read on one connection (an ack is valid on its own only)."""

    connection: int
    arrived_ms: int
    messages: list[wire.Publish]
    size: int  # bytes read


Batch = list[Arrival]


def message_count(batch: Batch) -> int:
    return sum(len(arrival.messages) for arrival in batch)


class Inbox:
    """Messages waiting to be stored, taken in batches. Reading from the broker pauses while
    it is full, and while a batch is being written."""

    def __init__(self) -> None:
        self._arrivals: deque[Arrival] = deque()
        self._count = self._size = 0
        self._writing = False
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def put(self, arrival: Arrival) -> None:
        self._arrivals.append(arrival)
        self._count += len(arrival.messages)
        self._size += arrival.size
        self._ready.set()
        self._check_room()

    async def room(self) -> None:
        await self._room.wait()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """While a batch is written: the broker's next messages wait in the socket."""
        self._writing = True
        self._check_room()
        try:
            yield
        finally:
            self._writing = False
            self._check_room()

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

    def drain(self, limit: int) -> Batch:
        taken: Batch = []
        wanted = min(limit, self._count)
        while wanted > 0:
            arrival = self._arrivals.popleft()
            if len(arrival.messages) > wanted:  # split it: the rest stays first in line
                rest = arrival.messages[wanted:]
                rest_size = arrival.size * len(rest) // len(arrival.messages)
                self._arrivals.appendleft(arrival._replace(messages=rest, size=rest_size))
                arrival = arrival._replace(messages=arrival.messages[:wanted],
                                           size=arrival.size - rest_size)
            taken.append(arrival)
            wanted -= len(arrival.messages)
            self._count -= len(arrival.messages)
            self._size -= arrival.size
        self._check_room()
        return taken

    def _check_room(self) -> None:
        if self._writing or self._count >= INBOX_MESSAGES or self._size >= INBOX_BYTES:
            self._room.clear()
        else:
            self._room.set()


class Refused(Exception):
    """The broker answered CONNECT with a refusal; the message says why."""


class BrokerLink:
    """One connection at a time: connect, subscribe, read, keep alive; after a loss, connect
    again with backoff, logging once per outage rather than once per attempt."""

    def __init__(self, settings: MqttSettings, inbox: Inbox, clock_ms: Callable[[], int],
                 subscribed: threading.Event, on_connect: Callable[[int, bool], None]) -> None:
        self._settings = settings
        self._inbox = inbox
        self._clock_ms = clock_ms
        self.subscribed = subscribed  # set while connected with every subscription granted
        self._on_connect = on_connect  # (connection, session present)
        self.where = f"{settings.host}:{settings.port}"
        self.topics = sorted({s.topic for s in settings.subscriptions})
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
            started = time.monotonic()
            connections = self.connection
            try:
                await self._session()
            except Refused as exc:
                self._outage(str(exc))
            except wire.ProtocolError as exc:
                self._outage(f"it sent {exc}")
            except TimeoutError:
                self._outage("no answer in time")
            except ssl.SSLCertVerificationError as exc:
                self._outage(f"its certificate is not trusted ({exc.verify_message}); set "
                             "[mqtt] ca_file to the CA that signed it")
            except (OSError, EOFError) as exc:
                self._outage(f"lost the connection ({str(exc) or type(exc).__name__})"
                             if self.connection != connections else
                             f"cannot connect ({str(exc) or type(exc).__name__})"
                             + self._scheme_hint(exc))
            except Exception:  # a fault of ours must not end the subscription for good
                log.exception("the MQTT connection failed")
                self._outage("an error (logged above)")
            if self._closing:
                return
            lasted = time.monotonic() - started
            if self.connection != connections and lasted < FLAPPING_S:
                log.warning("the MQTT broker at %s dropped sensorbot %.0f s after it connected: "
                            "does another client use client_id %r?", self.where, lasted,
                            self._settings.client_id)
            if lasted >= STABLE_S:
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
        resends the others, and they are recognised as already stored."""
        writer, current = self._writer, self.connection
        if writer is None:
            return
        messages = [m for arrival in batch if arrival.connection == current
                    for m in arrival.messages]
        if messages:
            writer.write(wire.acks(messages))

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
            connack = packets[0]
            if not isinstance(connack, wire.Connack):
                raise wire.ProtocolError("something other than CONNACK first")
            if connack.code:
                raise Refused(refusal(connack.code))
            self._connected(connack.session_present, writer)
            pinger = asyncio.create_task(self._ping(writer))
            self._handle(packets[1:], 0)
            while True:
                await self._inbox.room()
                async with asyncio.timeout(KEEPALIVE_S * 1.5):
                    data = await self._read(reader)
                self._handle(decoder.feed(data), len(data))
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
        writer.write(wire.subscribe(1, self.topics))
        self._on_connect(self.connection, session_present)
        if self._down_since is not None and self.connection > 1:
            seconds = (self._clock_ms() - self._down_since) / 1000
            log.info("the MQTT broker at %s is back after %.0f s", self.where, seconds)
            if not session_present:
                log.warning("the MQTT broker at %s had forgotten sensorbot's session (does it "
                            "run with `persistence true`?): what it held for sensorbot is "
                            "lost; subscribed again", self.where)
        self._down_since = None

    def _handle(self, packets: list[wire.Packet], size: int) -> None:
        if not packets:
            return
        messages = [p for p in packets if type(p) is wire.Publish]
        if messages:
            self._inbox.put(Arrival(self.connection, self._clock_ms(), messages, size))
        if len(messages) == len(packets):
            return
        for packet in packets:
            if isinstance(packet, wire.Suback):
                self._subscribed(packet)
            elif isinstance(packet, wire.Pubrel) and self._writer is not None:
                self._writer.write(wire.pubcomp(packet.packet_id))

    def _subscribed(self, suback: wire.Suback) -> None:
        if len(suback.codes) != len(self.topics):
            raise wire.ProtocolError(f"a SUBACK for {len(suback.codes)} filters, not "
                                     f"{len(self.topics)}")
        granted = dict(zip(self.topics, suback.codes, strict=True))
        refused = [t for t, code in granted.items() if code == wire.SUBACK_FAILURE]
        at_most_once = [t for t, code in granted.items() if code == 0]
        if refused:
            log.error("the MQTT broker at %s refused the subscription to %s; check its ACL "
                      "for user %r", self.where, ", ".join(refused), self._settings.username)
            return
        if at_most_once:
            log.warning("the MQTT broker at %s grants %s at QoS 0 only: what is published "
                        "while sensorbot is away is lost (mosquitto: raise max_qos)",
                        self.where, ", ".join(at_most_once))
        if self.connection == 1:
            log.info("connected to the MQTT broker at %s as %r; subscribed to %s", self.where,
                     self._settings.client_id, ", ".join(self.topics))
        self.subscribed.set()

    def _scheme_hint(self, exc: BaseException) -> str:
        """A connection reset or closed while connecting is most often TLS on one side
        only."""
        if not isinstance(exc, ConnectionResetError | ssl.SSLError | EOFError):
            return ""
        port = self._settings.port
        return (f"; is port {port} a TLS listener? mqtts:// needs one" if self._tls else
                f"; if port {port} is a TLS listener, the url must be mqtts://")

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


def refusal(code: int) -> str:
    """What a CONNACK refusal means, and what to check."""
    why = wire.REFUSALS.get(code, f"code {code}")
    check = {4: "check [mqtt] username and password", 5: "check [mqtt] username, password "
             "and the broker's ACL", 2: "check [mqtt] client_id"}.get(code, "")
    return f"the broker refused the connection: {why}" + (f"; {check}" if check else "")
