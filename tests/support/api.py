"""Test helpers shared by modules and fixtures; the fixtures live in tests/ingest/http/conftest.py.

An API under test on each backend: the app, its store, a movable clock and tokens.
"""

from __future__ import annotations

import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.config import Settings
from core.tokens import issue_token
from ingest.http.app import create_app, serve_from
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


# FastAPI works out every route's state anew for each app, at the app's first request: 40 ms of
# CPU, and the suite makes some 350 apps. So an app that no test holds any more (its Api is
# gone) serves the next test of the same settings, given that test's store, clock and services.
_apps: dict[str, list[FastAPI]] = {}
_holders: weakref.WeakValueDictionary[int, Api] = weakref.WeakValueDictionary()


def app_on(settings: Settings, store: Any, clock: Clock) -> FastAPI:
    """An app of these settings on `store`: one that no test holds, else a new one."""
    apps = _apps.setdefault(settings.model_dump_json(), [])
    for app in apps:
        if id(app) not in _holders:
            serve_from(app, settings, store, clock)
            return app
    apps.append(create_app(settings, store=store, clock_ms=clock))
    return apps[-1]


def make_api(store: Any, settings: Settings | None = None) -> Api:
    clock = Clock()
    app = app_on(settings or Settings(), store, clock)
    api = Api(TestClient(app, raise_server_exceptions=False), store, clock)
    _holders[id(app)] = api
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

