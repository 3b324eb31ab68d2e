"""The project's documentation as the tests read it: the README and the pages in docs/, and
a folder to run their shell examples in, as pasted, against a live `sensorbot api`."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.dynalite import free_port
from tests.support.http import wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
DOCS_API = "http://127.0.0.1:8080"  # where the examples expect `sensorbot api`
# Run before an example's lines: every curl also reports its status and URL on a line of its own.
PRELUDE = """set -euo pipefail
curl() { command curl -sS -w '\\n@@ %{http_code} %{url_effective}\\n' "$@"; }
"""


def pages() -> dict[str, str]:
    """Each page's path from the repository's root → its text, the README first."""
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8") for path in paths}


def page(name: str) -> str:
    """One page, by its path from the repository's root (`docs/api.md`)."""
    return (ROOT / name).read_text(encoding="utf-8")


def code_blocks(language: str) -> list[tuple[str, str]]:
    """(page, block) for every fenced block of this language, in reading order."""
    pattern = re.compile(rf"^ *```{language}\n(.*?)^ *```", re.DOTALL | re.MULTILINE)
    return [(name, block) for name, text in pages().items() for block in pattern.findall(text)]


def curl_blocks() -> list[str]:
    """Every shell block with a curl command, in the README and docs/."""
    return [block for _, block in code_blocks("sh") if "curl " in block]


def block_with(route: str) -> str:
    """The one curl block that uses this route."""
    [block] = [block for block in curl_blocks() if route in block]
    return block


def make_project(folder: Path, *, with_user: bool = True) -> Path:
    """A folder as the docs assume it: .venv/bin/sensorbot, and the user from the README."""
    bin_dir = folder / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "sensorbot").write_text(
        f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m sensorbot "$@"\n',
        encoding="utf-8")
    (bin_dir / "sensorbot").chmod(0o755)
    if with_user:
        subprocess.run([bin_dir / "sensorbot", "users", "add", "Summer cottage"], cwd=folder,
                       check=True, capture_output=True)
    return folder


def start_api(project: Path, port: int) -> subprocess.Popen[str]:
    """`sensorbot api` on this port, with the project's ./config.toml."""
    (project / "config.toml").write_text(f"[api]\nport = {port}\n", encoding="utf-8")
    server = subprocess.Popen(
        [sys.executable, "-m", "sensorbot", "--config", str(project / "config.toml"), "api"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_until_serving(f"http://127.0.0.1:{port}/healthz", process=server)
    return server


def run_block(project: Path, block: str, *,
              prelude: str = PRELUDE) -> subprocess.CompletedProcess[str]:
    """Run one block against a `sensorbot api` of its own, which must log no traceback."""
    port = free_port()
    server = start_api(project, port)
    try:
        script = prelude + block.replace(DOCS_API, f"http://127.0.0.1:{port}")
        result = subprocess.run(["bash", "-c", script], cwd=project, capture_output=True,
                                text=True, timeout=60)
    finally:
        server.send_signal(signal.SIGTERM)
        log, _ = server.communicate(timeout=10)
    assert f"the HTTP API listens on http://127.0.0.1:{port}" in log
    assert "Traceback" not in log, log
    return result


def answers(output: str) -> list[tuple[int, str, Any]]:
    """(status, path, parsed body) for each curl the block ran."""
    found = []
    for body, status, url in re.findall(r"(.*?)\n@@ (\d{3}) (\S+)\n", output, re.DOTALL):
        path = re.sub(r"^http://[^/]+", "", url).split("?")[0]
        found.append((int(status), path, json.loads(body)))
    return found
