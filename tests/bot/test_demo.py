"""`sensorbot demo`: a newcomer types commands and sees answers, charts and files."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sensorbot import demo
from sensorbot.demo import run_demo

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_answers_in_the_terminal_and_saves_charts(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sensorbot", "demo"], cwd=tmp_path, text=True, timeout=120,
        input="/latest\n/history\n1\n/export attic 6h\n/freeze attic\n/alerts\n",
        capture_output=True)

    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert re.search(r"bot> Attic: [-−]?\d+(\.\d+)? °C", out)
    assert re.search(r"bot> Cellar: [-−]?\d+(\.\d+)? °C", out)  # over MQTT, unit at first sight
    assert "[1] Attic" in out
    chart = Path(re.search(r"\[photo saved to (.+\.png)\]", out)[1])
    assert chart.read_bytes().startswith(b"\x89PNG")
    csv_file = Path(re.search(r"\[document saved to (.+\.csv)\]", out)[1])
    assert csv_file.read_text().startswith("timestamp_ms,local_time,value\n")
    assert "Pipe-freeze protection on Attic" in out
    assert "Bye." in out
    assert "Traceback" not in result.stderr
    assert "amqtt" not in result.stderr  # the broker keeps quiet: the terminal is the chat
    assert list(tmp_path.iterdir()) == []  # nothing left in the working directory


def test_it_leaves_cleanly_on_ctrl_c(tmp_path):
    demo_process = subprocess.Popen(
        [sys.executable, "-m", "sensorbot", "demo"], cwd=tmp_path, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # A shell's background job ignores SIGINT, and Python keeps it ignored if inherited.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert demo_process.stdout is not None
    shown = ""
    while "you> " not in shown:
        chunk = os.read(demo_process.stdout.fileno(), 4096).decode()
        assert chunk, shown
        shown += chunk
    demo_process.send_signal(signal.SIGINT)
    out, err = demo_process.communicate(timeout=20)

    assert demo_process.returncode == 0, err
    assert "Bye." in out
    assert "Traceback" not in err
    assert "amqtt" not in err


class PublishThenAsk(io.StringIO):
    """The demo's stdin: runs the banner's publish command, waits until the HTTP API lists
    the new sensor, then asks /latest and leaves."""

    def __init__(self, out: io.StringIO) -> None:
        super().__init__()
        self.out = out
        self.lines = ["/latest\n", ""]
        self.published: subprocess.CompletedProcess[str] | None = None

    def readline(self, size: int = -1) -> str:
        if self.published is None:
            shown = self.out.getvalue()
            command = re.search(r"^  (\S*(mosquitto_pub|amqtt_pub) .+)$", shown, re.MULTILINE)
            assert command, shown
            self.published = subprocess.run(shlex.split(command[1]), capture_output=True,
                                             text=True, timeout=30)
            wait_for_sensor(shown, "garage/temperature")
        return self.lines.pop(0)


def wait_for_sensor(banner: str, sensor: str, timeout: float = 10) -> None:
    """Through the banner's curl command: the demo's HTTP API lists `sensor`."""
    curl = re.search(r'curl -H "X-API-Key: (\S+)" (http://\S+)', banner)
    assert curl, banner
    request = urllib.request.Request(curl[2], headers={"X-API-Key": curl[1]})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(request, timeout=10) as response:
            if sensor in {s["sensor"] for s in json.loads(response.read())}:
                return
        time.sleep(0.1)


@pytest.mark.parametrize("publisher", ["mosquitto_pub", "amqtt_pub"])
def test_it_shows_the_mqtt_devices_readings_and_the_banners_publish_command_works(
        tmp_path: Path, monkeypatch: Any, publisher: str) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    if publisher == "mosquitto_pub" and not shutil.which("mosquitto_pub"):
        pytest.skip("mosquitto_pub is not installed (Debian: mosquitto-clients)")
    if publisher == "amqtt_pub":  # what a machine without mosquitto_pub is shown
        monkeypatch.setattr(demo.shutil, "which", lambda name: None)
    out = io.StringIO()
    stdin = PublishThenAsk(out)

    run_demo(stdin=stdin, out=out)

    shown = out.getvalue()
    assert re.search(r"MQTT broker at mqtt://127\.0\.0\.1:\d+", shown)
    assert f"  {publisher}" in shown or f"/{publisher} " in shown
    assert stdin.published is not None and stdin.published.returncode == 0, stdin.published
    # The cellar's sensor publishes through the broker; the subscriber sets units at first sight.
    assert re.search(r"bot> Cellar: [-−]?\d+\.\d+ °C", shown), shown
    assert re.search(r"bot> Cellar humidity: \d+(\.\d+)?%", shown), shown
    assert "bot> garage/temperature: 1.5 °C" in shown, shown


def test_it_runs_without_the_mqtt_device_when_amqtt_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for name in [n for n in sys.modules if n.split(".")[0] == "amqtt"] + ["amqtt"]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it now fails
    monkeypatch.delitem(sys.modules, "sensorbot.demo.mqtt", raising=False)
    out = io.StringIO()

    run_demo(stdin=io.StringIO("/latest\n"), out=out)

    shown = out.getvalue()
    assert shown.count("No MQTT device in this demo: it needs amqtt") == 1
    assert "pip install -e '.[demo]'" in shown
    assert re.search(r"bot> Attic: [-−]?\d+(\.\d+)? °C", shown), shown
    assert "Cellar" not in shown and "mqtt://" not in shown
    assert "Bye." in shown


class WaitForTheHeatingWarning(io.StringIO):
    """The demo's stdin: waits until the heating warning is on screen, presses its Chart 24h
    (the fourth button), asks /alerts, leaves."""

    def __init__(self, out: io.StringIO, timeout: float = 300) -> None:
        super().__init__()
        self.out, self.timeout = out, timeout
        self.lines = ["4\n", "/alerts\n", ""]
        self.waited: float | None = None

    def readline(self, size: int = -1) -> str:
        if self.waited is None:
            started = time.monotonic()
            while "Heating may have stopped" not in self.out.getvalue() and \
                    time.monotonic() - started < self.timeout:
                time.sleep(0.05)
            self.waited = time.monotonic() - started
        return self.lines.pop(0)


def test_the_heating_warning_reaches_the_terminal_within_minutes_before_the_freeze_alert(
        tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    out = io.StringIO()
    stdin = WaitForTheHeatingWarning(out)

    run_demo(stdin=stdin, out=out)

    shown = out.getvalue()
    warning = re.search(r"bot> 🔥 Heating may have stopped at Attic: .+", shown)
    assert warning, shown
    assert re.search(r"\(usually [78]\.\d °C\), falling", warning[0]), warning[0]
    assert "outside (your outdoor sensor) it reaches 0 °C around" in warning[0]
    assert "I turned the heating down" in shown
    assert stdin.waited is not None and stdin.waited < 300
    assert "Pipe-freeze alert" not in shown[:warning.start()]
    assert re.search(r"heating watch .*— Firing", shown), shown
    chart = re.search(r"\[photo saved to (.+\.png)\]", shown[warning.end():])
    assert chart and Path(chart[1]).read_bytes().startswith(b"\x89PNG")


def test_the_cottages_sensors_post_at_once_so_the_first_latest_is_fresh(monkeypatch):
    """The backfilled history ends up to 5 min before the start: a /latest typed as soon as
    the banner shows must not answer "4 min ago" while the sensors wait their first period."""
    cottage = demo.Cottage("http://127.0.0.1:9", "token", failed_at_ms=0)
    posted: list[str] = []

    def post(url: str, body: dict[str, Any], token: str) -> None:
        posted.append(url)
        cottage.stopped.set()

    monkeypatch.setattr(demo, "post_json", post)
    started = time.monotonic()
    cottage.run()

    assert posted and time.monotonic() - started < demo.SENSOR_PERIOD_S / 2


@pytest.mark.parametrize(("tz", "zone"), [
    ("Europe/Helsinki", "Europe/Helsinki"), (":America/New_York", "America/New_York"),
    ("Etc/UTC", "UTC"), ("Nowhere/Void", "UTC")])
def test_the_demo_chat_shows_times_in_this_machines_zone(tmp_path, monkeypatch, tz, zone):
    """The clock on the wall: /latest's "at 21:45" and the warning's "around 10:24" read in
    the zone of the machine the demo runs on, not in UTC two hours away."""
    monkeypatch.setenv("TZ", tz)

    class Emulator:
        token, base_url = "123:demo", "http://127.0.0.1:9"

    settings = demo.demo_settings(Emulator(), tmp_path, None)  # type: ignore[arg-type]

    assert demo.machine_zone() == zone == settings.alerts.timezone
    assert f"Times are shown in {zone}" in demo.banner(tmp_path, "http://127.0.0.1:9", "r",
                                                      zone=zone)


@pytest.mark.parametrize("now", [1_796_687_220_000, 1_796_687_160_000])  # 2026-12-07 23:47, 23:46
def test_the_failure_is_placed_so_the_warning_comes_within_a_minute_of_the_start(now):
    """At 23:47 the dry runs once settled for a failure warned 3 minutes after the start, which
    a live run's noise made 3 minutes and more (a CI run waited 187 s): they now look further."""
    back = demo.failed_before_start(now)
    warned = demo.dry_run(now, now - back)

    assert warned is not None
    assert -demo.EARLY_ENOUGH_MS <= warned - now <= demo.WARNING_AFTER_START_MS
