"""The trend of recent readings (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from storage.models import Reading

TREND_WINDOW_MS = 2 * 3_600_000


def trend_per_hour(readings: Sequence[Reading]) -> float | None:
    """Least-squares slope of the readings, per hour; None with fewer than 3 or no spread."""
    if len(readings) < 3:
        return None
    t0 = readings[0].timestamp
    xs = [(r.timestamp - t0) / 3_600_000 for r in readings]
    ys = [r.value for r in readings]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
