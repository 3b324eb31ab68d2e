"""What an alert says, its trend, quiet hours and its buttons, without a bot."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.quiet import BadQuietHours, in_quiet_hours, parse_quiet_hours
from alerts.trend import trend_per_hour
from bot.alert_buttons import Action, AlertButton, after_press, for_transition, parse_button
from bot.alert_text import describe_rule, describe_trend, render
from storage.models import OutboxEntry, Reading, RuleKind, RuleSpec, TransitionKind

HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = 1_800_000_000_000  # 2027-01-15 10:00 in Helsinki
H = 3_600_000
FREEZE = RuleSpec(RuleKind.BELOW, 3.0, 600, 4.0, 3600, preset="freeze")


def entry(kind: TransitionKind, **fields: object) -> OutboxEntry:
    values = {"value": 1.8, "reading_ts": NOW, "extreme": 1.2, "since": NOW - H,
              "trend_per_hour": -0.6, **fields}
    return OutboxEntry("e1", kind, NOW, **values)  # type: ignore[arg-type]


def test_a_freeze_alert_says_value_threshold_start_lowest_and_trend():
    text = render(FREEZE, entry(TransitionKind.FIRED), "Attic", "°C", HELSINKI, NOW)

    assert text == ("❄️ Pipe-freeze alert: Attic is 1.8 °C at 10:00, below 3 °C\n"
                    "since 09:00 · lowest 1.2 °C\n"
                    "falling 0.6 °C/h — reaches 0 °C in about 3 h")


def test_a_recovery_says_how_long_and_the_lowest():
    text = render(FREEZE, entry(TransitionKind.RESOLVED, value=4.2), "Attic", "°C", HELSINKI,
                  NOW)

    assert text == "✅ Attic recovered after 1 h, lowest 1.2 °C. Now 4.2 °C at 10:00."


def test_long_incidents_are_told_in_hours_and_days_not_minutes():
    """A phone showed "recovered after 310 min" and "No data … for 1441 min"."""
    back = render(FREEZE, entry(TransitionKind.RESOLVED, value=4.2, since=NOW - 310 * 60_000),
                  "Attic", "°C", HELSINKI, NOW)
    silent = render(RuleSpec(RuleKind.STALE, stale_s=3600),
                    entry(TransitionKind.REMINDER, since=NOW - 3 * 24 * H - 4 * H,
                          reading_ts=NOW - 3 * 24 * H - 4 * H), "Attic", "°C", HELSINKI, NOW)

    assert back.startswith("✅ Attic recovered after 5 h 10 min, lowest 1.2 °C.")
    assert silent.startswith("📵 Reminder — No data from Attic for 3 days 4 h (last 1.8 °C")


def test_a_stale_alert_names_the_silence_and_the_last_value():
    spec = RuleSpec(RuleKind.STALE, stale_s=3600)
    fired = render(spec, entry(TransitionKind.FIRED, reading_ts=NOW - H), "Attic", "°C",
                   HELSINKI, NOW)
    nothing = render(spec, entry(TransitionKind.REMINDER, reading_ts=None, value=None),
                     "Attic", None, HELSINKI, NOW)

    assert fired == "📵 No data from Attic for 1 h (last 1.8 °C at 09:00)."
    assert nothing == "📵 Reminder — No data from Attic for 1 h (no readings kept)."


def test_a_rule_is_described_in_words():
    assert describe_rule(FREEZE, "°C") == \
        "below 3 °C for 10 min (clears at 4, reminders every 1 h)"
    assert describe_rule(RuleSpec(RuleKind.STALE, stale_s=7200)) == "no data for 2 h"


def test_the_trend_is_a_least_squares_slope_and_said_only_when_it_matters():
    falling = [Reading("a", NOW + i * H // 2, 5.0 - i) for i in range(4)]

    assert trend_per_hour(falling) == pytest.approx(-2.0)
    assert trend_per_hour(falling[:2]) is None
    assert describe_trend(FREEZE, 1.0, 0.05, "°C") == ""
    assert describe_trend(FREEZE, 30.0, -0.5, "°C") == "falling 0.5 °C/h"  # ETA beyond 48 h


def test_a_fahrenheit_sensors_trend_counts_down_to_32_not_0():
    freeze_f = RuleSpec(RuleKind.BELOW, 37.4, for_s=600)

    assert describe_trend(freeze_f, 36.0, -2.0, "°F") == \
        "falling 2 °F/h — reaches 32 °F in about 2 h"
    assert describe_rule(RuleSpec(RuleKind.HEATING), "°F") == \
        "heating watch (warns when the heating stops, and when it reaches 32 °F)"


@pytest.mark.parametrize(("span", "hour", "quiet"), [
    ("22:00-07:00", 23, True), ("22:00-07:00", 6, True), ("22:00-07:00", 7, False),
    ("09:00-17:30", 10, True), ("09:00-17:30", 18, False),
])
def test_quiet_hours_may_cross_midnight(span, hour, quiet):
    at = NOW + (hour - 10) * H  # NOW is 10:00 in Helsinki

    assert in_quiet_hours(span, at, HELSINKI) is quiet


@pytest.mark.parametrize("text", ["22-07", "25:00-07:00", "22:00Z-07:00", "07:00-07:00"])
def test_quiet_hours_refuse_what_is_not_a_span(text):
    with pytest.raises(BadQuietHours):
        parse_quiet_hours(text)
    assert in_quiet_hours(text, NOW, HELSINKI) is False  # never blocks an alert


def test_the_buttons_carry_the_incident_and_read_back():
    markup = for_transition(TransitionKind.FIRED, "r1a2b3", NOW - H)
    assert markup is not None
    data = [b.callback_data for row in markup.inline_keyboard for b in row]

    assert data == [f"a:ack:r1a2b3:{NOW - H}", "a:s1:r1a2b3", "a:s8:r1a2b3", "a:chart:r1a2b3"]
    assert parse_button(data[0]) == AlertButton(Action.ACK, "r1a2b3", NOW - H)
    assert parse_button(data[3]) == AlertButton(Action.CHART, "r1a2b3")
    assert for_transition(TransitionKind.RESOLVED, "r1a2b3", None) is None


@pytest.mark.parametrize("data", ["a:zzz:r1", "a:ack:r1", "a:s1:r1:5", "a:ack:nope:1",
                                  "h:bogus", "a:s1:r1\nforged", ""])
def test_button_data_the_bot_did_not_make_is_not_a_button(data):
    assert parse_button(data) is None


def test_after_a_press_the_buttons_that_still_make_sense_remain():
    acked = after_press(Action.ACK, "r1", 5)
    snoozed = after_press(Action.SNOOZE_8H, "r1", 5)

    assert [b.text for row in acked.inline_keyboard for b in row] == ["Chart 24h"]
    assert [b.text for row in snoozed.inline_keyboard for b in row] == \
        ["Acknowledge", "Chart 24h"]


def test_a_cycle_summary_counts_in_words():
    from alerts.cycle import CycleSummary

    assert str(CycleSummary(rules=1, transitions=1, delivered=1)) == \
        "1 rule, 1 new transition, 1 message delivered, 0 failed (retried next cycle)"


@pytest.mark.parametrize(("value", "per_hour", "said"), [
    (1.78, -7.81, "in about 13 min"),  # 13.7 minutes, once "about 1 h"
    (0.05, -7.81, "within a minute"),
    (2.0, -0.75, "in about 2 h 40 min"),
    (1.8, -0.6, "in about 3 h"),
    (9.0, -1.0, "in about 9 h"),
])
def test_the_time_to_zero_is_in_minutes_below_an_hour(value, per_hour, said):
    assert describe_trend(FREEZE, value, per_hour, "°C").endswith(f"reaches 0 °C {said}")


@given(st.floats(0.01, 40), st.floats(-20, -0.1))
def test_the_time_to_zero_is_never_later_than_the_trend_says(value, per_hour):
    text = describe_trend(FREEZE, value, per_hour, "°C")
    found = re.search(r"in about (?:(\d+) h)? ?(?:(\d+) min)?$", text)
    if found:
        said_min = int(found[1] or 0) * 60 + int(found[2] or 0)
        assert said_min <= value / -per_hour * 60


def test_the_buttons_of_a_preset_rule_read_back_too():
    from alerts.rules import preset_rule_id
    from storage.models import RuleKind

    rule_id = preset_rule_id("u" * 64, "s" * 200, RuleKind.BELOW)
    markup = for_transition(TransitionKind.FIRED, rule_id, NOW - H)
    data = [b.callback_data for row in markup.inline_keyboard for b in row]

    assert all(len(d.encode()) <= 64 for d in data)
    assert [parse_button(d) for d in data] == [
        AlertButton(Action.ACK, rule_id, NOW - H), AlertButton(Action.SNOOZE_1H, rule_id),
        AlertButton(Action.SNOOZE_8H, rule_id), AlertButton(Action.CHART, rule_id)]
