"""When the sensor reaches 0 °C: the building cools towards the outside temperature with its τ,
T' = (outside − T) / τ, stepped forward through the forecast (or the measured outside held)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Literal

from alerts.heating.fall import Knee, knee
from alerts.heating.learn import PRIOR_TAU_H, PRIOR_TAU_HIGH_H, PRIOR_TAU_LOW_H
from alerts.heating.model import HOUR_MS, HeatingModel, Outside, Prediction
from alerts.trend import trend_per_hour
from storage.models import Reading

STEP_MS = 15 * 60_000
HORIZON_MS = 10 * 24 * HOUR_MS  # past this, "it does not get there" is the honest answer
RATE_MS = 90 * 60_000  # the current fall is read over this
MEASURED_MS = 3 * HOUR_MS  # the measured outside held constant: its mean over this
OUTSIDE_DOUBT = 1.5  # °C either way on the outside temperature, for the range
FREEZE = 0.0
COLDEST = -35.0  # °C: no building heads for colder than this
BLIND_FACTORS = (1.1, 1.7, 6.0)  # without outside data: ETA = these × the straight line
SETTLED_MS = 45 * 60_000
OBSERVED_SCALE = 1.6  # ideal τ / the τ a fall shows at the first warning: about 1.6 (1.1–2.5)
# ... more while the fall is still a large share of the off-cycles' pace (their quick drop):
PACE_SCALE = 3.0  # the scale is 1 + this × the fall's rate over that pace, from 1.6 ...
MOST_SCALE = 3.0  # ... to this
MODULATED_SCALE = 2.0  # no off-cycles learned (the heat modulates, emitters that lag): this
STILL_QUICK = 0.25  # a fall still this share of the off-cycles' pace says little of the building
STILL_QUICK_LEARNED = 0.5  # ... and the learned τ weighs at least this against it
EARLY = 0.8
BLEND_DOUBT = 0.45  # the blended τ's range: × e^±0.45 (it held the truth 3 times in 4)
KNEE_WEIGHT = 0.6  # the two-node reading of the fall against the scaled-up late rate
LEARNED_MOST = 0.6  # the learned τ's weight at most: the fall's own always counts
KNEE_LEARNED = 0.2  # the learned τ's weight at most, against a fall read as two nodes
QUICKENING = 1.5
TRUSTED = 0.8  # the weight of a τ learned from deep falls against the fall's own
SLOWER = 2.0  # a fall showing a τ this many times the learned one is not unheated
COARSE = 0.25  # a fall whose last 45 min fall this much faster than its 90 is young
GAP_MS = HOUR_MS  # no reading this long, then readings below the level: a gap the fall crossed

OutsideSource = Literal["sensor", "forecast"]


def taus(model: HeatingModel | None) -> tuple[float, float, float]:
    """τ (h) with its range: the learned one, or the prior."""
    if model is None:
        return PRIOR_TAU_H, PRIOR_TAU_LOW_H, PRIOR_TAU_HIGH_H
    return model.tau_h, model.tau_low_h, model.tau_high_h


def recent_rate(recent: Sequence[Reading], now_ms: int) -> float | None:
    """The fall per hour over the last 45 minutes: late enough after a failure that the air's
    own quick drop towards the building mass has partly passed (None without 4 readings)."""
    window = [r for r in recent if r.timestamp >= now_ms - SETTLED_MS]
    if len(window) < 4:
        return None
    return trend_per_hour(window)


def quick_drop(rate: float | None, longer: float | None) -> bool:
    """The fall is speeding up: its last 45 minutes fall QUICKENING times as fast as its last 90
    or more. It began inside that window, and the air is still in its quick drop towards the
    building's mass, which says little yet about how fast the building itself cools."""
    return rate is not None and longer is not None and longer < 0 and rate < QUICKENING * longer


def _shown(start: float, out_now: float, rate: float | None,
           scale: float = OBSERVED_SCALE) -> float | None:
    """The τ a rate shows, (T − outside) / rate, scaled up for the air's quick drop in it."""
    if rate is None or rate >= -0.02:
        return None
    return min(200.0, max(3.0, (start - out_now) / -rate * scale))


