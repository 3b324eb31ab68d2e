"""An API under test on each backend: the app, its store, a movable clock and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Api, build_store, make_api


@pytest.fixture(params=["sqlite", "dynalite"])
def backend_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    store = build_store(request.param, request, tmp_path)
    yield store
    store.close()


@pytest.fixture
def api(backend_store: Any) -> Api:
    return make_api(backend_store)

