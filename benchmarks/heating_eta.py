"""The time to 0 °C alone, on all five sets, in seconds: each set's failures are replayed once
through the watch, what the ETA was given at the first warning is kept (the model, the recent
readings, the outside data, and the truth), and the ETA is then recomputed from the current
`alerts/heating/eta.py` for every run and scored as the set's own benchmark scores it.

Run: `.venv/bin/python benchmarks/heating_eta.py [--sets set5,set4,set4:800000] [--by]`
(`set4:N`, `set5:N`: the set's runs from first seed N, as its benchmark's `--seed N`). The first run
replays the sets (a few minutes) into `benchmarks/.heating_eta/`; later runs take seconds. The
cache is redone when the detector's code (`watch.py`, `fall.py`, `learn.py`, `model.py`)
changes, since it decides when the first warning comes; `--capture` redoes it anyway.
The figures are those of the benchmarks themselves (median ETA error as a share of the time
left, the share of truths inside the range, the share of ETAs later than the truth); `--by`
breaks them down by the outside data, the kind of building, full or partial failure, τ, and
whether the watch had read τ from deep falls;
`--true-tau` shows what the stated time would be had the watch known the building's own τ;
`--blind` drops every run's outside data (the indoor curve alone, on all runs);
`--ideal` compares, on runs with outside data, the τ used and the τ the fall's last 45 minutes
show (unscaled) with the τ that would have put the stated time on the truth: the ratio's
median (signed: below 1 is early) and its typical size either way.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import pickle
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import alerts.heating.watch as watch_module  # noqa: E402
from alerts.heating import eta  # noqa: E402
from alerts.heating.fall import knee  # noqa: E402
from alerts.heating.model import HeatingModel, Outside, Prediction  # noqa: E402
from storage.models import Reading  # noqa: E402

CACHE = ROOT / "benchmarks" / ".heating_eta"
DETECTOR = ("watch.py", "fall.py", "learn.py", "model.py")
SETS = ("set1", "set2", "indep", "set4", "set5")
FORMAT = 2  # of the cached cases: raised when `Case` changes


@dataclass
class Case:
    """One failure's first warning: what the ETA was given, and the truth."""

    name: str  # the set ("indep-partial": the independent set's partial failures)
    seed: int
    groups: list[str]  # what it is counted under in --by
    now_ms: int
    model: HeatingModel | None
    recent: tuple[Reading, ...]
    outside: Outside
    t0_ms: int  # when the sensor reached 0 °C
    tau_h: float  # the simulated building's own τ (capacity over loss)


_SEEN: dict[int, tuple[HeatingModel | None, tuple[Reading, ...], Outside]] = {}
_PREDICT = watch_module.predict_from


def _spy(model: HeatingModel | None, recent: Any, now_ms: int, outside: Outside) -> Prediction:
    """`predict_from` as the watch calls it, keeping what it was given."""
    _SEEN[now_ms] = (model, tuple(recent), outside)
    return _PREDICT(model, recent, now_ms, outside)


def _case(name: str, seed: int, groups: list[str], warn_ms: int, t0_ms: int,
          tau_h: float) -> Case | None:
    seen = _SEEN.get(warn_ms)
    if seen is None:
        return None
    return Case(name, seed, groups, warn_ms, seen[0], seen[1], seen[2], t0_ms, tau_h)


def _tau_group(tau_h: float) -> str:
    return "τ < 20 h" if tau_h < 20 else ("τ 20–35 h" if tau_h < 35 else "τ ≥ 35 h")


def capture_two_node(job: tuple[str, int, str, bool, Any, bool]) -> Case | None:
    """`heating.py` (sets 1 and 2): counted when warned before 0 °C."""
    from alerts.heating import replay_steps
    from benchmarks.heating import DAYS
    from benchmarks.heating_sim import simulate

    _SEEN.clear()
    name, seed, kind, fail, ranges, outdoor = job
    house = simulate(seed, kind, fail, ranges, DAYS, outdoor)
    events = [e for _, step in replay_steps(house.indoor, house.outdoor) for e in step.events]
    fail_ms, t0 = house.failure_ms, house.at_0_ms
    warn = next((e.at for e in events if e.kind == "heating_failed" and fail_ms is not None
                 and e.at >= fail_ms), None)
    if warn is None or t0 is None or warn >= t0:
        return None
    source = "outside: sensor" if house.outdoor else "outside: none"
    return _case(name, seed, [kind, source, _tau_group(house.tau_h)], warn, t0, house.tau_h)


