"""What a heating warning's chart draws after now (pure): far enough to reach 0 °C, two days
at most, and a title and caption that say what is drawn."""

from __future__ import annotations

from bot.heating_chart import ahead, note, title

NOW = 1_800_000_000_000
HOUR = 3_600_000


def course(start: float, expected_h: float, low_h: float, high_h: float, hours: int = 48
           ) -> list[tuple[int, float, float, float]]:
    """Straight lines from `start` reaching 0 °C after the given hours, every 15 minutes."""
    return [(NOW + q * HOUR // 4, start * (1 - q / 4 / expected_h), start * (1 - q / 4 / low_h),
             start * (1 - q / 4 / high_h)) for q in range(hours * 4 + 1)]


def test_it_draws_until_the_slow_end_of_the_range_reaches_zero():
    shown = ahead(course(6.0, 16, 12, 22), NOW)

    assert shown.course[-1][0] == NOW + 22 * HOUR
    assert shown.course[-1][3] <= 0 < shown.course[-2][3]
    assert (shown.zero_ms, shown.capped) == (NOW + 16 * HOUR, False)
    assert title("Attic", "last 24 h", "UTC", shown) == \
        "Attic · last 24 h and the next 22 h without heating (UTC)"
    assert note(shown) == ("Dashed: expected without heating, shaded: its likely range, for "
                           "the next 22 h; it reaches 0 °C in about 16 h.")


def test_a_range_past_two_days_is_cut_at_48_hours_and_says_so():
    shown = ahead(course(6.0, 30, 20, 70, hours=60), NOW)

    assert shown.course[-1][0] == NOW + 48 * HOUR
    assert (shown.zero_ms, shown.capped) == (NOW + 30 * HOUR, True)
    assert title("Attic", "last 24 h", "UTC", shown) == (
        "Attic · last 24 h and the next 48 h without heating, cut at 48 h: its range reaches "
        "0 °C later (UTC)")


def test_a_course_that_stays_above_zero_says_it_does_not_reach_it():
    flat = [(NOW + h * HOUR, 5.0, 4.0, 6.0) for h in range(49)]

    shown = ahead(flat, NOW)

    assert (shown.zero_ms, shown.capped) == (None, True)
    assert title("Attic", "last 24 h", "UTC", shown).endswith(
        "cut at 48 h: 0 °C not reached by then (UTC)")
    assert note(shown).endswith("for the next 48 h; it does not reach 0 °C within them.")


def test_no_prediction_keeps_the_plain_title():
    shown = ahead([], NOW)

    assert title("Attic", "last 24 h", "UTC", shown) == "Attic · last 24 h (UTC)"
    assert note(shown) == ""


def test_a_range_reaching_zero_within_the_hour_says_minutes_not_zero_hours():
    shown = ahead(course(0.6, 0.5, 0.25, 0.75), NOW)

    assert title("Attic", "last 24 h", "UTC", shown) == \
        "Attic · last 24 h and the next 45 min without heating (UTC)"
    assert note(shown).endswith("for the next 45 min; it reaches 0 °C in about 30 min.")


def test_a_sensor_at_zero_already_is_said_so_not_reaching_it_in_a_minute():
    below = [(NOW + q * HOUR // 4, -0.2 - q / 10, -0.4 - q / 10, 0.3 - q / 10) for q in range(8)]

    shown = ahead(below, NOW)  # the expected line below 0 °C now, its range's top above

    assert note(shown).endswith("; it is at 0 °C already.")


def test_a_whole_range_at_zero_already_draws_nothing_ahead():
    frozen = [(NOW + q * HOUR // 4, -1.0, -1.5, -0.5) for q in range(8)]

    shown = ahead(frozen, NOW)

    assert shown.course == ()
    assert title("Attic", "last 24 h", "UTC", shown) == "Attic · last 24 h (UTC)"


def test_a_fahrenheit_course_is_cut_at_32_and_says_so():
    shown = ahead([(t, 32 + 1.8 * e, 32 + 1.8 * lo, 32 + 1.8 * hi)
                   for t, e, lo, hi in course(6.0, 16, 12, 22)], NOW, "°F")

    assert shown.course[-1][0] == NOW + 22 * HOUR
    assert shown.zero_ms == NOW + 16 * HOUR
    assert note(shown).endswith("; it reaches 32 °F in about 16 h.")
