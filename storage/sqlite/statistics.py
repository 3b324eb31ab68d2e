"""Hourly statistics in SQLite: a table of their own, kept past the readings' retention."""

from __future__ import annotations

from collections.abc import Sequence

from storage.base import MAX_TIME_MS
from storage.models import HourStats
from storage.sqlite.connection import Connections


class StatisticsTable(Connections):

    def write_statistics(self, user_id: str, sensor: str, hours: Sequence[HourStats], *,
                         now_ms: int) -> int:
        rows = [(user_id, sensor, *hour, now_ms) for hour in hours]
        if rows:
            with self._tx() as db:
                db.executemany("INSERT OR REPLACE INTO hourly_statistics VALUES "
                               "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def read_statistics(self, user_id: str, sensor: str, start_ms: int, end_ms: int, *,
                        now_ms: int) -> list[HourStats]:
        if self.statistics_retention_ms:
            start_ms = max(start_ms, now_ms - self.statistics_retention_ms)
        rows = self._query(
            "SELECT hour, n, min, max, mean, first_ts, last_ts FROM hourly_statistics"
            " WHERE user_id = ? AND sensor = ? AND hour BETWEEN ? AND ? ORDER BY hour",
            (user_id, sensor, start_ms, min(end_ms, MAX_TIME_MS)))
        return [HourStats(*row) for row in rows]
