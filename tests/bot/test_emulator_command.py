"""`sensorbot emulator`: try `sensorbot run` with your own config before you have a bot token."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support.dynalite import free_port

ROOT = Path(__file__).resolve().parents[2]
SENSORBOT = f"{sys.executable} -m sensorbot"


class Output:
    """What a process has printed so far, read on a thread of its own."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.text = ""
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: [self._add(c) for c in iter(lambda: stream.read(1), "")],
                         daemon=True).start()

    def _add(self, chunk: str) -> None:
        self.text += chunk

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, self.text, re.MULTILINE)) is None:
            assert time.monotonic() < deadline, self.text
            time.sleep(0.05)
        return found


def test_the_bot_run_as_the_banner_says_answers_in_the_terminal(tmp_path):
    port = free_port()
    emulator = subprocess.Popen([sys.executable, "-m", "sensorbot", "emulator", "--port",
                                 str(port)], cwd=tmp_path, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown = Output(emulator)
    run_line = shown.wait_for(r"^  (SENSORBOT_\S+ SENSORBOT_\S+) \.venv/bin/sensorbot run$")[1]
    assert f"SENSORBOT_TELEGRAM__BASE_URL=http://127.0.0.1:{port} " in run_line
    shown.wait_for(r"^you> ")
    # Your own config: a real token you do not have yet, your storage, your API port.
    (tmp_path / "config.toml").write_text(
        '[telegram]\ntoken = "987654:NOT-YET"\n'
        f'[storage]\nsqlite_path = "mine.db"\n[api]\nport = {free_port()}\n', encoding="utf-8")
    bot = subprocess.Popen(["bash", "-c", f"{run_line} exec {SENSORBOT} run"], cwd=ROOT,
                           env={"PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1,localhost",
                                "SENSORBOT_CONFIG": str(tmp_path / "config.toml")},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert emulator.stdin is not None
        emulator.stdin.write("/start\n")
        emulator.stdin.flush()
        shown.wait_for(r"^bot> .*/link")
    finally:
        bot.send_signal(signal.SIGTERM)
        log, _ = bot.communicate(timeout=30)
    try:
        emulator.stdin.close()  # Ctrl-D
        emulator.wait(timeout=30)
    finally:
        emulator.kill()

    assert emulator.returncode == 0
    assert "Bye." in shown.text
    assert (tmp_path / "mine.db").exists()  # the bot ran on the user's own configuration
    assert "Traceback" not in log


def test_a_port_in_use_is_one_sentence_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "sensorbot", "emulator", "--port",
                                 str(port)], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60, stdin=subprocess.DEVNULL)

    assert result.returncode == 2
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr
    assert "--port" in result.stderr
