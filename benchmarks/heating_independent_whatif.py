"""What-if runs of the independent heating evaluation: the detector with candidate fixes
patched in at run time (nothing in `alerts/` changes). For its author to check the evaluator's
suggestions; it reaches into private names and breaks when they change.

Run: `.venv/bin/python benchmarks/heating_independent_whatif.py quant,lowmode,door,wait65
[--quick] [--seed N]`. Fixes:
- quant: a rise or a "still at its lowest" check allows one quantisation step (a 0.5 °C
  sensor flickers a whole step at every crossing).
- lowmode: the level is the frost-guard level when two days or more sat 3 °C below the median
  day (a week-long holiday is not the usual level).
- door: the fall is timed from its last sudden drop (a door opening), not from its start.
- wait65: a fall must last 65 min, not 50 (a 45-minute door plus a 15-minute cadence).
- blind: without outside data, a fall of 0.08 °C/h is enough (slow ground-coupled cellars).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import alerts.heating.learn as learn  # noqa: E402
import alerts.heating.watch as watch  # noqa: E402
from alerts.heating.model import DAY_MS, HeatingModel  # noqa: E402
from benchmarks import heating_independent  # noqa: E402
from storage.models import Reading  # noqa: E402

CHEAP_STEP = 0.3  # °C: a quantisation this coarse moves the checks


def step_of(history: Sequence[Reading]) -> float:
    """The sensor's quantisation: the smallest gap between distinct values."""
    values = sorted({round(r.value, 4) for r in history})
    gaps = [b - a for a, b in itertools.pairwise(values) if b - a > 1e-6]
    return min(gaps) if gaps else 0.0


def with_constant(name: str, extra: Callable[[Sequence[Reading]], float],
                  func: Callable[..., Any], history_arg: int) -> Callable[..., Any]:
    """`func` with the module constant `name` raised by `extra(history)` during the call."""
    def patched(*args: Any, **kwargs: Any) -> Any:
        old = getattr(watch, name)
        setattr(watch, name, old + extra(args[history_arg]))
        try:
            return func(*args, **kwargs)
        finally:
            setattr(watch, name, old)
    return patched


def quant() -> None:
    def step(h: Sequence[Reading]) -> float:
        s = step_of(h)
        return s if s >= CHEAP_STEP else 0.0
    watch._rose = with_constant("RISE", step, watch._rose, 0)
    watch.falling_unheated = with_constant(
        "NEW_LOW", lambda h: step(h) / 2, watch.falling_unheated, 1)


def lowmode() -> None:
    original = learn.learn_level

    def learn_level(readings: Sequence[Reading],
                    now_ms: int) -> tuple[float, float, float] | None:
        found = original(readings, now_ms)
        if found is None:
            return None
        level, band, span = found
        days: dict[int, list[Reading]] = {}
        for r in readings:
            days.setdefault((now_ms - r.timestamp) // DAY_MS, []).append(r)
        full = [d for d in days.values() if len(d) >= 24]
        quartiles = [learn._quantile(sorted(r.value for r in d), 0.25) for d in full]
        low = sorted(q for q in quartiles if q < level - 3.0)
        if len(low) >= 2:
            level = low[len(low) // 2]
            dips = sorted(max(0.0, level - learn.held_low(d))
                          for d, q in zip(full, quartiles, strict=True) if q <= level + 1.0)
            band = dips[-2] if len(dips) >= 4 else (dips[-1] if dips else learn.MIN_BAND)
            band = min(learn.MAX_BAND, max(learn.MIN_BAND, band))
        return level, band, span

    learn.learn_level = learn_level


def door() -> None:
    original = watch._fall_began

    def fall_began(model: HeatingModel, history: Sequence[Reading], below_since: int) -> int:
        began = original(model, history, below_since)
        points = [r for r in history if r.timestamp >= began]
        if len(points) < 3:
            return began
        hours = max(1e-9, (points[-1].timestamp - points[0].timestamp) / 3.6e6)
        mean_rate = (points[0].value - points[-1].value) / hours
        last = began
        for a, b in itertools.pairwise(points):
            dt = (b.timestamp - a.timestamp) / 3.6e6
            drop = a.value - b.value
            if 0 < dt <= 1 / 3 and drop >= 0.3 + 2 * model.noise and (
                    drop / dt >= max(2.0, 3 * mean_rate)):
                last = b.timestamp  # a sudden drop: a door opening; time the fall from here
        return last

    watch._fall_began = fall_began


def wait65() -> None:
    watch.FALLING_MS = 65 * 60_000


def blind() -> None:
    watch.MIN_RATE_BLIND = 0.08


FIXES: dict[str, Callable[[], None]] = {
    "quant": quant, "lowmode": lowmode, "door": door, "wait65": wait65, "blind": blind}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(f"usage: {sys.argv[0]} {','.join(FIXES)} [--quick] [--seed N]")
    for name in sys.argv.pop(1).split(","):
        FIXES[name]()
    heating_independent.main()


if __name__ == "__main__":
    main()
