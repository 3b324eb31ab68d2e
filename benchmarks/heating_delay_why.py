"""Why a failure was warned late: the independent set's failures outside visits warned later
than a limit, each with the condition of the watch that held it back at every reading after
the failure (read by re-running the watch's checks beside it). For the heating watch's authors.

With `--bound` it says instead how far the median delay could go at all: for each failure
warned in time (the independent set's, or set 4's or 5's full failures with `--set 4|5`), when
its truth first crossed the usual level, the floor (level − band) and the line
the watch fires below (the floor less the margin), as the watch had them at each minute; how
many failures came during a visit (warned late for a reason the readings cannot lift); and the
overall median delay had each failure outside a visit been warned the minute its truth crossed
each of them, the visits as they were warned.

Run: `.venv/bin/python benchmarks/heating_delay_why.py [--quick] [--limit 1.25]
[--bound [--set independent|4|5]]`.
"""

from __future__ import annotations

import argparse
import bisect
import statistics
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import alerts.heating.watch as watch  # noqa: E402
from alerts.heating.model import HeatingMemory, HeatingModel, Outside  # noqa: E402
from alerts.trend import trend_per_hour  # noqa: E402
from benchmarks import heating_independent as ind  # noqa: E402
from benchmarks import heating_set4 as set4  # noqa: E402
from benchmarks import heating_set4_sim as sim4  # noqa: E402
from benchmarks.heating_set5 import SET5  # noqa: E402
from storage.models import Reading  # noqa: E402

LOG: list[tuple[int, str, dict[str, float]]] = []


def _unheated_why(model: HeatingModel, history: Sequence[Reading], now_ms: int,
                  below_since: int, outside: Outside, noise: float,
                  urgent: bool, began: int | None) -> tuple[str, dict[str, float]]:
    """`falling_unheated`'s checks, naming the first that fails."""
    since = [r for r in history if r.timestamp >= below_since]
    if len(since) < (2 if began is not None else 3):
        return "few readings", {}
    if any(r.value >= watch.line_at(model, r.timestamp) + watch.RESET for r in since):
        return "a reading back above", {}
    if len(since) < 3 and began is not None:
        since = [r for r in history if r.timestamp > began][-3:]
        if len(since) < 3:
            return "few readings", {}
    first = bisect.bisect_left([r.timestamp for r in history], now_ms - watch.FALL_MS)
    fall = list(history[max(0, first - 1):])
    rate = trend_per_hour(fall)
    if rate is None or fall[-1].timestamp - fall[0].timestamp < 40 * 60_000:
        return "short window", {}
    latest = [r for r in since if r.timestamp >= now_ms - 15 * 60_000]
    if not latest:
        return "no latest", {}
    pace = trend_per_hour(latest)
    lag_h = (now_ms - sum(r.timestamp for r in latest) / len(latest)) / 3_600_000
    mean = sum(r.value for r in latest) / len(latest)
    if mean > (min(r.value for r in since) + watch.NEW_LOW + 2 * noise
               + max(0.0, -(pace or 0.0)) * lag_h):
        return "not at lowest", {"over": mean - min(r.value for r in since)}
    pace = trend_per_hour([r for r in since if r.timestamp >= now_ms - watch.CLIMB_MS])
    if pace is not None and pace > 0:
        return "climbing", {"pace": pace}
    out = watch.outside_now(outside, now_ms)
    needed = watch.MIN_RATE if outside.measured or out is not None else watch.MIN_RATE_BLIND
    if out is not None and since[-1].value > out:
        needed = max(watch.MIN_RATE,
                     watch.SHARE_OF_UNHEATED * (since[-1].value - out) / model.tau_h)
        if urgent and rate < -watch.URGENT_MAX_SHARE * (since[-1].value - out) / model.tau_low_h:
            return "urgent too fast", {"rate": rate}
    if rate > -needed:
        return "rate too slow", {"rate": rate, "needed": needed}
    return "fires", {"rate": rate, "needed": needed}


