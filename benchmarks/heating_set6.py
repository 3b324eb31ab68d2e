"""Set 6: the heating watch on houses written from physics and the issue alone.
Run: `.venv/bin/python benchmarks/heating_set6.py [--quick] [--seed N] [--workers 1|2]`.

The houses come from `heating_set6_sim.py` (three heat stores: air, mass and the heater's
emitter; PI boilers, on/off boilers with minimum run times, electric panels, heat pumps that
weaken in the cold, floors that lag for hours; log and timber cabins at frost guard with
weekend visits, preheating and wood stoves; homes with setbacks, airing and windows left
tilted; weather with fronts, clear cold spells, wind and cold air pooling in hollows;
sensors on walls, near windows, heaters or low, lagging, some reporting only on a change).

The figures are computed as set 4's (`heating_set4.py`: the same `figures`, the same naive
and threshold-and-hold detectors, the same slope ETA), and its spreads were adjusted (never
the watch) until the issue's three calibration figures land near its hidden houses' in the
same run. Each run is replayed through `alerts.heating.replay_steps` (what `sensorbot
backtest --outdoor` runs) with the outdoor sensor's readings, or with none; a house with a
forecast instead goes through the same `evaluate` steps with the forecast the alert cycle
would hold at each moment (hourly, from its last 6-hourly issue, aimed at the region).

After the figures it lists every missed failure, every false warning and every warning
with a lead under 0.4: the house, what happened, and what the watch had learned and said.
"""

from __future__ import annotations

import argparse
import bisect
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.heating import (  # noqa: E402
    DAY_MS,
    HOUR_MS,
    MIN_DAYS,
    HeatingEvent,
    HeatingMemory,
    HeatingModel,
    HeatingStep,
    Outside,
    evaluate,
    replay_steps,
)
from benchmarks.heating_set4 import (  # noqa: E402
    Judged,
    counted,
    hold_detector,
    hold_grid,
    report,
    slope_eta,
)
from benchmarks.heating_set6_sim import (  # noqa: E402
    DAY_MIN,
    MIN_MS,
    START_MS,
    Run,
    Spread,
    simulate,
)
from storage.models import Reading  # noqa: E402

SPREAD = Spread()
FIRST_SEED = 600_000
COUNTS = (120, 20, 150)  # full failures, partial failures, normal houses
QUICK = (40, 7, 50)


# -- replaying a run -------------------------------------------------------------------------

def steps(run: Run, indoor: Sequence[Reading]) -> list[tuple[HeatingMemory, HeatingStep]]:
    """Each reading's step, as the alert cycle would have taken it."""
    if run.outside_source != "forecast":
        outdoor = [Reading("outdoor", t, v) for t, v in run.outdoor]
        return list(replay_steps(indoor, outdoor))
    times = [r.timestamp for r in indoor]
    memory = HeatingMemory()
    out: list[tuple[HeatingMemory, HeatingStep]] = []
    for i, reading in enumerate(indoor):
        now = reading.timestamp
        step = evaluate(memory, reading, now)
        if step.needs is not None:
            lo = max(0, bisect.bisect_left(times, step.needs[0], 0, i + 1) - 1)
            hi = bisect.bisect_right(times, min(step.needs[1], now), 0, i + 1)
            step = evaluate(memory, reading, now, indoor[lo:hi], Outside((), run.forecast(now)))
        out.append((memory, step))
        memory = step.memory
    return out


# -- what was going on -----------------------------------------------------------------------

def minute_of(ms: int) -> int:
    return (ms - START_MS) // MIN_MS


def day(ms: int) -> str:
    return f"day {(ms - START_MS) / DAY_MS:.2f}"


def cause(run: Run, at_ms: int) -> str:
    """The likeliest cause of a warning at `at_ms` while the heating worked."""
    m = min(len(run.truth) - 1, minute_of(at_ms))
    for a, b in run.sensor.gaps:
        if a <= m + 5 and b >= m - 3 * 60:
            return "gap"
    for a, b, what in run.life.events:
        if what != "visit" and a <= m and b >= m - 120:
            return what
    if any(run.life.visit[max(0, m - 36 * 60):m + 1]):
        return "visit end"
    recent = run.trace.flat_out[max(0, m - 180):m + 1]
    if sum(recent) > 0.6 * len(recent):
        return "cold snap (heater flat out)"
    if any(run.trace.defrost[max(0, m - 45):m + 1]):
        return "defrost"
    sp = run.life.setpoint
    if min(sp[max(0, m - 12 * 60):m + 1]) < max(sp[max(0, m - DAY_MIN):m + 1]) - 0.5:
        return "setback"
    if max(run.trace.sun[max(0, m - 10 * 60):m + 1]) > 1.0:
        return "after sun"
    return "other"


