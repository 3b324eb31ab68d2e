"""SQLite backend: one file, WAL, the embedded default (CONTRACT §5.2)."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from storage.base import DAY_MS, MAX_TIME_MS, UNSET, SensorKey, Unset
from storage.codec import dump_spec, dump_state, load_spec, load_state
from storage.errors import AlreadyExists, StorageUnavailable
from storage.models import (
    AlertRule,
    AlertState,
    ApiToken,
    ChatLink,
    Invite,
    Reading,
    Sensor,
    User,
    check_sensor_id,
    check_user_id,
    check_value,
)

log = logging.getLogger("sensorbot.storage")

SCHEMA_VERSION = 1
PURGE_EVERY_MS = 3_600_000
TOUCH_WAIT_S = 0.5

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    user_id TEXT NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL,
    value REAL NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, sensor, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sensors (
    user_id TEXT NOT NULL, sensor TEXT NOT NULL, name TEXT, unit TEXT, created INTEGER NOT NULL,
    PRIMARY KEY (user_id, sensor)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY, name TEXT NOT NULL, created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, user_id TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')), label TEXT NOT NULL,
    created INTEGER NOT NULL, last_used INTEGER, revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS chat_links (
    chat_id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, linked_at INTEGER NOT NULL,
    active INTEGER NOT NULL, timezone TEXT, quiet_hours TEXT
);
CREATE INDEX IF NOT EXISTS chat_links_by_user ON chat_links (user_id);
CREATE TABLE IF NOT EXISTS invites (
    code TEXT PRIMARY KEY, user_id TEXT NOT NULL, created INTEGER NOT NULL,
    expires INTEGER NOT NULL, used_by INTEGER, used_at INTEGER
);
CREATE TABLE IF NOT EXISTS alert_rules (
    user_id TEXT NOT NULL, rule_id TEXT NOT NULL, sensor TEXT NOT NULL, spec TEXT NOT NULL,
    created INTEGER NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (user_id, rule_id)
);
"""


