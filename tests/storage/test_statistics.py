"""Hourly statistics on every backend: stored, read back, compiled, kept past the readings."""

from __future__ import annotations

import sqlite3

import pytest

from storage.base import DAY_MS, HOUR_MS
from storage.errors import MissingTable
from storage.models import HourStats, Reading, User
from storage.rollup import (
    GRACE_MS,
    REBUILD_CHUNK_MS,
    Rollup,
    daily,
    hourly_history,
    rebuild,
    summarize_hours,
)
from tests.support.common import NOW_MS

MINUTE = 60_000


def five_minutes(sensor: str, start: int, hours: int, value: float = 10.0) -> list[Reading]:
    return [Reading(sensor, start + i * 5 * MINUTE, value + i % 7)
            for i in range(hours * 12)]


def with_user(store, user_id: str = "u1"):
    store.add_user(User(user_id, user_id, NOW_MS))
    return store


def test_it_reads_statistics_back_ascending_within_the_range(store):
    hours = [HourStats(NOW_MS - i * HOUR_MS, 12, -1.5, 3.25, 0.1 + 0.2, NOW_MS - i * HOUR_MS,
                       NOW_MS - i * HOUR_MS + 55 * MINUTE) for i in range(5)]
    assert store.write_statistics("u1", "attic", list(reversed(hours)), now_ms=NOW_MS) == 5

    got = store.read_statistics("u1", "attic", NOW_MS - 3 * HOUR_MS, NOW_MS - HOUR_MS,
                                now_ms=NOW_MS)

    assert got == sorted(hours[1:4])
    assert store.read_statistics("u1", "cellar", 0, NOW_MS, now_ms=NOW_MS) == []


def test_a_compiled_hour_overwrites_the_stored_one(store):
    first = HourStats(NOW_MS, 1, 1.0, 1.0, 1.0, NOW_MS, NOW_MS)
    second = HourStats(NOW_MS, 2, 1.0, 3.0, 2.0, NOW_MS, NOW_MS + MINUTE)
    store.write_statistics("u1", "attic", [first], now_ms=NOW_MS)
    store.write_statistics("u1", "attic", [second], now_ms=NOW_MS)

    assert store.read_statistics("u1", "attic", 0, NOW_MS, now_ms=NOW_MS) == [second]


def test_the_cycle_compiles_every_finished_hour_once(store):
    with_user(store)
    readings = five_minutes("attic", NOW_MS - 5 * HOUR_MS, 5)
    store.write_readings("u1", readings, now_ms=NOW_MS)
    rollup = Rollup(store)

    first = rollup.run(NOW_MS + 10 * MINUTE)
    again = rollup.run(NOW_MS + 20 * MINUTE)

    assert store.read_statistics("u1", "attic", 0, NOW_MS, now_ms=NOW_MS) == \
        summarize_hours(readings)
    assert (first.hours_written, first.readings_read) == (5, 60)
    assert (again.hours_written, again.readings_read) == (0, 0)  # the same hour: nothing read


def test_the_next_hour_reads_only_the_grace_window_and_writes_only_the_new_hour(store):
    with_user(store)
    store.write_readings("u1", five_minutes("attic", NOW_MS - 5 * HOUR_MS, 5), now_ms=NOW_MS)
    rollup = Rollup(store)
    rollup.run(NOW_MS + MINUTE)
    store.write_readings("u1", five_minutes("attic", NOW_MS, 1), now_ms=NOW_MS + HOUR_MS)

    summary = rollup.run(NOW_MS + HOUR_MS + MINUTE)

    assert (summary.readings_read, summary.hours_written) == (36, 1)  # 3 hours, 1 new


def test_a_late_reading_within_the_grace_window_is_compiled(store):
    with_user(store)
    store.write_readings("u1", five_minutes("attic", NOW_MS - 3 * HOUR_MS, 3), now_ms=NOW_MS)
    rollup = Rollup(store)
    rollup.run(NOW_MS + MINUTE)
    late = Reading("attic", NOW_MS - 2 * HOUR_MS + 32 * MINUTE, -20.0)  # ended 1 h ago
    store.write_readings("u1", [late], now_ms=NOW_MS + 30 * MINUTE)

    summary = rollup.run(NOW_MS + HOUR_MS + MINUTE)

    assert summary.hours_written == 1
    stored = store.read_statistics("u1", "attic", NOW_MS - 2 * HOUR_MS, NOW_MS - 2 * HOUR_MS,
                                   now_ms=NOW_MS)
    assert stored[0].minimum == -20.0 and stored[0].n == 13