def pace_share(model: HeatingModel | None, rate: float | None) -> float | None:
    """The fall's rate as a share of the pace the air falls at when the thermostat stops the
    heater (its off-cycles, `cycles.py`); None without a fall or without off-cycles learned."""
    if model is None or model.cycles <= 0 or model.cycle_pace <= 0:
        return None
    if rate is None or rate >= -0.02:
        return None
    return -rate / model.cycle_pace


def quick_scale(model: HeatingModel | None, rate: float | None) -> float:
    """Ideal τ over the τ the fall's last 45 minutes show: what the air's quick drop towards
    the building's mass still adds to the rate. An off-cycle is that quick drop alone, so a
    fall still at a large share of the off-cycles' pace is still mostly in it: the scale is
    1 + PACE_SCALE × that share, from OBSERVED_SCALE (a fall far slower than the off-cycles,
    the quick drop over) to MOST_SCALE (a fall as fast as they are: three times). A building
    whose heat modulates, with no off-cycles learned (heat pumps, floors, radiators that keep
    warming a while after the heater stops), drops more slowly into its own fall:
    MODULATED_SCALE. (On sets 4 and 5, in falls without a τ from deep falls, the τ that would
    have hit the truth was a median 3.3 times the τ shown at a share over 0.7, 1.2 times under
    0.1, and 2.5 times without off-cycles.)"""
    if model is None:
        return OBSERVED_SCALE
    share = pace_share(model, rate)
    if share is None:
        return MODULATED_SCALE if model.cycles <= 0 else OBSERVED_SCALE
    return max(OBSERVED_SCALE, min(MOST_SCALE, 1.0 + PACE_SCALE * share))


def blended_taus(model: HeatingModel | None, start: float, out_now: float,
                 rate: float | None, bend: Knee | None = None,
                 longer: float | None = None) -> tuple[float, float, float]:
    """τ with its range for this fall: the learned τ (or the prior) blended with the τ the fall
    itself shows, (T − outside) / rate, scaled up because the air still falls faster than the
    building then (the more, the nearer the fall is to the off-cycles' pace: `quick_scale`);
    the learned τ weighs more the more falls it was learned from, and less when the fall's two
    nodes are resolved (`bend`). `longer` is the rate over 90 min: in a fall still in its quick
    drop (`quick_drop`) the learned τ weighs its most, and at least half in a fall still a
    quarter of the off-cycles' pace. A τ learned from
    deep falls (`deep_tau_h`) weighs 80 % with no early lean, unless this fall shows a τ more
    than twice it. The range's early end reaches the quickest τ the fall's last 45 or 90
    minutes show."""
    tau, low, high = taus(model)
    seen = _shown(start, out_now, rate, quick_scale(model, rate))
    if seen is None or start - out_now < 1.0:
        return tau, low, high
    quickest = seen
    if model is not None and model.resolution >= COARSE:
        quickest = min(seen, _shown(start, out_now, longer) or seen)
    if bend is not None and bend.slow_now - out_now >= 1.0:
        # the building's own rate, the quick drop fitted out rather than scaled out
        own = min(200.0, max(3.0, (bend.slow_now - out_now) / -bend.rate_per_h))
        seen = math.exp(KNEE_WEIGHT * math.log(own) + (1 - KNEE_WEIGHT) * math.log(seen))
        quickest = 200.0  # read past its quick drop, the fall leaves the blend's range as it is
    episodes = model.cooling_episodes if model is not None else 0
    # the fall's own weighs at least 40 %: many falls learned do not make τ right (76 h
    # learned from 14 falls for a 35 h building)
    w = min(LEARNED_MOST, 0.25 + 0.05 * episodes)
    quick = bend is None and quick_drop(rate, longer)
    if bend is not None:
        # this fall's own two nodes, resolved, say more than falls on other days (sun, people)
        w = min(w, KNEE_LEARNED)
    elif quick:
        w = LEARNED_MOST
    elif (pace_share(model, rate) or 0.0) > STILL_QUICK:
        # still a quarter of the off-cycles' pace: mostly their quick drop, whose share of the
        # rate varies most between buildings
        w = max(w, STILL_QUICK_LEARNED)
    if model is not None and model.deep_tau_h > 0 and seen <= SLOWER * model.deep_tau_h:
        # τ read from deep falls is the building's own within about 15 %: it weighs most, and
        # the stated time needs no early lean (a fall far slower than it is a heater still
        # giving some heat, judged as below)
        mid = math.exp(TRUSTED * math.log(model.deep_tau_h) + (1 - TRUSTED) * math.log(seen))
        return mid, min(mid, quickest) * math.exp(-BLEND_DOUBT), mid * math.exp(BLEND_DOUBT)
    mid = math.exp(w * math.log(tau) + (1 - w) * math.log(seen))
    # the early end: the building may cool as fast as any recent stretch of its fall shows
    # (a τ learned too slow, a 45-minute lull between a coarse sensor's steps)
    fast, slow = min(mid, quickest) * math.exp(-BLEND_DOUBT), mid * math.exp(BLEND_DOUBT)
    if quick:
        # the late end: the quick drop says little, the learned τ's range may be right
        slow = max(slow, high)
    # the stated ETA leans early (the pipes matter more than the precision); the range not
    return mid * EARLY, fast, slow


