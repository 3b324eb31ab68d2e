"""Clients that stall, trickle, hang up or keep sending, met by the real server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from core.config import Settings
from ingest.http.server import build_server
from sensorbot.runner import api_server
from storage.sqlite import SQLiteStore
from tests.support.api import Api, make_api
from tests.support.dynalite import free_port
from tests.support.waiting import wait_until

TIMEOUT_S = 1.0
WAIT_S = 5.0  # how long a test waits for what should happen after TIMEOUT_S
MIB = 1024 * 1024


class Live:
    def __init__(self, api: Api, port: int) -> None:
        self.api, self.port = api, port

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT_S)
        return sock

    def head(self, length: int | None, *, close: bool = True, path: str = "", token: str = "",
             expect: bool = False) -> bytes:
        token = token or self.api.tokens["alice_write"]
        lines = [f"POST {path or '/api/v2/sensor/attic/measurement'} HTTP/1.1", "Host: sensorbot",
                 f"Authorization: Bearer {token}"]
        lines.append(f"Content-Length: {length}" if length is not None
                     else "Transfer-Encoding: chunked")
        if close:
            lines.append("Connection: close")
        if expect:
            lines.append("Expect: 100-continue")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


@contextlib.contextmanager
def serving(api: Api) -> Iterator[int]:
    port = free_port()
    # log_config=None: uvicorn's loggers propagate, so the tests see what it would log
    server = build_server(api.client.app, "127.0.0.1", port, request_timeout_s=TIMEOUT_S,
                          log_config=None, access_log=False)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live(tmp_path) -> Iterator[Live]:
    store = SQLiteStore(tmp_path / "live.db")
    api = make_api(store)
    with serving(api) as port:
        yield Live(api, port)
    store.close()


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes; fails the test if it does not within WAIT_S."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise AssertionError("the server kept the connection open") from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def read_response(sock: socket.socket) -> bytes:
    """One response off a kept-alive connection (this API always sends Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the API and uvicorn logged."""
    return [r for r in caplog.records if r.name.startswith(("sensorbot", "uvicorn"))]


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_it_closes_a_connection_that_sends_nothing(live):
    with live.connect() as sock:
        assert read_all(sock) == b""


def test_it_closes_a_connection_whose_headers_stall(live):
    with live.connect() as sock:
        sock.sendall(live.head(10)[:30])

        assert read_all(sock) == b""


def test_it_answers_408_to_a_body_that_stalls_and_stores_nothing(live, caplog):
    caplog.set_level(logging.INFO)
    with live.connect() as sock:
        sock.sendall(live.head(100) + b'{"value": ')
        response = read_all(sock)
    wait_until(lambda: ours(caplog), what="the log line")

    assert status_of(response) == 408
    assert b"did not arrive within 1 s" in response
    assert live.api.stored() == []
    assert [r.getMessage() for r in ours(caplog)] == [
        "POST '/api/v2/sensor/attic/measurement' from 127.0.0.1: the body stopped short "
        "(the client hung up or was cut off); nothing stored"]


def test_it_cuts_off_a_body_that_trickles_in_byte_by_byte(live):
    body = b'{"value": 1.5}' + b" " * 100
    with live.connect() as sock:
        sock.sendall(live.head(len(body)))
        started = time.monotonic()
        with contextlib.suppress(OSError):
            for byte in body:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
                if time.monotonic() - started > WAIT_S:
                    break
        response = read_all(sock)

    assert status_of(response) == 408
    assert live.api.stored() == []


def test_it_still_serves_a_prompt_client_on_a_kept_alive_connection(live):
    body = b'{"value": 2.5}'
    with live.connect() as sock:
        for _ in range(2):
            sock.sendall(live.head(len(body), close=False) + body)
            assert status_of(read_response(sock)) == 200
            time.sleep(TIMEOUT_S * 0.6)  # twice that in all: the deadline is per request

    assert [r.value for r in live.api.stored()] == [2.5]  # the same timestamp, stored once


def test_a_client_that_hangs_up_mid_body_costs_one_short_log_line(live, caplog):
    caplog.set_level(logging.INFO)
    with live.connect() as sock:
        sock.sendall(live.head(1000, expect=True))
        assert b"100 Continue" in sock.recv(1024)  # the app now awaits the body
        sock.sendall(b'{"value": ')
    wait_until(lambda: ours(caplog), what="the log line")
    with live.connect() as sock:  # once the server has answered this, it has logged all else
        sock.sendall(live.head(14) + b'{"value": 1.0}')
        assert status_of(read_all(sock)) == 200

    about_it = [r for r in ours(caplog) if r.name != "uvicorn.access"]  # the sync's line
    assert len(about_it) == 1, [r.getMessage() for r in about_it]
    assert about_it[0].levelno <= logging.INFO
    assert about_it[0].exc_info is None
    assert len(about_it[0].getMessage()) < 200
    assert "hung up" in about_it[0].getMessage()
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("declared", [True, False])
def test_it_lets_a_client_still_sending_an_oversized_body_read_its_413(live, declared):
    size = 3 * MIB
    for _ in range(3):
        with live.connect() as sock:
            sock.sendall(live.head(size if declared else None))
            chunk = b" " * 65536
            for _ in range(size // len(chunk)):
                sock.sendall(chunk if declared else b"%x\r\n%s\r\n" % (len(chunk), chunk))
                time.sleep(0.001)
            if not declared:
                sock.sendall(b"0\r\n\r\n")
            response = read_all(sock)

        assert status_of(response) == 413
        assert b"larger than 1024 KiB" in response


def test_it_keeps_the_connection_usable_after_a_413(live):
    body = b'{"value": 3.5}'
    with live.connect() as sock:
        sock.sendall(live.head(2 * MIB, close=False) + b" " * (2 * MIB))
        first = read_response(sock)
        sock.sendall(live.head(len(body)) + body)
        second = read_all(sock)

    assert status_of(first) == 413
    assert status_of(second) == 200
    assert [r.value for r in live.api.stored()] == [3.5]


def test_it_refuses_an_oversized_body_before_inviting_it(live):
    with live.connect() as sock:
        sock.sendall(live.head(3 * MIB, expect=True))
        response = read_all(sock)

    assert status_of(response) == 413  # no "100 Continue" first: curl sends nothing more


def test_a_shelly_query_of_100_kib_gets_a_json_error_and_stores_nothing(live):
    padding = "x" * 100 * 1024
    query = f"apikey={live.api.tokens['alice_write']}&id=ht&temp=21&pad={padding}"
    with live.connect() as sock:
        sock.sendall(f"GET /api/v1/shelly?{query} HTTP/1.1\r\nHost: sensorbot\r\n"
                     "Connection: close\r\n\r\n".encode())
        head, _, body = read_all(sock).partition(b"\r\n\r\n")

    assert head.startswith(b"HTTP/1.1 414")
    assert b"content-type: application/json" in head.lower()
    assert "64 KiB" in json.loads(body)["detail"]
    assert live.api.stored() == []


def test_a_request_that_is_not_http_gets_a_json_400(live):
    with live.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: sensorbot\r\nBad Header\r\n\r\n")
        head, _, body = read_all(sock).partition(b"\r\n\r\n")

    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["detail"] == "the request is not valid HTTP/1.1"
def test_the_request_deadline_is_the_api_setting(tmp_path):
    store = SQLiteStore(tmp_path / "setting.db")
    settings = Settings.model_validate({"api": {"request_timeout_seconds": 2.5}})
    server = api_server(settings, store, None)

    assert server.config.http.request_timeout_s == 2.5
    assert Settings().api.request_timeout_seconds == 30
    store.close()


def test_uvicorn_is_pinned_to_the_minor_version_this_file_passed_on():
    """ingest/http/server.py reads uvicorn's internals (cycle.more_body, response_started),
    which a minor version may change: a newer one is allowed only once this file passes on it."""
    import re
    import tomllib
    from pathlib import Path

    import uvicorn

    project = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml")
                           .read_text(encoding="utf-8"))
    [pin] = [r for r in project["project"]["dependencies"] if r.startswith("uvicorn")]
    found = re.fullmatch(r"uvicorn\[standard\]>=(\d+)\.(\d+)(?:\.\d+)?,<(\d+)\.(\d+)", pin)
    assert found, pin
    low, high = (int(found[1]), int(found[2])), (int(found[3]), int(found[4]))

    assert high == (low[0], low[1] + 1), f"{pin} allows more than one minor version"
    assert tuple(int(part) for part in uvicorn.__version__.split(".")[:2]) == low
