"""The bot as a whole: a real Application long-polling the Bot API emulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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


@pytest.fixture
def world(emulator: BotApiEmulator, tmp_path: Any) -> Iterator[World]:
    store = SQLiteStore(tmp_path / "bot.db")
    clock = Clock()
    tokens = seed_users(store, clock)
    settings = Settings(telegram={"token": emulator.token, "base_url": emulator.base_url,
                                  "admins": [ADMIN]}, api={"enabled": False})
    faulty = FaultyStore(store)
    running = RunningBot(settings, faulty, clock)
    world = World(emulator, store, clock, running, tokens, faulty)
    emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=20)
    yield world
    running.stop()

