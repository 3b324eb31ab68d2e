"""SQLite specifics: durability across kill -9, WAL, retention deleting rows for real."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from storage.base import DAY_MS
from storage.models import Reading
from storage.sqlite import SQLiteStore
from tests.support.common import NOW_MS
from tests.support.waiting import holds_write_lock, wait_until

WRITER = textwrap.dedent("""
    import sys
    from storage.models import Reading
    from storage.sqlite import SQLiteStore
    store = SQLiteStore(sys.argv[1])
    now = int(sys.argv[2])
    i = 0
    while True:
        store.write_readings("u1", [Reading("attic", now - i, float(i))], now_ms=now)
        print(i, flush=True)  # acknowledged only once stored
        i += 1
""")


def test_an_acknowledged_write_survives_kill_9(tmp_path):
    path = tmp_path / "durable.db"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(NOW_MS)],
                              stdout=subprocess.PIPE, text=True)
    acknowledged = []
    assert writer.stdout is not None
    for line in writer.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) == 200:
            writer.send_signal(signal.SIGKILL)
            break
    writer.wait(timeout=10)

    stored = SQLiteStore(path).read_range("u1", "attic", 0, NOW_MS, now_ms=NOW_MS)

    assert writer.returncode == -signal.SIGKILL
    assert {NOW_MS - i for i in acknowledged} <= {r.timestamp for r in stored}


def test_a_write_returns_only_once_the_whole_log_is_on_disk(tmp_path, monkeypatch):
    import os

    import storage.sqlite.connection as connection

    synced: list[tuple[str, int]] = []  # (file, its size when synced)

    def recorded(fd: int) -> None:
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size))

    monkeypatch.setattr(connection, "SYNC_DATA", recorded)
    store = SQLiteStore(tmp_path / "durable.db")
    log = str(tmp_path / "durable.db-wal")

    for i in range(3):
        store.write_readings("u1", [Reading("attic", NOW_MS - i, 1.0)], now_ms=NOW_MS)
        assert synced[-1] == (log, os.path.getsize(log))  # the log as this commit left it

    store.close()


def test_a_write_does_not_wait_for_the_disk_of_the_write_before(tmp_path, monkeypatch):
    import threading

    import storage.sqlite.connection as connection

    disk_done = threading.Event()
    first = threading.Lock()

    def slow_first_sync(fd: int) -> None:  # the first write's disk takes as long as it takes
        if first.acquire(blocking=False):
            disk_done.wait(10)

    store = SQLiteStore(tmp_path / "shared.db")
    monkeypatch.setattr(connection, "SYNC_DATA", slow_first_sync)
    with ThreadPoolExecutor(2) as pool:
        waiting = pool.submit(store.write_readings, "u1", [Reading("attic", NOW_MS, 1.0)],
                              now_ms=NOW_MS)
        wait_until(first.locked)
        second = pool.submit(store.write_readings, "u1", [Reading("attic", NOW_MS - 1, 2.0)],
                             now_ms=NOW_MS)
        assert second.result(timeout=10) == 1  # committed and synced meanwhile
        assert not waiting.done()
        disk_done.set()
        assert waiting.result(timeout=10) == 1
    store.close()


def test_it_uses_write_ahead_logging(tmp_path):
    SQLiteStore(tmp_path / "wal.db").close()

    mode = sqlite3.connect(tmp_path / "wal.db").execute("PRAGMA journal_mode").fetchone()[0]

    assert mode == "wal"


def test_retention_deletes_expired_rows_from_the_file(tmp_path):
    store = SQLiteStore(tmp_path / "purge.db", retention_days=2)
    store.write_readings("u1", [Reading("attic", NOW_MS - 3 * DAY_MS, 1.0),
                                Reading("attic", NOW_MS, 2.0)], now_ms=NOW_MS - 3 * DAY_MS)

    deleted = store.purge_expired(now_ms=NOW_MS)

    raw = sqlite3.connect(tmp_path / "purge.db").execute("SELECT ts FROM readings").fetchall()
    assert deleted == 1
    assert raw == [(NOW_MS,)]


def test_two_processes_can_share_one_file(tmp_path):
    first = SQLiteStore(tmp_path / "shared.db")
    second = SQLiteStore(tmp_path / "shared.db")

    first.write_readings("u1", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)
    second.write_readings("u1", [Reading("attic", NOW_MS + 1, 2.0)], now_ms=NOW_MS)

    assert len(first.read_range("u1", "attic", 0, NOW_MS + 1, now_ms=NOW_MS)) == 2


class FailingCommit:
    """The real connection, except the next COMMIT fails as a full disk would make it."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection, self.armed = connection, True

    def execute(self, sql: str, *args):
        if sql == "COMMIT" and self.armed:
            self.armed = False
            raise sqlite3.OperationalError("database or disk is full")
        return self._connection.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._connection, name)


