"""The thermostat's own off-cycles in the history: how fast this building's air falls when
the heater stops, and how deep a normal off-cycle goes. A heating failure begins exactly like
an off-cycle that never ends; a door left open falls far faster (the air is exchanged)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from alerts.heating.learn import OutsideAt
from alerts.heating.model import DAY_MS, HOUR_MS, HeatingModel
from storage.models import Reading

MAX_CYCLE_MS = 90 * 60_000  # a peak-to-trough fall longer than this is a setback or an evening
MIN_TURN = 0.15  # °C: a turn smaller than this is noise however quiet the sensor
LOW_SHARE = 0.02  # where off-cycles turn: all but the lowest 2 % of their troughs (doors)
PACE_SHARE = 0.9  # their quick pace: all but the quickest 10 % (doors, noise)
MIN_CYCLES_PER_DAY = 4.0  # fewer: the heat modulates (a heat pump, a floor), no cycles to read
AT_LEVEL = 1.0  # °C: an off-cycle that turns higher above the level turns at another setpoint's
# (a visit's 20 °C at a frost-guard cabin) and says nothing of where the usual level's turn
MEAN_MS = 5 * 60_000  # the pace is read from the readings' means over this long: a quick
# sensor's noise alone turns between two readings far apart, at tens of °C/h
CLEAR_TURN = 1.75  # the median cycle turns this many times the hysteresis: the noise's own
# turns (a quiet sensor's readings crossing 2.1 σ of their difference) turn at most ~1.6 times


@dataclass(frozen=True, slots=True)
class OffCycles:
    """What the off-cycles tell: their pace (°C/h, and per kelvin above the outside when an
    outdoor reading is known), the lowest they turn at (°C), and how many were seen."""

    pace: float
    rate: float
    low: float
    count: int


def turns(readings: Sequence[Reading], hysteresis: float) -> list[tuple[int, float, bool]]:
    """The readings' turning points `(ms, °C, is_peak)`: a peak once the readings fall
    `hysteresis` below the highest since the last trough, and a trough the other way."""
    out: list[tuple[int, float, bool]] = []
    if not readings:
        return out
    best = readings[0]
    falling = False  # looking for a peak first
    for r in readings[1:]:
        if not falling:
            if r.value >= best.value:
                best = r
            elif best.value - r.value >= hysteresis:
                out.append((best.timestamp, best.value, True))
                best, falling = r, True
        elif r.value <= best.value:
            best = r
        elif r.value - best.value >= hysteresis:
            out.append((best.timestamp, best.value, False))
            best, falling = r, False
    return out


def off_cycles(readings: Sequence[Reading], measured: Sequence[Reading], noise: float,
               resolution: float, level: float = math.inf) -> OffCycles:
    """The off-cycles (peak to the next trough within MAX_CYCLE_MS) in the history: their
    quick pace (all but the quickest tenth, read from the readings' MEAN_MS means: not from
    a quick sensor's noise), and where all but the lowest LOW_SHARE of those
    that turned within AT_LEVEL above the usual `level` turned (a visit's cycles at its own
    setpoint say nothing of the frost guard's); none (count 0) when fewer than
    MIN_CYCLES_PER_DAY a day were seen, when none turned near the level, or when their turns
    are no clearer than the noise's own."""
    if len(readings) < 2:
        return OffCycles(0.0, 0.0, 0.0, 0)
    hysteresis = max(MIN_TURN, 2 * noise, resolution)
    outside = OutsideAt(measured) if measured else None
    paces: list[float] = []
    rates: list[float] = []
    lows: list[float] = []
    drops: list[float] = []
    for (_, v0, _), (_, v1, _) in _cycles(turns(readings, hysteresis)):
        lows.append(v1)
        drops.append(v0 - v1)
    for (t0, v0, _), (t1, v1, _) in _cycles(turns(_means(readings), hysteresis)):
        pace = (v0 - v1) / ((t1 - t0) / HOUR_MS)
        paces.append(pace)
        out = outside.at(t0) if outside is not None else None
        if out is not None and v0 - out > 1.0:
            rates.append(pace / (v0 - out))
    days = (readings[-1].timestamp - readings[0].timestamp) / DAY_MS
    if not paces or len(drops) < MIN_CYCLES_PER_DAY * days:
        return OffCycles(0.0, 0.0, 0.0, 0)
    drops.sort()
    if _share(drops, 0.5) < CLEAR_TURN * hysteresis:
        return OffCycles(0.0, 0.0, 0.0, 0)  # the noise's turns, not the thermostat's
    lows = sorted(v for v in lows if v <= level + AT_LEVEL)
    if not lows:
        return OffCycles(0.0, 0.0, 0.0, 0)  # all turned at another setpoint's
    paces.sort()
    rates.sort()
    # the quick ones: a failure's fall past the turn is as quick as an off-cycle's steep part
    rate = _share(rates, PACE_SHARE) if len(rates) >= len(paces) // 2 else 0.0
    return OffCycles(_share(paces, PACE_SHARE), rate, _share(lows, LOW_SHARE), len(drops))


def _cycles(points: Sequence[tuple[int, float, bool]]
            ) -> list[tuple[tuple[int, float, bool], tuple[int, float, bool]]]:
    """The off-cycles among the turning points: each peak with the next trough, within
    MAX_CYCLE_MS."""
    return [(a, b) for a, b in itertools.pairwise(points)
            if a[2] and 0 < b[0] - a[0] <= MAX_CYCLE_MS]


def _means(readings: Sequence[Reading]) -> list[Reading]:
    """The readings' means over each MEAN_MS (a sensor read less often: its readings)."""
    out: list[Reading] = []
    for _, group in itertools.groupby(readings, key=lambda r: r.timestamp // MEAN_MS):
        rs = list(group)
        out.append(Reading(rs[0].sensor, sum(r.timestamp for r in rs) // len(rs),
                           sum(r.value for r in rs) / len(rs)))
    return out


def _share(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile of already sorted values (nearest rank)."""
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def with_cycles(model: HeatingModel, readings: Sequence[Reading],
                measured: Sequence[Reading]) -> HeatingModel:
    """The model with what the history's off-cycles tell."""
    found = off_cycles(readings, measured, model.noise, model.resolution, model.level)
    return replace(model, cycles=found.count, cycle_pace=round(found.pace, 3),
                   cycle_rate=round(found.rate, 4), cycle_low=round(found.low, 3))
