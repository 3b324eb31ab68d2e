"""Hourly statistics: compiled from the readings once an hour, read back for long ranges.

The process that runs the alert cycle calls `Rollup.run` every cycle. Within an hour it does
nothing; at the first cycle of a new hour it reads, per sensor, the readings from its
watermark (the end of the hours it compiled) minus the grace window up to the hour just ended,
in one range read, and writes the hours whose statistics changed. So a finished hour is
compiled at the next hour's first cycle, and recompiled while late readings can still arrive
(GRACE_MS after it ended); a rerun writes nothing. At 12 readings an hour, the three hours
re-read fit in one 4 KB DynamoDB read unit: half a read unit and one write a sensor an hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby

from storage.base import HOUR_MS, SensorKey, Store, SummarizesReadings
from storage.errors import MissingTable, StorageError
from storage.models import HourStats, Reading

log = logging.getLogger("sensorbot.statistics")

GRACE_MS = 2 * HOUR_MS  # late readings for an hour that ended this long ago are compiled
LOOK_BACK_MS = 48 * HOUR_MS  # a sensor without statistics: compiled from this far back
LONG_RANGE_MS = 48 * HOUR_MS  # longer ranges are charted and exported from the statistics
REBUILD_CHUNK_MS = 7 * 24 * HOUR_MS


def hour_of(ms: int) -> int:
    return ms - ms % HOUR_MS


def summarize_hours(readings: Iterable[Reading]) -> list[HourStats]:
    """Ascending readings → one HourStats per hour that has any."""
    hours = []
    for hour, group in groupby(readings, key=lambda r: hour_of(r.timestamp)):
        members = list(group)
        values = [r.value for r in members]
        hours.append(HourStats(hour, len(values), min(values), max(values),
                               sum(values) / len(values), members[0].timestamp,
                               members[-1].timestamp))
    return hours


def first_full_hour(store: Store, now_ms: int) -> int:
    """The oldest hour all of whose readings are still kept: an hour cut by retention would
    overwrite good statistics with part of them."""
    cutoff = now_ms - store.retention_ms
    return cutoff if cutoff % HOUR_MS == 0 else hour_of(cutoff) + HOUR_MS


@dataclass
class Compiled:
    """What a process remembers of one sensor: where its next range read starts, and the
    statistics it last wrote for the hours that read covers again."""

    start: int
    recent: dict[int, HourStats] = field(default_factory=dict)


@dataclass
class RollupSummary:
    sensors: int = 0
    hours_written: int = 0
    readings_read: int = 0
    failed: int = 0


class Rollup:
    """Compiles every sensor's finished hours; one instance per process, reused every cycle.

    Sensors are compiled `workers` at a time: on DynamoDB each is a few round trips, and a
    thousand of them one by one would hold the alert Lambda for half a minute every hour.
    One run at a time (the job scheduler's max_instances=1)."""

    def __init__(self, store: Store, *, workers: int = 8) -> None:
        self.store = store
        self.workers = workers
        self.memory: dict[SensorKey, Compiled] = {}
        self.done_hour: int | None = None

    def run(self, now_ms: int) -> RollupSummary:
        """Compile what finished since the last run; nothing when this hour is done."""
        current = hour_of(now_ms)
        summary = RollupSummary()
        if self.done_hour == current:
            return summary
        keys = [(user.user_id, sensor.sensor_id) for user in self.store.list_users()
                for sensor in self.store.list_sensors(user.user_id)]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="rollup") as pool:
            outcomes = list(pool.map(lambda key: self.attempt(key, current, now_ms), keys))
        missing = next((o for o in outcomes if isinstance(o, MissingTable)), None)
        if missing is not None:  # said once an hour, not once a sensor
            log.warning("the hourly statistics are not compiled: %s", missing)
            self.done_hour = current
            return summary
        for key, outcome in zip(keys, outcomes, strict=True):
            if isinstance(outcome, StorageError):  # the next cycle tries this sensor again
                log.warning("could not compile the statistics of %r: %s", key, outcome)
                summary.failed += 1
            else:
                summary.sensors += 1
                summary.readings_read += outcome[0]
                summary.hours_written += outcome[1]
        if not summary.failed:
            self.done_hour = current
        return summary

    def attempt(self, key: SensorKey, current: int,
                now_ms: int) -> tuple[int, int] | StorageError:
        try:
            return self.compile_sensor(key, current, now_ms)
        except StorageError as error:
            return error

    def compile_sensor(self, key: SensorKey, current: int, now_ms: int) -> tuple[int, int]:
        """Compile one sensor; how many readings it read and hours it wrote."""
        kept = current - GRACE_MS
        memo = self.memory.get(key) or self.recall(key, current, now_ms)
        read = written = 0
        if memo.start < kept:  # else compiled this hour already (by this process or another)
            start = max(memo.start, first_full_hour(self.store, now_ms))
            if start < current:
                readings = self.store.read_range(*key, start, current - 1, now_ms=now_ms)
                fresh = summarize_hours(readings)
                changed = [hour for hour in fresh if memo.recent.get(hour.hour) != hour]
                self.store.write_statistics(*key, changed, now_ms=now_ms)
                read, written = len(readings), len(changed)
                memo.recent.update((hour.hour, hour) for hour in fresh)
            memo = Compiled(kept, {h: s for h, s in memo.recent.items() if h >= kept})
        self.memory[key] = memo  # one key a thread: dict assignment is atomic
        return read, written

    def recall(self, key: SensorKey, current: int, now_ms: int) -> Compiled:
        """A sensor this process has not compiled yet: its newest stored hours say where the
        last process got to."""
        stored = self.store.read_statistics(*key, current - LOOK_BACK_MS, current - 1,
                                            now_ms=now_ms)
        if not stored:
            return Compiled(current - LOOK_BACK_MS)
        return Compiled(stored[-1].hour + HOUR_MS - GRACE_MS, {s.hour: s for s in stored})


