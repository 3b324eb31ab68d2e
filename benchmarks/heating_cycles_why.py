"""Why a set-5 failure learned no off-cycles, and whether learning them would warn it in time.
For each seed (a full failure of set 5): the thermostat's cycle against the sensor's cadence
(readings closer than a fifth of the cycle are the only ones the sensor's own noise could be
read from), the turns' median drop against the clarity test's need, and the warning against
the time the sensor reached 3 °C, as main learns and with the cycle learner given a noise.
For the heating watch's authors.

Run: `.venv/bin/python benchmarks/heating_cycles_why.py [--noise 0.05] SEED ...`
(e.g. 500006 500032 500087).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import alerts.heating.watch as watch  # noqa: E402
from alerts.heating.cycles import CLEAR_TURN, MIN_TURN, off_cycles, turns  # noqa: E402
from alerts.heating.learn import noise_of, resolution_of  # noqa: E402
from alerts.heating.model import DAY_MS, HeatingModel  # noqa: E402
from benchmarks.heating_set4 import judge  # noqa: E402
from benchmarks.heating_set4_sim import MIN_MS, START_MS, simulate  # noqa: E402
from benchmarks.heating_set5 import SPREAD  # noqa: E402
from storage.models import Reading  # noqa: E402

MAIN_WITH_CYCLES = watch.with_cycles


def shape(seed: int) -> str:
    """The cycle, the cadence and the clarity test on the 14 days before the failure."""
    run = simulate(seed, "failure", SPREAD)
    end = START_MS + (run.fail_at or 0) * MIN_MS
    days = [r for r in run.indoor if end - 14 * DAY_MS <= r.timestamp < end]
    noise, step = noise_of(days), resolution_of(days)
    hysteresis = max(MIN_TURN, 2 * noise, step)
    points = turns(days, hysteresis)
    drops = sorted(v0 - v1 for (_, v0, peak), (_, v1, _) in itertools.pairwise(points) if peak)
    peaks = [t for t, _, peak in points if peak]
    gaps = sorted(b - a for a, b in itertools.pairwise(peaks))
    cycle_min = gaps[len(gaps) // 2] / 60_000 if gaps else 0.0
    close = sum(1 for a, b in itertools.pairwise(days)
                if b.timestamp - a.timestamp <= 0.2 * cycle_min * 60_000)
    drop = drops[len(drops) // 2] if drops else 0.0
    return (f"cadence {run.cadence} min, cycle {cycle_min:.0f} min (pairs closer than a fifth: "
            f"{close}), noise read {noise:.3f}, median drop {drop:.3f} vs need "
            f"{CLEAR_TURN * hysteresis:.3f}")


def warned(seed: int) -> str:
    """When the watch warned, against the failure and the time the sensor reached 3 °C."""
    j = judge((seed, "failure", SPREAD))
    at = j.watch_at
    if at is None or j.fail_ms is None:
        return "no warning"
    late = (at - j.t3_ms) / 60_000 if j.t3_ms is not None else float("nan")
    return (f"warned {(at - j.fail_ms) / 60_000:.0f} min after the failure, "
            f"{late:+.1f} min from 3 °C ({'missed' if j.missed(at) else 'in time'})")


def given_noise(noise: float) -> None:
    """The watch's cycle learner reads `noise` as the sensor's (the other checks unchanged)."""
    def with_cycles(model: HeatingModel, readings: Sequence[Reading],
                    measured: Sequence[Reading]) -> HeatingModel:
        found = off_cycles(readings, measured, noise, model.resolution)
        return replace(model, cycles=found.count, cycle_pace=round(found.pace, 3),
                       cycle_rate=round(found.rate, 4), cycle_low=round(found.low, 3))
    watch.with_cycles = with_cycles


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("seeds", type=int, nargs="+")
    ap.add_argument("--noise", type=float, default=0.05, help="the noise given to the learner")
    args = ap.parse_args()
    for seed in args.seeds:
        print(f"{seed}: {shape(seed)}")
        watch.with_cycles = MAIN_WITH_CYCLES
        print(f"  as main learns: {warned(seed)}")
        given_noise(args.noise)
        print(f"  cycle learner given noise {args.noise}: {warned(seed)}")


if __name__ == "__main__":
    main()