def capture_independent(job: tuple[str, int, str]) -> Case | None:
    """`heating_independent.py`: counted when it reaches 3 °C from above 3.5 °C."""
    import benchmarks.heating_independent as bench

    _SEEN.clear()
    name, seed, mode = job
    run = bench.build(seed, mode)
    out = bench.outcome(run)
    assert run.fail_at is not None
    if out.warn_ms is None or out.t0 is None or out.t3 is None or run.truth[run.fail_at] <= 3.5:
        return None
    t0_ms = run.t0_ms + out.t0 * bench.MIN_MS
    if out.warn_ms >= t0_ms:
        return None
    source = "outside: sensor" if run.outdoor else "outside: none"
    return _case(name, seed, [run.house.kind, "partial" if mode == "partial" else "full",
                              source, _tau_group(run.house.tau_h)], out.warn_ms, t0_ms,
                 run.house.tau_h)


def capture_set4(job: tuple[str, int, str, Any]) -> Case | None:
    """`heating_set4.py` and `heating_set5.py`: counted as `heating_set4.counted` counts."""
    from benchmarks.heating_set4 import kinds, replay_run
    from benchmarks.heating_set4_sim import MIN_MS, START_MS, simulate

    _SEEN.clear()
    name, seed, mode, spread = job
    run = simulate(seed, mode, spread)
    assert run.fail_at is not None
    events, _ = replay_run(run)
    fail_ms = START_MS + run.fail_at * MIN_MS
    warn = next((e.at for e in events if e.kind == "heating_failed" and e.at >= fail_ms), None)
    t3, t0 = run.first_at_or_below(3.0, run.fail_at), run.first_at_or_below(0.0, run.fail_at)
    if warn is None or t3 is None or t0 is None or run.truth(run.fail_at) <= 3.5:
        return None
    t0_ms = START_MS + t0 * MIN_MS
    if warn >= t0_ms:
        return None
    groups = [g for g in kinds(run) if not g.startswith("tau")]
    return _case(name, seed, [*groups, _tau_group(run.building.tau_h)], warn, t0_ms,
                 run.building.tau_h)


def jobs(name: str) -> tuple[Callable[[Any], Case | None], list[Any]]:
    """Each set's failure runs, as its own benchmark makes them."""
    if name in ("set1", "set2"):
        from benchmarks.heating import house_set
        from benchmarks.heating_sim import SECOND_RANGES, Ranges

        first, ranges = (1, Ranges()) if name == "set1" else (2, SECOND_RANGES)
        houses = house_set(first, ranges, 72, 48)[:72]
        return capture_two_node, [(name, s, k, f, r, o) for s, k, f, r, o in houses]
    if name == "indep":
        return capture_independent, [
            ("indep" if i < 120 else "indep-partial", 1000 + i, "failure" if i < 120 else "partial")
            for i in range(150)]
    from benchmarks.heating_set4 import BenchSet, runs
    from benchmarks.heating_set5 import SET5

    # "set4:800000": the set's runs from another first seed
    base, _, seed = name.partition(":")
    bench = BenchSet() if base == "set4" else SET5
    n_fail, n_partial, _ = bench.counts
    first = int(seed) if seed else bench.first_seed
    return capture_set4, [(name, s, m, sp) for s, m, sp in runs(first, n_fail, n_partial, 0,
                                                                 bench.spread)]


def detector_hash() -> str:
    digest = hashlib.sha256(str(FORMAT).encode())
    for name in DETECTOR:
        digest.update((ROOT / "alerts" / "heating" / name).read_bytes())
    return digest.hexdigest()[:16]


