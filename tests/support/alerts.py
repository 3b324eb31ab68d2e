"""Test helpers shared by modules and fixtures; the fixtures live in tests/alerts/conftest.py.

The bot with the HTTP API and a one-second alert cycle, for end-to-end alert tests.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from core.config import Settings
from sensorbot.demo.emulator import BotApiEmulator
from storage.sqlite import SQLiteStore
from tests.support.api import Clock
from tests.support.bot import (
    ADMIN,
    FaultyStore,
    RunningBot,
    World,
    seed_users,
)
from tests.support.dynalite import free_port


class AlertWorld(World):
    api: str = ""

    def post(self, value: float, *, sensor: str = "attic", timestamp: int | None = None,
             user: str = "alice") -> dict[str, Any]:
        """A sensor posts a reading through the real HTTP API."""
        body: dict[str, Any] = {"value": value}
        if timestamp is not None:
            body["timestamp"] = timestamp
        request = urllib.request.Request(
            f"{self.api}/api/v2/sensor/{sensor}/measurement", json.dumps(body).encode(),
            {"Authorization": f"Bearer {self.tokens[user + '_write']}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def alerts_to(self, chat_id: int, after: int = 0) -> list[Any]:
        return [c for c in self.emulator.calls[after:] if c.method == "sendMessage"
                and c.chat_id == chat_id and c.text.startswith(("❄️", "🔥", "✅", "📵"))]

    def wait_cycles(self, count: int, timeout: float = 30) -> None:
        """Until `count` alert cycles have run from start to end after this call."""
        assert self.faulty is not None
        # Cycles never overlap: the one begun after `count` more means those have ended.
        target = self.faulty.cycles_begun + count + 1
        deadline = time.monotonic() + timeout
        while self.faulty.cycles_begun < target:
            assert time.monotonic() < deadline, f"{count} alert cycles did not run"
            time.sleep(0.02)

    def restart(self) -> None:
        self.bot.stop()
        self.bot = RunningBot(self.settings, self.faulty, self.clock)


def start_world(emulator: BotApiEmulator, store: SQLiteStore, clock: Clock, *,
                forecast_url: str | None = None) -> AlertWorld:
    """No forecast unless `forecast_url` (a local fake) is given: no test reaches out."""
    tokens = seed_users(store, clock)
    port = free_port()
    forecast = {"provider": "open-meteo", "base_url": forecast_url} if forecast_url else \
        {"provider": "off"}
    settings = Settings(telegram={"token": emulator.token, "base_url": emulator.base_url,
                                  "admins": [ADMIN]},
                        api={"port": port}, alerts={"check_interval_seconds": 1},
                        forecast=forecast)
    faulty = FaultyStore(store)
    world = AlertWorld(emulator, store, clock, RunningBot(settings, faulty, clock), tokens,
                       faulty)
    world.settings = settings  # type: ignore[attr-defined]
    world.api = f"http://127.0.0.1:{port}"
    emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=20)
    return world

