"""`benchmarks/heating_eta.py --ideal`: the τ that puts the stated time on the truth."""

from __future__ import annotations

import math

from alerts.heating import eta
from alerts.heating.model import HOUR_MS, Outside
from benchmarks.heating_eta import Case, ideal_tau
from storage.models import Reading

NOW = 1_800_000_000_000


def _case(true_tau_h: float) -> Case:
    """A fall at 0.5 °C/h from 10 °C, −10 °C outside, whose truth is the unheated course with
    `true_tau_h` from where the fall is now."""
    recent = tuple(Reading("attic", NOW - m * 60_000, 10.0 + 0.5 * m / 60)
                   for m in range(120, -1, -5))
    outside = Outside(measured=tuple(Reading("garden", NOW - m * 60_000, -10.0)
                                     for m in range(180, -1, -10)))
    state = eta.now_and_rate(recent, NOW)
    assert state is not None
    course = eta.course_of(state[0], NOW, NOW + 10 * 24 * HOUR_MS, true_tau_h,
                           lambda _t: -10.0, 0.0)
    t0 = next(t for t, v in course if v <= 0.0)
    return Case("set4", 1, [], NOW, None, recent, outside, t0, true_tau_h)


def test_it_finds_the_tau_that_reaches_0_c_at_the_truth() -> None:
    for tau in (12.0, 40.0):
        found = ideal_tau(_case(tau))
        assert found is not None
        ideal, used, shown = found
        # within a 15-minute step of the course
        assert abs(math.log(ideal / tau)) < 0.05
        # the fall shows (10 + 10) / 0.5 = 40 h before any scaling
        assert shown is not None and abs(shown - 40.0) < 1.0
        assert used > 0


def test_it_says_nothing_without_outside_data() -> None:
    case = _case(20.0)
    case.outside = Outside()
    assert ideal_tau(case) is None
