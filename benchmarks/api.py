"""HTTP API benchmarks (issue 3). Run: `.venv/bin/python benchmarks/api.py`.

Starts `sensorbot api` (uvicorn, one worker, SQLite) on a loopback port, loads it from client
processes over keep-alive connections, and measures in the same run the storage layer's own
batched write rate, to which the v3 figure is compared.
"""

from __future__ import annotations

import asyncio
import gc
import http.client
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.tokens import issue_token  # noqa: E402
from sensorbot.lean import freeze_startup_heap  # noqa: E402
from storage.models import Reading, User  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402
from tests.support.dynalite import free_port  # noqa: E402

SINGLE_POSTS = 4000
BATCH = 500
BATCHES = 100
ROUNDS = 5  # best of, for the API and the storage figures alike
CLIENTS = 2


def client_worker(port: int, token: str, bodies: list[tuple[str, bytes]]) -> None:
    """Sends each request whole, prepared beforehand, over one kept-alive socket, and reads
    just enough of each answer to know it ended: the client's own work, which shares the
    machine's cores with the server, costs a tenth of what http.client's does."""
    requests = [b"POST %s HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (path.encode(), token.encode(), len(body), body) for path, body in bodies]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = b""
        for request in requests:
            connection.sendall(request)
            pending = read_response(connection, pending)


def read_response(connection: socket.socket, pending: bytes) -> bytes:
    """Reads one response (a 200 with a Content-Length, else exits); returns what followed."""
    while b"\r\n\r\n" not in pending:
        pending += receive(connection)
    head, _, pending = pending.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise SystemExit(f"HTTP {head.split(b' ', 2)[1].decode()}")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(pending) < length:
        pending += receive(connection)
    return pending[length:]


def receive(connection: socket.socket) -> bytes:
    data = connection.recv(65536)
    if not data:
        raise SystemExit("the server closed the connection")
    return data


def load(port: int, token: str, bodies: list[tuple[str, bytes]]) -> float:
    """Seconds to send every body, split over CLIENTS processes."""
    shares = [bodies[i::CLIENTS] for i in range(CLIENTS)]
    workers = [multiprocessing.Process(target=client_worker, args=(port, token, share))
               for share in shares]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit("a client failed")
    return time.perf_counter() - start


def start_server(folder: Path, port: int) -> subprocess.Popen[bytes]:
    config = folder / "config.toml"
    config.write_text(f'[storage]\nsqlite_path = "api.db"\n[api]\nport = {port}\n'
                      "max_readings_per_minute = 0\n", encoding="utf-8")
    server = subprocess.Popen([sys.executable, "-m", "sensorbot", "api", "--config", str(config)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the API did not start")


def batch_bodies(now_ms: int, offset: int) -> list[tuple[str, bytes]]:
    return [("/api/v3/readings", json.dumps({"readings": [
        {"sensor": f"s{i % 10}", "value": 20.5, "timestamp": now_ms - offset - b * BATCH - i}
        for i in range(BATCH)]}).encode()) for b in range(BATCHES)]


def storage_rate(path: Path, now_ms: int) -> float:
    store = SQLiteStore(path)
    batches = [[Reading(f"s{i % 10}", now_ms - b * BATCH - i, 20.5) for i in range(BATCH)]
               for b in range(BATCHES)]
    start = time.perf_counter()
    for batch in batches:
        store.write_readings("bench", batch, now_ms=now_ms)
    return BATCHES * BATCH / (time.perf_counter() - start)


def lambda_cold_start(folder: Path) -> tuple[float, float]:
    """(import of the handler module + building the app + first event, bare interpreter)."""
    event = json.loads((ROOT / "tests/events/function_url_get.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/healthz"
    script = ("import json,sys,time; t=time.perf_counter(); from sensorbot import lambdas; "
              "r=lambdas.handler(json.loads(sys.argv[1]), None); "
              "assert r['statusCode']==200, r; print(time.perf_counter()-t)")
    env = {**os.environ, "SENSORBOT_STORAGE__SQLITE_PATH": str(folder / "lambda.db")}
    runs = [float(subprocess.run([sys.executable, "-c", script, json.dumps(event)], cwd=ROOT,
                                 env=env, capture_output=True, text=True, check=True).stdout)
            for _ in range(3)]
    bare = subprocess.run([sys.executable, "-X", "importtime", "-c", "import ingest.http.app"],
                          cwd=ROOT, capture_output=True, text=True, check=True).stderr
    app_import_us = next(int(line.split("|")[1]) for line in bare.splitlines()
                     if line.rstrip().endswith(" ingest.http.app"))
    return min(runs), app_import_us / 1e6


def serve_and_load(folder: Path, now_ms: int, bodies: list[tuple[str, bytes]]) -> float:
    """Seconds for a fresh server on a fresh database to take every body."""
    folder.mkdir()
    store = SQLiteStore(folder / "api.db")
    store.add_user(User("bench", "Bench", now_ms))
    token, _ = issue_token(store, "bench", "write", now_ms=now_ms)
    store.close()
    port = free_port()
    server = start_server(folder, port)
    try:
        return load(port, token, bodies)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def overhead_per_batch(folder: Path, now_ms: int) -> float:
    """Seconds per batch the app spends on HTTP, auth and validation, storage made a no-op."""
    from core.config import Settings
    from ingest.http.app import create_app

    store = SQLiteStore(folder / "overhead.db")
    store.add_user(User("bench", "Bench", now_ms))
    token, _ = issue_token(store, "bench", "write", now_ms=now_ms)
    store.write_readings = lambda user, readings, now_ms: len(readings)  # type: ignore
    app = create_app(Settings(api={"max_readings_per_minute": 0}), store=store)
    freeze_startup_heap()  # as `sensorbot api` does once it is built
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"host", b"bench")]

    async def post(body: bytes) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/api/v3/readings",
                 "raw_path": b"/api/v3/readings", "query_string": b"", "root_path": "",
                 "headers": headers, "client": ("127.0.0.1", 1), "server": ("bench", 80)}
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        statuses = []

        async def receive() -> dict:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        assert statuses == [200], statuses

    async def run() -> float:
        bodies = [body for _, body in batch_bodies(now_ms, 0)]
        start = time.perf_counter()
        for body in bodies:
            await post(body)
        return (time.perf_counter() - start) / len(bodies)

    try:
        return min(asyncio.run(run()) for _ in range(ROUNDS))
    finally:
        gc.unfreeze()


def main() -> None:
    now_ms = time.time_ns() // 1_000_000
    singles = [(f"/api/v2/sensor/s{i % 10}/measurement",
                json.dumps({"value": 20.5, "timestamp": now_ms - i}).encode())
               for i in range(SINGLE_POSTS)]
    batches = batch_bodies(now_ms, 0)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        single_s = serve_and_load(folder / "singles", now_ms, singles)
        # The same batches into a fresh file each round, through HTTP and straight to storage.
        batch_s = min(serve_and_load(folder / f"api-{r}", now_ms, batches) for r in range(ROUNDS))
        direct = max(storage_rate(folder / f"direct-{r}.db", now_ms) for r in range(ROUNDS))
        cold_s, app_import_s = lambda_cold_start(folder)
        overhead_s = overhead_per_batch(folder, now_ms)
    api_rate = BATCHES * BATCH / batch_s
    print(f"uvicorn, one worker, SQLite, {CLIENTS} keep-alive clients, best of {ROUNDS}:")
    print(f"  v2 single-reading POSTs        {SINGLE_POSTS / single_s:10,.0f} requests/s"
          "   (target >= 1,300)")
    print(f"  v3 batches of {BATCH}, end to end  {api_rate:10,.0f} readings/s")
    print(f"  storage layer, same batches    {direct:10,.0f} readings/s")
    print(f"  ratio API/storage              {api_rate / direct:10.2f}   (target >= 0.55)")
    storage_s = BATCH / direct
    print(f"  in process, storage made a no-op: HTTP + auth + validation {overhead_s * 1e3:.2f} ms"
          f" a batch, storage {storage_s * 1e3:.2f} ms: ratio {storage_s / overhead_s:.2f}"
          "   (>= 1: they cost at most what storage costs)")
    print(f"Lambda cold start: import handler + build app + first event {cold_s:.2f} s"
          f"   (target <= 1 s); of which `import ingest.http.app` {app_import_s:.2f} s")


if __name__ == "__main__":
    main()
