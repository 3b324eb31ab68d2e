"""Fresh, initialised stores on one backend, for the `make_store` fixtures (tests/conftest.py,
tests/alerts/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.common import StoreFactory


def stores_on(backend: str, request: pytest.FixtureRequest, tmp_path: Path
              ) -> Iterator[StoreFactory]:
    """A factory of stores on `backend` ("sqlite", "moto" or "dynalite"), closed afterwards."""
    made: list[Any] = []

    def factory(retention_days: int = 90, statistics_retention_days: int = 0) -> Any:
        if backend == "sqlite":
            from storage.sqlite import SQLiteStore

            store = SQLiteStore(tmp_path / f"{len(made)}.db", retention_days=retention_days,
                                statistics_retention_days=statistics_retention_days)
        else:
            from storage.dynamodb import DynamoDBStore

            fixture = "moto_client" if backend == "moto" else "dynalite_client"
            suffix = uuid.uuid4().hex[:10]
            store = DynamoDBStore(
                client=request.getfixturevalue(fixture),
                measurements_table=f"measurement-{suffix}",
                meta_table=f"meta-{suffix}",
                statistics_table=f"statistics-{suffix}",
                retention_days=retention_days,
                statistics_retention_days=statistics_retention_days,
            )
        store.init()
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()
