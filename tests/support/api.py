"""Test helpers shared by modules and fixtures; the fixtures live in tests/api/conftest.py.

An API under test on each backend: the app, its store, a movable clock and tokens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.config import Settings
from core.tokens import issue_token
from ingest.http.app import create_app
from storage.models import Reading, User
from tests.support.common import NOW_MS


@dataclass
class Clock:
    now: int = NOW_MS

    def __call__(self) -> int:
        return self.now


@dataclass
class Api:
    client: TestClient
    store: Any
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def stored(self, user: str = "alice") -> list[Reading]:
        """Every reading of the user, whatever the sensor."""
        found = []
        for sensor in self.store.list_sensors(user):
            found += self.store.read_range(user, sensor.sensor_id, 0, 2**53,
                                           now_ms=self.clock.now)
        return found


def build_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if backend == "sqlite":
        from storage.sqlite import SQLiteStore

        return SQLiteStore(tmp_path / "api.db")
    from storage.dynamodb import DynamoDBStore

    suffix = uuid.uuid4().hex[:10]
    store = DynamoDBStore(client=request.getfixturevalue("dynalite_client"),
                          measurements_table=f"api-m-{suffix}", meta_table=f"api-meta-{suffix}",
                          statistics_table=f"api-stats-{suffix}")
    store.init()
    return store


def make_api(store: Any, settings: Settings | None = None) -> Api:
    clock = Clock()
    app = create_app(settings or Settings(), store=store, clock_ms=clock)
    api = Api(TestClient(app, raise_server_exceptions=False), store, clock)
    for user in ("alice", "bob"):
        store.add_user(User(user, user.title(), NOW_MS))
        for scope in ("read", "write"):
            api.tokens[f"{user}_{scope}"], _ = issue_token(store, user, scope, now_ms=NOW_MS)
    for scope in ("read", "write"):
        secret, revoked = issue_token(store, "alice", scope, now_ms=NOW_MS)
        store.revoke_token(revoked.token_id)
        api.tokens[f"revoked_{scope}"] = secret
    api.tokens["unknown"] = "not-a-token-anyone-was-given"
    return api

