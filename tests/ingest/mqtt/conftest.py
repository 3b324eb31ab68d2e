"""A real broker, a real SQLite store, and the subscriber running on its own event loop."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import MqttSettings
from ingest.mqtt.link import Timings
from storage.models import User
from storage.sqlite import SQLiteStore
from tests.ingest.mqtt.broker import Broker, Publisher, broker_kind
from tests.support.devices import RunningIngest


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = Broker(broker_kind(), tmp_path_factory.mktemp("broker")).start()
    yield broker
    broker.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of this test alone, which it may stop and start again."""
    broker = Broker(broker_kind(), tmp_path / "broker").start()
    yield broker
    broker.stop()


@pytest.fixture
def prefix() -> str:
    """A topic root of this test's own, so tests sharing a broker never see each other."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "mqtt.db")
    for user in ("cottage", "home"):
        store.add_user(User(user, user.title(), 0))
    yield store
    store.close()


@pytest.fixture
def start_ingest() -> Iterator[Callable[..., RunningIngest]]:
    running: list[RunningIngest] = []

    def start(settings: MqttSettings, store: Any, timings: Timings | None = None
              ) -> RunningIngest:
        running.append(RunningIngest(settings, store, timings=timings))
        return running[-1]

    yield start
    for ingest in running:
        ingest.stop()


@pytest.fixture
def publisher_for() -> Iterator[Callable[[Broker], Publisher]]:
    made: list[Publisher] = []

    def make(broker: Broker) -> Publisher:
        made.append(Publisher(broker))
        return made[-1]

    yield make
    for publisher in made:
        publisher.close()