def test_a_failed_commit_is_rolled_back_and_later_writes_work(tmp_path):
    from storage.errors import StorageUnavailable

    store = SQLiteStore(tmp_path / "full.db")
    store.write_readings("u1", [Reading("attic", NOW_MS - 1, 1.0)], now_ms=NOW_MS)
    store._db = FailingCommit(store._db)

    try:
        store.write_readings("u1", [Reading("attic", NOW_MS, 2.0)], now_ms=NOW_MS)
    except StorageUnavailable:
        pass
    else:
        raise AssertionError("the failed commit was acknowledged")
    store.write_readings("u1", [Reading("attic", NOW_MS + 1, 3.0)], now_ms=NOW_MS)

    values = [r.value for r in store.read_range("u1", "attic", 0, NOW_MS + 1, now_ms=NOW_MS)]
    assert values == [1.0, 3.0]


def test_it_reads_while_another_process_holds_the_write_lock(tmp_path):
    path = tmp_path / "locked.db"
    store = SQLiteStore(path, busy_timeout_s=5)
    store.write_readings("u1", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)
    other_process = sqlite3.connect(path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    with ThreadPoolExecutor(1) as pool:
        waiting_write = pool.submit(store.write_readings, "u1",
                                    [Reading("attic", NOW_MS + 1, 2.0)], now_ms=NOW_MS)
        # the write now waits for the file's lock, holding this store's
        wait_until(lambda: holds_write_lock(store), what="the write waiting")

        read = store.read_range("u1", "attic", 0, NOW_MS + 1, now_ms=NOW_MS)
        latest = store.latest_readings([("u1", "attic")], now_ms=NOW_MS)
        sensors = store.list_sensors("u1")
        write_still_waiting = not waiting_write.done()
        other_process.execute("ROLLBACK")
        waiting_write.result(timeout=10)

    assert write_still_waiting
    assert [r.value for r in read] == [1.0]
    assert latest[("u1", "attic")].value == 1.0
    assert [s.sensor_id for s in sensors] == ["attic"]
    store.close()


def test_a_write_still_gives_up_after_its_busy_timeout(tmp_path):
    from storage.errors import StorageUnavailable

    store = SQLiteStore(tmp_path / "locked.db", busy_timeout_s=0.2)
    other_process = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")

    try:
        store.write_readings("u1", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)
    except StorageUnavailable:
        pass
    else:
        raise AssertionError("a write went through another process's lock")
    finally:
        other_process.execute("ROLLBACK")
    store.close()


def test_it_closes_its_read_connections_too(tmp_path):
    store = SQLiteStore(tmp_path / "closed.db")
    store.list_sensors("u1")
    reader = store._readers.get_nowait()
    store._readers.put(reader)

    store.close()

    try:
        reader.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        pass
    else:
        raise AssertionError("a read connection was left open")


def test_a_version_2_database_gains_the_webhooks_update_memory(tmp_path):

    from storage.sqlite.schema import BASE, SCHEMA_VERSION, STATISTICS

    path = tmp_path / "v2.db"
    db = sqlite3.connect(path)
    db.executescript(BASE + STATISTICS + "PRAGMA user_version = 2;")
    db.close()

    store = SQLiteStore(path)

    assert store.claim_update(1, now_ms=NOW_MS, lease_ms=1000)
    assert not store.claim_update(1, now_ms=NOW_MS, lease_ms=1000)
    assert store._query("PRAGMA user_version")[0][0] == SCHEMA_VERSION >= 3
    store.close()


def test_a_database_of_a_newer_schema_is_refused_not_misread(tmp_path):
    """A file an upgraded sensorbot migrated, opened by an older one (a rollback)."""
    from storage.errors import StorageUnavailable
    from storage.sqlite.schema import SCHEMA_VERSION

    path = tmp_path / "newer.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()

    with pytest.raises(StorageUnavailable, match=f"is of schema {SCHEMA_VERSION + 1}; this "
                                                 f"sensorbot knows {SCHEMA_VERSION}: upgrade"):
        SQLiteStore(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    db.close()
