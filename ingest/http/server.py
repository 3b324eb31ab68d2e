"""The HTTP server for `sensorbot run` and `sensorbot api`: uvicorn, guarded against clients
that stall (uvicorn itself never times out a request that is still arriving)."""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

KEEP_ALIVE_S = 5  # uvicorn's default: an idle kept-alive connection is closed after this
MAX_OPEN_FILES = 65_536
MAX_URL_BYTES = 65_535  # llhttp's URL parser counts offsets in 16 bits

log = logging.getLogger("sensorbot.api")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's protocol, with a deadline on each request's arrival: its headers and body
    must arrive within `request_timeout_s` of the connection (or of the request's first
    byte, on a kept-alive connection). Past it, a client whose body is awaited gets 408; any
    other is just closed. Either way its file descriptor is freed."""

    request_timeout_s: ClassVar[float]  # set by guarded_protocol

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.scope is self.scope:  # this request's cycle
            self.cycle.transport = HeadersWithBody(self.transport, self.loop)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """A request the HTTP parser refuses gets the JSON error every route gives, not
        uvicorn's plain text. The parser holds URLs of up to 64 KiB (a Shelly report URL
        padded with parameters can be longer)."""
        if len(getattr(self, "url", b"")) > MAX_URL_BYTES:
            status, detail = b"414 URI Too Long", ("the URL is longer than 64 KiB; send at "
                                                   "most 64 KiB of query parameters")
        else:
            status, detail = b"400 Bad Request", "the request is not valid HTTP/1.1"
        self.transport.write(json_error(status, detail, self.server_state.default_headers))
        self.transport.close()

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.request_timeout_s, self._cut_off)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _cut_off(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and cycle.more_body and not cycle.response_started:
            # The app waits for the body; closing makes it hear a disconnect and log one line.
            self.transport.write(timeout_response(self.request_timeout_s))
        else:
            client = self.client[0] if self.client else "a client"
            log.info("closed the connection of %s: no complete request headers within %.0f s",
                     client, self.request_timeout_s)
        self.transport.close()


class HeadersWithBody(asyncio.Transport):
    """A response's view of its connection: the status line and headers wait for the body (or
    for the end of this turn of the event loop), so a small answer leaves in one system call
    and one TCP segment, and the client wakes once, not twice."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._first = True
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is not None:
            data, self._held = self._held + data, None
        elif self._first:
            self._first = False
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(held)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def close(self) -> None:
        self.flush()
        self._transport.close()


def json_error(status: bytes, detail: str,
               headers: list[tuple[bytes, bytes]] | None = None) -> bytes:
    """A whole response, written before the app is involved, closing the connection."""
    body = json.dumps({"detail": detail}).encode()
    extra = b"".join(name + b": " + value + b"\r\n" for name, value in headers or [])
    return (b"HTTP/1.1 %s\r\n%scontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, extra, len(body), body))


def timeout_response(timeout_s: float) -> bytes:
    body = json.dumps({"detail": f"the request did not arrive within {timeout_s:.0f} s; "
                                 "nothing was stored"}).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))


def guarded_protocol(request_timeout_s: float) -> type[GuardedHttpToolsProtocol]:
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,),
                {"request_timeout_s": request_timeout_s})


def build_server(app: Any, host: str, port: int, *,
                 request_timeout_s: float, **options: Any) -> uvicorn.Server:
    """A uvicorn server for `app` whose requests must arrive within `request_timeout_s`.
    `options` go to uvicorn.Config as they are."""
    raise_open_file_limit()
    # ws="none": the API has no WebSocket routes, and the websockets library costs memory.
    config = uvicorn.Config(app, host=host, port=port, http=guarded_protocol(request_timeout_s),
                            ws="none", timeout_keep_alive=KEEP_ALIVE_S, **options)
    return uvicorn.Server(config)


def raise_open_file_limit(wanted: int = MAX_OPEN_FILES) -> int:
    """Raise this process's soft limit on open files toward its hard limit: systemd's soft
    default of 1,024 is spent by a thousand stalled uploads. Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d: %s", soft, exc)
            return soft
        return target
    return soft
