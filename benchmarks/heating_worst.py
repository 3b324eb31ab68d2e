"""The heating watch's worst cases on sets 1, 2, 4 and 5: every failure missed (not warned before
3 °C) and every failure outside a visit warned with less than `--lead` of its failure→0 °C time
left, with the building, the sensor, and the check that held the warning back at each reading
after the failure. For the heating watch's authors.

Run: `.venv/bin/python benchmarks/heating_worst.py [--sets 1 2 4 5] [--lead 0.4] [--seed N ...]`.
Sets 4 and 5 take their seeds from any block (`heating_set4.py --seed 800000`'s as well as the
default): a seed outside the default block is read in its block of 100 000 (800024 is the 25th
run of the block from 800000, a full failure), or give the block's first seed with `--first`.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import alerts.heating.watch as watch  # noqa: E402
from alerts.heating import HOUR_MS, replay_steps  # noqa: E402
from alerts.heating.model import HeatingMemory, HeatingModel, Outside  # noqa: E402
from benchmarks import heating as set12  # noqa: E402
from benchmarks import heating_delay_why as why  # noqa: E402
from benchmarks import heating_set4 as set4  # noqa: E402
from benchmarks import heating_set4_sim as sim4  # noqa: E402
from benchmarks import heating_set5 as set5  # noqa: E402
from benchmarks import heating_sim as sim12  # noqa: E402
from storage.models import Reading  # noqa: E402

LOG: list[tuple[int, str, dict[str, float]]] = []


def _why(memory: HeatingMemory, model: HeatingModel, latest: Reading, now_ms: int,
         history: Sequence[Reading] | None, outside: Outside) -> tuple[str, dict[str, float]]:
    """`heating_delay_why._why` with the off-cycle shortcut of the wait near 0 °C."""
    name, info = why._why(memory, model, latest, now_ms, history, outside)
    if name == "wait from start" or name == "wait from step":
        assert history is not None
        recent = watch.checked(history, latest, now_ms, model.level)
        below = memory.below_since if memory.below_since is not None else latest.timestamp
        began = watch._fall_began(model, recent, below)
        noise = max(model.noise, model.resolution / 2)
        known = watch._fall_known(recent, began, noise)
        if (latest.value < watch.NEAR_FREEZING
                and watch.like_off_cycle(model, recent, began, known, outside, noise)
                and now_ms - known >= watch.CYCLE_FALLING_MS):
            name2, more = why._unheated_why(model, recent, now_ms, below, outside, noise, True,
                                            None)
            if not watch._rose(recent, began, noise):
                return name2 + " (cycle wait over)", info | more
            return "rose", info
    if name == "rose" and history is not None and memory.below_since is not None:
        recent = watch.checked(history, latest, now_ms, model.level)
        if watch.sagging(model, recent, now_ms, memory.below_since, outside):
            name = "rose, but sinking for hours"
    return name, info


def _model_facts(model: HeatingModel) -> dict[str, float]:
    """What each logged reason carries of the model: its off-cycles, noise and τ."""
    return {"cycles": model.cycles, "cycle_low": model.cycle_low,
            "cycle_pace": model.cycle_pace, "noise": model.noise, "tau": model.tau_h}


def _install() -> None:
    why.install(_why, LOG, _model_facts)


@dataclass
class Case:
    set_name: str
    seed: int
    fail_ms: int
    t3_ms: int | None
    t0_ms: int | None
    warn_ms: int | None
    in_visit: bool
    describe: str
    readings: list[tuple[float, float]]  # hours after the failure, value
    truth: list[tuple[float, float]]
    log: list[tuple[float, str, dict[str, float]]]

    @property
    def missed(self) -> bool:
        return self.t3_ms is not None and (self.warn_ms is None or self.warn_ms > self.t3_ms)

    @property
    def lead(self) -> float | None:
        if self.t0_ms is None:
            return None
        if self.warn_ms is None or self.warn_ms >= self.t0_ms:
            return 0.0
        return (self.t0_ms - self.warn_ms) / (self.t0_ms - self.fail_ms)


def _window(fail_ms: int, end_ms: int, readings: Sequence[Reading]) -> list[tuple[float, float]]:
    return [((r.timestamp - fail_ms) / HOUR_MS, r.value) for r in readings
            if fail_ms - HOUR_MS <= r.timestamp <= end_ms]


def _events(steps: Any, fail_ms: int) -> int | None:
    for _, step in steps:
        for e in step.events:
            if e.kind == "heating_failed" and e.at >= fail_ms:
                return int(e.at)
    return None


def case12(args: tuple[str, int, sim12.Ranges, str, bool]) -> Case:
    name, seed, ranges, kind, outdoor = args
    rng_sensor: dict[str, float] = {}
    original = sim12._sensor

    def sensor(rng: random.Random, air: list[float], sensor: str, r: sim12.Ranges) -> list[Reading]:
        probe = random.Random()
        probe.setstate(rng.getstate())
        rng_sensor["offset"] = probe.gauss(0.0, 0.2)
        rng_sensor["noise"] = probe.uniform(*r.noise)
        rng_sensor["step"] = probe.choice((0.1, 0.0625))
        rng_sensor["cadence"] = probe.choice(r.cadences)
        return original(rng, air, sensor, r)

    sim12._sensor = sensor
    house = sim12.simulate(seed, kind, True, ranges, set12.DAYS, outdoor)
    sim12._sensor = original
    LOG.clear()
    assert house.failure_ms is not None
    fail = house.failure_ms
    warn = _events(replay_steps(house.indoor, house.outdoor), fail)
    end = max(x for x in (warn, house.at_3_ms, fail + 3 * HOUR_MS) if x is not None)
    desc = (f"{kind} τ {house.tau_h:.0f} h; sensor every {rng_sensor['cadence']:.0f} min, step "
            f"{rng_sensor['step']}, noise {rng_sensor['noise']:.2f}; "
            f"{'outdoor sensor' if house.outdoor else 'no outside data'}")
    return Case(name, seed, fail, house.at_3_ms, house.at_0_ms, warn, house.in_visit, desc,
                _window(fail, end, house.indoor),
                [((t - fail) / HOUR_MS, v) for t, v in house.air if fail - HOUR_MS <= t <= end],
                [((t - fail) / HOUR_MS, w, i) for t, w, i in LOG if fail <= t <= end])


def case4(args: tuple[str, int, str, sim4.Spread]) -> Case:
    name, seed, mode, spread = args
    run = sim4.simulate(seed, mode, spread)
    assert run.fail_at is not None
    LOG.clear()
    events, _ = set4.replay_run(run)
    fail = sim4.START_MS + run.fail_at * sim4.MIN_MS
    warn = next((e.at for e in events if e.kind == "heating_failed" and e.at >= fail), None)
    t3 = run.first_at_or_below(3.0, run.fail_at)
    t0 = run.first_at_or_below(0.0, run.fail_at)
    t3_ms = sim4.START_MS + t3 * sim4.MIN_MS if t3 is not None else None
    t0_ms = sim4.START_MS + t0 * sim4.MIN_MS if t0 is not None else None
    if run.truth(run.fail_at) <= 3.5:
        t3_ms = t0_ms = None  # not counted
    b = run.building
    end = max(x for x in (warn, t3_ms, fail + 3 * HOUR_MS) if x is not None)
    desc = (f"{mode} ({run.fail_share:.2f} left) {b.kind} τ {b.tau_h:.0f} h, slow τ "
            f"{sim4.slow_tau_h(b):.0f} h, margin {b.margin:.2f}, band ±{b.band:.2f}, lag "
            f"{b.lag_h:.2f} h, heat pump {b.heat_pump}; sensor every {run.cadence} min, step "
            f"{run.step}, gaps {run.gaps}; outside {run.outside_source}; "
            f"outside at failure {run.trace.outside[run.fail_at]:.1f}")
    last = min(len(run.trace.air), run.fail_at + (end - fail) // 60000 + 1)
    truth = [((sim4.START_MS + m * sim4.MIN_MS - fail) / HOUR_MS, run.truth(m))
             for m in range(max(0, run.fail_at - 60), last, 10)]
    return Case(name, seed, fail, t3_ms, t0_ms, warn, bool(run.trace.visit[run.fail_at]), desc,
                _window(fail, end, run.indoor), truth,
                [((t - fail) / HOUR_MS, w, i) for t, w, i in LOG if fail <= t <= end])


BLOCK = 100_000  # the seed blocks of sets 4 and 5 start at multiples of this


def firsts(default: int, seeds: Sequence[int] | None, first: int | None) -> list[int]:
    """The first seeds of the blocks to read a set's runs from: `first` when given, else the
    default block and the block of each seed asked for (a run's mode is its place in its
    block: full failures first, then partial ones)."""
    if first is not None:
        return [first]
    return sorted({default} | {s - s % BLOCK for s in seeds or () if s >= BLOCK})


def jobs(sets: Sequence[str], seeds: Sequence[int] | None = None,
         first: int | None = None) -> list[tuple[Any, tuple[Any, ...]]]:
    out: list[tuple[Any, tuple[Any, ...]]] = []
    for s in sets:
        if s in ("1", "2"):
            ranges = sim12.Ranges() if s == "1" else sim12.SECOND_RANGES
            for seed, kind, _fail, rng, outdoor in set12.house_set(int(s), ranges, 72, 0):
                out.append((case12, (f"set {s}", seed, rng, kind, outdoor)))
        elif s in ("4", "5"):
            bench = set4.BenchSet() if s == "4" else set5.SET5
            n_fail, n_partial, _ = bench.counts
            for block in firsts(bench.first_seed, seeds, first):
                for seed, mode, spread in set4.runs(block, n_fail, n_partial, 0, bench.spread):
                    out.append((case4, (f"set {s}", seed, mode, spread)))
    return out


def _run(job: tuple[Any, tuple[Any, ...]]) -> Case:
    _install()
    fn, args = job
    case: Case = fn(args)
    return case


def show(c: Case) -> None:
    lead = c.lead
    print(f"\n{c.set_name} seed {c.seed}: {'MISSED' if c.missed else 'late'}; lead "
          f"{'-' if lead is None else f'{lead:.2f}'}; in visit {c.in_visit}; warned "
          f"{'never' if c.warn_ms is None else f'{(c.warn_ms - c.fail_ms) / HOUR_MS:.2f} h'}, "
          f"3 °C {'-' if c.t3_ms is None else f'{(c.t3_ms - c.fail_ms) / HOUR_MS:.2f} h'}, "
          f"0 °C {'-' if c.t0_ms is None else f'{(c.t0_ms - c.fail_ms) / HOUR_MS:.2f} h'}")
    print("   " + c.describe)
    print("   readings: " + " ".join(f"{h:+.2f}:{v:.2f}" for h, v in c.readings[:60]))
    print("   truth:    " + " ".join(f"{h:+.2f}:{v:.2f}" for h, v in c.truth[:40]))
    segs: list[list[Any]] = []
    for h, w, info in c.log:
        if segs and segs[-1][0] == w:
            segs[-1][2] = h
            segs[-1][3] = info
        else:
            segs.append([w, h, h, info])
    for w, a, b, info in segs:
        keys = ("value", "threshold", "level", "band", "rate", "needed", "over", "pace",
                "cycles", "cycle_low", "cycle_pace", "noise", "tau")
        print(f"   {a:5.2f}-{b:5.2f} {w:28} " + " ".join(
            f"{k}={info[k]:.2f}" for k in keys if k in info))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sets", nargs="+", default=["1", "2", "4"])
    ap.add_argument("--lead", type=float, default=0.4)
    ap.add_argument("--seed", type=int, nargs="*", help="only these seeds")
    ap.add_argument("--first", type=int, help="sets 4 and 5: the first seed of the block "
                    "(default: the set's own, and the block of each --seed)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    todo = jobs(args.sets, args.seed, args.first)
    if args.seed:
        todo = [j for j in todo if j[1][1] in args.seed]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        cases = list(pool.map(_run, todo, chunksize=2))
    for c in cases:
        bad = c.missed or (not c.in_visit and c.lead is not None and c.lead < args.lead)
        if bad or args.seed:
            show(c)


if __name__ == "__main__":
    main()
