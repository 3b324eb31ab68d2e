"""Telegram updates a webhook has taken, in SQLite: a redelivered one is handled once."""

from __future__ import annotations

from storage.base import UPDATE_MEMORY_MS
from storage.sqlite.connection import Connections


class UpdatesTable(Connections):

    def claim_update(self, update_id: int, *, now_ms: int, lease_ms: int) -> bool:
        # One statement: inserted, or taken over from a forgotten or abandoned claim.
        with self._tx() as db:
            return db.execute(
                "INSERT INTO telegram_updates VALUES (?, ?, 0, ?)"
                " ON CONFLICT (update_id) DO UPDATE SET claimed_at = excluded.claimed_at,"
                " done = 0, expires_at = excluded.expires_at"
                " WHERE expires_at <= ? OR (done = 0 AND claimed_at <= ?)",
                (update_id, now_ms, now_ms + UPDATE_MEMORY_MS, now_ms, now_ms - lease_ms),
            ).rowcount == 1

    def finish_update(self, update_id: int, *, now_ms: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE telegram_updates SET done = 1, expires_at = ? WHERE update_id = ?",
                       (now_ms + UPDATE_MEMORY_MS, update_id))
