"""The heating watch's benchmark on simulated buildings.

Run: `.venv/bin/python benchmarks/heating.py` (`--quick` for a smaller set). Deterministic by
seed; two sets: the one it was tuned on and a second, independently seeded and differently
ranged, it was never tuned on.

Every house is replayed through `alerts.heating.replay`, as `sensorbot backtest` would. Figures:
missed failures (no warning before the air reaches 3 °C), the delay from failure to warning,
the lead as a share of the failure→0 °C time, the ETA error at the first warning, the share of
0 °C times inside the stated range, false warnings per 180 days of normal operation, the CPU
time of a replay; and the same for two baselines: a naive detector (usual low − 1 °C for 30 min)
and the one-τ slope ETA (least squares over 2 h, a straight line to 0 °C).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.heating import DAY_MS, HOUR_MS, MIN_DAYS, replay, replay_steps  # noqa: E402
from alerts.trend import trend_per_hour  # noqa: E402
from benchmarks.heating_sim import SECOND_RANGES, House, Ranges, simulate  # noqa: E402
from benchmarks.heating_tau import events_and_taus, tau_line  # noqa: E402
from storage.models import Reading  # noqa: E402

DAYS = 21


@dataclass
class Outcome:
    """What one house's replay (and the baselines) said, against the truth."""

    name: str
    kind: str
    has_outdoor: bool
    failure_ms: int | None
    at_3_ms: int | None
    at_0_ms: int | None
    in_visit: bool  # the failure came during a visit (the fall looks like the visit ending)
    watched_days: float  # days of normal operation it watched (after MIN_DAYS)
    warn_ms: int | None  # the first warning after the failure
    eta: tuple[int | None, int | None, int | None] | None  # ETA, low, high at that warning
    false_warnings: int
    naive_warn_ms: int | None
    naive_false: int
    slope_eta_ms: int | None  # the slope baseline's ETA at our first warning
    naive_slope_eta_ms: int | None  # ... and at the naive detector's first warning
    true_tau_h: float
    learned_tau_h: float | None  # the watch's learned τ at its first warning