def _why(memory: HeatingMemory, model: HeatingModel, latest: Reading, now_ms: int,
         history: Sequence[Reading] | None, outside: Outside) -> tuple[str, dict[str, float]]:
    """`_watch`'s checks, naming the first that holds the warning back."""
    threshold = watch.line_at(model, latest.timestamp)
    info = {"value": latest.value, "threshold": threshold, "level": model.level,
            "band": model.band, "floor": model.floor_at(latest.timestamp)}
    if latest.value >= threshold + watch.RESET or (
            memory.below_since is None and latest.value >= threshold):
        if model.cycles > 0 and watch._past_cycles(model, latest.value):
            if history is None:
                return "needs", info
            recent = [r for r in history if now_ms - watch.CHECK_MS <= r.timestamp <= now_ms]
            if not recent or recent[-1].timestamp != latest.timestamp:
                recent.append(latest)
            if watch.sunk(model, recent, now_ms, outside):
                return "fires (sunk past the turn)", info
        return "above threshold", info
    below_since = memory.below_since if memory.below_since is not None else latest.timestamp
    urgent = latest.value < watch.NEAR_FREEZING
    seldom = watch._second_past_cycles(memory, model, latest, below_since)
    second = watch._second_near_freezing(memory, model, latest, below_since)
    dwelling = latest.timestamp - below_since < (watch.URGENT_BELOW_MS if urgent
                                                 else watch.BELOW_MS)
    if dwelling and not seldom and not second:
        return "dwell below", info
    if history is None:
        return "needs", info
    recent = watch.checked(history, latest, now_ms, model.level)
    before = next((r.timestamp for r in reversed(recent) if r.timestamp < latest.timestamp), None)
    if dwelling and seldom and (before is None or latest.timestamp - before < watch.SELDOM_MS):
        seldom = False
    began = watch._fall_began(model, recent, below_since)
    noise = max(model.noise, model.resolution / 2)
    known = watch._fall_known(recent, began, noise)
    cycle = urgent and watch.like_off_cycle(model, recent, began, known, outside, noise)
    second = second and cycle and watch._second_confirmed(recent, below_since, began, noise)
    if dwelling and not seldom and not second:
        return "dwell below", info
    after = next((r.timestamp for r in recent if r.timestamp > began), began)
    info |= {"began_h": began, "known": known}
    wait = watch.URGENT_FALLING_MS if urgent else watch.FALLING_MS
    if now_ms - known < (watch.CYCLE_FALLING_MS if second else wait):
        return ("wait from step" if known > after else "wait from start"), info
    if watch._rose(recent, began, noise):
        return "rose", info
    why, more = _unheated_why(model, recent, now_ms, below_since, outside, noise, urgent,
                              began if seldom or second else None)
    return why, info | more


Explain = Callable[[HeatingMemory, HeatingModel, Reading, int, Sequence[Reading] | None, Outside],
                   tuple[str, dict[str, float]]]


def install(explain: Explain | None = None,
            log: list[tuple[int, str, dict[str, float]]] | None = None,
            extra: Callable[[HeatingModel], dict[str, float]] | None = None) -> None:
    """Wrap the watch's step so each reading's reason to hold back (`explain`, by default this
    module's) goes to `log` (by default LOG), with `extra` facts of the model."""
    original = watch._watch
    reason = explain or _why
    into = LOG if log is None else log

    def patched(memory: HeatingMemory, model: HeatingModel, latest: Reading, now_ms: int,
                history: Sequence[Reading] | None, outside: Outside) -> Any:
        why, info = reason(memory, model, latest, now_ms, history, outside)
        if why != "needs":
            into.append((now_ms, why, info | extra(model) if extra else info))
        return original(memory, model, latest, now_ms, history, outside)

    watch._watch = patched


def segments(log: list[tuple[int, str, dict[str, float]]], fail_ms: int,
             end_ms: int) -> list[tuple[str, float, float]]:
    """The log between the failure and the warning as runs of the same condition, in hours
    after the failure."""
    out: list[tuple[str, float, float]] = []
    for t, why, _ in log:
        if t < fail_ms or t > end_ms:
            continue
        h = (t - fail_ms) / 3.6e6
        if out and out[-1][0] == why:
            out[-1] = (why, out[-1][1], h)
        else:
            out.append((why, h, h))
    return out


def group(need: float, first_hour: float, after_h: float, cadence_min: float) -> str:
    """What held a late warning back, from the fall's depth to the line when the heating
    failed, the truth's fall in its first hour, the hours from the last reading above the line
    to the warning, and the sensor's cadence."""
    if need >= 2.0:
        return "A far above the line when it failed (sun, a visit just ended, a day's setpoint)"
    if first_hour < 0.4:
        return "B slow fall (< 0.4 °C in the first hour: small gap to outside, ground, mass)"
    if after_h > 1.0:
        return "C over an hour after the line (a gap in the readings, a 0.5 °C sensor's rate)"
    if cadence_min >= 9:
        return "D slow cadence: the line, then 15 min and three readings below it"
    return "E the line (level − band − margin) reached after more than an hour"


