"""Waiting for a server process that the tests started."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from typing import Any


def wait_until_serving(url: str, *, process: subprocess.Popen[Any] | None = None,
                       timeout: float = 20) -> None:
    """Poll `url` until it answers; fail early, with its output, if `process` exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                output = process.communicate()[0] if process.stdout else ""
                raise AssertionError(f"the server exited: {output}") from None
            assert time.monotonic() < deadline, f"{url} did not answer in {timeout} s"
            time.sleep(0.1)
