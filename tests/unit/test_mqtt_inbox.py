"""The inbox between the MQTT connection and the writes: batches and back-pressure."""

from __future__ import annotations

import asyncio

from ingest.mqtt import link as mqtt_link
from ingest.mqtt.link import Arrival, Inbox
from ingest.mqtt.wire import Publish


def arrival(connection: int, *ids: int, qos: int = 1, size: int = 100) -> Arrival:
    return Arrival(connection, 0, [Publish(f"t/{i}", b"1", i, qos, False) for i in ids], size)


def ids(batch: list[Arrival]) -> list[tuple[int, int]]:
    return [(a.connection, m.packet_id) for a in batch for m in a.messages]


LOOP = asyncio.new_event_loop()  # one for the module: an inbox's events belong to one loop


def has_room(inbox: Inbox) -> bool:
    async def check() -> bool:
        try:
            await asyncio.wait_for(inbox.room(), 0.01)
        except TimeoutError:
            return False
        return True
    return LOOP.run_until_complete(check())


def test_it_hands_out_batches_in_order_splitting_a_read_between_them():
    inbox = Inbox()
    inbox.put(arrival(1, 1, 2, 3))
    inbox.put(arrival(1, 4, 5))

    assert ids(inbox.drain(2)) == [(1, 1), (1, 2)]
    assert ids(inbox.drain(10)) == [(1, 3), (1, 4), (1, 5)]
    assert inbox.drain(10) == []


def test_it_stops_reading_when_full_by_count_or_by_size_until_drained(monkeypatch):
    monkeypatch.setattr(mqtt_link, "INBOX_MESSAGES", 4)
    monkeypatch.setattr(mqtt_link, "INBOX_BYTES", 1000)
    inbox = Inbox()
    inbox.put(arrival(1, 1, 2, 3))
    assert has_room(inbox)
    inbox.put(arrival(1, 4))
    assert not has_room(inbox)
    inbox.drain(1)
    assert has_room(inbox)
    inbox.put(arrival(1, 5, size=2000))  # few messages, but large ones
    assert not has_room(inbox)
    inbox.drain(10)
    assert has_room(inbox)


def test_it_stops_reading_while_a_batch_is_written():
    inbox = Inbox()
    with inbox.writing():
        assert not has_room(inbox)
    assert has_room(inbox)
