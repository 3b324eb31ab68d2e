"""The default rate limit holds one maximal v3 batch (docs/api.md: 1200 a minute)."""

from __future__ import annotations

from pathlib import Path

from core.config import Settings
from storage.sqlite import SQLiteStore
from tests.support.api import make_api
from tests.support.common import NOW_MS


def test_it_accepts_a_maximal_1000_reading_batch_with_the_default_limit(tmp_path: Path):
    api = make_api(SQLiteStore(tmp_path / "limit.db"), Settings())
    batch = {"readings": [{"sensor": "attic", "value": i, "timestamp": NOW_MS - i * 1000}
                          for i in range(1000)]}

    response = api.client.post("/api/v3/readings", json=batch, headers=api.headers("alice_write"))

    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 1000}
    assert Settings().api.max_readings_per_minute == 1200
