"""The part of MQTT 3.1.1 a subscriber speaks, as bytes in and bytes out (no I/O here).

Why not paho-mqtt or aiomqtt: acknowledging a message only once it is stored needs manual
acks; aiomqtt 2.5 does not expose them (empicano/aiomqtt#345, open), and paho-mqtt 2 reads one
packet per select() with three recv() calls each, which capped it at 13–29k messages/s in
benchmarks/mqtt.py, a tenth of what the store takes. gmqtt acknowledges manually only over
MQTT 5 and runs a task per message (43k/s). This decoder parses whole TCP reads at once.

The subset: CONNECT (persistent session, username/password), CONNACK, SUBSCRIBE, SUBACK,
PUBLISH received (at QoS 0 or 1 for our own QoS 1 filters; at QoS 2 for a filter another
client left in the session, answered PUBREC, then PUBCOMP to the broker's PUBREL), PUBACK,
PINGREQ, PINGRESP and DISCONNECT. http://docs.oasis-open.org/mqtt/mqtt/v3.1.1/mqtt-v3.1.1.html
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14

PING = bytes([PINGREQ << 4, 0])
GOODBYE = bytes([DISCONNECT << 4, 0])
MAX_PACKET = 1 << 20  # a larger PUBLISH is passed over unread (and acknowledged)
MAX_CONTROL_PACKET = 1 << 16  # anything else this large is not from a sane broker
SUBACK_FAILURE = 0x80

# CONNACK return codes (§3.2.2.3)
REFUSALS = {1: "it does not speak MQTT 3.1.1", 2: "it refused the client id",
            3: "the MQTT service is unavailable", 4: "bad user name or password",
            5: "not authorised"}


class ProtocolError(Exception):
    """The broker sent something MQTT 3.1.1 does not allow; the connection is dropped."""


class Publish(NamedTuple):
    """A message as the broker sent it. `payload` is None when it was too large to keep."""

    topic: str
    payload: bytes | None
    packet_id: int  # 0 at QoS 0
    qos: int
    dup: bool


@dataclass(frozen=True, slots=True)
class Connack:
    session_present: bool
    code: int


@dataclass(frozen=True, slots=True)
class Suback:
    packet_id: int
    codes: bytes  # one per filter: the granted QoS, or SUBACK_FAILURE


@dataclass(frozen=True, slots=True)
class Pubrel:
    """The broker's second step of a QoS 2 delivery: answered with PUBCOMP."""

    packet_id: int


@dataclass(frozen=True, slots=True)
class Control:
    """PINGRESP and the like: nothing a subscriber acts on."""

    kind: int


Packet = Publish | Connack | Suback | Pubrel | Control