def explain(seed: int, limit: float, show_all: bool) -> str | None:
    """One failure's line of groups and its story; None when not late (or in a visit)."""
    LOG.clear()
    run = ind.build(seed, "failure")
    if run.fail_at is None or run.fail_in_visit:
        return None
    o = ind.outcome(run)
    if o.t3 is None or run.truth[run.fail_at] <= 3.5 or o.delay_h is None:
        return None
    if o.delay_h <= limit and not show_all:
        return None
    fail_ms = run.t0_ms + run.fail_at * 60_000
    first = next((inf for t, _, inf in LOG if t >= fail_ms), {})
    segs = segments(LOG, fail_ms, o.warn_ms or fail_ms)
    last_above = max((b for w, _, b in segs if w == "above threshold"), default=0.0)
    f, tr = run.fail_at, run.truth
    line = first.get("threshold", tr[f])
    need = tr[f] - line
    drop = tr[f] - tr[min(len(tr) - 1, f + 60)]
    g = group(need, drop, o.delay_h - last_above, run.sensor.cadence_min)
    print(f"seed {run.seed} delay {o.delay_h:.2f} [{run.scenario()}] {run.house.describe()}; "
          f"{run.sensor.describe()}\n   {g}\n"
          f"   truth at failure {tr[f]:.2f}, {need:.2f} above the line {line:.2f} (level "
          f"{first.get('level', 0):.2f}, band {first.get('band', 0):.2f}, floor "
          f"{first.get('floor', 0):.2f}); falls {drop:.2f} in the first hour; outside "
          f"{run.trace.outside[f]:.1f}; last reading above the line at {last_above:.2f} h\n   "
          + "; ".join(f"{w} {a:.2f}-{b:.2f}" for w, a, b in segs))
    return g


@dataclass(frozen=True, slots=True)
class Reach:
    """One failure warned before 3 °C: whether it came during a visit, its delay, and the hours
    from the failure until its truth first went below the usual level, the floor and the line
    (None: not before the run's end); how far its truth was above the line at the failure, and
    how far it fell in the hour after (°C)."""

    seed: int
    in_visit: bool
    delay_h: float
    to_level: float | None
    to_floor: float | None
    to_line: float | None
    above_line: float = 0.0
    first_hour: float = 0.0


def depth(truth: Callable[[int], float], minutes: int, fail_at: int, start_ms: int
          ) -> tuple[float, float]:
    """How far the truth was above the line at the failure (the line at the first reading after
    it), and how far it fell in the hour after."""
    fail_ms = start_ms + fail_at * 60_000
    line = next((info["threshold"] for t, _, info in LOG
                 if t >= fail_ms and "threshold" in info), truth(fail_at))
    return truth(fail_at) - line, truth(fail_at) - truth(min(minutes - 1, fail_at + 60))


def crossings(truth: Callable[[int], float], minutes: int, fail_at: int, start_ms: int
              ) -> tuple[float | None, float | None, float | None]:
    """The hours from the failure (minute `fail_at`) until the truth first went below the
    level, the floor and the line the watch had at that minute (LOG: the latest entry)."""
    fail_ms = start_ms + fail_at * 60_000
    log = [(t, info) for t, _, info in LOG if t >= fail_ms and "threshold" in info]
    found: dict[str, float | None] = {"level": None, "floor": None, "threshold": None}
    j = 0
    for m in range(fail_at, minutes):
        while j + 1 < len(log) and log[j + 1][0] <= start_ms + m * 60_000:
            j += 1
        if not log:
            break
        for key, hours in found.items():
            if hours is None and truth(m) < log[j][1][key]:
                found[key] = (m - fail_at) / 60
        if found["threshold"] is not None:
            break
    return found["level"], found["floor"], found["threshold"]


def independent_reaches(seeds: range) -> Iterator[Reach]:
    """The independent set's failures warned before 3 °C."""
    for seed in seeds:
        LOG.clear()
        run = ind.build(seed, "failure")
        o = ind.outcome(run)
        if run.fail_at is None or o.t3 is None or run.truth[run.fail_at] <= 3.5:
            continue
        if o.warn_ms is None or o.delay_h is None or o.warn_ms > run.t0_ms + o.t3 * 60_000:
            continue
        truth = run.truth
        yield Reach(seed, run.fail_in_visit, o.delay_h,
                    *crossings(truth.__getitem__, len(truth), run.fail_at, run.t0_ms),
                    *depth(truth.__getitem__, len(truth), run.fail_at, run.t0_ms))


