"""The alert tests' stores; the bot with the HTTP API and a one-second alert cycle, for end-to-end
alert tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sensorbot.demo.emulator import BotApiEmulator
from storage.sqlite import SQLiteStore
from tests.support.alerts import AlertWorld, start_world
from tests.support.api import Clock
from tests.support.common import StoreFactory
from tests.support.stores import stores_on


@pytest.fixture(params=["sqlite", "dynalite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[StoreFactory]:
    """The alert state's stores: SQLite, and DynamoDB as dynalite serves it. What the stores
    must do alike runs on moto too, in tests/storage/test_contract.py; here moto would repeat
    dynalite's runs at twice their cost."""
    yield from stores_on(request.param, request, tmp_path)


@pytest.fixture
def alert_world(emulator: BotApiEmulator, tmp_path: Any) -> Iterator[AlertWorld]:
    world = start_world(emulator, SQLiteStore(tmp_path / "alerts.db"), Clock())
    yield world
    world.bot.stop()

