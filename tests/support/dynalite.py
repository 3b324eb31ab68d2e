"""Start and stop dynalite (DynamoDB on LevelDB, from npm) on a free loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def find_dynalite() -> str | None:
    candidates = [os.environ.get("DYNALITE_BIN"), str(ROOT / ".tools/node_modules/.bin/dynalite")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("dynalite")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dynalite:
    process: subprocess.Popen[bytes]
    endpoint: str

    def stop(self) -> None:
        try:
            os.kill(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_dynalite(binary: str, *, timeout: float = 20.0) -> Dynalite:
    """In memory; tables become ACTIVE at once."""
    port = free_port()
    process = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "--port", str(port), "--createTableMs", "0",
         "--deleteTableMs", "0", "--updateTableMs", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dynalite exited at start with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Dynalite(process, f"http://127.0.0.1:{port}")
        except OSError:
            time.sleep(0.05)
    Dynalite(process, "").stop()
    raise RuntimeError(f"dynalite did not listen on port {port} within {timeout} s")
