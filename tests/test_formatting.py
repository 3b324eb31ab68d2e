"""Pure chat helpers: durations, ranges, numbers, times and splitting."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from core.formatting import (
    BadArgument,
    format_ago,
    format_elapsed,
    format_number,
    format_time,
    format_value,
    parse_duration,
    parse_range,
    split_message,
)

UTC = ZoneInfo("UTC")
HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = 1_767_600_000_000  # 2026-01-05 08:00 UTC


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200),
                                                ("7d", 604800), (" 1H ", 3600)])
def test_it_reads_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "0m", "1.5h", "2w", "-5m", "10 m"])
def test_it_explains_a_bad_duration(text):
    with pytest.raises(BadArgument, match=r"e\.g\. 30s, 10m, 2h, 7d"):
        parse_duration(text)


def test_a_zero_duration_is_told_it_is_no_time_not_that_it_is_no_duration():
    with pytest.raises(BadArgument, match=r"'0m' is no time at all; give more than 0"):
        parse_duration("0m")


def test_a_duration_range_ends_now():
    window = parse_range("24h", now_ms=NOW, zone=UTC)

    assert (window.start_ms, window.end_ms, window.label) == (NOW - 86_400_000, NOW,
                                                              "last 24 h")


def test_a_date_is_that_whole_day_in_the_chats_zone():
    window = parse_range("2026-01-05", now_ms=NOW, zone=HELSINKI)

    assert window.start_ms == 1_767_564_000_000  # 2026-01-05 00:00 at UTC+2
    assert window.end_ms == 1_767_564_000_000 + 86_400_000 - 1
    assert window.label == "2026-01-05"


@pytest.mark.parametrize(("text", "during"), [
    ("24h", "in the last 24 h"), ("12w", "in the last 12 weeks"), ("2026-01-05", "on 2026-01-05"),
    ("2026-01-01..2026-01-07", "from 2026-01-01 to 2026-01-07")])
def test_a_range_reads_within_a_sentence(text, during):
    """"No readings from attic on 2026-01-05", not "in 2026-01-05" nor "in last 24 h"."""
    assert parse_range(text, now_ms=NOW, zone=UTC).during == during


def test_a_span_of_days_is_inclusive():
    window = parse_range("2026-01-01..2026-01-07", now_ms=NOW, zone=UTC)

    assert window.end_ms - window.start_ms == 7 * 86_400_000 - 1


@pytest.mark.parametrize(("text", "days", "label"), [
    ("1y", 365, "last 1 year"), ("12w", 84, "last 12 weeks"), ("2Y", 730, "last 2 years")])
def test_weeks_and_years_are_ranges_back_from_now(text, days, label):
    window = parse_range(text, now_ms=NOW, zone=UTC)

    assert (window.start_ms, window.end_ms, window.label) == (NOW - days * 86_400_000, NOW,
                                                              label)


def test_a_span_of_months_is_a_range():
    window = parse_range("2025-12-01..2026-02-28", now_ms=NOW, zone=UTC)

    assert window.end_ms - window.start_ms == 90 * 86_400_000 - 1
    assert window.label == "2025-12-01 – 2026-02-28"


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "2026-01-07..2026-01-01", "5x",
                                  "9999-12-31", "0y", "1000w"])
def test_it_explains_a_bad_range(text):
    with pytest.raises(BadArgument):
        parse_range(text, now_ms=NOW, zone=UTC)


@pytest.mark.parametrize(("value", "unit", "shown"), [
    (21.5, "°C", "21.5 °C"), (-3.0, "°C", "\u22123 °C"), (0.254, None, "0.25"), (55.0, "%", "55%"),
    (-0.001, "°C", "0 °C"),
])
def test_it_formats_values_with_units(value, unit, shown):
    assert format_value(value, unit) == shown


def test_it_formats_numbers_without_noise_and_with_a_true_minus():
    assert [format_number(x) for x in (1.0, 1.10, 1.234, -2.5, -0.001)] == [
        "1", "1.1", "1.23", "\u22122.5", "0"]


@pytest.mark.parametrize(("seconds", "shown"), [(5, "just now"), (180, "3 min ago"),
                                                (3 * 3600 + 600, "3 h 10 min ago"),
                                                (30 * 3600, "30 h ago"), (5 * 86400, "5 days ago")])
def test_it_says_how_long_ago(seconds, shown):
    assert format_ago(NOW - seconds * 1000, NOW) == shown


def test_it_shows_times_in_the_chats_zone():
    assert format_time(NOW, HELSINKI, NOW) == "10:00"
    assert format_time(NOW - 2 * 86_400_000, UTC, NOW) == "Jan 3 08:00"


def test_it_splits_long_lists_within_the_limit():
    lines = [f"line {i} " + "x" * 50 for i in range(200)]

    chunks = split_message(lines, limit=1000)

    assert all(len(chunk) <= 1000 for chunk in chunks)
    assert "\n".join(chunks).split("\n") == lines
    assert split_message(["y" * 5000], limit=100) == ["y" * 99 + "…"]


def test_a_time_in_another_year_shows_the_year():
    from zoneinfo import ZoneInfo

    from core.formatting import format_time

    zone = ZoneInfo("Europe/Helsinki")
    now = 1_800_000_000_000  # 2027-01-15 10:00 in Helsinki

    assert format_time(now - 3_600_000, zone, now) == "09:00"
    assert format_time(now - 86_400_000, zone, now) == "Jan 14 10:00"
    assert format_time(now + 400 * 86_400_000, zone, now) == "Feb 19 2028 10:00"


@pytest.mark.parametrize(("minutes", "shown"), [(0, "1 min"), (11, "11 min"), (61, "1 h 1 min"),
                                                (310, "5 h 10 min"), (1441, "24 h"),
                                                (3 * 1440 + 250, "3 days 4 h"),
                                                (2 * 1440, "2 days")])
def test_it_says_how_long_something_lasted_in_hours_and_days_not_hundreds_of_minutes(
        minutes, shown):
    assert format_elapsed(minutes * 60_000) == shown