def connect(client_id: str, keepalive_s: int, username: str = "", password: str = "") -> bytes:
    """Always a persistent session (clean session off): QoS 1 messages wait for us."""
    flags = (0x80 if username else 0) | (0x40 if username and password else 0)
    body = _text("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive_s) + _text(client_id)
    if username:
        body += _text(username)
        if password:
            body += _text(password)
    return _packet(CONNECT << 4, body)


def subscribe(packet_id: int, filters: list[str], qos: int = 1) -> bytes:
    body = struct.pack("!H", packet_id) + b"".join(_text(f) + bytes([qos]) for f in filters)
    return _packet(SUBSCRIBE << 4 | 0x02, body)


_ACK = struct.Struct("!BBH")


def acks(messages: list[Publish]) -> bytes:
    """The acknowledgement of each stored message in order, ready to write at once: PUBACK at
    QoS 1, PUBREC at QoS 2, nothing at QoS 0."""
    pack = _ACK.pack
    return b"".join([pack(PUBACK << 4, 2, m.packet_id) if m.qos == 1 else
                     pack(PUBREC << 4, 2, m.packet_id) for m in messages if m.qos])


def pubcomp(packet_id: int) -> bytes:
    return _ACK.pack(PUBCOMP << 4, 2, packet_id)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic filter matching: `+` one level, a final `#` any number (even none);
    `$`-topics match only filters that name them."""
    if topic.startswith("$") and not topic_filter.startswith("$"):
        return False
    wanted, levels = topic_filter.split("/"), topic.split("/")
    for index, part in enumerate(wanted):
        if part == "#":
            return True
        if index >= len(levels) or (part != "+" and part != levels[index]):
            return False
    return len(wanted) == len(levels)


class Decoder:
    """Bytes as the socket gives them in; whole packets out."""

    def __init__(self, max_packet: int | None = None) -> None:
        self._buffer = bytearray()
        self._max_packet = max_packet or MAX_PACKET
        self._skipping = 0  # bytes of an oversized PUBLISH still to pass over

    def feed(self, data: bytes) -> list[Packet]:
        if self._skipping:
            skipped = min(self._skipping, len(data))
            self._skipping -= skipped
            data = data[skipped:]
        self._buffer += data
        buffer = bytes(self._buffer)  # one copy here, and every slice below is bytes already
        packets: list[Packet] = []
        position, end = 0, len(buffer)
        while end - position >= 2:
            length = buffer[position + 1]
            index = position + 2
            if length & 0x80:  # the remaining length goes on: up to 4 bytes, 7 bits each
                length, index = _remaining_length(buffer, position + 1, end)
                if length < 0:
                    break
            first = buffer[position]
            if first >> 4 != PUBLISH and length > MAX_CONTROL_PACKET:
                raise ProtocolError(f"a control packet of {length} bytes")
            if index + length > end:
                if length > self._max_packet and first >> 4 == PUBLISH:
                    oversized = self._oversized(first, buffer, index, end, length)
                    if oversized is None:
                        break  # its topic and packet id have not all arrived yet
                    packets.append(oversized)
                    self._skipping = index + length - end
                    position = end
                break
            kind = first >> 4
            if kind == PUBLISH:
                packets.append(_publish(first, buffer, index, index + length))
            else:
                packets.append(_control(kind, buffer[index:index + length]))
            position = index + length
        del self._buffer[:position]
        return packets

    @staticmethod
    def _oversized(first: int, buffer: bytes, start: int, end: int, length: int
                   ) -> Publish | None:
        """A PUBLISH too large to keep: its topic and packet id, so it can be acknowledged."""
        if end - start < 2:
            return None
        header = 2 + ((buffer[start] << 8) | buffer[start + 1]) + (2 if first & 0x06 else 0)
        if end - start < header:
            return None
        publish = _publish(first, buffer, start, start + header)
        return publish._replace(payload=None)


def _remaining_length(buffer: bytes, start: int, end: int) -> tuple[int, int]:
    """The variable-length integer at `start` and the index after it; (-1, end) if not all
    of it has arrived."""
    length, multiplier = 0, 1
    for index in range(start, min(start + 4, end)):
        byte = buffer[index]
        length += (byte & 0x7F) * multiplier
        if not byte & 0x80:
            return length, index + 1
        multiplier <<= 7
    if end - start < 4:
        return -1, end
    raise ProtocolError("a remaining length longer than four bytes")


def _publish(first: int, buffer: bytes, start: int, end: int) -> Publish:
    if end - start < 2:
        raise ProtocolError("a PUBLISH too short for its topic")
    topic_end = start + 2 + ((buffer[start] << 8) | buffer[start + 1])
    qos = (first >> 1) & 0x03
    if qos == 3 or topic_end + (2 if qos else 0) > end:
        raise ProtocolError("a malformed PUBLISH")
    try:
        topic = buffer[start + 2:topic_end].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("a PUBLISH whose topic is not UTF-8") from None
    packet_id = 0
    if qos:
        packet_id = (buffer[topic_end] << 8) | buffer[topic_end + 1]
        topic_end += 2
    return Publish(topic, bytes(buffer[topic_end:end]), packet_id, qos, bool(first & 0x08))


def _control(kind: int, body: bytes) -> Packet:
    if kind == CONNACK:
        if len(body) != 2:
            raise ProtocolError("a malformed CONNACK")
        return Connack(bool(body[0] & 0x01), body[1])
    if kind == SUBACK:
        if len(body) < 3:
            raise ProtocolError("a malformed SUBACK")
        return Suback((body[0] << 8) | body[1], body[2:])
    if kind == PUBREL:
        if len(body) != 2:
            raise ProtocolError("a malformed PUBREL")
        return Pubrel((body[0] << 8) | body[1])
    return Control(kind)


def _text(value: str) -> bytes:
    encoded = value.encode("utf-8")
    return struct.pack("!H", len(encoded)) + encoded


def _packet(first: int, body: bytes) -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        length, digit = length >> 7, length & 0x7F
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes([first]) + bytes(encoded) + body