def _create_owner_only(path: str) -> None:
    """A new database file is 0600: it holds token hashes and chat links. SQLite gives its -wal
    and -shm files the database file's mode. An existing file keeps the mode it has."""
    if path == ":memory:":
        return
    with contextlib.suppress(OSError):  # exists already, or a bad folder that connect reports
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class SQLiteStore:
    """Thread-safe. Writes share one connection and its lock, and wait on busy_timeout for
    other processes' writes; reads each take a connection of their own from a pool, so in WAL
    mode they never wait for a writer, of this process or another."""

    def __init__(self, path: Path | str, *, retention_days: int = 90,
                 busy_timeout_s: float = 10.0) -> None:
        self.path = str(path)
        self.retention_ms = retention_days * DAY_MS
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.RLock()
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._closed = False
        self._last_purge_ms = 0
        _create_owner_only(self.path)
        try:
            self._db = self._connect()
            # FULL: an acknowledged write survives kill -9 and a power cut on the Pi alike.
            self._db.executescript(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
            )
            self._db.executescript(SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};")
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
        while not self._readers.empty():
            self._readers.get_nowait().close()

    def _cutoff(self, now_ms: int) -> int:
        return now_ms - self.retention_ms

    # -- readings -----------------------------------------------------------------------------

    def write_readings(self, user_id: str, readings: Sequence[Reading], *, now_ms: int) -> int:
        check_user_id(user_id)
        sensors = {check_sensor_id(r.sensor) for r in readings}
        rows = [
            (user_id, r.sensor, r.timestamp, check_value(float(r.value)), now_ms) for r in readings
        ]
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO sensors (user_id, sensor, created) VALUES (?, ?, ?)",
                [(user_id, sensor, now_ms) for sensor in sensors],
            )
            db.executemany("INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?, ?)", rows)
        if now_ms - self._last_purge_ms >= PURGE_EVERY_MS:
            try:
                self.purge_expired(now_ms=now_ms)
            except StorageUnavailable as exc:  # the write is stored; the purge retries later
                log.warning("could not delete expired readings: %s", exc)
        return len(rows)

    def read_range(
        self, user_id: str, sensor: str, start_ms: int, end_ms: int, *, now_ms: int,
        limit: int | None = None,
    ) -> list[Reading]:
        start_ms, end_ms = max(start_ms, self._cutoff(now_ms)), min(end_ms, MAX_TIME_MS)
        if start_ms > end_ms:
            return []
        rows = self._query(
            "SELECT ts, value FROM readings WHERE user_id = ? AND sensor = ? AND ts BETWEEN ? AND ?"
            " ORDER BY ts LIMIT ?",
            (user_id, sensor, start_ms, end_ms, -1 if limit is None else limit),
        )
        return [Reading(sensor, ts, value) for ts, value in rows]

    def latest_reading(self, user_id: str, sensor: str, *, now_ms: int,
                       before_ms: int | None = None) -> Reading | None:
        rows = self._query(
            "SELECT ts, value FROM readings WHERE user_id = ? AND sensor = ? AND ts >= ?"
            " AND ts < ? ORDER BY ts DESC LIMIT 1",
            (user_id, sensor, self._cutoff(now_ms), MAX_TIME_MS if before_ms is None
             else min(before_ms, MAX_TIME_MS)),
        )
        return Reading(sensor, rows[0][0], rows[0][1]) if rows else None

    def latest_readings(
        self, keys: Iterable[SensorKey], *, now_ms: int
    ) -> dict[SensorKey, Reading]:
        cutoff = self._cutoff(now_ms)
        found: dict[SensorKey, Reading] = {}
        with self._reader() as db:
            cursor = db.cursor()
            for user_id, sensor in set(keys):
                row = cursor.execute(
                    "SELECT ts, value FROM readings WHERE user_id = ? AND sensor = ? AND ts >= ?"
                    " ORDER BY ts DESC LIMIT 1",
                    (user_id, sensor, cutoff),
                ).fetchone()
                if row:
                    found[(user_id, sensor)] = Reading(sensor, row[0], row[1])
        return found

    def purge_expired(self, *, now_ms: int) -> int:
        self._last_purge_ms = now_ms
        cutoff = self._cutoff(now_ms)
        deleted = 0
        with self._tx() as db:
            # Per sensor, so each delete is a range of the primary key, not a table scan.
            for user_id, sensor in db.execute("SELECT user_id, sensor FROM sensors").fetchall():
                deleted += db.execute(
                    "DELETE FROM readings WHERE user_id = ? AND sensor = ? AND ts < ?",
                    (user_id, sensor, cutoff),
                ).rowcount
            db.execute("DELETE FROM invites WHERE expires < ?", (now_ms - DAY_MS,))
        return deleted

    # -- sensors ------------------------------------------------------------------------------

    def list_sensors(self, user_id: str) -> list[Sensor]:
        rows = self._query(
            "SELECT sensor, name, unit, created FROM sensors WHERE user_id = ? ORDER BY sensor",
            (user_id,),
        )
        return [Sensor(*row) for row in rows]

    def get_sensor(self, user_id: str, sensor: str) -> Sensor | None:
        rows = self._query(
            "SELECT sensor, name, unit, created FROM sensors WHERE user_id = ? AND sensor = ?",
            (user_id, sensor),
        )
        return Sensor(*rows[0]) if rows else None

    def update_sensor(
        self, user_id: str, sensor: str, *, now_ms: int,
        name: str | Unset | None = UNSET, unit: str | Unset | None = UNSET,
    ) -> Sensor:
        check_sensor_id(sensor)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO sensors (user_id, sensor, created) VALUES (?, ?, ?)",
                (user_id, sensor, now_ms),
            )
            if not isinstance(name, Unset):
                db.execute(
                    "UPDATE sensors SET name = ? WHERE user_id = ? AND sensor = ?",
                    (name, user_id, sensor),
                )
            if not isinstance(unit, Unset):
                db.execute(
                    "UPDATE sensors SET unit = ? WHERE user_id = ? AND sensor = ?",
                    (unit, user_id, sensor),
                )
        found = self.get_sensor(user_id, sensor)
        assert found is not None
        return found

    # -- users and tokens ---------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        check_user_id(user.user_id)
        try:
            with self._tx() as db:
                db.execute("INSERT INTO users VALUES (?, ?, ?)", (user.user_id, user.name,
                                                                  user.created))
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"user {user.user_id!r} already exists") from None

    def get_user(self, user_id: str) -> User | None:
        rows = self._query("SELECT * FROM users WHERE user_id = ?", (user_id,))
        return User(*rows[0]) if rows else None

    def list_users(self) -> list[User]:
        return [User(*row) for row in self._query("SELECT * FROM users ORDER BY user_id")]

    def add_token(self, token: ApiToken) -> None:
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (token.token_id, token.token_hash, token.user_id, token.scope, token.label,
                     token.created, token.last_used, int(token.revoked)),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists("that token already exists") from None

    def _tokens(self, where: str, params: Sequence[Any]) -> list[ApiToken]:
        rows = self._query(
            "SELECT token_id, token_hash, user_id, scope, label, created, last_used, revoked"
            f" FROM tokens {where} ORDER BY user_id, created, token_id",
            params,
        )
        return [ApiToken(token_id, token_hash, user_id, scope, label, created, last_used,
                         bool(revoked))
                for token_id, token_hash, user_id, scope, label, created, last_used, revoked
                in rows]

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        found = self._tokens("WHERE token_hash = ?", (token_hash,))
        return found[0] if found else None

    def get_token(self, token_id: str) -> ApiToken | None:
        found = self._tokens("WHERE token_id = ?", (token_id,))
        return found[0] if found else None

    def list_tokens(self, user_id: str | None = None) -> list[ApiToken]:
        if user_id is None:
            return self._tokens("", ())
        return self._tokens("WHERE user_id = ?", (user_id,))

    def revoke_token(self, token_id: str) -> bool:
        with self._tx() as db:
            return db.execute(
                "UPDATE tokens SET revoked = 1 WHERE token_id = ?", (token_id,)
            ).rowcount == 1

    def touch_token(self, token: ApiToken, *, now_ms: int) -> None:
        # Bookkeeping on a read's path: it must not make the read wait out another writer.
        with self._tx(wait_s=TOUCH_WAIT_S) as db:
            db.execute(
                "UPDATE tokens SET last_used = ? WHERE token_id = ?", (now_ms, token.token_id)
            )

    # -- chats and invites --------------------------------------------------------------------

    def put_chat_link(self, link: ChatLink) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO chat_links VALUES (?, ?, ?, ?, ?, ?)",
                (link.chat_id, link.user_id, link.linked_at, int(link.active), link.timezone,
                 link.quiet_hours),
            )

    def _links(self, where: str, params: Sequence[Any]) -> list[ChatLink]:
        rows = self._query(
            "SELECT chat_id, user_id, linked_at, active, timezone, quiet_hours FROM chat_links"
            f" {where} ORDER BY chat_id",
            params,
        )
        return [ChatLink(c, u, at, bool(active), tz, quiet) for c, u, at, active, tz, quiet in rows]

    def get_chat_link(self, chat_id: int) -> ChatLink | None:
        found = self._links("WHERE chat_id = ?", (chat_id,))
        return found[0] if found else None

    def delete_chat_link(self, chat_id: int) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM chat_links WHERE chat_id = ?", (chat_id,)).rowcount == 1

    def chat_links_for_user(self, user_id: str) -> list[ChatLink]:
        return self._links("WHERE user_id = ?", (user_id,))

    def add_invite(self, invite: Invite) -> None:
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO invites VALUES (?, ?, ?, ?, ?, ?)",
                    (invite.code, invite.user_id, invite.created, invite.expires, invite.used_by,
                     invite.used_at),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists("that invite code already exists") from None

    def claim_invite(self, code: str, chat_id: int, *, now_ms: int) -> Invite | None:
        with self._tx() as db:
            claimed = db.execute(
                "UPDATE invites SET used_by = ?, used_at = ?"
                " WHERE code = ? AND used_by IS NULL AND expires > ?",
                (chat_id, now_ms, code, now_ms),
            ).rowcount
            row = db.execute("SELECT * FROM invites WHERE code = ?", (code,)).fetchone()
        return Invite(*row) if claimed and row else None

    # -- alert rules --------------------------------------------------------------------------

    def put_alert_rule(self, rule: AlertRule) -> None:
        check_sensor_id(rule.sensor)
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO alert_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (rule.user_id, rule.rule_id, rule.sensor, dump_spec(rule.spec), rule.created,
                     rule.state.status.value, rule.state.version, dump_state(rule.state)),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"rule {rule.rule_id!r} already exists") from None

    def list_alert_rules(self, user_id: str | None = None) -> list[AlertRule]:
        where, params = ("WHERE user_id = ?", (user_id,)) if user_id is not None else ("", ())
        rows = self._query(
            f"SELECT * FROM alert_rules {where} ORDER BY user_id, created, rule_id", params
        )
        return [_rule(row) for row in rows]

    def get_alert_rule(self, user_id: str, rule_id: str) -> AlertRule | None:
        rows = self._query("SELECT * FROM alert_rules WHERE user_id = ? AND rule_id = ?",
                           (user_id, rule_id))
        return _rule(rows[0]) if rows else None

    def delete_alert_rule(self, user_id: str, rule_id: str) -> bool:
        with self._tx() as db:
            return db.execute(
                "DELETE FROM alert_rules WHERE user_id = ? AND rule_id = ?", (user_id, rule_id)
            ).rowcount == 1

    def update_alert_state(
        self, user_id: str, rule_id: str, state: AlertState, *, expected_version: int
    ) -> AlertState | None:
        stored = replace(state, version=expected_version + 1)
        with self._tx() as db:
            changed = db.execute(
                "UPDATE alert_rules SET status = ?, version = ?, data = ?"
                " WHERE user_id = ? AND rule_id = ? AND version = ?",
                (stored.status.value, stored.version, dump_state(stored), user_id, rule_id,
                 expected_version),
            ).rowcount
        return stored if changed else None


def _rule(row: Sequence[Any]) -> AlertRule:
    user, rule_id, sensor, spec, created, status, version, data = row
    return AlertRule(user, rule_id, sensor, load_spec(spec), created,
                     load_state(status, version, data))


@contextmanager
def _translated() -> Iterator[None]:
    """SQLite's transient failures become StorageUnavailable (HTTP 503, retry later)."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StorageUnavailable(f"SQLite is unavailable: {exc}") from exc


