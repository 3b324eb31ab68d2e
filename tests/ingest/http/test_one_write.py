"""A small answer leaves the server in one write: status line, headers and body together."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from ingest.http.server import guarded_protocol


class Recording(asyncio.Transport):
    """A connection that keeps what the server writes to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(name,
                                                                                     default)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def answer(app: Any, request: bytes) -> Recording:
    config = uvicorn.Config(app, ws="none", log_config=None, lifespan="off")
    protocol = guarded_protocol(5.0)(config=config, server_state=ServerState(), app_state={})
    transport = Recording()
    protocol.connection_made(transport)
    protocol.data_received(request)
    async with asyncio.timeout(5):
        while protocol.cycle is None or not protocol.cycle.response_complete:
            await asyncio.sleep(0.001)
    await asyncio.sleep(0)  # anything still held would be written now
    protocol.connection_lost(None)
    return transport


async def small(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def streamed(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await asyncio.sleep(0.01)  # the headers leave before the body is ready
    await send({"type": "http.response.body", "body": b"late", "more_body": False})


REQUEST = b"POST /x HTTP/1.1\r\nHost: sensorbot\r\nContent-Length: 2\r\n\r\n{}"


def test_a_small_answer_is_written_once():
    transport = asyncio.run(answer(small, REQUEST))

    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b"\r\n\r\n{}")


def test_headers_do_not_wait_for_a_body_that_is_late():
    transport = asyncio.run(answer(streamed, REQUEST))

    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b"\r\n\r\n")  # the headers alone
    assert b"".join(transport.writes).endswith(b"late\r\n0\r\n\r\n")
