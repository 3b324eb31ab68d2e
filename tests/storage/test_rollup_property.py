"""The compiled statistics equal brute force over the readings, whatever arrives late within
the grace window, across restarts; a rerun changes nothing."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from storage.base import HOUR_MS
from storage.models import Reading, User
from storage.rollup import GRACE_MS, Rollup, hour_of, summarize_hours
from storage.sqlite import SQLiteStore
from tests.support.common import NOW_MS

MINUTE = 60_000
START = NOW_MS - 12 * HOUR_MS


@st.composite
def arrivals(draw: st.DrawFn) -> list[tuple[int, Reading]]:
    """Readings over 8 hours, each arriving at its time or later, but no later than GRACE_MS
    after its hour ended."""
    found = []
    for _ in range(draw(st.integers(0, 60))):
        stamp = START + draw(st.integers(0, 8 * 60 - 1)) * MINUTE + draw(st.integers(0, 59_999))
        latest = hour_of(stamp) + HOUR_MS + GRACE_MS
        arrival = draw(st.integers(stamp, latest))
        value = draw(st.integers(-5000, 5000)) / 100
        found.append((arrival, Reading("attic", stamp, value)))
    return sorted(found, key=lambda pair: pair[0])


@given(arrivals(), st.lists(st.tuples(st.integers(0, 11 * 60), st.booleans()), max_size=30))
@settings(max_examples=150, deadline=None, database=None)
def test_statistics_equal_brute_force_and_a_rerun_changes_nothing(events, cycles):
    store = SQLiteStore(":memory:", retention_days=30)
    store.add_user(User("u1", "u1", START))
    rollup, written = Rollup(store), 0
    for minute, restart in sorted(cycles):
        now = START + minute * MINUTE
        due = [reading for arrival, reading in events[written:] if arrival <= now]
        if due:
            store.write_readings("u1", due, now_ms=now)
        written += len(due)
        rollup = Rollup(store) if restart else rollup
        rollup.run(now)
    store.write_readings("u1", [r for _, r in events[written:]], now_ms=START)
    end = hour_of(max([a for a, _ in events], default=START)) + HOUR_MS + MINUTE
    rollup.run(end)

    kept = {r.timestamp: r for _, r in events}  # a later arrival of the same time overwrites
    expected = summarize_hours(sorted(kept.values(), key=lambda r: r.timestamp))
    got = store.read_statistics("u1", "attic", 0, end, now_ms=end)
    assert [h._replace(mean=0) for h in got] == [h._replace(mean=0) for h in expected]
    assert all(math.isclose(a.mean, b.mean, abs_tol=1e-9)
               for a, b in zip(got, expected, strict=True))
    assert rollup.run(end + HOUR_MS).hours_written == 0
    assert Rollup(store).run(end + HOUR_MS).hours_written == 0
    assert store.read_statistics("u1", "attic", 0, end, now_ms=end) == got
    store.close()
