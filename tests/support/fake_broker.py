"""A scripted MQTT 3.1.1 broker for what a real one cannot be made to do on demand: a
malformed PUBLISH, a chosen session_present or SUBACK code, a resend with DUP set, a dropped
connection. It runs on an event loop of its own thread and parses and builds packets itself,
so the tests never take paho's word for what went over the wire."""

from __future__ import annotations

import asyncio
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14
_WITH_PACKET_ID = {PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE}

Sent = tuple[int, int | None]  # a packet's type and its packet id (None if it has none)


def packet(first: int, body: bytes = b"") -> bytes:
    """A packet: its first byte, the remaining length (7 bits a byte), the body (§2.2)."""
    length, encoded = len(body), bytearray()
    while True:
        length, digit = length >> 7, length & 0x7F
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes([first]) + bytes(encoded) + body


def publish(topic: str, payload: bytes, packet_id: int = 0, qos: int = 1,
            dup: bool = False, retain: bool = False) -> bytes:
    return publish_raw(topic.encode(), payload, packet_id, qos, dup, retain)


def publish_raw(encoded: bytes, payload: bytes, packet_id: int = 0, qos: int = 1,
                dup: bool = False, retain: bool = False) -> bytes:
    """A PUBLISH whose topic is these bytes, UTF-8 or not; `retain` as a broker sets it on
    the retained message it sends because of a subscription."""
    body = struct.pack("!H", len(encoded)) + encoded
    body += (struct.pack("!H", packet_id) if qos else b"") + payload
    return packet(PUBLISH << 4 | (0x08 if dup else 0) | qos << 1 | retain, body)


def pubrel(packet_id: int) -> bytes:
    return packet(PUBREL << 4 | 0x02, struct.pack("!H", packet_id))


@dataclass
class Answers:
    """How the broker answers the next connections."""

    session_present: bool = False
    code: int = 0  # of the CONNACK: 0 accepts
    suback: list[int] | None = None  # one code per filter; None grants QoS 1 to each


class Connection:
    """One client connection: what the client sent on it, and what the test does to it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, writer: asyncio.StreamWriter) -> None:
        self._loop = loop
        self._writer = writer
        self.from_client: list[Sent] = []
        self.filters: list[str] = []  # of the client's SUBSCRIBE
        self.ready = threading.Event()  # CONNACK and SUBACK sent: messages may follow
        self.closed = threading.Event()

    def send(self, data: bytes) -> None:
        self._loop.call_soon_threadsafe(self._writer.write, data)

    def drop(self) -> None:
        self._loop.call_soon_threadsafe(self._writer.close)

    def count(self, kind: int, packet_id: int | None = None) -> int:
        return self.from_client.count((kind, packet_id))


class FakeBroker:
    def __init__(self, folder: Path) -> None:
        self.folder = folder  # where the subscribers' state files go
        self.answers = Answers()  # the test changes them before the connections they are for
        self.connections: list[Connection] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop).result(5)
        self.port: int = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def connection(self, number: int, timeout: float = 5.0) -> Connection:
        """The `number`th connection (from 1), once it is ready for messages."""
        deadline = time.monotonic() + timeout
        while len(self.connections) < number and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.connections) >= number, f"no connection {number} in {timeout} s"
        found = self.connections[number - 1]
        assert found.ready.wait(max(0.0, deadline - time.monotonic())), "no SUBSCRIBE"
        return found

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _shutdown(self) -> None:
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection = Connection(self._loop, writer)
        self.connections.append(connection)
        try:
            while True:
                kind, body = await _read_packet(reader)
                packet_id = struct.unpack("!H", body[:2])[0] if kind in _WITH_PACKET_ID else None
                connection.from_client.append((kind, packet_id))
                self._answer(connection, writer, kind, body)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client or the test closed it
        finally:
            connection.closed.set()
            writer.close()
            self._tasks.discard(task)

    def _answer(self, connection: Connection, writer: asyncio.StreamWriter, kind: int,
                body: bytes) -> None:
        answers = self.answers  # as the test left them when this packet came
        if kind == CONNECT:
            writer.write(packet(CONNACK << 4, bytes([answers.session_present, answers.code])))
        elif kind == SUBSCRIBE:
            connection.filters = _filters(body[2:])
            codes = answers.suback or [1] * len(connection.filters)
            writer.write(packet(SUBACK << 4, body[:2] + bytes(codes)))
            connection.ready.set()
        elif kind == PINGREQ:
            writer.write(packet(PINGRESP << 4))


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return first >> 4, await reader.readexactly(length)


def _filters(payload: bytes) -> list[str]:
    """The topic filters of a SUBSCRIBE's payload: (length, filter, requested QoS) each."""
    found, index = [], 0
    while index < len(payload):
        (size,) = struct.unpack_from("!H", payload, index)
        found.append(payload[index + 2:index + 2 + size].decode())
        index += 2 + size + 1
    return found