def naive(indoor: list[Reading]) -> list[int]:
    """The naive detector: below the usual low (the 10th percentile of the last 14 days,
    relearned daily) by 1 °C for 30 min; once per event, re-armed back at the usual low."""
    out: list[int] = []
    if not indoor:
        return out
    first = indoor[0].timestamp
    low: float | None = None
    learned = -DAY_MS
    below: int | None = None
    armed = True
    lo = 0
    for i, r in enumerate(indoor):
        if r.timestamp - first < MIN_DAYS * DAY_MS:
            continue
        if r.timestamp - learned >= DAY_MS:
            while indoor[lo].timestamp < r.timestamp - 14 * DAY_MS:
                lo += 1
            window = sorted(x.value for x in indoor[lo:i + 1])
            low = window[len(window) // 10]
            learned = r.timestamp
        assert low is not None
        if r.value >= low:
            armed, below = True, None
            continue
        if r.value < low - 1.0:
            below = r.timestamp if below is None else below
            if armed and r.timestamp - below >= 30 * 60_000:
                out.append(r.timestamp)
                armed = False
        else:
            below = None
    return out


def slope_eta(indoor: list[Reading], at_ms: int) -> int | None:
    """The one-τ slope ETA: a straight line through the last 2 h, extended to 0 °C."""
    window = [r for r in indoor if at_ms - 2 * HOUR_MS <= r.timestamp <= at_ms]
    rate = trend_per_hour(window)
    if rate is None or rate >= 0 or not window:
        return None
    mean_t = sum(r.timestamp for r in window) / len(window)
    mean_v = sum(r.value for r in window) / len(window)
    now_v = mean_v + rate * (at_ms - mean_t) / HOUR_MS
    return at_ms + int(max(0.0, now_v) / -rate * HOUR_MS)


def run_house(args: tuple[int, str, bool, Ranges, bool]) -> Outcome:
    """Simulate one house, replay it, and compare with the truth."""
    seed, kind, fail, ranges, outdoor = args
    house: House = simulate(seed, kind, fail, ranges, DAYS, outdoor)
    events, taus = events_and_taus(replay_steps(house.indoor, house.outdoor))
    start = house.indoor[0].timestamp
    watch_from = start + MIN_DAYS * DAY_MS
    end = house.indoor[-1].timestamp
    fail_ms = house.failure_ms
    normal_end = fail_ms if fail_ms is not None else end
    failed = [e for e in events if e.kind == "heating_failed"]
    false = sum(1 for e in failed if fail_ms is None or e.at < fail_ms)
    warn = next((e for e in failed if fail_ms is not None and e.at >= fail_ms), None)
    naive_at = naive(house.indoor)
    naive_false = sum(1 for t in naive_at if fail_ms is None or t < fail_ms)
    naive_warn = next((t for t in naive_at if fail_ms is not None and t >= fail_ms), None)
    eta = None
    if warn is not None and warn.prediction is not None:
        p = warn.prediction
        eta = (p.eta_ms, p.eta_low_ms, p.eta_high_ms)
    return Outcome(
        name=house.name, kind=kind, has_outdoor=bool(house.outdoor), failure_ms=fail_ms,
        at_3_ms=house.at_3_ms, at_0_ms=house.at_0_ms, in_visit=house.in_visit,
        watched_days=max(0.0, (normal_end - watch_from) / DAY_MS),
        warn_ms=warn.at if warn else None, eta=eta, false_warnings=false,
        naive_warn_ms=naive_warn, naive_false=naive_false,
        slope_eta_ms=slope_eta(house.indoor, warn.at) if warn else None,
        naive_slope_eta_ms=slope_eta(house.indoor, naive_warn) if naive_warn else None,
        true_tau_h=house.tau_h, learned_tau_h=taus.get(warn.at) if warn else None)


def house_set(seed: int, ranges: Ranges, failing: int, normal: int) -> list[tuple[int, str, bool,
                                                                               Ranges, bool]]:
    """The houses of one set: failing cabins and homes, normal ones; a quarter without an
    outdoor sensor."""
    out: list[tuple[int, str, bool, Ranges, bool]] = []
    for i in range(failing + normal):
        fail = i < failing
        kind = "cabin" if i % 3 != 2 else "home"
        out.append((seed * 100_000 + i, kind, fail, ranges, i % 4 != 3))
    return out


def _pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _figures(outcomes: list[Outcome], which: str) -> dict[str, float]:
    """The figures for our detector (`which="ours"`) or the baselines (`"naive"`)."""
    fails = [o for o in outcomes if o.failure_ms is not None]
    got: dict[str, float] = {"failures": len(fails)}
    warn = {o.name: (o.warn_ms if which == "ours" else o.naive_warn_ms) for o in fails}
    reach3 = [o for o in fails if o.at_3_ms is not None]
    got["reach 3 °C"] = len(reach3)
    got["missed"] = sum(1 for o in reach3 if warn[o.name] is None or warn[o.name] > o.at_3_ms)
    delays = [(warn[o.name] - o.failure_ms) / HOUR_MS for o in fails
              if warn[o.name] is not None and o.failure_ms is not None]
    got["delay median h"] = _pct(delays, 0.5)
    got["delay p90 h"] = _pct(delays, 0.9)
    reach0 = [o for o in fails if o.at_0_ms is not None and o.failure_ms is not None]
    leads = []
    for o in reach0:
        w = warn[o.name]
        total = o.at_0_ms - o.failure_ms  # type: ignore[operator]
        leads.append(0.0 if w is None or w > o.at_0_ms else (o.at_0_ms - w) / total)
    got["reach 0 °C"] = len(reach0)
    got["lead median"] = _pct(leads, 0.5)
    got["lead worst"] = min(leads) if leads else math.nan
    got["lead worst (no visit)"] = min(
        (lead for lead, o in zip(leads, reach0, strict=True) if not o.in_visit), default=math.nan)
    got["failures in a visit"] = sum(1 for o in fails if o.in_visit)
    got["missed (3 °C > 1 h)"] = sum(
        1 for o in reach3 if (warn[o.name] is None or warn[o.name] > o.at_3_ms)
        and o.at_3_ms - o.failure_ms > HOUR_MS)  # type: ignore[operator]
    errors, inside, late = [], [], []
    for o in reach0:
        w = warn[o.name]
        if w is None or w >= o.at_0_ms:  # type: ignore[operator]
            continue
        left = o.at_0_ms - w  # type: ignore[operator]
        if which == "ours":
            eta, low, high = o.eta if o.eta is not None else (None, None, None)
        elif which == "slope@ours":
            eta, low, high = o.slope_eta_ms, None, None
        else:
            eta, low, high = o.naive_slope_eta_ms, None, None
        errors.append(abs(eta - o.at_0_ms) / left if eta is not None else 1.0)
        late.append(1.0 if eta is not None and eta > o.at_0_ms else 0.0)
        if low is not None and eta is not None:
            inside.append(1.0 if low <= o.at_0_ms <= (high or 2**62) else 0.0)  # type: ignore[operator]
        elif which == "ours":
            inside.append(0.0)
    got["ETA error median"] = _pct(errors, 0.5)
    got["ETA later than truth"] = sum(late) / len(late) if late else math.nan
    got["truth in range"] = sum(inside) / len(inside) if inside else math.nan
    days = sum(o.watched_days for o in outcomes)
    falses = sum(o.false_warnings if which == "ours" else o.naive_false for o in outcomes)
    got["normal days"] = days
    got["false per 180 d"] = falses / days * 180 if days else math.nan
    return got


GOALS = {
    "missed": (0, "<="), "delay median h": (1.25, "<="), "lead median": (0.9, ">="),
    "lead worst": (0.4, ">="), "ETA error median": (0.3, "<="), "truth in range": (0.6, ">="),
    "false per 180 d": (1.0, "<="),
}


def report(title: str, outcomes: list[Outcome]) -> bool:
    """Print one set's figures beside the baselines; True when every goal is met."""
    ours = _figures(outcomes, "ours")
    naive_f = _figures(outcomes, "naive")
    slope_f = _figures(outcomes, "slope@ours")
    no_out = _figures([o for o in outcomes if not o.has_outdoor], "ours")
    with_out = _figures([o for o in outcomes if o.has_outdoor], "ours")
    print(f"\n== {title}: {len(outcomes)} houses, {int(ours['failures'])} failures "
          f"({int(ours['reach 3 °C'])} reach 3 °C, {int(ours['reach 0 °C'])} reach 0 °C), "
          f"{ours['normal days']:.0f} days of normal operation watched")
    print(f"{'figure':24} {'ours':>9} {'outdoor':>8} {'no outdoor':>11} {'naive':>9} "
          f"{'slope ETA':>10}  goal")
    ok = True
    for key in ("missed", "missed (3 °C > 1 h)", "delay median h", "delay p90 h", "lead median",
                "lead worst", "lead worst (no visit)", "failures in a visit", "ETA error median",
                "ETA later than truth", "truth in range", "false per 180 d"):
        goal = GOALS.get(key)
        mark = ""
        if goal is not None:
            good = ours[key] <= goal[0] if goal[1] == "<=" else ours[key] >= goal[0]
            ok = ok and good
            mark = f"{goal[1]} {goal[0]:g} {'ok' if good else 'MISSED'}"
        slope = slope_f[key] if key.startswith("ETA") else math.nan
        naive_v = naive_f[key] if not key.startswith(("ETA", "truth")) else math.nan
        print(f"{key:24} {ours[key]:9.2f} {with_out[key]:8.2f} {no_out[key]:11.2f} "
              f"{naive_v:9.2f} {slope:10.2f}  {mark}")
    print(tau_line([(o.learned_tau_h, o.true_tau_h) for o in outcomes
                    if o.learned_tau_h is not None and o.has_outdoor]))
    return ok


def replay_cpu() -> float:
    """CPU seconds of one replay of 21 days of 5-minute readings (a home with outdoor data)."""
    for seed in range(1, 50):
        house = simulate(seed, "home", True)
        if len(house.indoor) > 5800:
            break
    start = time.process_time()
    list(replay(house.indoor, house.outdoor))
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller set (about a minute)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", choices=("first", "second"), default=None)
    args = parser.parse_args()
    failing, normal = (24, 16) if args.quick else (72, 48)
    sets = [("first set (tuned on)", 1, Ranges()), ("second set (never tuned on)", 2,
                                                    SECOND_RANGES)]
    if args.only:
        sets = [sets[0] if args.only == "first" else sets[1]]
    wall = time.time()
    all_ok = True
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for title, seed, ranges in sets:
            outcomes = list(pool.map(run_house, house_set(seed, ranges, failing, normal),
                                     chunksize=4))
            all_ok = report(title, outcomes) and all_ok
    cpu = replay_cpu()
    print(f"\nreplay of 21 days of 5-min readings: {cpu:.2f} s CPU (goal <= 1 s)")
    print(f"all goals met: {all_ok and cpu <= 1.0}; {time.time() - wall:.0f} s")


if __name__ == "__main__":
    main()