def kinds(run: Run) -> list[str]:
    """The kinds a failure run belongs to (it counts in each)."""
    b = run.building
    assert run.fail_at is not None
    hour = ((run.fail_at / 60) + run.tz_h) % 24
    out = [b.kind, "partial" if run.mode == "partial" else "full",
           f"outside: {run.outside_source}", b.heater, f"sensor {run.sensor.spot}"]
    if b.kind.endswith("cabin"):
        out.append("cabin in a visit" if run.life.visit[run.fail_at] else "cabin unvisited")
    if b.kind == "home":
        out.append(f"home, {run.life.setback}")
    if b.margin < 1.25:
        out.append("weak heater")
    if b.drafty:
        out.append("drafty")
    if hour >= 22 or hour < 6:
        out.append("at night")
    if run.sensor.step >= 0.5:
        out.append("0.5 °C sensor")
    if run.sensor.on_change:
        out.append("reports on a change")
    if run.sensor.cadence_min >= 10:
        out.append("cadence >= 10 min")
    if b.tau_h < 20:
        out.append("tau < 20 h")
    if b.tau_h > 40:
        out.append("tau > 40 h")
    return out


def model_text(model: HeatingModel | None, at_ms: int) -> str:
    if model is None:
        return "no model"
    return (f"level {model.level:.2f} band {model.band:.2f} floor {model.floor_at(at_ms):.2f} "
            f"τ {model.tau_h:.0f} h (deep {model.deep_tau_h:.0f} h, {model.cooling_episodes} "
            f"falls) cycles {model.cycles} low {model.cycle_low:.2f} noise {model.noise:.2f}")


def warning_text(e: HeatingEvent) -> str:
    p = e.prediction
    text = f"warned {day(e.at)} at {e.value:.2f}"
    if e.since is not None:
        text += f" (fall from {day(e.since)})"
    if p is not None and p.eta_ms is not None:
        text += f", ETA +{(p.eta_ms - e.at) / HOUR_MS:.1f} h"
        if p.eta_low_ms is not None and p.eta_high_ms is not None:
            text += (f" [{(p.eta_low_ms - e.at) / HOUR_MS:.1f}–"
                     f"{(p.eta_high_ms - e.at) / HOUR_MS:.1f}]")
        if p.outside is not None:
            text += f" outside {p.outside:.1f} ({p.outside_source})"
    return text


def house_text(run: Run) -> str:
    return (f"seed {run.seed} {run.mode}: {run.building.describe()}; {run.life.setback}; "
            f"{run.sensor.describe()}; outside: {run.outside_source}")


def events_near(run: Run, lo: int, hi: int) -> str:
    seen = [f"{what} {a / DAY_MIN:.2f}–{b / DAY_MIN:.2f}" for a, b, what in run.life.events
            if a <= hi and b >= lo]
    return ", ".join(seen[:6]) or "none"


@dataclass
class Judged6(Judged):
    """Set 4's judgement of a run, with the story of its misses, false and late warnings."""

    stories: list[tuple[str, str]] = field(default_factory=list)  # (what, text)


