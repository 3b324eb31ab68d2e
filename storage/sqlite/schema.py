"""The SQLite schema and its migrations: `PRAGMA user_version` says which steps a file has had."""

from __future__ import annotations

import sqlite3

# Version 1: the tables as first released. Each later step upgrades a file from the version
# before it; a new file gets them all in order.
BASE = """
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

# Version 2: hourly statistics, kept after the readings they summarise expire.
STATISTICS = """
CREATE TABLE IF NOT EXISTS hourly_statistics (
    user_id TEXT NOT NULL, sensor TEXT NOT NULL, hour INTEGER NOT NULL, n INTEGER NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, mean REAL NOT NULL,
    first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL, compiled_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, sensor, hour)
) WITHOUT ROWID;
"""

# Version 3: Telegram updates a webhook has taken, so a redelivered one is handled once.
UPDATES = """
CREATE TABLE IF NOT EXISTS telegram_updates (
    update_id INTEGER PRIMARY KEY, claimed_at INTEGER NOT NULL, done INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS telegram_updates_by_expiry ON telegram_updates (expires_at);
"""


# Version 4: where each user's outside temperature comes from (the heating watch).
OUTSIDE_SETTINGS = """
CREATE TABLE IF NOT EXISTS outside_settings (
    user_id TEXT PRIMARY KEY, outdoor_sensor TEXT, latitude REAL, longitude REAL
);
"""

MIGRATIONS: list[str] = [BASE, STATISTICS, UPDATES, OUTSIDE_SETTINGS]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection) -> int:
    """Bring the file to SCHEMA_VERSION, one step a transaction; the version it had before.
    A file newer than this code is refused rather than misread."""
    found = int(db.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"the database is of schema {found}; this sensorbot knows "
                                    f"{SCHEMA_VERSION}: upgrade sensorbot")
    for version in range(found + 1, SCHEMA_VERSION + 1):
        db.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[version - 1]}"
                         f" PRAGMA user_version = {version}; COMMIT;")
    return found
