"""The SQLite store's plumbing: one writer connection behind a lock, a pool of readers."""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from storage.base import DAY_MS
from storage.errors import StorageUnavailable
from storage.sqlite.schema import migrate

SYNC_DATA = getattr(os, "fdatasync", os.fsync)  # macOS has fsync only


def _create_owner_only(path: str) -> None:
    """A new database file is 0600: it holds token hashes and chat links. SQLite gives its -wal
    and -shm files the database file's mode. An existing file keeps the mode it has."""
    if path == ":memory:":
        return
    with contextlib.suppress(OSError):  # exists already, or a bad folder that connect reports
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class Connections:
    """Thread-safe. Writes share one connection and its lock, and wait on busy_timeout for
    other processes' writes; reads each take a connection of their own from a pool, so in WAL
    mode they never wait for a writer, of this process or another."""

    def __init__(self, path: Path | str, *, retention_days: int = 90,
                 busy_timeout_s: float = 10.0, statistics_retention_days: int = 0) -> None:
        self.path = str(path)
        self.retention_ms = retention_days * DAY_MS
        self.statistics_retention_ms = statistics_retention_days * DAY_MS
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.RLock()
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._closed = False
        self._last_purge_ms = 0
        self._log: int | None = None  # the write-ahead log, opened to sync it
        _create_owner_only(self.path)
        try:
            self._db = self._connect()
            # NORMAL, and every write transaction syncs the log itself once it has let go of
            # the write lock (_tx): an acknowledged write survives kill -9 and a power cut on
            # the Pi alike, as with FULL, yet the next write need not wait for this one's disk.
            self._db.executescript(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            )
            migrate(self._db)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open SQLite database {self.path}: {exc}") from exc

    # -- plumbing ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=self._busy_timeout_s)

    @contextmanager
    def _tx(self, *, wait_s: float | None = None) -> Iterator[sqlite3.Connection]:
        """A write transaction; `wait_s` bounds the wait for the write lock (default: the
        busy timeout, after which it fails as StorageUnavailable)."""
        if not self._lock.acquire(timeout=-1 if wait_s is None else wait_s):
            raise StorageUnavailable("SQLite is busy with another write")
        try:
            with _translated():
                self._begin(wait_s)
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:  # a failed COMMIT leaves it open: never so
                        self._db.execute("ROLLBACK")
                    raise
        finally:
            self._lock.release()
        self._sync_log()

    def _sync_log(self) -> None:
        """Wait until the write-ahead log, with every transaction committed so far, is on the
        disk. In WAL mode SQLite syncs the log and the database at each checkpoint, the log
        header when the log starts over, and with FULL the log at each commit too — which is
        what this does, outside the lock, so that writes arriving meanwhile share the sync."""
        if self.path == ":memory:":
            return
        try:
            if self._log is None:
                self._log = os.open(self.path + "-wal", os.O_RDONLY | os.O_CLOEXEC)
            SYNC_DATA(self._log)
        except OSError as exc:
            raise StorageUnavailable(f"cannot write SQLite's log to disk: {exc}") from exc

    def _begin(self, wait_s: float | None) -> None:
        if wait_s is None:
            self._db.execute("BEGIN IMMEDIATE")
            return
        self._db.execute(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
        try:
            self._db.execute("BEGIN IMMEDIATE")
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A connection for one read, from the pool (a new one when all are busy)."""
        if self.path == ":memory:":  # a database per connection: reads share the writer's
            with self._lock, _translated():
                yield self._db
            return
        with _translated():
            try:
                db = self._readers.get_nowait()
            except queue.Empty:
                db = self._connect()
                db.execute("PRAGMA query_only = 1")
            try:
                yield db
            finally:
                if self._closed:
                    db.close()
                else:
                    self._readers.put(db)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._reader() as db:
            return db.execute(sql, params).fetchall()

    def init(self) -> list[str]:
        return []  # the schema is created on open

    def ping(self) -> None:
        self._query("SELECT 1")

    def close(self) -> None:
        self._closed = True
        with self._lock:
            self._db.close()
            if self._log is not None:
                os.close(self._log)
                self._log = None
        while not self._readers.empty():
            self._readers.get_nowait().close()

    def _cutoff(self, now_ms: int) -> int:
        return now_ms - self.retention_ms


@contextmanager
def _translated() -> Iterator[None]:
    """SQLite's transient failures become StorageUnavailable (HTTP 503, retry later)."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StorageUnavailable(f"SQLite is unavailable: {exc}") from exc


