"""The fall so far, read as a two-node building cools: the air first drops quickly towards the
building's mass (a time constant of minutes to an hour), then both cool slowly together. Over
the fall's first hours the slow part is a straight line, so the readings since the heater's
last stop are fitted with T = a + b·t + A·e^(−t/τ₁): `b` is the building's own rate, which a
straight line through the quick drop overstates."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from alerts.heating.model import HOUR_MS
from storage.models import Reading

FAST_TAUS_H = (0.1, 0.15, 0.2, 0.3, 0.45, 0.7, 1.0, 1.5)  # the quick drop's time constants tried
STOP_TOLERANCE = 0.25  # °C: going back from now, a reading this far below the highest is a rise
MIN_READINGS = 8
MIN_FALL_H = 0.5
RESOLVED_SHARE = 0.7  # the quick drop's τ₁ at most this share of the fall: it is seen to end
ENDED = 1.0  # the quick drop's own rate now at most this share of the building's
BETTER = 0.3  # the knee leaves at most this share of a straight line's squared residuals


@dataclass(frozen=True, slots=True)
class Knee:
    """The fall read as two nodes: the slow part's value now and its rate (°C/h, negative),
    and how much of the quick drop is still to come (°C)."""

    slow_now: float
    rate_per_h: float
    fast_left: float


def heater_stopped(recent: Sequence[Reading]) -> int:
    """The index of the heater's last stop: going back from the latest reading the readings
    rise; where one falls back below the highest so far by more than the noise, the fall
    began at that highest (a failure between two thermostat cycles starts at the last peak)."""
    best = len(recent) - 1
    for i in range(len(recent) - 1, -1, -1):
        value = recent[i].value
        if value >= recent[best].value:
            best = i
        elif value < recent[best].value - STOP_TOLERANCE:
            break
    return best


def _solve3(m: list[list[float]], v: list[float]) -> tuple[float, float, float] | None:
    """The 3×3 linear system m·x = v by elimination with pivoting; None when singular."""
    a = [[*row, v[i]] for i, row in enumerate(m)]
    for i in range(3):
        p = max(range(i, 3), key=lambda r: abs(a[r][i]))
        if abs(a[p][i]) < 1e-12:
            return None
        a[i], a[p] = a[p], a[i]
        for r in range(3):
            if r != i:
                f = a[r][i] / a[i][i]
                for k in range(i, 4):
                    a[r][k] -= f * a[i][k]
    return a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2]


def _line_residual(points: Sequence[tuple[float, float]]) -> float:
    """The squared residuals of the least-squares straight line."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    b = sum((x - mx) * (y - my) for x, y in points) / sxx
    return sum((my + b * (x - mx) - y) ** 2 for x, y in points)


def _fit(points: Sequence[tuple[float, float]], tau1: float
         ) -> tuple[float, float, float, float] | None:
    """a, b, A and the squared residuals of T = a + b·t + A·e^(−t/τ₁); None if unphysical
    (a rise, or a quick part that climbs)."""
    rows = [(1.0, x, math.exp(-x / tau1)) for x, _ in points]
    m = [[sum(r[i] * r[j] for r in rows) for j in range(3)] for i in range(3)]
    v = [sum(r[i] * y for r, (_, y) in zip(rows, points, strict=True)) for i in range(3)]
    solved = _solve3(m, v)
    if solved is None:
        return None
    a, b, big_a = solved
    if big_a <= 0 or b >= 0:
        return None
    sse = sum((a + b * x + big_a * e - y) ** 2
              for (_, x, e), (_, y) in zip(rows, points, strict=True))
    return a, b, big_a, sse


def knee(recent: Sequence[Reading], now_ms: int) -> Knee | None:
    """The fall since the heater's last stop as two nodes, when its quick drop is seen to end
    and explains the readings far better than a straight line; None otherwise (too short, too
    few readings, no knee: the caller reads the rate as it is)."""
    if not recent:
        return None
    start = recent[heater_stopped(recent)].timestamp
    points = [((r.timestamp - start) / HOUR_MS, r.value) for r in recent if r.timestamp >= start]
    span_h = (now_ms - start) / HOUR_MS
    if len(points) < MIN_READINGS or span_h < MIN_FALL_H:
        return None
    line = _line_residual(points)
    best: tuple[float, float, float, float, float] | None = None
    for tau1 in FAST_TAUS_H:
        if tau1 > RESOLVED_SHARE * span_h:
            break
        fitted = _fit(points, tau1)
        if fitted is not None and (best is None or fitted[3] < best[3]):
            best = (*fitted, tau1)
    if best is None or best[3] > BETTER * line:
        return None
    a, b, big_a, _, tau1 = best
    fast_left = big_a * math.exp(-span_h / tau1)
    if fast_left / tau1 > ENDED * -b:
        # the quick drop still falls faster than the building: not seen to end (a coarse
        # sensor's steps, or a slow second node, bend a fall the same way)
        return None
    return Knee(a + b * span_h, b, fast_left)
