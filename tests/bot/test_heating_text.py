"""What the heating watch says (pure): the warning, the recovery, /alerts' state."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

import pytest

from alerts.heating import HeatingMemory, HeatingModel, HeatingPhase
from bot.alert_buttons import Action, for_transition, parse_button
from bot.heating_text import about, describe_state, duration, render, span
from storage.models import HeatingOutlook, OutboxEntry, TransitionKind

HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = 1_800_000_000_000  # 2027-01-15 10:00 in Helsinki
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000


def warning(outlook: HeatingOutlook, value: float = 6.1, rate: float | None = -0.7) -> str:
    entry = OutboxEntry("e1", TransitionKind.FIRED, NOW, value, NOW, value, NOW - HOUR, rate,
                        outlook=outlook)
    return render(entry, "Attic", "°C", HELSINKI, NOW)


def test_the_warning_says_when_with_a_range_and_the_forecast_it_used():
    outlook = HeatingOutlook(8.0, NOW + 11 * HOUR, NOW + 8 * HOUR, NOW + 15 * HOUR, -14.0,
                             "forecast")

    assert warning(outlook) == (
        "🔥 Heating may have stopped at Attic: 6.1 °C (usually 8.0 °C), falling 0.7 °C/h. At "
        "the forecast −14 °C outside it reaches 0 °C around 21:00 (in about 11 h; 8–15 h).")


def test_the_warning_names_the_outdoor_sensor_when_it_used_it():
    outlook = HeatingOutlook(8.0, NOW + 5 * HOUR, NOW + 4 * HOUR, NOW + 7 * HOUR, -20.0,
                             "sensor")

    assert "At −20 °C outside (your outdoor sensor) it reaches 0 °C around 15:00 " \
           "(in about 5 h; 4–7 h)." in warning(outlook)


def test_minutes_under_an_hour_never_one_hour_for_fourteen_minutes():
    outlook = HeatingOutlook(8.0, NOW + 14 * MIN, NOW + 9 * MIN, NOW + 80 * MIN, None, None)

    text = warning(outlook, value=0.4)

    assert "From the indoor readings alone it reaches 0 °C around 10:14 " \
           "(in about 14 min; 9 min–1 h)." in text
    assert "1 h)" in text and "about 1 h" not in text


def test_without_an_eta_it_says_it_cannot_tell_yet():
    assert warning(HeatingOutlook(8.0), rate=None).endswith(
        "(usually 8.0 °C), falling. It cannot tell yet when it reaches 0 °C.")
    assert warning(HeatingOutlook(8.0, outside=4.0, outside_source="forecast")).endswith(
        "At the forecast 4 °C outside it should stay above 0 °C.")


def test_a_far_eta_gives_the_date():
    outlook = HeatingOutlook(8.0, NOW + 30 * HOUR, NOW + 20 * HOUR, NOW + 50 * HOUR, -3.0,
                             "forecast")
    assert "around Jan 16 16:00 (in about 30 h; 20–50 h)" in warning(outlook)


def test_the_recovery_says_how_long_and_how_low():
    entry = OutboxEntry("e2", TransitionKind.RESOLVED, NOW, 8.1, NOW, 5.2,
                        NOW - 5 * HOUR - 10 * MIN)

    assert render(entry, "Attic", None, HELSINKI, NOW) == \
        "✅ Attic is heated again (8.1 °C) after 5 h 10 min; lowest 5.2 °C."


@pytest.mark.parametrize(("ms", "said"), [(14 * MIN, "14 min"), (59 * MIN, "59 min"),
                                          (61 * MIN, "1 h 1 min"), (5 * HOUR, "5 h"),
                                          (20 * HOUR + 20 * MIN, "20 h"), (10, "1 min")])
def test_durations(ms, said):
    assert duration(ms) == said


def test_estimates_and_their_ranges():
    assert about(14 * MIN) == "14 min"
    assert about(95 * MIN) == "2 h"
    assert span(8 * HOUR, 15 * HOUR) == "8–15 h"
    assert span(10 * MIN, 25 * MIN) == "10–25 min"
    assert span(40 * MIN, 2 * HOUR) == "40 min–2 h"


def test_alerts_shows_learning_watching_and_firing():
    model = HeatingModel(NOW, 8.0, 0.5, 31.4, 18.0, 52.0, 14.0, 4)

    assert describe_state(HeatingMemory(first_seen=NOW - DAY - HOUR), "°C", NOW) == \
        "Learning: 2 days to go"
    assert describe_state(HeatingMemory(), "°C", NOW).startswith("Learning: waiting")
    assert describe_state(HeatingMemory(HeatingPhase.WATCHING, model), "°C", NOW) == \
        "Watching: usually 8.0 °C, cools with τ ≈ 31 h (18–52 h)"
    assert describe_state(HeatingMemory(HeatingPhase.FIRING, model), "°C", NOW).startswith(
        "Firing")


def test_alerts_shows_the_tau_seen_in_deep_falls_when_it_has_one():
    model = dataclasses.replace(HeatingModel(NOW, 8.0, 0.5, 31.4, 18.0, 52.0, 14.0, 4),
                                deep_tau_h=22.4, deep_hours=6.2)

    assert describe_state(HeatingMemory(HeatingPhase.WATCHING, model), "°C", NOW) == \
        "Watching: usually 8.0 °C, cools with τ ≈ 22 h (seen in 6 h of unheated cooling)"


def test_a_heating_warning_offers_turned_down_in_place_of_snooze_1h():
    markup = for_transition(TransitionKind.FIRED, "r1a2b3", NOW, heating=True)
    ordinary = for_transition(TransitionKind.FIRED, "r1a2b3", NOW)

    labels = [b.text for row in markup.inline_keyboard for b in row]
    assert labels == ["Acknowledge", "I turned the heating down", "Snooze 8h", "Chart 24h"]
    assert "I turned the heating down" not in [b.text for row in ordinary.inline_keyboard
                                               for b in row]
    assert parse_button("a:down:r1a2b3").action is Action.TURNED_DOWN


def test_the_reading_beside_the_usual_level_has_the_same_precision():
    outlook = HeatingOutlook(7.9, NOW + 11 * HOUR, NOW + 8 * HOUR, NOW + 15 * HOUR, -14.0,
                             "forecast")

    assert warning(outlook, value=6.85).startswith(
        "🔥 Heating may have stopped at Attic: 6.8 °C (usually 7.9 °C), falling 0.7 °C/h.")
    assert warning(outlook, value=-0.04).startswith(
        "🔥 Heating may have stopped at Attic: 0.0 °C (usually 7.9 °C)")


def test_a_fahrenheit_sensors_warning_and_state_speak_fahrenheit():
    """The outbox holds a °F watch's figures in °F; the freezing point is 32 °F."""
    outlook = HeatingOutlook(46.4, NOW + 11 * HOUR, NOW + 8 * HOUR, NOW + 15 * HOUR, 6.8,
                             "forecast")
    entry = OutboxEntry("e1", TransitionKind.FIRED, NOW, 43.0, NOW, 43.0, NOW - HOUR, -1.26,
                        outlook=outlook)
    mild = dataclasses.replace(entry, outlook=HeatingOutlook(46.4, outside=35.0,
                                                             outside_source="forecast"))
    model = HeatingModel(NOW, 8.0, 0.5, 31.4, 18.0, 52.0, 14.0, 4)  # learned in °C

    assert render(entry, "Attic", "°F", HELSINKI, NOW) == (
        "🔥 Heating may have stopped at Attic: 43.0 °F (usually 46.4 °F), falling 1.3 °F/h. At "
        "the forecast 7 °F outside it reaches 32 °F around 21:00 (in about 11 h; 8–15 h).")
    assert render(mild, "Attic", "°F", HELSINKI, NOW).endswith(
        "At the forecast 35 °F outside it should stay above 32 °F.")
    assert describe_state(HeatingMemory(HeatingPhase.WATCHING, model), "°F", NOW, "°F") == \
        "Watching: usually 46.4 °F, cools with τ ≈ 31 h (18–52 h)"
