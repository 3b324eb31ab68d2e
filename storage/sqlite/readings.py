"""Readings and the sensors they register, in SQLite."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from storage.base import (
    DAY_MS,
    HOUR_MS,
    MAX_TIME_MS,
    UNSET,
    DeletionProgress,
    SensorDeletion,
    SensorKey,
    Unset,
)
from storage.errors import StorageUnavailable
from storage.models import HourStats, Reading, Sensor, check_sensor_id, check_user_id, check_value
from storage.sqlite.connection import Connections

log = logging.getLogger("sensorbot.storage")

PURGE_EVERY_MS = 3_600_000


class ReadingsTable(Connections):

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

    def summarize_readings(self, user_id: str, sensor: str, start_ms: int, end_ms: int, *,
                           now_ms: int) -> list[HourStats]:
        """The range's readings by the hour (UTC), summed in the readings' order as
        `summarize_hours` sums them."""
        start_ms, end_ms = max(start_ms, self._cutoff(now_ms)), min(end_ms, MAX_TIME_MS)
        if start_ms > end_ms:
            return []
        # The hour's length is written into the statement, a constant: numbered placeholders
        # bound from a sequence warn on Python 3.12.0-3.12.3 that 3.14 would refuse them.
        rows = self._query(
            f"SELECT ts - ((ts % {HOUR_MS:d}) + {HOUR_MS:d}) % {HOUR_MS:d} AS hour, COUNT(*),"
            " MIN(value), MAX(value), SUM(value) / COUNT(*), MIN(ts), MAX(ts) FROM readings"
            " WHERE user_id = ? AND sensor = ? AND ts BETWEEN ? AND ? GROUP BY hour ORDER BY hour",
            (user_id, sensor, start_ms, end_ms),
        )
        return [HourStats(*row) for row in rows]

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
            db.execute("DELETE FROM telegram_updates WHERE expires_at <= ?", (now_ms,))
            if self.statistics_retention_ms:
                db.execute("DELETE FROM hourly_statistics WHERE hour < ?",
                           (now_ms - self.statistics_retention_ms,))
        return deleted

    # -- sensors ------------------------------------------------------------------------------

    def delete_sensor(
        self, user_id: str, sensor: str, *,
        progress: Callable[[DeletionProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SensorDeletion:
        # One transaction: the primary key finds the readings, so it is quick even for many.
        with self._tx() as db:
            rules = db.execute("DELETE FROM alert_rules WHERE user_id = ? AND sensor = ?",
                               (user_id, sensor)).rowcount
            readings = db.execute("DELETE FROM readings WHERE user_id = ? AND sensor = ?",
                                  (user_id, sensor)).rowcount
            db.execute("DELETE FROM hourly_statistics WHERE user_id = ? AND sensor = ?",
                       (user_id, sensor))
            db.execute("DELETE FROM sensors WHERE user_id = ? AND sensor = ?", (user_id, sensor))
        if progress is not None:
            progress(DeletionProgress(readings, 0.0, 0.0))
        return SensorDeletion(sensor, readings, rules, True)

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
