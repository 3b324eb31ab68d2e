"""Set 4's simulator obeys the physics it claims (a broken simulator would calibrate nothing)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

from benchmarks.heating_set4_sim import (
    DAY_MIN,
    Life,
    Spread,
    advance,
    make_building,
    run_physics,
    simulate,
    slow_tau_h,
)


def test_it_cools_an_unheated_building_towards_the_outside_with_its_tau() -> None:
    for seed in range(5):
        b = make_building(random.Random(seed), Spread(), "home", 20.0, -10.0)
        t_air = t_mass = 15.0
        distance = []
        for minute in range(100 * 60):
            t_air, t_mass = advance(b, t_air, t_mass, -10.0, 0.0, 0.0, 1.0)
            if minute % 60 == 59:
                distance.append(t_air + 10.0)
        fitted = 60.0 / math.log(distance[19] / distance[79])  # hours 20 to 80
        assert abs(fitted - slow_tau_h(b)) < 0.03 * slow_tau_h(b)
        assert 0.9 * b.tau_h < slow_tau_h(b) < 1.6 * b.tau_h
        assert 15.0 <= b.tau_h <= 55.0


def test_it_holds_the_thermostats_band_while_the_heating_works() -> None:
    minutes = 3 * DAY_MIN
    life = Life([8.0] * minutes, [1.0] * minutes, [False] * minutes, 8.0)
    b = replace(make_building(random.Random(7), Spread(), "cabin", 8.0, -15.0), heat_pump=False)
    trace = run_physics(random.Random(1), b, life, [-15.0] * minutes, [0.0] * minutes, None, 0.0)
    settled = trace.air[DAY_MIN:]
    assert min(settled) > 8.0 - b.band - 0.6
    assert max(settled) < 8.0 + b.band + 0.6
    assert any(trace.full_out) and not all(trace.full_out)  # it cycles


def test_it_lets_a_failed_building_fall_below_3_degrees() -> None:
    minutes = 3 * DAY_MIN
    life = Life([8.0] * minutes, [1.0] * minutes, [False] * minutes, 8.0)
    b = replace(make_building(random.Random(7), Spread(), "cabin", 8.0, -15.0), heat_pump=False)
    trace = run_physics(random.Random(1), b, life, [-15.0] * minutes, [0.0] * minutes,
                        DAY_MIN, 0.0)
    assert min(trace.air[:DAY_MIN]) > 6.0
    assert min(trace.air[DAY_MIN:]) < 3.0


def test_it_reads_a_run_with_the_sensor_it_drew() -> None:
    run = simulate(12, "failure", days=6)
    assert run.fail_at is not None
    gaps = sum(b - a for a, b in run.gaps)
    assert len(run.indoor) <= 6 * DAY_MIN / run.cadence + 1
    assert len(run.indoor) >= (6 * DAY_MIN - gaps) / run.cadence * 0.9
    assert all(abs(r.value / run.step - round(r.value / run.step)) < 1e-6 for r in run.indoor)
