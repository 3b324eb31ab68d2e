"""Learning from the history: the level the heating holds, its band, and the building's τ."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence

from alerts.heating.model import DAY_MS, HOUR_MS, HeatingModel
from storage.models import Reading

PRIOR_TAU_H = 30.0  # a typical building, until it has seen its own cooling
PRIOR_TAU_LOW_H = 15.0
PRIOR_TAU_HIGH_H = 55.0
MIN_BAND = 0.25  # °C: noise and quantisation alone go this far
MAX_BAND = 4.0
MAX_NOISE = 0.2  # °C: a sensor noisier than this is read as this
HOLIDAY = 3.0  # °C: days this far below the median day make the warm ones a holiday...
HOLIDAY_COLD_DAYS = 2  # ... when there are at least this many of them, or a quarter of the days
MAX_RESOLUTION = 1.0  # °C: a coarser step is read as this
BIN_MS = 15 * 60_000  # cooling episodes are read from 15-minute means
MIN_EPISODE_MS = 90 * 60_000
RUN_NOISE = 0.12  # °C: a 15-minute mean may rise this much inside a fall (noise)
SETTLE_MS = 45 * 60_000  # the air's own quick drop at the start of a fall is not τ...
SETTLE_SHARE = 0.3  # ... nor is the first 30 % of a longer fall's hours
MIN_EPISODE_DROP = 0.5  # °C
HOUR_WINDOW = 2  # hours either side: a schedule shifts, a sunny evening cools back late
HOUR_DAYS = 5  # the hours of the day are known from this many days
MIN_ABOVE_OUTSIDE = 4.0  # °C: closer to the outside temperature, ln(T − outside) is noise
DEEP_FALL = 3.0  # °C: a fall this deep is a setpoint step; a shallower one weighs less
FITTED_DEEP = 2.0  # °C: the fitted part of a deep fall falls this much (a step's hold does not)
COUNTED_FALL = 1.0  # a fall counts when it weighs this much (an hour of a deep fall)
DEEP_HOURS = 2.0  # a fall worth two hours of a deep fall shows the building's own τ (±15 %)


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile of already sorted values (nearest rank)."""
    i = min(len(sorted_values) - 1, max(0, int(q * len(sorted_values))))
    return sorted_values[i]


