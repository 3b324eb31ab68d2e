"""Set 5's houses: set 4's simulator with its options on, drawn reproducibly, and set 4 itself
left exactly as it was (another evaluation depends on its figures)."""

from __future__ import annotations

import random

from benchmarks.heating_set4_sim import (
    DAY_MIN,
    Building,
    Life,
    Spread,
    make_building,
    run_physics,
    simulate,
)
from benchmarks.heating_set5 import SPREAD


def test_it_draws_the_same_run_from_the_same_seed() -> None:
    first, again = simulate(500_007, "failure", SPREAD, days=6), simulate(
        500_007, "failure", SPREAD, days=6)
    assert first.indoor == again.indoor
    assert first.outdoor == again.outdoor
    assert first.fail_at == again.fail_at


def test_set_4_is_drawn_exactly_as_before_the_options() -> None:
    run = simulate(400_003, "failure", days=6)
    assert (len(run.indoor), run.fail_at, run.cadence, run.step) == (569, 6142, 15, 0.0625)
    assert round(sum(r.value for r in run.indoor), 4) == 8357.3125
    assert make_building(random.Random(1), Spread(), "home", 20.0, -10.0).lag_h == 0.0


def test_its_emitters_lag_and_its_cabins_start_at_frost_guard() -> None:
    lags = [make_building(random.Random(seed), SPREAD, "home", 20.0, -10.0).lag_h
            for seed in range(20)]
    assert all(0.03 <= lag <= 1.2 for lag in lags)
    for seed in range(500_000, 500_040):
        run = simulate(seed, "normal", SPREAD, days=8)
        if run.building.kind == "cabin":
            assert not any(run.trace.visit[:3 * DAY_MIN])  # no first weekend
        assert run.cadence in (5, 10)


def test_a_lagging_radiator_keeps_warming_after_the_heating_fails() -> None:
    minutes = 2 * DAY_MIN
    life = Life([8.0] * minutes, [1.0] * minutes, [False] * minutes, 8.0)
    b = make_building(random.Random(3), Spread(), "cabin", 8.0, -15.0)
    lagging = make_building(random.Random(3), Spread(emitter_lag_h=(0.5, 0.5),
                                                     floor_lag_h=(0.5, 0.5)), "cabin", 8.0, -15.0)
    assert lagging.lag_h == 0.5 and b.heat_pump == lagging.heat_pump

    def fall_in_20_min(building: Building) -> float:
        trace = run_physics(random.Random(1), building, life, [-15.0] * minutes,
                            [0.0] * minutes, DAY_MIN, 0.0)
        return trace.air[DAY_MIN] - trace.air[DAY_MIN + 20]

    assert fall_in_20_min(lagging) < fall_in_20_min(b)