def test_a_new_process_picks_up_where_the_last_one_stopped(store):
    with_user(store)
    store.write_readings("u1", five_minutes("attic", NOW_MS - 3 * HOUR_MS, 3), now_ms=NOW_MS)
    Rollup(store).run(NOW_MS + MINUTE)

    assert Rollup(store).run(NOW_MS + 2 * MINUTE).hours_written == 0


def test_statistics_outlive_the_readings(make_store):
    store = with_user(make_store(retention_days=1))
    old = five_minutes("attic", NOW_MS - 20 * HOUR_MS, 2)
    store.write_readings("u1", old, now_ms=NOW_MS)
    Rollup(store).run(NOW_MS)
    later = NOW_MS + 3 * DAY_MS

    assert store.read_range("u1", "attic", 0, later, now_ms=later) == []
    history = hourly_history(store, "u1", "attic", NOW_MS - DAY_MS, later, now_ms=later)
    assert history.hours == summarize_hours(old)


def test_statistics_expire_after_their_own_retention(make_store):
    store = make_store(statistics_retention_days=30)
    hour = HourStats(NOW_MS, 1, 1.0, 1.0, 1.0, NOW_MS, NOW_MS)
    store.write_statistics("u1", "attic", [hour], now_ms=NOW_MS)
    later = NOW_MS + 31 * DAY_MS
    store.purge_expired(now_ms=later)

    assert store.read_statistics("u1", "attic", 0, later, now_ms=later) == []
    assert store.read_statistics("u1", "attic", 0, later, now_ms=NOW_MS) in ([], [hour])


def test_rebuild_recompiles_whatever_the_readings_hold(store):
    with_user(store)
    days = REBUILD_CHUNK_MS // DAY_MS + 1  # more than the rebuild reads at a time
    readings = five_minutes("attic", NOW_MS - days * DAY_MS, days * 24)
    store.write_readings("u1", readings, now_ms=NOW_MS)

    summary = rebuild(store, since_ms=0, now_ms=NOW_MS + MINUTE)

    assert summary.hours_written == days * 24
    assert store.read_statistics("u1", "attic", 0, NOW_MS, now_ms=NOW_MS) == \
        summarize_hours(readings)


def test_the_history_of_a_range_adds_the_hours_not_compiled_yet(store):
    with_user(store)
    readings = five_minutes("attic", NOW_MS - 4 * HOUR_MS, 5)
    store.write_readings("u1", readings, now_ms=NOW_MS + HOUR_MS)
    Rollup(store).run(NOW_MS - HOUR_MS)  # compiles the first three hours only
    now = NOW_MS + HOUR_MS - MINUTE

    history = hourly_history(store, "u1", "attic", NOW_MS - 4 * HOUR_MS, now, now_ms=now)

    assert history.hours == summarize_hours(readings)
    assert history.last == readings[-1]


def test_days_are_made_of_their_hours():
    day = 24 * HOUR_MS
    hours = [HourStats(day + HOUR_MS, 2, 1.0, 3.0, 2.0, day + HOUR_MS, day + HOUR_MS + 1),
             HourStats(day + 5 * HOUR_MS, 6, 0.0, 9.0, 4.0, day + 5 * HOUR_MS,
                       day + 6 * HOUR_MS - 1),
             HourStats(2 * day, 1, 5.0, 5.0, 5.0, 2 * day, 2 * day)]

    assert daily(hours) == [HourStats(day, 8, 0.0, 9.0, 3.5, day + HOUR_MS, day + 6 * HOUR_MS - 1),
                            HourStats(2 * day, 1, 5.0, 5.0, 5.0, 2 * day, 2 * day)]


def test_grace_is_two_hours():
    assert GRACE_MS == 2 * HOUR_MS


