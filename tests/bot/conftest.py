"""The bot as a whole: a real Application handed its updates directly (`world`), or
long-polling the Bot API emulator over HTTP (`polling_world`, for what polling itself does)."""

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
    DirectBot,
    FaultyStore,
    RunningBot,
    World,
    seed_users,
)


def make_world(emulator: BotApiEmulator, tmp_path: Any, *, polling: bool) -> World:
    store = SQLiteStore(tmp_path / "bot.db")
    clock = Clock()
    tokens = seed_users(store, clock)
    settings = Settings(telegram={"token": emulator.token, "base_url": emulator.base_url,
                                  "admins": [ADMIN]}, api={"enabled": False})
    faulty = FaultyStore(store)
    if not polling:
        return World(emulator, store, clock, DirectBot(settings, faulty, clock, emulator),
                     tokens, faulty)
    running = RunningBot(settings, faulty, clock)
    emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=20)
    return World(emulator, store, clock, running, tokens, faulty)


@pytest.fixture
def world(emulator: BotApiEmulator, tmp_path: Any) -> Iterator[World]:
    """The bot fed by Application.process_update: no long polling."""
    world = make_world(emulator, tmp_path, polling=False)
    yield world
    world.bot.stop()


@pytest.fixture
def polling_world(emulator: BotApiEmulator, tmp_path: Any) -> Iterator[World]:
    """The bot as `sensorbot run` runs it, long-polling the emulator."""
    world = make_world(emulator, tmp_path, polling=True)
    yield world
    world.bot.stop()
