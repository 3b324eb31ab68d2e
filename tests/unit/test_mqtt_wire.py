"""The MQTT 3.1.1 subset the subscriber speaks, byte for byte, with paho-mqtt as the oracle
where it has the same function."""

from __future__ import annotations

import paho.mqtt.client as paho
import pytest

from ingest.mqtt import wire
from tests.support.fake_broker import publish as publish_packet  # encoded independently


def test_it_reads_a_publish_split_at_every_byte():
    packet = publish_packet("zigbee2mqtt/cellar", b'{"temperature":4.5}', packet_id=513)
    for cut in range(len(packet) + 1):
        decoder = wire.Decoder()
        packets = decoder.feed(packet[:cut]) + decoder.feed(packet[cut:])
        assert packets == [wire.Publish("zigbee2mqtt/cellar", b'{"temperature":4.5}', 513, 1,
                                        False)], cut


def test_it_reads_many_packets_from_one_read_and_keeps_the_partial_one():
    messages = [publish_packet(f"t/{i}", str(i).encode(), packet_id=i + 1) for i in range(50)]
    stream = b"".join(messages)
    decoder = wire.Decoder()

    first = decoder.feed(stream[:-3])
    rest = decoder.feed(stream[-3:])

    assert [p.topic for p in first] == [f"t/{i}" for i in range(49)]
    assert [(p.topic, p.payload, p.packet_id) for p in rest] == [("t/49", b"49", 50)]


@pytest.mark.parametrize("size", [127, 128, 16_383, 16_384, 200_000])
def test_it_reads_every_length_of_remaining_length(size):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    packet = publish_packet("big", payload, packet_id=7)
    decoder = wire.Decoder()

    packets = [p for i in range(0, len(packet), 1000) for p in decoder.feed(packet[i:i + 1000])]

    assert packets == [wire.Publish("big", payload, 7, 1, False)]


def test_it_reads_qos_0_and_the_dup_flag():
    decoder = wire.Decoder()
    packets = decoder.feed(publish_packet("a", b"1", qos=0)
                           + publish_packet("b", b"2", packet_id=9, dup=True))
    assert packets == [wire.Publish("a", b"1", 0, 0, False), wire.Publish("b", b"2", 9, 1, True)]


def test_it_passes_over_a_publish_too_large_to_keep_but_names_it_for_its_ack():
    decoder = wire.Decoder(max_packet=1000)
    huge = publish_packet("cam/snapshot", b"x" * 50_000, packet_id=42)
    after = publish_packet("cellar", b"4.5", packet_id=43)
    stream = huge + after

    packets = [p for i in range(0, len(stream), 4096) for p in decoder.feed(stream[i:i + 4096])]

    assert packets == [wire.Publish("cam/snapshot", None, 42, 1, False),
                       wire.Publish("cellar", b"4.5", 43, 1, False)]


def test_it_reads_connack_suback_pubrel_and_pingresp():
    decoder = wire.Decoder()
    packets = decoder.feed(bytes([0x20, 2, 1, 0]) + bytes([0x90, 4, 0, 1, 1, 0x80])
                           + bytes([0x62, 2, 0, 7]) + bytes([0xD0, 0]))
    assert packets == [wire.Connack(True, 0), wire.Suback(1, bytes([1, 0x80])),
                       wire.Pubrel(7), wire.Control(wire.PINGRESP)]


@pytest.mark.parametrize("garbage", [
    bytes([0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),  # a remaining length of five bytes
    bytes([0x36, 3, 0, 1, 97]),  # QoS 3
    bytes([0x32, 3, 0, 9, 97]),  # a topic longer than the packet
    bytes([0x30, 4, 0, 2, 0xC3, 0x28]),  # a topic that is not UTF-8
    bytes([0x20, 1, 0]),  # a short CONNACK
    bytes([0x32, 0]), bytes([0x30, 1, 0]),  # a PUBLISH too short for its topic's length
    bytes([0x90, 0x80, 0x80, 0x05]),  # a SUBACK of 80 KiB
    bytes([0x62, 1, 0]),  # a short PUBREL
])
def test_it_refuses_what_mqtt_does_not_allow(garbage):
    with pytest.raises(wire.ProtocolError):
        wire.Decoder().feed(garbage)


def test_it_writes_connect_as_the_spec_lays_it_out():
    packet = wire.connect("sensorbot", 30, "user", "pw")
    assert packet == (bytes([0x10, 31]) + b"\x00\x04MQTT" + bytes([4, 0xC0]) + b"\x00\x1e"
                      + b"\x00\x09sensorbot" + b"\x00\x04user" + b"\x00\x02pw")
    assert wire.connect("id", 60)[9] == 0x00  # no credentials, and never a clean session


def test_it_writes_subscribe_and_the_acks_of_each_qos():
    assert wire.subscribe(1, ["a/+", "b/#"]) == (
        bytes([0x82, 14, 0, 1]) + b"\x00\x03a/+\x01" + b"\x00\x03b/#\x01")
    stored = [wire.Publish("a", b"", 1, 1, False), wire.Publish("b", b"", 0, 0, False),
              wire.Publish("c", b"", 0x1234, 2, False)]
    assert wire.acks(stored) == bytes([0x40, 2, 0, 1, 0x50, 2, 0x12, 0x34])  # PUBACK, PUBREC
    assert wire.pubcomp(9) == bytes([0x70, 2, 0, 9])


@pytest.mark.parametrize(("topic_filter", "topic"), [
    ("a/+/c", "a/b/c"), ("a/+/c", "a/b/d"), ("a/+", "a/b/c"), ("a/#", "a"), ("a/#", "a/b/c"),
    ("#", "a/b"), ("#", "$SYS/broker"), ("$SYS/#", "$SYS/broker"), ("+/b", "/b"),
    ("a/b", "a/b"), ("a/b", "a/b/"), ("+", ""), ("+/+", "a"), ("tele/+/SENSOR", "tele/x/SENSOR"),
    ("+/status/temperature:0", "shellyplusht-1/status/temperature:0"), ("a//b", "a//b"),
])
def test_it_matches_topics_as_paho_does(topic_filter, topic):
    assert wire.topic_matches(topic_filter, topic) == paho.topic_matches_sub(topic_filter, topic)