def now_and_rate(recent: Sequence[Reading], now_ms: int) -> tuple[float, float | None] | None:
    """The temperature now (the fitted line's end, not one noisy reading) and the fall per
    hour over the last 90 minutes; None without readings."""
    window = [r for r in recent if r.timestamp >= now_ms - RATE_MS]
    if not window:
        return None
    rate = trend_per_hour(window)
    if rate is None or window[-1].timestamp - window[0].timestamp < 20 * 60_000:
        return window[-1].value, rate
    mean_t = sum(r.timestamp for r in window) / len(window)
    mean_v = sum(r.value for r in window) / len(window)
    return mean_v + rate * (now_ms - mean_t) / HOUR_MS, rate


def across_gap(model: HeatingModel | None, recent: Sequence[Reading]) -> float | None:
    """The fall per hour across a gap: from the last reading before it to the first one back,
    when the watch checks a fall with the reading before a gap of over GAP_MS and every
    reading since is below the usual level (the fall began in the gap); else None."""
    if model is None or len(recent) < 2:
        return None
    gone, back = recent[0], recent[1]
    hours = (back.timestamp - gone.timestamp) / HOUR_MS
    if hours * HOUR_MS <= GAP_MS or any(r.value >= model.level for r in recent[1:]):
        return None
    return (back.value - gone.value) / hours


def blind_rates(model: HeatingModel | None, recent: Sequence[Reading], rate: float | None,
                settled: float | None) -> tuple[float | None, float | None]:
    """The falls per hour over 90 and 45 minutes the time to 0 °C is read from without outside
    data. After a gap the fall crossed (`across_gap`), the few readings back show the
    building's slow late fall, its quick start hidden in the gap: a fall across the gap faster
    than theirs stands for both (a fall that began in the gap is at least that fast on
    average; set 1's blind cabin whose sensor came back 3.7 h after the failure: 85 % late from
    the readings back, 24 % with the fall across the gap). With outside data the fall across
    the gap is not used: the τ it shows, blended with the learned one, made two of the
    independent set's coarse sensors' times earlier and further off."""
    across = across_gap(model, recent)
    if across is None or (rate is not None and across >= rate):
        return rate, settled
    return across, across if settled is None else min(settled, across)