def cases(name: str, refresh: bool) -> list[Case]:
    """The set's cases, from the cache when the detector is unchanged."""
    path = CACHE / f"{name}-{detector_hash()}.pickle"
    if path.exists() and not refresh:
        with path.open("rb") as f:
            return list(pickle.load(f))  # noqa: S301 (our own cache)
    watch_module.predict_from = _spy  # type: ignore[assignment]
    started = time.time()
    fn, work = jobs(name)
    with ProcessPoolExecutor(max_workers=2) as pool:
        found = [c for c in pool.map(fn, work, chunksize=2) if c is not None]
    watch_module.predict_from = _PREDICT
    CACHE.mkdir(exist_ok=True)
    for old in CACHE.glob(f"{name}-*.pickle"):
        old.unlink()
    with path.open("wb") as f:
        pickle.dump(found, f)
    print(f"({name}: {len(found)} warnings replayed in {time.time() - started:.0f} s)")
    return found


def score(case: Case, p: Prediction) -> tuple[float | None, bool | None, bool]:
    """The error as a share of the time left, whether the truth is inside the range, and
    whether the ETA is later than the truth — as the case's own benchmark counts them."""
    t0, left = case.t0_ms, case.t0_ms - case.now_ms
    late = p.eta_ms is not None and p.eta_ms > t0
    if case.name.startswith("indep"):  # no ETA given: left out
        if p.eta_ms is None:
            return None, None, late
        low = p.eta_low_ms if p.eta_low_ms is not None else p.eta_ms
        high = p.eta_high_ms if p.eta_high_ms is not None else p.eta_ms
        return abs(p.eta_ms - t0) / left, low <= t0 <= high, late
    error = 1.0 if p.eta_ms is None else abs(p.eta_ms - t0) / left
    if case.name in ("set1", "set2"):  # no range counts as outside it
        inside = (p.eta_ms is not None and p.eta_low_ms is not None
                  and p.eta_low_ms <= t0 <= (p.eta_high_ms or 2**62))
        return error, inside, late
    if p.eta_low_ms is None and p.eta_high_ms is None:
        return error, None, late
    return error, (p.eta_low_ms or 0) <= t0 <= (p.eta_high_ms or 2**62), late


def with_true_tau(case: Case) -> Prediction:
    """The stated time had the watch known the building's own τ (and nothing else more): the
    unheated course through the same outside data from the same start, no range. Without
    outside data the watch's own prediction stands."""
    p = eta.predict_from(case.model, case.recent, case.now_ms, case.outside)
    found = eta.outside_course(case.outside, case.now_ms)
    state = eta.now_and_rate(case.recent, case.now_ms)
    if found is None or state is None:
        return p
    course = eta.course_of(state[0], case.now_ms, case.now_ms + eta.HORIZON_MS, case.tau_h,
                           found[0], 0.0)
    crossing = next((t for t, v in course if v <= eta.FREEZE), None)
    return Prediction(crossing, None, None, p.rate_per_h, p.outside, p.outside_source)


def ideal_tau(case: Case) -> tuple[float, float, float | None] | None:
    """The τ that puts the stated time on the truth (bisected: a slower τ only makes it later),
    the τ the ETA used, and the τ the fall's last 45 minutes show unscaled (None when it does
    not fall); None without outside data."""
    found = eta.outside_course(case.outside, case.now_ms)
    state = eta.now_and_rate(case.recent, case.now_ms)
    if found is None or state is None:
        return None
    course, now_out, _ = found
    lo, hi = 0.5, 1000.0
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        crossing = eta._crossing(eta.course_of(state[0], case.now_ms,
                                               case.now_ms + eta.HORIZON_MS, mid, course, 0.0))
        if crossing is None or crossing > case.t0_ms:
            hi = mid
        else:
            lo = mid
    settled = eta.recent_rate(case.recent, case.now_ms)
    used = eta.blended_taus(case.model, state[0], now_out, settled,
                            knee(case.recent, case.now_ms), state[1])[0]
    shown = eta._shown(state[0], now_out, settled)
    return math.sqrt(lo * hi), used, shown / eta.OBSERVED_SCALE if shown is not None else None


