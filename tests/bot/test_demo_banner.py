"""The demo's banner shows where its HTTP API listens, with a command that works as printed."""

from __future__ import annotations

import io
import json
import re
import tempfile
import urllib.request
from typing import Any

from sensorbot.demo import run_demo


class CurlThenLeave(io.StringIO):
    """The demo's stdin: runs the banner's curl command, then ends the chat."""

    def __init__(self, out: io.StringIO) -> None:
        super().__init__()
        self.out = out
        self.answer: Any = None

    def readline(self, size: int = -1) -> str:
        command = re.search(r'curl -H "X-API-Key: (\S+)" (http://\S+)', self.out.getvalue())
        assert command, self.out.getvalue()
        request = urllib.request.Request(command[2], headers={"X-API-Key": command[1]})
        with urllib.request.urlopen(request, timeout=10) as response:
            self.answer = json.loads(response.read())
        return ""


def test_the_demo_banner_shows_the_api_url_and_a_working_request(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = io.StringIO()
    stdin = CurlThenLeave(out)

    run_demo(stdin=stdin, out=out)

    assert re.search(r"The HTTP API is at http://127\.0\.0\.1:\d+ ", out.getvalue())
    assert sorted(sensor["sensor"] for sensor in stdin.answer) == [
        "attic", "cellar/battery", "cellar/humidity", "cellar/temperature", "living-room",
        "outdoor"]