def outside_course(outside: Outside, now_ms: int
                   ) -> tuple[Callable[[int], float], float, OutsideSource] | None:
    """The outside temperature after now as a function of time, its value now, and its source:
    the forecast when there is one, else the outdoor sensor's last hours held."""
    recent = [r.value for r in outside.measured if r.timestamp >= now_ms - MEASURED_MS]
    held = sum(recent) / len(recent) if recent else None
    points = [(t, v) for t, v in outside.forecast if t > now_ms]
    if points:
        if held is not None:
            points.insert(0, (now_ms, held))
        times = [t for t, _ in points]
        values = [v for _, v in points]

        def course(t_ms: int) -> float:
            """Linear between the forecast points, held beyond them."""
            if t_ms <= times[0]:
                return values[0]
            if t_ms >= times[-1]:
                return values[-1]
            lo, hi = 0, len(times) - 1
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if times[mid] <= t_ms:
                    lo = mid
                else:
                    hi = mid
            f = (t_ms - times[lo]) / (times[hi] - times[lo])
            return values[lo] + f * (values[hi] - values[lo])

        return course, points[0][1], "forecast"
    if held is not None:
        value = held
        return (lambda _t: value), value, "sensor"
    return None


def course_of(start: float, now_ms: int, until_ms: int, tau_h: float,
              outside: Callable[[int], float], shift: float) -> list[tuple[int, float]]:
    """The unheated course from `start` at now: `(epoch ms, °C)` every 15 minutes."""
    out = [(now_ms, start)]
    t, temp = now_ms, start
    k = 1.0 - math.exp(-STEP_MS / HOUR_MS / tau_h)
    while t < until_ms:
        mid = outside(t + STEP_MS // 2) + shift
        temp += (mid - temp) * k
        t += STEP_MS
        out.append((t, temp))
    return out


def _crossing(course: list[tuple[int, float]]) -> int | None:
    """When the course first reaches 0 °C, interpolated; None if it does not."""
    for (t0, v0), (t1, v1) in itertools.pairwise(course):
        if v1 <= FREEZE < v0 or v0 <= FREEZE:
            if v0 <= FREEZE:
                return t0
            return int(t0 + (t1 - t0) * (v0 - FREEZE) / (v0 - v1))
    return None


def _without_outside(start: float, rate: float | None, now_ms: int, settled: float | None,
                     model: HeatingModel | None) -> Prediction:
    """From the indoor curve alone: the straight line of the current fall is the earliest it
    can be (the air's quick first drop is in that fall, and an unheated building slows as it
    nears the outside temperature); 1.7 times that leans early, six times is the latest. The
    nearer the fall still is to the off-cycles' pace, the more of it is the air's quick drop:
    the stated time is the later by as much as `quick_scale` says (up to 1.9 times, 1.25 times
    without off-cycles), and so is where the fall heads."""
    if rate is None or rate >= -0.05:
        return Prediction(None, None, None, rate, None, None)
    line_ms = max(0.0, start - FREEZE) / -rate * HOUR_MS
    stretch = quick_scale(model, rate) / OBSERVED_SCALE
    early, leaning, latest = BLIND_FACTORS
    low, mid, high = (now_ms + int(f * line_ms) for f in (early, leaning * stretch, latest))
    if settled is not None and settled < rate:
        # the early end: the last 45 minutes fall faster (the air's quick drop just begun)
        low = now_ms + int(early * max(0.0, start - FREEZE) / -settled * HOUR_MS)
    if settled is not None and settled < -0.05:
        # where the fall heads: T + rate·τ, the building's own rate (the quick drop taken out;
        # fitting it out as a knee, as with outside data, helped as often as it hurt here)
        tau = taus(model)[0]
        towards = max(COLDEST, start + settled / quick_scale(model, settled) * tau)
        if towards < FREEZE - 1.0 and start > FREEZE:
            hours = tau * math.log((start - towards) / (FREEZE - towards))
            mid = int(math.sqrt(max(1.0, mid - now_ms) * hours * HOUR_MS)) + now_ms
            mid = min(high, max(now_ms + int(early * line_ms), mid))
    return Prediction(mid, low, high, round(rate, 2), None, None)


def predict_from(model: HeatingModel | None, recent: Sequence[Reading], now_ms: int,
                 outside: Outside) -> Prediction:
    """The ETA to 0 °C with its range (fast τ and colder outside — slow τ and milder)."""
    state = now_and_rate(recent, now_ms)
    if state is None:
        return Prediction(None, None, None, None, None, None)
    start, rate = state
    settled = recent_rate(recent, now_ms)
    found = outside_course(outside, now_ms)
    if found is None:
        fall, fall_settled = blind_rates(model, recent, rate, settled)
        blind = _without_outside(start, fall, now_ms, fall_settled, model)
        if fall == rate:
            return blind
        # the fall the message states is the readings' own, not the gap's
        return dataclasses.replace(blind, rate_per_h=round(rate, 2) if rate is not None else None)
    course, now_out, source = found
    tau, low, high = blended_taus(model, start, now_out, settled, knee(recent, now_ms), rate)
    until = now_ms + HORIZON_MS
    eta = _crossing(course_of(start, now_ms, until, tau, course, 0.0))
    early = _crossing(course_of(start, now_ms, until, low, course, -OUTSIDE_DOUBT))
    late = _crossing(course_of(start, now_ms, until, high, course, OUTSIDE_DOUBT))
    rate_out = round(rate, 2) if rate is not None else None
    if eta is None:
        return Prediction(None, early, None, rate_out, round(now_out, 1), source)
    return Prediction(eta, early if early is not None else eta, late, rate_out,
                      round(now_out, 1), source)


def _drawn(start: float, now_ms: int, until_ms: int, tau_h: float,
           end_ms: int) -> list[tuple[int, float]]:
    """A course from `start` that reaches 0 °C at `end_ms`: with τ towards the constant outside
    temperature that takes it there, or, if that would be colder than any building heads for,
    towards that coldest with the τ that does."""
    hours = max(0.01, (end_ms - now_ms) / HOUR_MS)
    heading = FREEZE - (start - FREEZE) / math.expm1(hours / tau_h)
    if heading < COLDEST:
        heading = COLDEST
        tau_h = hours / math.log((start - COLDEST) / (FREEZE - COLDEST))
    value = heading
    return course_of(start, now_ms, until_ms, tau_h, lambda _t: value, 0.0)


def _blind_curves(model: HeatingModel | None, start: float, now_ms: int, until_ms: int,
                  prediction: Prediction) -> list[tuple[int, float, float, float]]:
    """Without outside data, the courses that reach 0 °C at the stated time and at the ends
    of its range: the chart draws what the message says."""
    if prediction.eta_ms is None or start <= FREEZE:
        return []
    tau = taus(model)[0]
    eta = prediction.eta_ms
    mid = _drawn(start, now_ms, until_ms, tau, eta)
    fast = _drawn(start, now_ms, until_ms, tau, prediction.eta_low_ms or eta)
    slow = _drawn(start, now_ms, until_ms, tau, prediction.eta_high_ms or eta)
    return [(t, round(v, 2), round(min(a, b), 2), round(max(a, b), 2))
            for (t, v), (_, a), (_, b) in zip(mid, fast, slow, strict=True)]


def curve_from(model: HeatingModel | None, recent: Sequence[Reading], now_ms: int,
               until_ms: int, outside: Outside) -> list[tuple[int, float, float, float]]:
    """`(epoch ms, expected, low, high)` every 15 minutes from now to `until_ms`: the course
    the stated time to 0 °C comes from, and the ends of its range."""
    state = now_and_rate(recent, now_ms)
    if state is None or until_ms <= now_ms:
        return []
    start, rate = state
    settled = recent_rate(recent, now_ms)
    found = outside_course(outside, now_ms)
    if found is None:
        fall, fall_settled = blind_rates(model, recent, rate, settled)
        blind = _without_outside(start, fall, now_ms, fall_settled, model)
        return _blind_curves(model, start, now_ms, until_ms, blind)
    course = found[0]
    tau, low, high = blended_taus(model, start, found[1], settled, knee(recent, now_ms), rate)
    mid = course_of(start, now_ms, until_ms, tau, course, 0.0)
    fast = course_of(start, now_ms, until_ms, low, course, -OUTSIDE_DOUBT)
    slow = course_of(start, now_ms, until_ms, high, course, OUTSIDE_DOUBT)
    return [(t, round(v, 2), round(min(a, b), 2), round(max(a, b), 2))
            for (t, v), (_, a), (_, b) in zip(mid, fast, slow, strict=True)]