def ratio_line(label: str, pairs: list[tuple[float, float | None]]) -> str:
    """One row of `--ideal`: the runs, and for the τ used and the τ shown against the ideal τ
    the median ratio and e^(median |ln ratio|)."""
    def cells(logs: list[float]) -> str:
        if not logs:
            return f"{'-':>7} {'-':>6}"
        return (f"{math.exp(median(logs)):7.2f} "
                f"{math.exp(median([abs(v) for v in logs])):6.2f}")
    used = [u for u, _ in pairs]
    shown = [s for _, s in pairs if s is not None]
    return f"{label:26} {len(pairs):4d} {cells(used)}   {cells(shown)}"


def median(values: list[float]) -> float:
    """The upper median, as the benchmarks take it."""
    values = sorted(values)
    return values[len(values) // 2] if values else math.nan


def share(flags: list[bool]) -> str:
    return f"{sum(flags) / len(flags):4.0%}" if flags else "   -"


def line(label: str, scored: list[tuple[float | None, bool | None, bool]]) -> str:
    """One row: runs, the median error, the share inside the range, the share late."""
    errors = [e for e, _, _ in scored if e is not None]
    inside = [i for _, i, _ in scored if i is not None]
    late = [lt for _, _, lt in scored]
    return (f"{label:26} {len(scored):4d} {median(errors):6.2f} {share(inside):>7} "
            f"{share(late):>6}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sets", default=",".join(SETS),
                    help="which sets, comma-separated; set4:N or set5:N from first seed N")
    ap.add_argument("--by", action="store_true", help="break each set down")
    ap.add_argument("--capture", action="store_true", help="replay the sets again")
    ap.add_argument("--blind", action="store_true",
                    help="every run without its outside data: the prediction from the indoor "
                         "curve alone, on four times as many runs as have no outside data")
    ap.add_argument("--true-tau", action="store_true",
                    help="what the stated time would be with the building's own τ known "
                         "(a bound on what learning τ better can give; no range)")
    ap.add_argument("--ideal", action="store_true",
                    help="the τ used and the τ the fall shows against the τ the truth needed")
    args = ap.parse_args()
    if args.ideal:
        ideal_report(args.sets.split(","), args.capture)
        return
    print(f"{'set':26} {'runs':>4} {'error':>6} {'inside':>7} {'late':>6}   (goals: error ≤ "
          "0.30, inside ≥ 60 %)")
    for name in args.sets.split(","):
        groups: dict[str, list[tuple[float | None, bool | None, bool]]] = {}
        for case in cases(name, args.capture):
            if args.blind:
                case = dataclasses.replace(case, outside=Outside())
            p = (with_true_tau(case) if args.true_tau
                 else eta.predict_from(case.model, case.recent, case.now_ms, case.outside))
            error, inside, late = score(case, p)
            if args.true_tau:
                inside = None  # no range is given then
            deep = case.model is not None and case.model.deep_tau_h > 0
            labels = [*case.groups, "τ from deep falls" if deep else "τ without deep falls"]
            for g in [case.name, *(f"  {g}" for g in labels if args.by)]:
                groups.setdefault(g, []).append((error, inside, late))
        for g in sorted(groups, key=lambda g: (g.startswith(" "), g)):
            print(line(g, groups[g]))


def ideal_report(names: list[str], refresh: bool) -> None:
    """`--ideal`: by group, how far the τ used and the τ shown sit from the ideal τ."""
    print(f"{'set':26} {'runs':>4} {'used/ideal':>14}   {'shown/ideal':>14}"
          "   (median, ×either way)")
    for name in names:
        groups: dict[str, list[tuple[float, float | None]]] = {}
        for case in cases(name, refresh):
            found = ideal_tau(case)
            if found is None:
                continue
            ideal, used, shown = found
            deep = case.model is not None and case.model.deep_tau_h > 0
            labels = [*case.groups, "τ from deep falls" if deep else "τ without deep falls"]
            pair = (math.log(used / ideal),
                    math.log(shown / ideal) if shown is not None else None)
            for g in [case.name, *(f"  {g}" for g in labels)]:
                groups.setdefault(g, []).append(pair)
        for g in sorted(groups, key=lambda g: (g.startswith(" "), g)):
            print(ratio_line(g, groups[g]))


if __name__ == "__main__":
    main()
