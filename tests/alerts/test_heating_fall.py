"""The fall so far read as a two-node building: a quick drop of the air, then the slow part."""

from __future__ import annotations

import math
import random

from alerts.heating.fall import heater_stopped, knee
from alerts.trend import trend_per_hour
from storage.models import Reading

START = 1_800_000_000_000
MINUTE = 60_000


def two_node_fall(minutes: int, noise: float = 0.02, step: float = 0.1, seed: int = 1,
                  cadence: int = 5) -> list[Reading]:
    """An unheated fall towards −10 °C: a 2.3 °C quick drop (τ₁ = 0.3 h), then τ = 30 h."""
    rng = random.Random(seed)
    out = []
    for m in range(0, minutes + 1, cadence):
        t = m / 60
        value = -10.0 + 2.3 * math.exp(-t / 0.3) + 15.7 * math.exp(-t / 30.0)
        value = round(round((value + rng.gauss(0.0, noise)) / step) * step, 4)
        out.append(Reading("attic", START + m * MINUTE, value))
    return out


def test_the_knee_finds_the_buildings_own_rate_under_the_quick_drop() -> None:
    readings = two_node_fall(60)
    found = knee(readings, readings[-1].timestamp)
    own = -15.7 / 30.0 * math.exp(-1 / 30.0)  # the slow part's rate an hour in
    assert found is not None
    assert abs(found.rate_per_h - own) < 0.15 * -own
    line = trend_per_hour(readings[-9:])  # the last 45 minutes, as a straight line
    assert line is not None and line < 1.5 * own  # overstates the rate by half or more


def test_the_fall_begins_at_the_heaters_last_stop() -> None:
    # a thermostat's last cycle (up to 8.4 °C), then the fall
    cycle = [Reading("attic", START + i * 5 * MINUTE, v)
             for i, v in enumerate((7.8, 7.6, 7.9, 8.2, 8.4, 8.1, 7.7, 7.4, 7.2, 7.0))]
    assert heater_stopped(cycle) == 4


def test_no_knee_in_a_straight_fall_read_by_a_coarse_sensor() -> None:
    # a 0.5 °C sensor's steps bend a straight fall; they are not a quick drop
    readings = [Reading("attic", START + m * MINUTE, round(round((8.0 - 0.9 * m / 60) / 0.5) * 0.5,
                                                             1)) for m in range(0, 61, 5)]
    assert knee(readings, readings[-1].timestamp) is None


def test_no_knee_in_a_fall_too_short_to_see_the_quick_drop_end() -> None:
    readings = two_node_fall(20, cadence=2)
    assert knee(readings, readings[-1].timestamp) is None
