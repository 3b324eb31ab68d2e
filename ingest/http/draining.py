"""Answers that come before the body has been read (413, 401) wait until it has been.

A server that answers and closes while the client is still sending makes the client's
kernel see a reset, and the client never reads its 413. Reading the rest first (bounded, as
nginx's lingering close does) lets it read the answer, and keeps the connection usable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DRAIN_BYTES = 16 * 1024 * 1024  # past this much unread body, answer anyway and close


@dataclass
class _Body:
    read: int = 0
    asked: bool = False  # the app called receive(): any `Expect: 100-continue` is answered
    done: bool = False


class DrainUnreadBody:
    """ASGI middleware: before a response starts, read what is left of the request body."""

    def __init__(self, app: ASGIApp, max_bytes: int = DRAIN_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        body = _Body()

        async def counted_receive() -> Message:
            message = await receive()
            _count(body, message)
            return message

        async def draining_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not body.done:
                message = await self._drain(scope, receive, body, message)
            await send(message)

        await self.app(scope, counted_receive, draining_send)

    async def _drain(self, scope: Scope, receive: Receive, body: _Body, start: Message
                     ) -> Message:
        declared = _declared_length(scope)
        unsolicited = not body.asked and _header(scope, b"expect") == b"100-continue"
        if unsolicited or (declared is not None and declared - body.read > self.max_bytes):
            return _closing(start)  # it is not coming, or too much of it is
        limit = body.read + self.max_bytes
        while not body.done and body.read <= limit:
            _count(body, await receive())
        return start if body.done else _closing(start)


def _count(body: _Body, message: Message) -> None:
    body.asked = True
    body.read += len(message.get("body", b""))
    if message["type"] != "http.request" or not message.get("more_body", False):
        body.done = True


def _has_body(scope: Scope) -> bool:
    declared = _declared_length(scope)
    return bool(declared) or _header(scope, b"transfer-encoding") is not None


def _declared_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    return int(value) if value is not None and value.isdigit() else None


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).strip().lower()
    return None


def _closing(start: Message) -> dict[str, Any]:
    """The response, telling the server to close the connection: its stream is not at a
    request boundary."""
    return {**start, "headers": [*start.get("headers", []), (b"connection", b"close")]}