def set4_reaches(bench: set4.BenchSet, count: int) -> Iterator[Reach]:
    """Set 4's or 5's full failures warned before 3 °C (a visit: a cabin's, at the failure)."""
    for seed in range(bench.first_seed, bench.first_seed + count):
        LOG.clear()
        run = sim4.simulate(seed, "failure", bench.spread)
        if run.fail_at is None or run.truth(run.fail_at) <= 3.5:
            continue
        t3 = run.first_at_or_below(3.0, run.fail_at)
        if t3 is None:
            continue
        events, _ = set4.replay_run(run)
        fail_ms = sim4.START_MS + run.fail_at * 60_000
        warn = next((e.at for e in events if e.kind == "heating_failed" and e.at >= fail_ms),
                    None)
        if warn is None or warn > sim4.START_MS + t3 * 60_000:
            continue
        in_visit = run.building.kind == "cabin" and run.trace.visit[run.fail_at]
        yield Reach(seed, in_visit, (warn - fail_ms) / 3_600_000,
                    *crossings(run.truth, len(run.trace.air), run.fail_at, sim4.START_MS),
                    *depth(run.truth, len(run.trace.air), run.fail_at, sim4.START_MS))


def bound(reaches: Sequence[Reach], limit: float) -> None:
    """What the median delay could be: the visits' share, and the median had each failure
    outside a visit been warned as its truth crossed the level, the floor or the line."""
    visits = [r.delay_h for r in reaches if r.in_visit]
    outside = [r for r in reaches if not r.in_visit]
    median = statistics.median
    print(f"{len(reaches)} failures warned before 3 °C, {len(visits)} during a visit "
          f"({len(visits) / len(reaches):.0%}; {sum(d > limit for d in visits)} of them "
          f"warned after {limit:g} h)")
    to_line = [r.to_line if r.to_line is not None else 1e3 for r in outside]
    after = [r.delay_h - h for r, h in zip(outside, to_line, strict=True) if h < 1e3]
    print(f"median delay {median(r.delay_h for r in reaches):.2f} h; outside visits "
          f"{median(r.delay_h for r in outside):.2f} h: the truth took {median(to_line):.2f} h "
          f"to the line, the warning came {median(after):.2f} h after it (medians)")
    print(f"  at the failure the truth was {median(r.above_line for r in outside):.2f} °C above "
          f"the line, and fell {median(r.first_hour for r in outside):.2f} °C in the hour after "
          f"(medians)")
    under = len(reaches) // 2 + 1 - sum(d <= limit for d in visits)
    print(f"an overall median within {limit:g} h needs {under} of the {len(outside)} outside "
          f"visits ({under / len(outside):.0%}) warned within it: now "
          f"{sum(r.delay_h <= limit for r in outside)}")
    for name in ("level", "floor", "line"):
        hours = [getattr(r, f"to_{name}") for r in outside]
        crossed = [h if h is not None else 1e3 for h in hours]
        print(f"  warned the minute the truth crossed the {name:5s}: outside visits within "
              f"{limit:g} h {sum(h <= limit for h in crossed):3d}, overall median "
              f"{median(crossed + visits):.2f} h")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a quarter of the failures")
    ap.add_argument("--limit", type=float, default=1.25, help="late: warned after this (h)")
    ap.add_argument("--seed", type=int, default=1000, help="the first failure's seed")
    ap.add_argument("--all", action="store_true", help="every failure, not only the late")
    ap.add_argument("--bound", action="store_true", help="how far the median could go")
    ap.add_argument("--set", choices=("independent", "4", "5"), default="independent",
                    help="the set --bound reads")
    args = ap.parse_args()
    install()
    if args.bound:
        if args.set == "independent":
            reaches = list(independent_reaches(range(args.seed,
                                                     args.seed + (30 if args.quick else 120))))
        else:
            bench = SET5 if args.set == "5" else set4.BenchSet()
            counts = bench.quick if args.quick else bench.counts
            reaches = list(set4_reaches(bench, counts[0]))
        bound(reaches, args.limit)
        return
    groups: dict[str, int] = {}
    for i in range(30 if args.quick else 120):
        g = explain(args.seed + i, args.limit, args.all)
        if g is not None:
            groups[g] = groups.get(g, 0) + 1
    print("\n== by cause ==")
    for g, n in sorted(groups.items()):
        print(f"{n:4d}  {g}")


if __name__ == "__main__":
    main()
