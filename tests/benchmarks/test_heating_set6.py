"""Set 6's simulator obeys the physics it claims and draws the same run from the same seed
(a broken simulator would calibrate nothing)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

from benchmarks.heating_set6_sim import (
    DAY_MIN,
    Life,
    Spread,
    Weather,
    make_building,
    make_weather,
    run_physics,
    simulate,
    slow_tau,
)


def test_it_draws_the_same_run_from_the_same_seed() -> None:
    first, again = simulate(600_007, "failure", days=6), simulate(600_007, "failure", days=6)
    assert first.indoor == again.indoor
    assert first.outdoor == again.outdoor
    assert first.fail_at == again.fail_at
    assert first.fail_at is not None and 0 < first.fail_at < 5 * DAY_MIN


def test_its_buildings_have_the_tau_they_were_drawn_with() -> None:
    for seed in range(20):
        b = make_building(random.Random(seed), Spread(), "home", -20.0, 21.0)
        assert abs(slow_tau(b.c_air, b.c_mass, b.h_am, b.h_ao, b.h_mo, b.h_g) - b.tau_h) < 1e-6
        assert 12.0 <= b.tau_h <= 50.0


def still_weather(minutes: int, outside: float) -> Weather:
    """Weather that never changes: no wind, no sun, no cloud."""
    hours = minutes // 60 + 2
    w = make_weather(random.Random(1), Spread(), hours, 60.0, 0.0, 0.0)
    w.local = [outside] * hours
    w.wind = [0.0] * hours
    w.clear = [0.0] * hours
    w.sun_up = [0.0] * hours
    w.snow = [False] * hours
    return w


def test_an_unheated_house_falls_fast_then_with_its_tau() -> None:
    minutes = 3 * DAY_MIN
    weather = still_weather(minutes, -15.0)
    life = Life([8.0] * minutes, [0.0] * minutes, [0.0] * minutes, [0.0] * minutes,
                [False] * minutes, 8.0, "frost guard", [])
    b = replace(make_building(random.Random(3), Spread(), "timber cabin", -15.0, 8.0),
                heater="panels")
    trace = run_physics(random.Random(1), b, life, weather, minutes, DAY_MIN, 0.0)
    before = trace.air[DAY_MIN - 1]
    assert 7.0 < before < 9.5  # the thermostat held its band
    first_hour = before - trace.air[DAY_MIN + 60]
    later_hour = trace.air[DAY_MIN + 600] - trace.air[DAY_MIN + 660]
    assert first_hour > 1.5 * later_hour > 0  # the air's quick drop, then the mass's pace
    # hours 10 to 30: towards the outside with the slow τ
    fitted = 20.0 / math.log((trace.air[DAY_MIN + 600] + 15.0) / (trace.air[DAY_MIN + 1800]
                                                                   + 15.0))
    assert abs(fitted - b.tau_h) < 0.25 * b.tau_h
    assert min(trace.air[DAY_MIN:]) < 3.0


def test_a_sensor_reads_at_its_cadence_with_its_step() -> None:
    run = simulate(600_011, "normal", days=6)
    step = run.sensor.step
    assert all(abs(v / step - round(v / step)) < 1e-6 for _, v in run.indoor)
    assert all(a < b for (a, _), (b, _) in zip(run.indoor, run.indoor[1:], strict=False))
    assert len(run.indoor) <= 6 * DAY_MIN / 5 * 1.1 or run.sensor.cadence_min < 5
