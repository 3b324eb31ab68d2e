"""An independent evaluation of the heating watch (issue 19) on a second simulator.
Run: `.venv/bin/python benchmarks/heating_independent.py [--quick] [--seed N]`.

The buildings come from `heating_independent_sim.py` (three nodes per house, specified by
heat-loss coefficient, heater power and capacities; cabins at frost guard with weekend and
holiday visits, lived-in houses with night setbacks, ground-coupled cellars; heat pumps with
defrosts, sun, doors, wandering weather with cold snaps that saturate weak heaters). Each run
is 21 days, read by a sensor with offset, noise, quantisation, jittered cadence, gaps and
duplicates, with a noisy outdoor sensor in most runs, and replayed through
`alerts.heating.replay` — the code `sensorbot backtest` runs.

The truth is the noise-free sensor (air + offset). A warning before the heating fails, or in
a run where it never fails, is false: a house that drifts down in a cold snap with its heater
on full still has working heating.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.heating import HeatingEvent, replay_steps  # noqa: E402
from benchmarks.heating_independent_sim import (  # noqa: E402
    DAY_MIN,
    House,
    Sensor,
    Trace,
    make_house,
    make_sensor,
    read,
    simulate,
    weather,
)
from benchmarks.heating_tau import events_and_taus, tau_line  # noqa: E402
from storage.models import Reading  # noqa: E402

MONDAY_MS = 1_767_571_200_000  # 2026-01-05 00:00 UTC
MIN_MS = 60_000
RUN_DAYS = 21
WATCH_FROM_DAYS = 3  # the watch is silent before; normal operation is counted after


@dataclass(slots=True)
class Run:
    seed: int
    mode: str  # "normal", "failure", "partial"
    house: House
    sensor: Sensor
    outdoor: bool
    fail_at: int | None  # minute
    fail_in_visit: bool
    trace: Trace
    truth: list[float]  # the noise-free sensor, one value a minute
    events: list[HeatingEvent] = field(default_factory=list)
    naive: list[int] = field(default_factory=list)  # the naive detector's warnings (ms)
    taus: dict[int, float] = field(default_factory=dict)  # learned τ at each warning (ms)

    def scenario(self) -> str:
        parts = [self.house.kind]
        if self.house.heat_pump:
            parts.append("heat-pump")
        if self.house.margin < 1.05:
            parts.append("weak-heater")
        if self.fail_in_visit:
            parts.append("fail-in-visit")
        if not self.outdoor:
            parts.append("no-outdoor")
        return "/".join(parts)

    def minute(self, ms: int) -> int:
        return (ms - self.t0_ms) // MIN_MS

    @property
    def t0_ms(self) -> int:
        return MONDAY_MS

    def first_below(self, limit: float, after: int) -> int | None:
        for m in range(after, len(self.truth)):
            if self.truth[m] <= limit:
                return m
        return None


def pick_mode(i: int, n_fail: int, n_partial: int) -> str:
    if i < n_fail:
        return "failure"
    return "partial" if i < n_fail + n_partial else "normal"


def build(seed: int, mode: str) -> Run:
    rng = random.Random(seed)
    kind = rng.choices(["cabin", "house", "cellar"], [0.45, 0.35, 0.2])[0]
    minutes = RUN_DAYS * DAY_MIN
    t_out = weather(rng, minutes)
    house = make_house(rng, kind, min(t_out))
    day_of_year = rng.choice(list(range(305, 366)) + list(range(1, 76)))
    weekday = 0  # MONDAY_MS is a Monday

    def pick_failure(visit: list[bool]) -> int | None:
        if mode == "normal":
            return None
        lo, hi = 4 * DAY_MIN, 14 * DAY_MIN
        if kind == "cabin" and rng.random() < 0.4:
            inside = [m for m in range(lo, hi, 10) if visit[m]]
            if inside:
                return rng.choice(inside) + rng.randrange(10)
        return rng.randrange(lo, hi)

    trace, fail_at = simulate(rng, house, t_out, day_of_year, weekday, pick_failure,
                              0.0 if mode == "failure" else 0.3)
    sensor = make_sensor(rng)
    truth = [t + sensor.offset for t in trace.air]
    outdoor = rng.random() < 0.75
    in_visit = fail_at is not None and kind == "cabin" and trace.visit[fail_at]
    run = Run(seed, mode, house, sensor, outdoor, fail_at, in_visit, trace, truth)
    indoor = [Reading("indoor", ts, v) for ts, v in read(rng, sensor, trace.air, MONDAY_MS)]
    out_sensor = make_sensor(rng, outdoor=True)
    out_readings = ([Reading("outdoor", ts, v)
                     for ts, v in read(rng, out_sensor, trace.outside, MONDAY_MS)]
                    if outdoor else [])
    run.events, run.taus = events_and_taus(replay_steps(indoor, out_readings))
    run.naive = naive(indoor)
    return run


def naive(indoor: list[Reading]) -> list[int]:
    """The issue's naive detector, for calibration: below the usual low (the 10th percentile of
    the last 14 days, relearned daily, silent for 3 days) by 1 °C for 30 min; once per event."""
    out: list[int] = []
    indoor = sorted(indoor, key=lambda r: r.timestamp)
    low, learned, below, armed, lo = 0.0, None, None, True, 0
    for i, r in enumerate(indoor):
        if r.timestamp - indoor[0].timestamp < WATCH_FROM_DAYS * 86_400_000:
            continue
        if learned is None or r.timestamp - learned >= 86_400_000:
            while indoor[lo].timestamp < r.timestamp - 14 * 86_400_000:
                lo += 1
            window = sorted(x.value for x in indoor[lo:i + 1])
            low, learned = window[len(window) // 10], r.timestamp
        if r.value >= low:
            armed, below = True, None
        elif r.value < low - 1.0:
            below = r.timestamp if below is None else below
            if armed and r.timestamp - below >= 30 * MIN_MS:
                out.append(r.timestamp)
                armed = False
        else:
            below = None
    return out


# -- what caused a false warning ---------------------------------------------------------------

def cause(run: Run, m: int) -> str:
    """The likeliest cause of a warning at minute `m` of a run whose heating works."""
    tr = run.trace
    back = range(max(0, m - 180), m + 1)
    opened = [k for k in range(max(0, m - 90), m + 1) if tr.door[k]]
    if opened:
        return f"door open ({len(opened)} min)"
    if run.house.kind == "cabin" and any(tr.visit[k] for k in range(max(0, m - 24 * 60), m)):
        long = sum(tr.visit[max(0, m - 14 * DAY_MIN):m]) > 5 * DAY_MIN
        return "visit ended" + (" (after a holiday)" if long else "")
    if sum(tr.wanted[k] for k in back) > 0.9 * len(back):
        return "heater saturated (cold)"
    if any(tr.defrost[k] for k in back):
        return "heat-pump defrost"
    if max(tr.sun[k] for k in range(max(0, m - 480), m + 1)) > 0.3 * run.house.ua * 3:
        return "after sun"
    if run.house.setback:
        return "setback"
    return "other"


# -- figures ---------------------------------------------------------------------------------

@dataclass(slots=True)
class Outcome:
    run: Run
    warn_ms: int | None
    t3: int | None
    t0: int | None
    delay_h: float | None = None
    lead: float | None = None
    eta_err: float | None = None
    in_range: bool | None = None
    no_eta: bool = False


def outcome(run: Run) -> Outcome:
    assert run.fail_at is not None
    fail_ms = run.t0_ms + run.fail_at * MIN_MS
    warns = [e for e in run.events if e.kind == "heating_failed" and e.at >= fail_ms]
    w = warns[0] if warns else None
    t3 = run.first_below(3.0, run.fail_at)
    t0 = run.first_below(0.0, run.fail_at)
    out = Outcome(run, w.at if w else None, t3, t0)
    if w is None:
        return out
    out.delay_h = (w.at - fail_ms) / 3_600_000
    if t0 is not None:
        t0_ms = run.t0_ms + t0 * MIN_MS
        out.lead = (t0_ms - w.at) / (t0_ms - fail_ms)
        p = w.prediction
        left = t0_ms - w.at
        if p is None or p.eta_ms is None:
            out.no_eta = True
        elif left > 0:
            out.eta_err = abs(p.eta_ms - t0_ms) / left
            lo = p.eta_low_ms if p.eta_low_ms is not None else p.eta_ms
            hi = p.eta_high_ms if p.eta_high_ms is not None else p.eta_ms
            out.in_range = lo <= t0_ms <= hi
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def describe_warning(run: Run, e: HeatingEvent) -> str:
    p = e.prediction
    eta = ""
    if p is not None and p.eta_ms is not None:
        eta = f", ETA {(p.eta_ms - e.at) / 3.6e6:.1f} h"
        if p.eta_low_ms is not None and p.eta_high_ms is not None:
            eta += f" [{(p.eta_low_ms - e.at) / 3.6e6:.1f}–{(p.eta_high_ms - e.at) / 3.6e6:.1f}]"
    return f"warned at day {(e.at - run.t0_ms) / 86_400_000:.2f} reading {e.value:.2f}{eta}"


FEATURES: list[tuple[str, Callable[[Run], bool]]] = [
    ("all", lambda r: True),
    ("cabin, failed in a visit", lambda r: r.fail_in_visit),
    ("cabin, failed unvisited", lambda r: r.house.kind == "cabin" and not r.fail_in_visit),
    ("house, no setback", lambda r: r.house.kind == "house" and not r.house.setback),
    ("house, night setback", lambda r: r.house.kind == "house" and bool(r.house.setback)),
    ("cellar", lambda r: r.house.kind == "cellar"),
    ("heat pump", lambda r: r.house.heat_pump),
    ("weak heater (<1.05x)", lambda r: r.house.margin < 1.05),
    ("no outdoor sensor", lambda r: not r.outdoor),
    ("sensor q=0.5", lambda r: r.sensor.step == 0.5),
    ("sensor q<=0.1", lambda r: r.sensor.step <= 0.1),
    ("cadence <= 2.2 min", lambda r: r.sensor.cadence_min <= 2.2),
    ("cadence >= 9 min", lambda r: r.sensor.cadence_min >= 9),
    ("tau < 25 h", lambda r: r.house.tau_h < 25),
    ("tau > 45 h", lambda r: r.house.tau_h > 45),
    ("not in a visit", lambda r: not r.fail_in_visit),
]


def report_failures(title: str, outs: list[Outcome]) -> list[tuple[float, str]]:
    worst: list[tuple[float, str]] = []
    cold = [o for o in outs if o.run.fail_at is not None
            and o.run.truth[o.run.fail_at] <= 3.5]  # a saturated heater had let it sink
    reach3 = [o for o in outs if o.t3 is not None and o not in cold]
    missed = [o for o in reach3 if o.warn_ms is None
              or o.warn_ms > o.run.t0_ms + (o.t3 or 0) * MIN_MS]
    never = [o for o in outs if o.t3 is None]
    if cold:
        print(f"already at or below 3.5 °C when the heating failed (left out): {len(cold)}")
    delays = [o.delay_h for o in reach3 if o.delay_h is not None and o not in missed]
    leads = [o.lead for o in reach3 if o.lead is not None]
    errs = [o.eta_err for o in reach3 if o.eta_err is not None]
    ranges = [o.in_range for o in reach3 if o.in_range is not None]
    print(f"\n== {title}: {len(outs)} runs, {len(reach3)} reach 3 °C in the run ==")
    print(f"missed (no warning before 3 °C): {len(missed)} of {len(reach3)}")
    if never:
        warned = sum(o.warn_ms is not None for o in never)
        print(f"never reach 3 °C in the run: {len(never)} (warned anyway: {warned})")
    if delays:
        print(f"delay failure→warning: median {statistics.median(delays):.2f} h, "
              f"p90 {pct(delays, 0.9):.2f} h")
        plain = [o.delay_h for o in reach3 if o.delay_h is not None and o not in missed
                 and not o.run.fail_in_visit]
        if plain:
            print(f"  the same without failures during a cabin visit: median "
                  f"{statistics.median(plain):.2f} h, p90 {pct(plain, 0.9):.2f} h")
    if leads:
        print(f"lead / (failure→0 °C): median {statistics.median(leads):.2f}, "
              f"worst {min(leads):.2f}  (n={len(leads)})")
    if errs:
        print(f"ETA error at first warning / time left: median {statistics.median(errs):.2f}, "
              f"p90 {pct(errs, 0.9):.2f}  (n={len(errs)}, no ETA given: "
              f"{sum(o.no_eta for o in outs)})")
    if ranges:
        print(f"truth inside the stated range: {sum(ranges) / len(ranges):.0%}")
    print(tau_line([(o.run.taus[o.warn_ms], o.run.house.tau_h) for o in reach3
                    if o.warn_ms in o.run.taus and o.run.outdoor]))
    print("by feature (a run counts in each it has): runs / missed / median delay h / "
          "worst lead / median ETA err")
    for name, test in FEATURES:
        g = [o for o in reach3 if test(o.run)]
        if not g:
            continue
        d = [o.delay_h for o in g if o.delay_h is not None]
        lead = [o.lead for o in g if o.lead is not None]
        e = [o.eta_err for o in g if o.eta_err is not None]
        print(f"  {name:28s} {len(g):3d} {sum(o in missed for o in g):3d} "
              f"{statistics.median(d) if d else float('nan'):6.2f} "
              f"{min(lead) if lead else float('nan'):6.2f} "
              f"{statistics.median(e) if e else float('nan'):6.2f}")
    for o in missed:
        r = o.run
        assert r.fail_at is not None and o.t3 is not None
        said = ([describe_warning(r, e) for e in r.events if e.kind == "heating_failed"
                 and e.at >= r.t0_ms + r.fail_at * MIN_MS][:1] or ["never warned"])[0]
        worst.append((1e9, f"MISSED seed {r.seed} [{r.scenario()}] {r.house.describe()}; "
                           f"{r.sensor.describe()}; failed day {r.fail_at / DAY_MIN:.2f}, "
                           f"3 °C at day {o.t3 / DAY_MIN:.2f}; {said}"))
    for o in reach3:
        r = o.run
        if o.lead is not None and o.warn_ms is not None and r.fail_at is not None:
            first = next(ev for ev in r.events
                         if ev.kind == "heating_failed" and ev.at == o.warn_ms)
            worst.append((1 - o.lead, f"lead {o.lead:.2f} seed {r.seed} [{r.scenario()}] "
                          f"{r.house.describe()}; {r.sensor.describe()}; failed day "
                          f"{r.fail_at / DAY_MIN:.2f} at {r.truth[r.fail_at]:.1f} °C, "
                          f"0 °C at day {(o.t0 or 0) / DAY_MIN:.2f}; {describe_warning(r, first)}"
                          f" (eta err {o.eta_err if o.eta_err is not None else float('nan'):.2f})"))
    return worst


def report_false(runs: list[Run]) -> list[tuple[float, str]]:
    days = 0.0
    false: list[tuple[Run, HeatingEvent, str]] = []
    for r in runs:
        end = r.fail_at if r.fail_at is not None else RUN_DAYS * DAY_MIN
        days += max(0.0, end / DAY_MIN - WATCH_FROM_DAYS)
        for e in r.events:
            m = r.minute(e.at)
            if e.kind == "heating_failed" and m < end:
                false.append((r, e, cause(r, m)))
    naive_false = sum(1 for r in runs for t in r.naive
                      if r.minute(t) < (r.fail_at if r.fail_at is not None else RUN_DAYS * DAY_MIN))
    print(f"\n== false warnings: {len(false)} in {days:.0f} days of normal operation "
          f"= {len(false) / days * 180 if days else 0:.2f} per 180 days ==")
    print(f"calibration: the naive detector (usual low − 1 °C for 30 min): "
          f"{naive_false / days * 180 if days else 0:.2f} per 180 days "
          f"(the issue: about 4.5 on its houses)")
    by_cause: dict[str, int] = {}
    by_scen: dict[str, int] = {}
    for r, _, c in false:
        by_cause[c.split(" (")[0]] = by_cause.get(c.split(" (")[0], 0) + 1
        by_scen[r.scenario()] = by_scen.get(r.scenario(), 0) + 1
    if false:
        print("by cause:    " + ", ".join(f"{k} {v}" for k, v in sorted(by_cause.items())))
        print("by scenario: " + ", ".join(f"{k} {v}" for k, v in sorted(by_scen.items())))
    print("each: seed / scenario / cause / day")
    for r, e, c in false[:40]:
        print(f"  {r.seed} {r.scenario()} {c} day {(e.at - r.t0_ms) / 86_400_000:.2f} "
              f"reading {e.value:.2f} level {e.level}")
    return [(5e8, f"FALSE seed {r.seed} [{r.scenario()}] {r.house.describe()}; "
                  f"{r.sensor.describe()}; cause: {c}; truth {r.truth[r.minute(e.at)]:.2f}, "
                  f"outside {r.trace.outside[r.minute(e.at)]:.1f}; {describe_warning(r, e)}")
            for r, e, c in false]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a quarter of the runs")
    ap.add_argument("--seed", type=int, default=1000, help="the first run's seed")
    args = ap.parse_args()
    n_fail, n_partial, n_normal = (30, 8, 16) if args.quick else (120, 30, 60)
    started = time.process_time()
    runs = [build(args.seed + i, pick_mode(i, n_fail, n_partial))
            for i in range(n_fail + n_partial + n_normal)]
    worst = report_failures("heating off", [outcome(r) for r in runs if r.mode == "failure"])
    report_failures("partial failure (30 % power)",
                    [outcome(r) for r in runs if r.mode == "partial"])
    worst += report_false(runs)
    print("\n== worst cases ==")
    ranked = sorted(worst, key=lambda x: -x[0])
    for prefix in ("MISSED", "FALSE", "lead"):
        for _, text in [w for w in ranked if w[1].startswith(prefix)][:3]:
            print("- " + text)
    print(f"\n{len(runs)} runs in {time.process_time() - started:.0f} s of CPU")


if __name__ == "__main__":
    main()
