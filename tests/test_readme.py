"""The README's HTTP examples, run as pasted against a live `sensorbot api` (issue 9)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.dynalite import free_port
from tests.support.http import wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
README_API = "http://127.0.0.1:8080"
# Run before the README's lines: every curl also reports its status and URL on a line of its own.
PRELUDE = """set -euo pipefail
curl() { command curl -sS -w '\\n@@ %{http_code} %{url_effective}\\n' "$@"; }
"""


def curl_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [block for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL) if "curl " in block]


def answers(output: str) -> list[tuple[int, str, Any]]:
    """(status, path, parsed body) for each curl the block ran."""
    found = []
    for body, status, url in re.findall(r"(.*?)\n@@ (\d{3}) (\S+)\n", output, re.DOTALL):
        path = re.sub(r"^http://[^/]+", "", url).split("?")[0]
        found.append((int(status), path, json.loads(body)))
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder as the README assumes it: ./config.toml, .venv/bin/sensorbot, the user."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "sensorbot").write_text(
        f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m sensorbot "$@"\n',
        encoding="utf-8")
    (bin_dir / "sensorbot").chmod(0o755)
    subprocess.run([bin_dir / "sensorbot", "users", "add", "Summer cottage"], cwd=tmp_path,
                   check=True, capture_output=True)
    return tmp_path


def start_api(project: Path, port: int) -> subprocess.Popen[str]:
    (project / "config.toml").write_text(f"[api]\nport = {port}\n", encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "sensorbot", "--config", str(project / "config.toml"), "api"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_until_serving(f"http://127.0.0.1:{port}/healthz", process=server)
    return server


def test_the_readme_http_examples_work_as_pasted(project):
    blocks = curl_blocks()
    assert len(blocks) == 2 and README_API in blocks[0]  # the second: tests/devices
    port = free_port()
    server = start_api(project, port)
    try:
        script = PRELUDE + blocks[0].replace(README_API, f"http://127.0.0.1:{port}")
        result = subprocess.run(["bash", "-c", script], cwd=project, capture_output=True,
                                text=True, timeout=60)
    finally:
        server.send_signal(signal.SIGTERM)
        log, _ = server.communicate(timeout=10)

    assert result.returncode == 0, result.stderr
    got = answers(result.stdout)
    assert [path for _, path, _ in got] == [
        "/api/v1/sensor/ruuvi%2Ftemperature/measurement", "/api/v2/sensor/attic/measurement",
        "/api/v2/sensor/attic/measurement", "/api/v2/sensor/attic/series", "/api/v3/readings",
        "/api/v3/sensors", "/api/v3/sensors/attic/readings", "/healthz"]
    assert all(200 <= status < 300 for status, _, _ in got), got
    bodies = [body for _, _, body in got]
    assert [item["value"] for item in bodies[3]] == [20.9, 21.5]
    assert bodies[4] == {"stored": 2}
    latest = {sensor["sensor"]: sensor["last_value"] for sensor in bodies[5]}
    assert latest == {"ruuvi/temperature": 21.3, "attic": 21.5, "cellar": 4.0, "sauna": 71.5}
    assert [reading["value"] for reading in bodies[6]["readings"]] == [20.9, 21.5]
    assert f"the HTTP API listens on http://127.0.0.1:{port}" in log
    assert "Traceback" not in log