def _median(sorted_values: Sequence[float]) -> float:
    """The median of already sorted values."""
    n = len(sorted_values)
    if n % 2:
        return sorted_values[n // 2]
    return (sorted_values[n // 2 - 1] + sorted_values[n // 2]) / 2


def held_low(day: Sequence[Reading]) -> float:
    """The day's lowest 30-minute hold: the lower of each two successive 15-minute means'
    higher one (a door, an airing or a defrost dip shorter than that does not count)."""
    bins = means(day)
    if len(bins) < 2:
        return min(r.value for r in day)
    return min(max(a[1], b[1]) for a, b in itertools.pairwise(bins))


def noise_of(readings: Sequence[Reading]) -> float:
    """The sensor's noise (°C, one sigma) from the readings' second differences: a steady
    fall or rise cancels out of them, the noise does not; the lower quartile leaves out the
    doors, the thermostat's turns and the defrosts."""
    values = [r.value for r in readings]
    if len(values) < 5:
        return 0.0
    second = sorted(abs(a - 2 * b + c) for a, b, c in zip(values, values[1:], values[2:],
                                                          strict=False))
    # the lower quartile of |N(0, 6σ²)| is 0.3186·σ·√6; quiet hours set it, not the dynamics
    return min(MAX_NOISE, second[len(second) // 4] / 0.3186 / 6 ** 0.5)


def resolution_of(readings: Sequence[Reading]) -> float:
    """The sensor's step (°C): the smallest change between successive readings that is not
    a rounding artefact (its 5th percentile); a 0.5 °C sensor hops by 0.5 and by nothing less."""
    steps = sorted(d for a, b in itertools.pairwise(readings)
                   if (d := abs(b.value - a.value)) > 0.001)
    if len(steps) < 20:
        return 0.0
    return min(MAX_RESOLUTION, steps[len(steps) // 20])


def learn_level(readings: Sequence[Reading], now_ms: int) -> tuple[float, float, float] | None:
    """The level the heating holds, the band below it the sensor's daily life goes, and the days
    of history behind them; None without a day's worth.

    Each day (24 h back from now) gives its lower quartile (the held level: sunny afternoons and
    visits only raise a day, and most days are ordinary) and its lowest 30-minute hold (the
    thermostat's band, a setback on a cold night). The median day sets the level, the
    second-deepest day the band."""
    days: dict[int, list[Reading]] = {}
    for r in readings:
        days.setdefault((now_ms - r.timestamp) // DAY_MS, []).append(r)
    full = [d for d in days.values() if len(d) >= 24]  # two hours at 5 min, 4 at 10
    if not full:
        return None
    quartiles = [_quantile(sorted(r.value for r in d), 0.25) for d in full]
    lows = sorted(quartiles)
    median = _median(lows)
    cold = [q for q in lows if q < median - HOLIDAY]
    if len(cold) >= min(HOLIDAY_COLD_DAYS, len(lows) // 4 + 1):
        # a long holiday filled most of the days: the usual level is that of the days without
        # it (two are enough: a holiday's end down to frost guard is not a failure); in a
        # cabin's first days, one day at frost guard among a weekend's visit is enough
        lows = cold
    level = _median(lows)
    # visit days (well above the level all day) say nothing of the band
    dips = sorted(max(0.0, level - held_low(d))
                  for d, q in zip(full, quartiles, strict=True) if q <= level + 1.0)
    band = dips[-2] if len(dips) >= 4 else (dips[-1] if dips else MIN_BAND)
    span = (readings[-1].timestamp - readings[0].timestamp) / DAY_MS
    return level, min(MAX_BAND, max(MIN_BAND, band)), span


def hour_lows(readings: Sequence[Reading], level: float, band: float,
              slack: float = MIN_BAND) -> tuple[float, ...]:
    """The floor of each hour of the day (UTC): the lowest 30-minute hold within HOUR_WINDOW
    hours of it on any day, less `slack` (the sensor's noise), kept between `level − band` and
    `level`. A night setback sets the band; by day the house never went that low. Empty
    without HOUR_DAYS days at every hour."""
    windows: dict[int, list[Reading]] = {}
    for r in readings:
        hour = r.timestamp // HOUR_MS
        for centre in range(hour - HOUR_WINDOW, hour + HOUR_WINDOW + 1):
            windows.setdefault(centre, []).append(r)
    slots: list[list[float]] = [[] for _ in range(24)]
    for centre, window in windows.items():
        if len(window) >= 6 and window[-1].timestamp - window[0].timestamp >= HOUR_MS:
            slots[centre % 24].append(held_low(window))
    if any(len(s) < HOUR_DAYS for s in slots):
        return ()
    floor = level - band
    return tuple(round(min(level, max(floor, min(s) - slack)), 2) for s in slots)


def means(readings: Sequence[Reading], width_ms: int = BIN_MS) -> list[tuple[int, float]]:
    """Means over `width_ms` (15-minute bins by default) as `(start ms, °C)`, spans without
    readings left out: a quick sensor's noise averages out of them."""
    out: list[tuple[int, float]] = []
    key, total, n = None, 0.0, 0
    for r in readings:
        k = r.timestamp - r.timestamp % width_ms
        if k != key:
            if key is not None:
                out.append((key, total / n))
            key, total, n = k, 0.0, 0
        total += r.value
        n += 1
    if key is not None:
        out.append((key, total / n))
    return out


class OutsideAt:
    """The outside temperature at a time, from the outdoor sensor's readings (ascending)."""

    def __init__(self, measured: Sequence[Reading]) -> None:
        self.times = [r.timestamp for r in measured]
        self.values = [r.value for r in measured]

    def at(self, t_ms: int, tolerance_ms: int = 2 * HOUR_MS) -> float | None:
        """The nearest measurement within `tolerance_ms`, or None."""
        i = bisect.bisect_left(self.times, t_ms)
        best: float | None = None
        best_gap = tolerance_ms + 1
        for j in (i - 1, i):
            if 0 <= j < len(self.times) and abs(self.times[j] - t_ms) < best_gap:
                best, best_gap = self.values[j], abs(self.times[j] - t_ms)
        return best


def _episode_tau(episode: list[tuple[int, float]], outside: OutsideAt,
                 deep: bool = False) -> tuple[float, float] | None:
    """τ (h) of one unheated fall, and its weight: T' = −(T − outside)/τ, so τ is the mean
    distance to the outside over the slope of the fall after its first 30 % (the air's quick
    drop towards the building's mass is in that, and would make the building look light).
    The weight is the hours fitted, less for a shallow fall: a deep one is a setpoint step (a
    visit ending, a setback) with the heat off for hours; a shallow one is mostly the
    thermostat's off-cycles, the radiators and the mass still giving heat (τ read too slow).
    `deep` judges the depth by the part fitted (FITTED_DEEP) rather than the whole fall: a
    quick step down that the heating holds at its new level is deep only before the fit."""
    start = episode[0][0] + max(SETTLE_MS, int((episode[-1][0] - episode[0][0]) * SETTLE_SHARE))
    xs: list[float] = []
    ys: list[float] = []
    gaps: list[float] = []
    for t, v in episode:
        if t < start:
            continue
        out = outside.at(t)
        if out is None or v - out < MIN_ABOVE_OUTSIDE:
            return None
        xs.append((t - start) / HOUR_MS)
        ys.append(v)
        gaps.append(v - out)
    if len(xs) < 4 or xs[-1] - xs[0] < 1.0:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    if slope >= -0.02:
        return None
    if deep:
        depth = min(1.0, -slope * (xs[-1] - xs[0]) / FITTED_DEEP)
    else:
        depth = min(1.0, (episode[0][1] - episode[-1][1]) / DEEP_FALL)
    return min(150.0, max(5.0, sum(gaps) / len(gaps) / -slope)), (xs[-1] - xs[0]) * depth ** 2


def cooling_episodes(readings: Sequence[Reading], measured: Sequence[Reading],
                     deep: bool = False) -> list[tuple[float, float]]:
    """τ and weight of each unheated fall in the history: evenings after sun, the hours after a
    visit, the thermostat's long off-cycles — runs of 15-minute means that only fall. `deep`
    reads them for `deep_tau`: each fall ends where it first reaches its bottom (a setback or
    frost guard held after it is the heating again), and weighs by the depth of its part
    fitted."""
    if not measured:
        return []
    outside = OutsideAt(measured)
    bins = means(readings)
    found: list[tuple[float, float]] = []
    run: list[tuple[int, float]] = []
    for t, v in bins:
        if run and (t - run[-1][0] > 2 * BIN_MS or v > run[-1][1] + RUN_NOISE):
            _close(run, outside, found, deep)
            run = []
        run.append((t, v))
    _close(run, outside, found, deep)
    return found


def _close(run: list[tuple[int, float]], outside: OutsideAt,
           found: list[tuple[float, float]], deep: bool) -> None:
    """Keep the run's τ if it is a long and deep enough fall. The fall begins where the run
    last leaves its top (a run may start with hours of the thermostat's hold) and, read
    `deep`, ends where it first reaches its bottom (and may end with hours of it held)."""
    if len(run) < 2:
        return
    top = max(v for _, v in run)
    run = run[max(i for i, (_, v) in enumerate(run) if v >= top - RUN_NOISE):]
    if deep:
        bottom = min(v for _, v in run)
        run = run[:min(i for i, (_, v) in enumerate(run) if v <= bottom + RUN_NOISE) + 1]
    if len(run) < 2 or run[-1][0] - run[0][0] < MIN_EPISODE_MS:
        return
    if run[0][1] - run[-1][1] < MIN_EPISODE_DROP:
        return
    tau = _episode_tau(run, outside, deep)
    if tau is not None:
        found.append(tau)


def _weighted_log_quantile(episodes: Sequence[tuple[float, float]], q: float) -> float:
    """The weighted q-quantile of the falls' ln τ."""
    logs = sorted((math.log(t), w) for t, w in episodes)
    total = sum(w for _, w in logs)
    acc = 0.0
    for lt, w in logs:
        acc += w
        if acc >= total * q:
            return lt
    return logs[-1][0]


def deep_tau(episodes: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """τ from the deep falls alone (each worth DEEP_HOURS of a deep fall: a visit ending, a deep
    setback), and their hours; (0, 0) without them. Their weighted median is the building's own
    τ within about 15 %: no prior, and no lean towards the quicker falls (the shallow falls'
    sunny evenings and off-cycles are not in it)."""
    deep = [(t, w) for t, w in episodes if w >= DEEP_HOURS]
    if not deep:
        return 0.0, 0.0
    return math.exp(_weighted_log_quantile(deep, 0.5)), sum(w for _, w in deep)


def learn_tau(episodes: Sequence[tuple[float, float]],
              before: HeatingModel | None) -> tuple[float, float, float, int]:
    """τ with its range from the falls seen (leaning on the prior until hours of deep falls
    back it); the earlier model's τ stays when it saw more falls (τ is the building's own).
    The falls counted are those that weigh an hour of a deep fall: the ETA trusts the learned
    τ by their number, and shallow off-cycles say little."""
    counted = sum(1 for _, w in episodes if w >= COUNTED_FALL)
    if before is not None and before.cooling_episodes > counted:
        return before.tau_h, before.tau_low_h, before.tau_high_h, before.cooling_episodes
    if not episodes:
        return PRIOR_TAU_H, PRIOR_TAU_LOW_H, PRIOR_TAU_HIGH_H, 0
    median = _weighted_log_quantile(episodes, 0.35)  # the lower part: sunny evenings fall slower
    logs = [(math.log(t), w) for t, w in episodes]
    total = sum(w for _, w in logs)
    weight = total / (total + 4.0)  # hours of clean falls against the prior
    tau = math.exp(weight * median + (1 - weight) * math.log(PRIOR_TAU_H))
    spread = math.sqrt(sum(w * (lt - median) ** 2 for lt, w in logs) / total)
    half = max(0.2, min(0.6, spread + 0.6 / math.sqrt(1 + total / 3.0)))
    return tau, tau * math.exp(-half), tau * math.exp(half), counted


def learn(readings: Sequence[Reading], measured: Sequence[Reading], now_ms: int,
          before: HeatingModel | None, skip: tuple[int, int] | None = None) -> HeatingModel | None:
    """The model from the history: level and band from the readings (an event's span left
    out), τ from the unheated falls in it; None without a day's worth of readings."""
    usable = [r for r in readings if skip is None or not skip[0] <= r.timestamp <= skip[1]]
    found = learn_level(usable, now_ms)
    if found is None:
        return None
    level, band, span = found
    noise, resolution = noise_of(usable), resolution_of(usable)
    # a noisy or coarse sensor reads lower than its lowest hold now and then
    hours = hour_lows(usable, level, band, max(MIN_BAND, 3 * noise, resolution))
    tau, low, high, episodes = learn_tau(cooling_episodes(usable, measured), before)
    deep_tau_h, deep_hours = deep_tau(cooling_episodes(usable, measured, deep=True))
    if before is not None and before.deep_hours > deep_hours:
        # τ is the building's own: deep falls that left the 14 days still tell it
        deep_tau_h, deep_hours = before.deep_tau_h, before.deep_hours
    return HeatingModel(learned_at=now_ms, level=round(level, 2), band=round(band, 2),
                        tau_h=round(tau, 2), tau_low_h=round(low, 2), tau_high_h=round(high, 2),
                        history_days=round(span, 2), cooling_episodes=episodes,
                        noise=round(noise, 3), resolution=round(resolution, 4), hours=hours,
                        deep_tau_h=round(deep_tau_h, 2), deep_hours=round(deep_hours, 2))
