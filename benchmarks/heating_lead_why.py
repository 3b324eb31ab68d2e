"""Where the warning's lead goes on set 4 or 5: for each failure counted (it reaches 3 °C from
above 3.5 °C, and 0 °C within the run), the time from the failure to 0 °C, the delay to the
warning, the lead (the share of that time still left), and the delay split by the check of the
watch that held the warning back at each reading after the failure (read by re-running the
watch's checks beside it, as `heating_worst.py` does): the air above the line, the dwell below
it, the wait for a door to close (from the fall's start or its step), a rise (the fall rose, a
door's air climbed, not at its lowest), a fall too slow (or too fast, near 0 °C). Those warned
with less than `--lead` left are listed, and the parts' medians compared with the others'. For
the heating watch's authors.

Run: `.venv/bin/python benchmarks/heating_lead_why.py [--set 4|5] [--seed N] [--quick]
[--lead 0.9] [--list]`.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import heating_delay_why as why  # noqa: E402
from benchmarks import heating_set4 as set4  # noqa: E402
from benchmarks import heating_set4_sim as sim4  # noqa: E402
from benchmarks import heating_worst as worst  # noqa: E402
from benchmarks.heating_set5 import SET5  # noqa: E402

PARTS = ("reading", "above", "dwell", "wait", "rise", "rate", "other")
LOG = worst.LOG


def part(name: str) -> str:
    """The part of the delay a held-back reason belongs to."""
    if name == "above threshold":
        return "above"
    if name == "dwell below":
        return "dwell"
    if name.startswith("wait from"):
        return "wait"
    if name.startswith(("rose", "climbing", "not at lowest")):
        return "rise"
    if "too slow" in name or "too fast" in name or name.startswith("short window"):
        return "rate"
    return "other"


@dataclass
class Lead:
    """One failure: its seed and kind, the hours from the failure to 0 °C and to the warning,
    the lead, the delay's parts (hours), and the watch's line and the truth at the failure."""

    seed: int
    mode: str
    kinds: list[str]
    to_zero_h: float
    delay_h: float | None
    lead: float
    parts: dict[str, float] = field(default_factory=dict)
    cadence: int = 0
    tau_h: float = 0.0
    above_line: float = 0.0
    story: str = ""


def install() -> None:
    """Log the watch's checks in this process (each worker's)."""
    why.install(worst._why, LOG)


def one(args: tuple[int, str, sim4.Spread]) -> Lead | None:
    """One failure run, replayed with the watch's checks logged."""
    seed, mode, spread = args
    LOG.clear()
    run = sim4.simulate(seed, mode, spread)
    if run.fail_at is None or run.truth(run.fail_at) <= 3.5:
        return None
    t3 = run.first_at_or_below(3.0, run.fail_at)
    t0 = run.first_at_or_below(0.0, run.fail_at)
    if t3 is None or t0 is None:
        return None
    events, _ = set4.replay_run(run)
    fail_ms = sim4.START_MS + run.fail_at * 60_000
    t0_ms = sim4.START_MS + t0 * 60_000
    warn = next((e.at for e in events if e.kind == "heating_failed" and e.at >= fail_ms), None)
    lead = 0.0 if warn is None or warn >= t0_ms else (t0_ms - warn) / (t0_ms - fail_ms)
    end = warn if warn is not None else t0_ms
    log = [(t, w, info) for t, w, info in LOG if fail_ms <= t <= end]
    parts = dict.fromkeys(PARTS, 0.0)
    if log:
        parts["reading"] = (log[0][0] - fail_ms) / 3.6e6
    for (t, w, _), (u, _, _) in itertools.pairwise(log):
        parts[part(w)] += (u - t) / 3.6e6
    line = next((info["threshold"] for _, _, info in log if "threshold" in info), None)
    segs = why.segments(LOG, fail_ms, end)
    story = "; ".join(f"{w} {a:.2f}-{b:.2f}" for w, a, b in segs)
    return Lead(seed, mode, set4.kinds(run), (t0_ms - fail_ms) / 3.6e6,
                None if warn is None else (warn - fail_ms) / 3.6e6, lead, parts,
                run.cadence, run.building.tau_h,
                run.truth(run.fail_at) - line if line is not None else 0.0, story)


def summary(name: str, leads: Sequence[Lead]) -> None:
    """The medians of the time to 0 °C, the delay and its parts."""
    if not leads:
        print(f"  {name}: none")
        return
    med = statistics.median
    delays = [x.delay_h for x in leads if x.delay_h is not None]
    print(f"  {name}: {len(leads)}; to 0 °C {med(x.to_zero_h for x in leads):.2f} h, delay "
          f"{med(delays) if delays else float('nan'):.2f} h, lead "
          f"{med(x.lead for x in leads):.2f}; parts (median / mean h): "
          + ", ".join(f"{p} {med(x.parts[p] for x in leads):.2f}/"
                      f"{statistics.fmean(x.parts[p] for x in leads):.2f}" for p in PARTS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--set", choices=("4", "5"), default="5")
    ap.add_argument("--seed", type=int, default=None, help="the first run's seed")
    ap.add_argument("--quick", action="store_true", help="about a third of the failures")
    ap.add_argument("--lead", type=float, default=0.9, help="list the failures below this")
    ap.add_argument("--list", action="store_true", help="every failure's line, not only low")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    bench = SET5 if args.set == "5" else set4.BenchSet()
    first = bench.first_seed if args.seed is None else args.seed
    n_fail, n_partial, _ = bench.quick if args.quick else bench.counts
    jobs = set4.runs(first, n_fail, n_partial, 0, bench.spread)
    with ProcessPoolExecutor(max_workers=max(1, min(2, args.workers)),
                             initializer=install) as pool:
        leads = [x for x in pool.map(one, jobs, chunksize=2) if x is not None]
    low = [x for x in leads if x.lead < args.lead]
    for x in sorted(leads if args.list else low, key=lambda x: x.lead):
        delay = f"{x.delay_h:.2f}" if x.delay_h is not None else "never"
        print(f"seed {x.seed} {x.mode} lead {x.lead:.2f}: to 0 °C {x.to_zero_h:.2f} h, delay "
              f"{delay} h ({', '.join(f'{p} {x.parts[p]:.2f}' for p in PARTS if x.parts[p])}); "
              f"{'/'.join(x.kinds[:3])}, every {x.cadence} min, τ {x.tau_h:.0f} h, "
              f"{x.above_line:.2f} °C above the line\n   {x.story}")
    leads_all = sorted(x.lead for x in leads)
    print(f"\n== set {args.set}, seeds from {first}: {len(leads)} failures, lead median "
          f"{statistics.median(leads_all):.3f}, {len(low)} below {args.lead:g} ==")
    summary(f"lead < {args.lead:g}", low)
    summary(f"lead >= {args.lead:g}", [x for x in leads if x.lead >= args.lead])
    near = [x for x in low if x.delay_h is not None and x.lead > 0]
    print("  of those warned before 0 °C, the delay each would need for the lead: "
          + ", ".join(f"{(1 - args.lead) * x.to_zero_h:.2f}/{x.delay_h:.2f}" for x in
                      sorted(near, key=lambda x: x.to_zero_h)[:40]))
    for cut in (0.25, 0.5, 0.75):
        # the wait's part (past the line and the dwell) shortened by `cut`
        sooner = [min(1.0, x.lead + min(x.parts["wait"], cut) / x.to_zero_h) if x.lead > 0
                  else x.lead for x in leads]
        print(f"  had the wait cost {cut:.2f} h less, the lead median would be "
              f"{statistics.median(sooner):.3f}")


if __name__ == "__main__":
    main()