def rebuild(store: Store, *, since_ms: int, now_ms: int,
            progress: Callable[[SensorKey, int], None] | None = None) -> RollupSummary:
    """Recompile every finished hour the readings still hold from `since_ms` on, a week of
    readings at a time (`sensorbot rollup --rebuild`: a migrated table gets its statistics)."""
    current = hour_of(now_ms)
    summary = RollupSummary()
    for user in store.list_users():
        for sensor in store.list_sensors(user.user_id):
            key = (user.user_id, sensor.sensor_id)
            start = max(hour_of(since_ms), first_full_hour(store, now_ms))
            while start < current:
                end = min(start + REBUILD_CHUNK_MS, current)
                readings = store.read_range(*key, start, end - 1, now_ms=now_ms)
                summary.hours_written += store.write_statistics(
                    *key, summarize_hours(readings), now_ms=now_ms)
                summary.readings_read += len(readings)
                start = end
            summary.sensors += 1
            if progress is not None:
                progress(key, summary.hours_written)
    return summary


@dataclass(frozen=True)
class HourlyHistory:
    """A range by the hour: stored statistics, with the hours not compiled (yet) summarised
    from the readings; `last` is the newest reading read, if any."""

    hours: list[HourStats]
    last: Reading | None


def hourly_history(store: Store, user_id: str, sensor: str, start_ms: int, end_ms: int, *,
                   now_ms: int) -> HourlyHistory:
    """The range's hours. Reads the statistics, and the readings only around them: before the
    first stored hour (statistics compiled later than the readings began) and after the last
    (the hours still open to late readings, and the current one)."""
    first_hour = hour_of(start_ms)
    stored = store.read_statistics(user_id, sensor, first_hour, end_ms, now_ms=now_ms)
    if not stored:
        return summarized_history(store, user_id, sensor, start_ms, end_ms, now_ms=now_ms)
    head: list[HourStats] = []
    if stored[0].hour > first_hour:
        head = readings_by_hour(store, user_id, sensor, start_ms, stored[0].hour - 1,
                                now_ms=now_ms)
    tail_start = stored[-1].hour + HOUR_MS
    tail = store.read_range(user_id, sensor, tail_start, end_ms, now_ms=now_ms) \
        if tail_start <= end_ms else []
    hours = head + stored + summarize_hours(tail)
    return HourlyHistory(sorted({h.hour: h for h in hours}.values()), tail[-1] if tail else None)


def summarized_history(store: Store, user_id: str, sensor: str, start_ms: int, end_ms: int, *,
                       now_ms: int) -> HourlyHistory:
    """The range summarised from its readings. A store that summarises them itself is asked
    to: only the last hour's readings are read, for the newest one."""
    if not isinstance(store, SummarizesReadings):
        readings = store.read_range(user_id, sensor, start_ms, end_ms, now_ms=now_ms)
        return HourlyHistory(summarize_hours(readings), readings[-1] if readings else None)
    hours = store.summarize_readings(user_id, sensor, start_ms, end_ms, now_ms=now_ms)
    last_hour = store.read_range(user_id, sensor, max(start_ms, hours[-1].hour), end_ms,
                                 now_ms=now_ms) if hours else []
    return HourlyHistory(hours, last_hour[-1] if last_hour else None)


def readings_by_hour(store: Store, user_id: str, sensor: str, start_ms: int, end_ms: int, *,
                     now_ms: int) -> list[HourStats]:
    if isinstance(store, SummarizesReadings):
        return store.summarize_readings(user_id, sensor, start_ms, end_ms, now_ms=now_ms)
    return summarize_hours(store.read_range(user_id, sensor, start_ms, end_ms, now_ms=now_ms))


def daily(hours: list[HourStats]) -> list[HourStats]:
    """UTC days made of hours: counts add, extremes widen, means weigh by count."""
    days = []
    for day, group in groupby(hours, key=lambda h: h.hour - h.hour % (24 * HOUR_MS)):
        members = list(group)
        count = sum(h.n for h in members)
        days.append(HourStats(day, count, min(h.minimum for h in members),
                              max(h.maximum for h in members),
                              sum(h.mean * h.n for h in members) / count,
                              members[0].first, members[-1].last))
    return days
