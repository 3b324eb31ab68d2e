"""`sensorbot run` as a user starts it: bot, HTTP API, clean stop; a missing token explained."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

from core.config import Settings
from sensorbot.demo.emulator import BotApiEmulator
from tests.support.dynalite import free_port
from tests.support.waiting import STARTUP_S


def test_run_serves_the_bot_and_the_api_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    with BotApiEmulator() as emulator:
        config = tmp_path / "config.toml"
        config.write_text(f'[telegram]\ntoken = "{emulator.token}"\nbase_url = '
                          f'"{emulator.base_url}"\n[api]\nport = {port}\n', encoding="utf-8")
        process = subprocess.Popen([sys.executable, "-m", "sensorbot", "run", "--config",
                                    str(config)], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=STARTUP_S)
            start = len(emulator.calls)
            emulator.send_text(55, "/start")
            reply = emulator.wait_for(lambda c: c.method == "sendMessage", after=start)
            deadline = time.monotonic() + 10
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as response:
                        health = json.loads(response.read())
                    break
                except OSError:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)

    assert "/link" in reply.text
    assert health == {"status": "ok"}
    assert process.returncode == 0
    assert "Traceback" not in output


def test_run_without_a_bot_token_says_what_to_set(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sensorbot", "run"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "@BotFather" in result.stderr
    assert "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # refused before touching storage


def test_run_with_a_token_telegram_refuses_says_so(tmp_path, emulator):
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\ntoken = "999:WRONG"\nbase_url = "{emulator.base_url}"\n'
                      "[api]\nenabled = false\n", encoding="utf-8")

    result = subprocess.run([sys.executable, "-m", "sensorbot", "run", "--config", str(config)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "Telegram refused the bot token" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_bot_waits_for_telegram_to_become_reachable(tmp_path, emulator):
    from storage.sqlite import SQLiteStore
    from tests.support.api import Clock
    from tests.support.bot import RunningBot

    for _ in range(2):
        emulator.fail_next("getMe", 502, "Bad Gateway")
    settings = Settings(telegram={"token": emulator.token, "base_url": emulator.base_url},
                        api={"enabled": False})
    bot = RunningBot(settings, SQLiteStore(tmp_path / "s.db"), Clock())
    try:
        emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=STARTUP_S)
        start = len(emulator.calls)
        emulator.send_text(5, "/start")
        reply = emulator.wait_for(lambda c: c.method == "sendMessage", after=start)
    finally:
        bot.stop()

    assert "/link" in reply.text
