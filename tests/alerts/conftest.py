"""The bot with the HTTP API and a one-second alert cycle, for end-to-end alert tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sensorbot.demo.emulator import BotApiEmulator
from storage.sqlite import SQLiteStore
from tests.support.alerts import AlertWorld, start_world
from tests.support.api import Clock


@pytest.fixture
def alert_world(emulator: BotApiEmulator, tmp_path: Any) -> Iterator[AlertWorld]:
    world = start_world(emulator, SQLiteStore(tmp_path / "alerts.db"), Clock())
    yield world
    world.bot.stop()

