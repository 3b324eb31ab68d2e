"""What the subscriber must remember across restarts, in a small SQLite file of its own
(`[mqtt] state_file`).

- The time given to each message stamped on arrival, by packet id, until the broker reuses
  that id (it does so only once it got the acknowledgement). The time is written before the
  readings: when the broker sends a message again (sensorbot stopped or was killed between
  storing and acknowledging), the readings are written again with the same time, which stores
  them once whatever happened in between.
- The last payload of each topic, to recognise a retained message the broker sends again on
  every subscription: it is stored only if it is new.

Payloads are kept as digests, so the file and the memory stay small whatever their sizes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

Key = TypeVar("Key", int, str)
TOPICS_KEPT = 20_000  # last payloads remembered; the oldest go first

SCHEMA = """
CREATE TABLE IF NOT EXISTS stamps (
    session TEXT NOT NULL, packet_id INTEGER NOT NULL, digest BLOB NOT NULL,
    stamp INTEGER NOT NULL, PRIMARY KEY (session, packet_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS payloads (
    session TEXT NOT NULL, topic TEXT NOT NULL, digest BLOB NOT NULL,
    UNIQUE (session, topic));
"""


def digest(topic: bytes, payload: bytes) -> bytes:
    """A message's fingerprint, without copying its payload."""
    hashed = hashlib.blake2b(topic, digest_size=16)
    hashed.update(b"\0")
    hashed.update(payload)
    return hashed.digest()


class DeliveryMemory:
    """One broker session's memory (`session` names the broker and the client id)."""

    def __init__(self, path: Path, session: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only, as the database: topics name the devices. SQLite gives its -wal and -shm
        # files the file's mode; an existing file keeps its own.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._session = session
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a killed process loses nothing
        self._db.executescript(SCHEMA)
        self._db.execute(
            "DELETE FROM payloads WHERE session = ? AND rowid NOT IN (SELECT rowid FROM "
            "payloads WHERE session = ? ORDER BY rowid DESC LIMIT ?)",
            (session, session, TOPICS_KEPT))

    def forget_session(self) -> None:
        """The broker has no session for sensorbot: it will resend nothing, and its packet
        ids start over."""
        with self._lock:
            self._db.execute("DELETE FROM stamps WHERE session = ?", (self._session,))

    def stamps(self, packet_ids: Iterable[int]) -> dict[int, tuple[bytes, int]]:
        """Packet id → (digest, time given) of the messages stamped under these ids."""
        rows = self._rows("SELECT digest, stamp FROM stamps WHERE session = ? AND packet_id = ?",
                          packet_ids)
        return {packet_id: (bytes(row[0]), row[1]) for packet_id, row in rows.items()}

    def last_payloads(self, topics: Iterable[str]) -> dict[str, bytes]:
        rows = self._rows("SELECT digest FROM payloads WHERE session = ? AND topic = ?", topics)
        return {topic: bytes(row[0]) for topic, row in rows.items()}

    def _rows(self, query: str, keys: Iterable[Key]) -> dict[Key, tuple[Any, ...]]:
        """The row `query` finds for each key (of this session), where it finds one."""
        found: dict[Key, tuple[Any, ...]] = {}
        with self._lock:
            for key in set(keys):
                row = self._db.execute(query, (self._session, key)).fetchone()
                if row is not None:
                    found[key] = row
        return found

    def remember(self, stamps: dict[int, tuple[bytes, int]],
                 payloads: dict[str, bytes | None]) -> None:
        """In one transaction: times given (packet id → (digest, time)), and the topics' last
        payloads (None: the retained message was cleared)."""
        if not stamps and not payloads:
            return
        session = self._session
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO stamps VALUES (?, ?, ?, ?)",
                    [(session, pid, value, stamp) for pid, (value, stamp) in stamps.items()])
                self._db.executemany(
                    "INSERT OR REPLACE INTO payloads VALUES (?, ?, ?)",
                    [(session, t, v) for t, v in payloads.items() if v is not None])
                self._db.executemany(
                    "DELETE FROM payloads WHERE session = ? AND topic = ?",
                    [(session, t) for t, v in payloads.items() if v is None])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
