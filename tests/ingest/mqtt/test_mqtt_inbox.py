"""The inbox between paho's network thread and the writes: batches and back-pressure."""

from __future__ import annotations

import asyncio
import sys
import threading

from ingest.mqtt.inbox import Delivery, Inbox
from tests.support.waiting import wait_until


def delivery(packet_id: int, size: int = 100) -> Delivery:
    return Delivery(f"t/{packet_id}", b"t", b"1", size, packet_id, 1, False, False, 0, 1)


def test_it_hands_over_in_order_up_to_the_limit() -> None:
    loop = asyncio.new_event_loop()
    inbox = Inbox(loop)
    for packet_id in range(1, 6):
        inbox.put(delivery(packet_id))

    first = loop.run_until_complete(inbox.take(asyncio.Event(), 3))

    assert [d.packet_id for d in first] == [1, 2, 3]
    assert [d.packet_id for d in inbox.drain(10)] == [4, 5]
    loop.close()


def put_in_thread(inbox: Inbox, item: Delivery) -> threading.Thread:
    thread = threading.Thread(target=inbox.put, args=(item,), daemon=True)
    thread.start()
    return thread


def waits_for_room(thread: threading.Thread) -> bool:
    """Whether the thread is in Inbox.put, waiting on its condition."""
    frame = sys._current_frames().get(thread.ident or 0)
    return frame is not None and frame.f_code.co_name == "wait" and \
        frame.f_back is not None and frame.f_back.f_code is Inbox.put.__code__


def test_the_network_thread_waits_while_it_is_full_of_messages() -> None:
    inbox = Inbox(asyncio.new_event_loop(), messages=2)
    inbox.put(delivery(1))
    inbox.put(delivery(2))
    waiting = put_in_thread(inbox, delivery(3))
    wait_until(lambda: waits_for_room(waiting), what="the put waiting for room")

    inbox.drain(1)

    waiting.join(5)
    assert not waiting.is_alive()
    assert [d.packet_id for d in inbox.drain(10)] == [2, 3]


def test_it_counts_bytes_so_large_messages_fill_it_sooner() -> None:
    inbox = Inbox(asyncio.new_event_loop(), size=1000)
    inbox.put(delivery(1, size=1000))
    waiting = put_in_thread(inbox, delivery(2, size=10))
    wait_until(lambda: waits_for_room(waiting), what="the put waiting for room")

    inbox.close()  # stopping: nobody waits for room any more

    waiting.join(5)
    assert not waiting.is_alive()
