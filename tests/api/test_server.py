"""`sensorbot api`: the same app behind uvicorn, reached over real HTTP on loopback."""

from __future__ import annotations

import json
import resource
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.dynalite import free_port
from tests.support.http import wait_until_serving


def sensorbot(*args: str, config: Path) -> str:
    return subprocess.run([sys.executable, "-m", "sensorbot", *args, "--config", str(config)],
                          capture_output=True, text=True, check=True).stdout.strip()


def request(url: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=body, headers=headers or {})
    with urllib.request.urlopen(req, timeout=5) as response:
        return response.status, json.loads(response.read())


def test_sensorbot_api_serves_over_http_and_stops_cleanly(tmp_path):
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[api]\nhost = "127.0.0.1"\nport = {port}\n', encoding="utf-8")
    sensorbot("users", "add", "Cottage", "--id", "cottage", config=config)
    write = sensorbot("tokens", "issue", "cottage", "--scope", "write", config=config)
    read = sensorbot("tokens", "issue", "cottage", "--scope", "read", config=config)
    server = subprocess.Popen([sys.executable, "-m", "sensorbot", "api", "--config", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/healthz", process=server)
        posted = request(f"{base}/api/v1/sensor/ruuvi%2Ftemperature/measurement?apikey={write}",
                         body=b'{"value": 21.3}')
        sensors = request(f"{base}/api/v3/sensors", headers={"Authorization": f"Bearer {read}"})
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=10)

    assert posted[0] == 200
    assert posted[1]["sensor"] == "ruuvi/temperature"
    assert [s["last_value"] for s in sensors[1]] == [21.3]
    assert server.returncode == 0
    assert "Traceback" not in output


def test_it_answers_health_while_more_uploads_stall_than_the_soft_file_limit(tmp_path):
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[api]\nhost = "127.0.0.1"\nport = {port}\n', encoding="utf-8")

    def systemd_like_limit() -> None:  # a low soft limit under a higher hard one
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))

    server = subprocess.Popen([sys.executable, "-m", "sensorbot", "api", "--config", str(config)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=systemd_like_limit)
    base = f"http://127.0.0.1:{port}"
    stalled: list[socket.socket] = []
    try:
        wait_until_serving(f"{base}/healthz", process=server)
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"POST /api/v3/readings HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
            stalled.append(sock)

        health = request(f"{base}/healthz")
    finally:
        for sock in stalled:
            sock.close()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)

    assert health == (200, {"status": "ok"})