def judge(args: tuple[int, str, Spread]) -> Judged6:
    seed, mode, spread = args
    run = simulate(seed, mode, spread)
    indoor = [Reading("indoor", t, v) for t, v in run.indoor]
    fail_ms = START_MS + run.fail_at * MIN_MS if run.fail_at is not None else None
    end_ms = START_MS + len(run.truth) * MIN_MS
    normal_end = fail_ms if fail_ms is not None else end_ms
    watch_from = indoor[0].timestamp + MIN_DAYS * DAY_MS
    j = Judged6(seed, mode, kinds(run) if run.fail_at is not None else [],
                max(0.0, (normal_end - watch_from) / DAY_MS), fail_ms, None, None, False)
    if run.fail_at is not None:
        t3, t0 = run.first_at_or_below(3.0, run.fail_at), run.first_at_or_below(0.0, run.fail_at)
        j.t3_ms = START_MS + t3 * MIN_MS if t3 is not None else None
        j.t0_ms = START_MS + t0 * MIN_MS if t0 is not None else None
        j.cold_at_failure = run.truth[run.fail_at] <= 3.5

    def split(times: list[int]) -> tuple[list[int], int | None]:
        false = [t for t in times if t < normal_end]
        return false, next((t for t in times if fail_ms is not None and t >= fail_ms), None)

    walked = steps(run, indoor)
    events = [e for _, s in walked for e in s.events]
    fired = [e for e in events if e.kind == "heating_failed"]
    model_at: dict[int, HeatingModel | None] = {}
    model_before_fail: HeatingModel | None = None
    for reading, (_, s) in zip(indoor, walked, strict=True):
        for e in s.events:
            model_at[e.at] = s.memory.model
        if fail_ms is not None and reading.timestamp <= fail_ms:
            model_before_fail = s.memory.model
    false, warn = split([e.at for e in fired])
    j.watch_false = [cause(run, t) for t in false]
    for e in fired:
        if e.at in false:
            m = minute_of(e.at)
            j.stories.append(("FALSE", (
                f"{house_text(run)} — cause {cause(run, e.at)}: {warning_text(e)}; truth "
                f"{run.truth[min(m, len(run.truth) - 1)]:.2f}, outside "
                f"{run.trace.outside[min(m, len(run.truth) - 1)]:.1f}, setpoint "
                f"{run.life.setpoint[min(m, len(run.truth) - 1)]:.1f}, heater flat out "
                f"{sum(run.trace.flat_out[max(0, m - 180):m + 1]) / 181:.0%} of 3 h; events "
                f"{events_near(run, m - 240, m)}; model {model_text(model_at.get(e.at), e.at)}")))
    if warn is not None:
        first = next(e for e in fired if e.at == warn)
        p = first.prediction
        j.watch_warn = (warn, p.eta_ms if p else None, p.eta_low_ms if p else None,
                        p.eta_high_ms if p else None)
        j.slope["watch"] = slope_eta(indoor, warn)
        model = model_at.get(warn)
        if model is not None and run.outside_source != "none":
            b = run.building
            j.taus = (model.deep_tau_h if model.deep_tau_h > 0 else model.tau_h,
                      (b.c_air + b.c_mass) / (b.h_ao + b.h_mo + b.h_g), b.tau_h)
    if fail_ms is not None and run.fail_at is not None and j.t3_ms is not None \
            and not j.cold_at_failure:
        missed = j.missed(warn)
        lead = None
        if j.t0_ms is not None and warn is not None and warn < j.t0_ms:
            lead = (j.t0_ms - warn) / (j.t0_ms - fail_ms)
        if missed or (j.t0_ms is not None and (lead is None or lead < 0.4)):
            label = "MISSED" if missed else "LATE"
            said = warning_text(next(e for e in fired if e.at == warn)) if warn else \
                "never warned"
            lowest_line = model_before_fail.floor_at(fail_ms) if model_before_fail else None
            crossed = next((r for r in indoor if r.timestamp >= fail_ms and lowest_line
                            is not None and r.value < lowest_line - 0.3), None)
            m = run.fail_at
            j.stories.append((label, (
                f"{house_text(run)}{f', {run.fail_power:.0%} power' if run.fail_power else ''}"
                f" — failed {day(fail_ms)} at {run.truth[m]:.2f} (setpoint "
                f"{run.life.setpoint[m]:.1f}, outside {run.trace.outside[m]:.1f}"
                f"{', in a visit' if run.life.visit[m] else ''}), 3 °C {day(j.t3_ms)}"
                f" (+{(j.t3_ms - fail_ms) / HOUR_MS:.1f} h)"
                + (f", 0 °C +{(j.t0_ms - fail_ms) / HOUR_MS:.1f} h" if j.t0_ms else "")
                + f"; {said}; lead {lead if lead is not None else 0:.2f}; model at failure "
                f"{model_text(model_before_fail, fail_ms)}; first reading 0.3 below its floor "
                + (f"{day(crossed.timestamp)} ({crossed.value:.2f})" if crossed else "never")
                + f"; events {events_near(run, m - 60, minute_of(j.t3_ms))}")))
    false, j.naive_warn = split(hold_detector(indoor, 1.0, 30 * 60_000))
    j.naive_false = [cause(run, t) for t in false]
    if j.naive_warn is not None:
        j.slope["naive"] = slope_eta(indoor, j.naive_warn)
    for key, times in hold_grid(indoor).items():
        false, w = split(times)
        j.grid_false[key] = len(false)
        j.grid_warn[key] = w
        if w is not None:
            j.slope[f"hold {key}"] = slope_eta(indoor, w)
    return j


def runs(seed: int, counts: tuple[int, int, int], spread: Spread
         ) -> list[tuple[int, str, Spread]]:
    n_fail, n_partial, n_normal = counts
    modes = ["failure"] * n_fail + ["partial"] * n_partial + ["normal"] * n_normal
    return [(seed + i, mode, spread) for i, mode in enumerate(modes)]


def stories(judged: list[Judged6]) -> None:
    """Every missed failure, every false warning, every lead under 0.4, told."""
    counted_seeds = {j.seed for j in counted(list[Judged](judged))}
    for label, title in (("MISSED", "missed failures"), ("FALSE", "false warnings"),
                         ("LATE", "warnings with a lead under 0.4")):
        told = [(j.seed, text) for j in judged for what, text in j.stories
                if what == label and (label == "FALSE" or j.seed in counted_seeds)]
        print(f"\n== {title}: {len(told)} ==")
        for _, text in told:
            print("- " + text)


def main(spread: Spread = SPREAD) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="about a third of the runs")
    ap.add_argument("--seed", type=int, default=FIRST_SEED, help="the first run's seed")
    ap.add_argument("--workers", type=int, default=2, help="processes (at most 2)")
    args = ap.parse_args()
    counts = QUICK if args.quick else COUNTS
    wall = time.time()
    todo = runs(args.seed, counts, spread)
    workers = max(1, min(2, args.workers))
    if workers == 1:
        judged = [judge(a) for a in todo]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            judged = list(pool.map(judge, todo, chunksize=4))
    report(f"set 6, seeds {args.seed}–{args.seed + len(judged) - 1}", list(judged))
    stories(judged)
    print(f"\n{len(judged)} runs in {time.time() - wall:.0f} s")


if __name__ == "__main__":
    main()
