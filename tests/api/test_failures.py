"""When storage fails, clients hear 503 with Retry-After, and nothing is half-acknowledged."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

from storage.errors import StorageError, StorageUnavailable
from storage.models import Reading
from storage.sqlite import SQLiteStore
from tests.support.api import make_api
from tests.support.common import NOW_MS
from tests.support.waiting import holds_write_lock, wait_until


class FailingStore:
    """The real store, except the named operations raise `error`."""

    def __init__(self, store, error, *operations):
        self._store, self._error, self._operations = store, error, set(operations)

    def __getattr__(self, name):
        if name in self._operations:
            def fail(*args, **kwargs):
                raise self._error
            return fail
        return getattr(self._store, name)


def test_a_locked_sqlite_file_answers_503_and_stores_nothing(tmp_path):
    store = SQLiteStore(tmp_path / "locked.db", busy_timeout_s=0.2)
    api = make_api(store)
    blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")

    response = api.client.post("/api/v2/sensor/attic/measurement", json={"value": 1},
                               headers=api.headers("alice_write"))
    blocker.execute("ROLLBACK")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "retry later" in response.json()["detail"]
    assert api.stored() == []


def test_throttling_past_the_retries_answers_503(tmp_path):
    real = SQLiteStore(tmp_path / "s.db")
    api = make_api(real)
    api.client.app.state.services.store = FailingStore(
        real, StorageUnavailable("DynamoDB is throttling"), "write_readings")

    response = api.client.post("/api/v3/readings", json={"readings": [{"sensor": "a", "value": 1}]},
                               headers=api.headers("alice_write"))

    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert "throttling" not in response.json()["detail"]  # internals stay inside


def test_a_storage_outage_during_auth_is_503_not_401(tmp_path):
    real = SQLiteStore(tmp_path / "s.db")
    api = make_api(real)
    failing = FailingStore(real, StorageUnavailable("down"), "token_by_hash")
    api.client.app.state.services.auth._store = failing

    response = api.client.get("/api/v3/sensors", headers=api.headers("alice_read"))

    assert response.status_code == 503


def test_an_unexpected_storage_error_is_503_with_json(tmp_path):
    real = SQLiteStore(tmp_path / "s.db")
    api = make_api(real)
    api.client.app.state.services.store = FailingStore(real, StorageError("odd"), "list_sensors")

    response = api.client.get("/api/v3/sensors", headers=api.headers("alice_read"))

    assert response.status_code == 503
    assert response.json()["detail"].startswith("storage failed; retry later")


def test_health_reports_503_when_storage_does_not_answer(tmp_path):
    real = SQLiteStore(tmp_path / "s.db")
    api = make_api(real)
    api.client.app.state.services.store = FailingStore(real, StorageUnavailable("x"), "ping")

    response = api.client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_a_failure_to_record_last_use_does_not_fail_the_request(tmp_path):
    real = SQLiteStore(tmp_path / "s.db")
    api = make_api(real)
    failing = FailingStore(real, StorageUnavailable("down"), "touch_token")
    api.client.app.state.services.auth._store = failing

    response = api.client.get("/api/v3/sensors", headers=api.headers("alice_read"))

    assert response.status_code == 200


def test_it_answers_reads_while_another_process_holds_the_write_lock(tmp_path):
    store = SQLiteStore(tmp_path / "locked.db", busy_timeout_s=5)
    api = make_api(store)
    store.write_readings("alice", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)
    other_process = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    with ThreadPoolExecutor(1) as pool:
        waiting_post = pool.submit(api.client.post, "/api/v2/sensor/attic/measurement",
                                   json={"value": 2}, headers=api.headers("alice_write"))
        # the write now waits for the file's lock, holding this store's
        wait_until(lambda: holds_write_lock(store), what="the write waiting")

        read = api.client.get("/api/v3/sensors", headers=api.headers("alice_read"))
        write_still_waiting = not waiting_post.done()
        other_process.execute("ROLLBACK")
        posted = waiting_post.result(timeout=10)

    assert write_still_waiting
    assert read.status_code == 200
    assert [s["last_value"] for s in read.json()] == [1.0]
    assert posted.status_code == 200