@pytest.mark.parametrize("rows", [0, 3])
def test_a_version_1_database_gains_the_statistics_table_with_its_data_intact(tmp_path, rows):
    from storage.sqlite import SQLiteStore
    from storage.sqlite.schema import BASE, SCHEMA_VERSION

    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    db.executescript(BASE + "PRAGMA user_version = 1;")
    db.executemany("INSERT INTO readings VALUES ('u1', 'attic', ?, 1.5, ?)",
                   [(NOW_MS - i, NOW_MS) for i in range(rows)])
    db.execute("INSERT INTO sensors VALUES ('u1', 'attic', NULL, NULL, ?)", (NOW_MS,))
    db.commit()
    db.close()

    store = SQLiteStore(path)
    store.write_statistics("u1", "attic", [HourStats(NOW_MS, 1, 1.0, 1.0, 1.0, NOW_MS, NOW_MS)],
                           now_ms=NOW_MS)

    assert len(store.read_range("u1", "attic", 0, NOW_MS, now_ms=NOW_MS)) == rows
    assert len(store.read_statistics("u1", "attic", 0, NOW_MS, now_ms=NOW_MS)) == 1
    assert store._query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
    store.close()


def test_without_its_table_dynamodb_charts_from_readings_and_the_cycle_says_so_once(
        store, caplog):
    if not hasattr(store, "statistics_table"):
        pytest.skip("SQLite creates its table on open")
    with_user(store)
    readings = five_minutes("attic", NOW_MS - 3 * HOUR_MS, 3)
    store.write_readings("u1", readings, now_ms=NOW_MS)
    store.statistics_table = "never-created"  # upgraded without `init --create-tables`

    history = hourly_history(store, "u1", "attic", 0, NOW_MS, now_ms=NOW_MS)
    summary = Rollup(store).run(NOW_MS + MINUTE)

    assert history.hours == summarize_hours(readings)
    assert summary.failed == 0
    assert caplog.text.count("init --create-tables") == 2  # the read's warning, the cycle's
    with pytest.raises(MissingTable):
        store.write_statistics("u1", "attic", summarize_hours(readings), now_ms=NOW_MS)


def test_sqlite_summarises_a_range_by_the_hour_as_summarize_hours_does(tmp_path):
    from storage.sqlite import SQLiteStore

    store = with_user(SQLiteStore(tmp_path / "s.db"))
    readings = [Reading("attic", NOW_MS - 30 * HOUR_MS + i * 61_111, 0.1 * (i % 13) - 0.7)
                for i in range(1700)]
    store.write_readings("u1", readings, now_ms=NOW_MS)
    start, end = readings[17].timestamp, readings[-40].timestamp

    got = store.summarize_readings("u1", "attic", start, end, now_ms=NOW_MS)
    want = summarize_hours(r for r in readings if start <= r.timestamp <= end)

    # SQLite sums in order; Python 3.12+ compensates its float sums: means may differ in the
    # last bit, all else is exact
    assert [h._replace(mean=0.0) for h in got] == [h._replace(mean=0.0) for h in want]
    assert [h.mean for h in got] == pytest.approx([h.mean for h in want], rel=1e-12, abs=1e-12)
    assert store.summarize_readings("u1", "attic", end + 1, end, now_ms=NOW_MS) == []


def test_a_month_without_statistics_is_charted_without_reading_its_readings(tmp_path):
    from storage.sqlite import SQLiteStore

    store = with_user(SQLiteStore(tmp_path / "s.db"))
    readings = five_minutes("attic", NOW_MS - 30 * DAY_MS, 30 * 24)
    store.write_readings("u1", readings, now_ms=NOW_MS)
    read: list[int] = []
    range_read = store.read_range

    def counted_read_range(*args, **kwargs):
        readings = range_read(*args, **kwargs)
        read.append(len(readings))
        return readings

    store.read_range = counted_read_range

    history = hourly_history(store, "u1", "attic", NOW_MS - 30 * DAY_MS, NOW_MS, now_ms=NOW_MS)

    assert history.hours == summarize_hours(readings)
    assert history.last == readings[-1]
    assert sum(read) <= 12  # the newest hour's, for the newest reading
