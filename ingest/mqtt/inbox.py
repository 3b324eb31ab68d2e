"""The messages paho's network thread hands over, waiting to be stored in batches.

The network thread waits while the inbox is full (in messages or in bytes), so memory stays
near the cap whatever the messages' sizes; the broker keeps the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from dataclasses import dataclass

INBOX_MESSAGES = 10_000
INBOX_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the broker delivered it on one connection (`generation`): an
    acknowledgement is valid on that connection only."""

    topic: str | None  # None when the broker sent a topic that is not UTF-8
    raw_topic: bytes
    payload: bytes | None  # None when larger than the subscriber keeps
    size: int  # the payload's size as sent
    packet_id: int  # 0 at QoS 0
    qos: int
    dup: bool  # a resend: it may be stored already
    retained: bool  # sent because of the subscription, not because it was just published
    arrived_ms: int
    generation: int


class Inbox:
    """From paho's thread (`put`) to the subscriber's event loop (`take`), with one wake-up of
    the loop per batch rather than one per message."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, messages: int = INBOX_MESSAGES,
                 size: int = INBOX_BYTES) -> None:
        self._loop = loop
        self._most = messages
        self._most_bytes = size
        self._items: deque[Delivery] = deque()
        self._bytes = 0
        self._room = threading.Condition()
        self._ready = asyncio.Event()
        self._signalled = False
        self._closed = False

    def put(self, delivery: Delivery) -> None:
        """On paho's thread; waits while the inbox is full."""
        with self._room:
            while not self._closed and (len(self._items) >= self._most or
                                        self._bytes >= self._most_bytes):
                self._room.wait(0.5)
            self._items.append(delivery)
            self._bytes += delivery.size
            signal, self._signalled = not self._signalled, True
        if signal:
            with contextlib.suppress(RuntimeError):  # the loop closed while shutting down
                self._loop.call_soon_threadsafe(self._ready.set)

    def close(self) -> None:
        """No more waiting for room: the subscriber is stopping."""
        with self._room:
            self._closed = True
            self._room.notify_all()

    async def take(self, stop: asyncio.Event, limit: int) -> list[Delivery]:
        """Wait for messages (or stop), then take up to `limit` of them."""
        while not self._items and not stop.is_set():
            ready = asyncio.ensure_future(self._ready.wait())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            stopped.cancel()
            self._ready.clear()
            with self._room:
                self._signalled = False  # from here on, a new message wakes the loop again
        return self.drain(limit)

    def drain(self, limit: int) -> list[Delivery]:
        with self._room:
            taken = [self._items.popleft() for _ in range(min(limit, len(self._items)))]
            self._bytes -= sum(d.size for d in taken)
            self._room.notify_all()
        return taken

    def __len__(self) -> int:
        return len(self._items)
