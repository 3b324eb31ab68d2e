"""The heating watch's cycle: learn (at most daily), watch the latest reading, check a fall
against the building's unheated cooling, fire once, recover once; and the replay of a series."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import replace

from alerts.heating.cycles import with_cycles
from alerts.heating.eta import curve_from, predict_from
from alerts.heating.learn import MAX_BAND, OutsideAt, held_low, learn, means
from alerts.heating.model import (
    DAY_MS,
    HOUR_MS,
    LEARN_DAYS,
    MIN_DAYS,
    RELEARN_MS,
    HeatingEvent,
    HeatingMemory,
    HeatingModel,
    HeatingPhase,
    HeatingStep,
    Outside,
    Prediction,
)
from alerts.trend import trend_per_hour
from storage.models import Reading

MARGIN = 0.3  # °C below the band before a reading counts as below the usual level
RESET = 0.1  # °C back above that before "below since" forgets (noise at the line)
BELOW_MS = 15 * 60_000  # below the usual level this long before the history is read...
SELDOM_MS = 9 * 60_000  # ... or two readings of a sensor that reads this seldom or less often
FALLING_MS = 50 * 60_000  # a door (≤ 45 min) or a defrost is over and recovering by then
STEP = 0.3  # °C (and twice the noise) within STEP_MS: a sudden step in the fall (a door opening)...
STEP_MS = 15 * 60_000
STEP_PACE = 3.0  # ... when it is this many times the pace of the rest of the fall
STEP_MEAN_MS = 5 * 60_000  # steps are read from means over this (a quick sensor's noise)
NEAR_FREEZING = 4.5  # °C: this close to the pipes' danger it waits less...
URGENT_BELOW_MS = 10 * 60_000  # ... below the level this long
URGENT_FALLING_MS = 25 * 60_000  # ... falling this long
URGENT_MAX_SHARE = 4.0  # ... and no faster than this many times the unheated fall (fast τ)
CYCLE_FALLING_MS = 15 * 60_000  # ... or this, past where off-cycles turn and at their pace
CYCLE_MARGIN = 0.3  # °C below the lowest the off-cycles turn at
CLIMB_MS = 20 * 60_000  # the readings' trend over this does not rise (a door's air climbs back)
CHECK_MS = 3 * HOUR_MS  # the history a suspicious fall is checked on
GAP_MS = HOUR_MS  # no reading for this long before that history: a gap the fall crossed
FALL_MS = 90 * 60_000  # the fall's rate is read over this
RISE = 0.35  # °C above the lowest so far: the fall was interrupted, not noise
NEW_LOW = 0.12  # °C: the latest readings stay this close to the lowest (still falling)
MIN_RATE = 0.08  # °C/h: slower than this is a sag, not an unheated fall
MIN_RATE_BLIND = 0.2  # °C/h: the same without outside data, when the unheated rate is unknown
SHORT_MS = 4 * HOUR_MS  # back this soon: the usual level goes lower than learned
SHARE_OF_UNHEATED = 0.3  # the fall is at least this share of the unheated one (learned τ)
SAG_MS = 3 * HOUR_MS  # below the usual level this long, ...
SAG_SHARE = 0.4  # ... sinking each hour at this share of the unheated rate: the heat mostly lost
NO_OUTSIDE = Outside()  # nothing known of the outside
FORECAST_H = 96  # replay: hourly forecast points it builds from the outdoor series


def line_at(model: HeatingModel, t_ms: int) -> float:
    """The line: a reading under it at this time of day is below the usual level. It is the
    floor less MARGIN, or less a coarse sensor's step (its reading one step below the lowest
    it usually shows may be the air moved by a hair)."""
    return model.floor_at(t_ms) - max(MARGIN, model.resolution)


def _due(memory: HeatingMemory, now_ms: int) -> bool:
    """Whether the model is to be (re)learned now."""
    if memory.phase == HeatingPhase.FIRING:
        return False  # the fall is not the heating's level
    if memory.learn_tried is not None and now_ms - memory.learn_tried < HOUR_MS:
        return False  # too few readings an hour ago: not every cycle again
    if memory.relearn_from is not None and (
            memory.model is None or memory.model.learned_at < memory.relearn_from):
        return now_ms - memory.relearn_from >= RELEARN_MS  # a day of the new level first
    if memory.model is None:
        return True
    age = now_ms - memory.model.learned_at
    # below the level the check needs the model it went below; a sag of days does not
    return age >= (RELEARN_MS if memory.below_since is None else 2 * RELEARN_MS)


def _silent(memory: HeatingMemory) -> bool:
    """After "I turned the heating down", silent until the level is relearned."""
    if memory.relearn_from is None:
        return False
    return memory.model is None or memory.model.learned_at < memory.relearn_from


def _learn_range(memory: HeatingMemory, now_ms: int) -> tuple[int, int]:
    start = now_ms - LEARN_DAYS * DAY_MS
    if memory.relearn_from is not None:
        start = max(start, memory.relearn_from)
    return start, now_ms


def _relearn(memory: HeatingMemory, history: Sequence[Reading], outside: Outside,
             now_ms: int) -> HeatingMemory:
    """The memory with the model learned from the history (the last event's span left out)."""
    start, _ = _learn_range(memory, now_ms)
    usable = [r for r in history if start <= r.timestamp <= now_ms]
    skip = None
    if memory.skip_from is not None and memory.skip_to is not None:
        skip = (memory.skip_from, memory.skip_to)
    model = learn(usable, outside.measured, now_ms, memory.model, skip)
    if model is None:
        return replace(memory, learn_tried=now_ms)
    model = with_cycles(model, usable, outside.measured)
    return replace(memory, model=model, phase=HeatingPhase.WATCHING, learn_tried=None)


def checked(history: Sequence[Reading], latest: Reading, now_ms: int,
            level: float) -> list[Reading]:
    """The history a fall below the line is checked on: CHECK_MS up to the latest reading,
    and the last reading before it when a gap longer than GAP_MS opens it and no reading since
    is at the usual `level`: the fall began in the gap, is timed from its first reading back
    (the door may have opened just before it) and its rate reads across the gap. A fall that
    began after the readings came back is read as any other (a door's pace is its own)."""
    recent = [r for r in history if now_ms - CHECK_MS <= r.timestamp <= now_ms]
    if not recent or recent[-1].timestamp != latest.timestamp:
        recent.append(latest)
    gone = next((r for r in reversed(history) if r.timestamp < now_ms - CHECK_MS), None)
    if (gone is not None and recent[0].timestamp - gone.timestamp > GAP_MS
            and all(r.value < level for r in recent)):
        recent.insert(0, gone)
    return recent


def _fall_began(model: HeatingModel, history: Sequence[Reading], below_since: int) -> int:
    """When the fall began: the last reading at the usual level before it went below, or,
    when the readings since that one dipped below the line and rose back above it (a door
    shut, a defrost over, the heater back: a rise as `_rose` reads one, not a noisy sensor's
    readings about the line), the last reading back above the line: that dip was over, and
    its rise is no part of this fall (a heat pump's defrost just before a failure would
    otherwise hold the warning back as a rise on the way down, for as long as the dip stays
    in the history)."""
    start = next((i for i in range(len(history) - 1, -1, -1)
                  if history[i].timestamp <= below_since and history[i].value >= model.level),
                 None)
    if start is None:
        return history[0].timestamp if history else below_since
    noise = max(model.noise, model.resolution / 2)
    began, low, back = history[start].timestamp, None, False
    for r in history[start + 1:]:
        if r.timestamp >= below_since:
            break
        line = line_at(model, r.timestamp)
        if r.value < line:
            low, back = (r.value if low is None else min(low, r.value)), False
        elif r.value >= line + RESET:
            # back above the line by a rise, not the noise of readings about it
            back = back or (low is not None and r.value > low + RISE + 3 * noise)
            low = None
            if back:
                began = r.timestamp
    return began


def _fall_known(history: Sequence[Reading], began: int, noise: float) -> int:
    """From when the fall is known: its last sudden step's start, or else the first reading
    after `began` (a door may have opened just before it, a reading's interval or a gap after
    the last reading at the level). A step is a drop of 5-minute means within STEP_MS of STEP
    and STEP_PACE times the pace of the rest of the fall: a door opened in a house already
    sagging below its level steps down, and the wait for it to close is timed from there, not
    from the sag's start. A fall under half an hour old has no rest to judge a drop against:
    only its start is its step."""
    points = [r for r in history if r.timestamp >= began]
    after = next((r.timestamp for r in points if r.timestamp > began), began)
    if len(points) < 3:
        return after
    steps = means(points, STEP_MEAN_MS)
    total = max(0.0, steps[0][1] - steps[-1][1])
    hours = (steps[-1][0] - steps[0][0]) / HOUR_MS
    last, j = began, 0
    for b_at, b_value in steps:
        while steps[j][0] < b_at - STEP_MS:
            j += 1
        a_at, a_value = steps[j]
        drop = a_value - b_value
        if drop < STEP + 2 * noise:
            continue
        span = (b_at - a_at) / HOUR_MS
        rest = hours - span
        if rest <= STEP_MS / HOUR_MS and a_at > steps[0][0]:
            # too little of the rest of the fall to judge a drop against: in a quick fall
            # under half an hour old every quarter hour's drop would be a step, and the wait
            # would start again at every reading; its start is its step
            continue
        pace = max(0.0, total - drop) / rest if rest > STEP_MS / HOUR_MS else 0.0
        # a step in a quick reading's few minutes is judged as a quarter hour's pace
        if drop >= STEP_PACE * pace * max(span, STEP_MS / HOUR_MS):
            last = max(last, a_at)
    return last if last > began else after


def _rose(history: Sequence[Reading], began: int, noise: float) -> bool:
    """Whether the readings rose on the way down (a door closed, a heater came on): an
    unheated building only falls, give or take the noise."""
    low = None
    for r in history:
        if r.timestamp < began:
            continue
        if low is not None and r.value > low + RISE + 3 * noise:
            return True
        low = r.value if low is None else min(low, r.value)
    return False


def outside_now(outside: Outside, now_ms: int) -> float | None:
    """The outside temperature now: the outdoor sensor's within the hour, else the forecast's
    nearest hour (within two): the forecast alone says how fast an unheated building cools."""
    if outside.measured:
        measured = OutsideAt(outside.measured).at(now_ms, HOUR_MS)
        if measured is not None:
            return measured
    near = [(abs(t - now_ms), v) for t, v in outside.forecast if abs(t - now_ms) <= 2 * HOUR_MS]
    return min(near)[1] if near else None


def falling_unheated(model: HeatingModel, history: Sequence[Reading], now_ms: int,
                     below_since: int, outside: Outside, noise: float = 0.0,
                     urgent: bool = False, sinking: bool = False,
                     began: int | None = None) -> bool:
    """Whether the readings since `below_since` fall the way this building cools unheated:
    still at their lowest (a door or a defrost recovers; in a house `sinking` for hours, the
    lowest is the lowest half hour it held: a defrost's dip of minutes is not the lowest it is
    judged against, a door's that outlasts it is), falling at least a share of the
    unheated rate towards the outside temperature (a heater that barely keeps up sags slower).
    Two readings below the line are read with the one before them when the fall `began`
    before it is given (a sensor that reads seldom, its second reading past where the
    off-cycles turn): the same fall shows its trend across the line."""
    since = [r for r in history if r.timestamp >= below_since]
    if len(since) < (2 if began is not None else 3):
        return False
    if any(r.value >= line_at(model, r.timestamp) + RESET for r in since):
        return False
    if len(since) < 3 and began is not None:
        since = [r for r in history if r.timestamp > began][-3:]
        if len(since) < 3:
            return False
    # the fall's window, and the reading before it: after a gap the fall shows across it
    first = bisect.bisect_left([r.timestamp for r in history], now_ms - FALL_MS)
    fall = list(history[max(0, first - 1):])
    rate = trend_per_hour(fall)
    if rate is None or fall[-1].timestamp - fall[0].timestamp < 40 * 60_000:
        return False
    latest = [r for r in since if r.timestamp >= now_ms - 15 * 60_000]
    if not latest:
        return False
    # a quick fall's latest quarter hour sits above its newest reading by its own pace over
    # half that span: still at its lowest though its mean is not (a door's air that climbs
    # back while the heater runs flat out has no such pace)
    pace = trend_per_hour(latest)  # None with fewer than three readings
    lag_h = (now_ms - sum(r.timestamp for r in latest) / len(latest)) / HOUR_MS
    mean = sum(r.value for r in latest) / len(latest)
    lowest = held_low(since) if sinking else min(r.value for r in since)
    if mean > lowest + NEW_LOW + 2 * noise + max(0.0, -(pace or 0.0)) * lag_h:
        return False
    # the air still falls: an unheated building only falls, while a door's air climbs back as
    # the heater runs flat out, before the door is shut, and a heater that comes on lifts it;
    # a sensor with two readings or fewer in that span is read over its last three
    climb = [r for r in since if r.timestamp >= now_ms - CLIMB_MS]
    pace = trend_per_hour(climb if len(climb) >= 3 else since[-3:])
    if pace is not None and pace > 0:
        return False
    out = outside_now(outside, now_ms)
    needed = MIN_RATE if outside.measured or out is not None else MIN_RATE_BLIND
    if out is not None and since[-1].value > out:
        needed = max(MIN_RATE, SHARE_OF_UNHEATED * (since[-1].value - out) / model.tau_h)
        if urgent and rate < -URGENT_MAX_SHARE * (since[-1].value - out) / model.tau_low_h:
            return False  # waiting less, it asks more: far faster than unheated is a door
    return rate <= -needed


def sagging(model: HeatingModel, history: Sequence[Reading], now_ms: int, below_since: int,
            outside: Outside) -> bool:
    """Whether the readings have stayed below the usual level for SAG_MS and sank, in each of
    those hours, at SAG_SHARE of the rate the building cools unheated towards the outside: a
    heater left at a fraction of its power, whose cycles and a heat pump's defrosts lift the
    air now and then (a rise, a dip whose recovery leaves the fall's lowest behind), yet the
    house keeps sinking. Each hour is read as its highest quarter-hour mean: a door or a
    defrost lowers the air for less than an hour, not the hour's highest quarter. A level
    held lower (a holiday, a deeper setback) stops sinking; a heater that works but falls
    short in a cold spell, flat out, sinks slower, and after a door refills the dent or holds
    it rather than sinking on. Without the outside temperature the two cannot be told apart,
    and it does not judge."""
    out = outside_now(outside, now_ms)
    if now_ms - below_since < SAG_MS or out is None:
        return False
    quarters = means([r for r in history if r.timestamp > now_ms - SAG_MS], STEP_MS)
    hours = SAG_MS // HOUR_MS
    highs = []
    for h in range(hours):
        start = now_ms - SAG_MS + h * HOUR_MS
        hour = [v for t, v in quarters if start <= t < start + HOUR_MS]
        if not hour:
            return False
        highs.append(max(hour))
    if highs[-1] <= out:
        return False
    needed = SAG_SHARE * (highs[-1] - out) / model.tau_h
    return all(a - b >= needed for a, b in itertools.pairwise(highs))


def sunk(model: HeatingModel, history: Sequence[Reading], now_ms: int,
         outside: Outside) -> bool:
    """Whether the readings, above the usual level's line, have stayed past where the
    thermostat's off-cycles ever turn for SAG_MS (every quarter hour's mean), and sank in each
    of those hours (read as its highest quarter hour) at SAG_SHARE of the rate the building
    cools unheated, or at MIN_RATE_BLIND without the outside temperature. A band that doors
    left open for half an hour widened (a cellar's, 4 °C) puts the line hours down a slow
    failure's fall; the heater that turns the air at its off-cycles' low would have come on
    long before, and a door's dip comes back within the hour. A building whose heat
    modulates shows no turns, and waits for the line."""
    if model.cycles <= 0 or not history or now_ms - history[0].timestamp < SAG_MS - STEP_MS:
        return False
    quarters = means([r for r in history if r.timestamp > now_ms - SAG_MS], STEP_MS)
    if not quarters or any(not _past_cycles(model, v) for _, v in quarters):
        return False
    highs = []
    for h in range(SAG_MS // HOUR_MS):
        start = now_ms - SAG_MS + h * HOUR_MS
        hour = [v for t, v in quarters if start <= t < start + HOUR_MS]
        if not hour:
            return False
        highs.append(max(hour))
    out = outside_now(outside, now_ms)
    needed = MIN_RATE_BLIND
    if out is not None:
        if highs[-1] <= out:
            return False
        needed = SAG_SHARE * (highs[-1] - out) / model.tau_h
    return all(a - b >= needed for a, b in itertools.pairwise(highs))


def like_off_cycle(model: HeatingModel, history: Sequence[Reading], began: int, known: int,
                   outside: Outside, noise: float) -> bool:
    """Whether the fall since `began` is an off-cycle that never ended: now past the lowest
    the thermostat's off-cycles turn at (by CYCLE_MARGIN, or the noise), and no quicker than
    their quick ones to get there (per kelvin above the outside when it is known). A door
    left open exchanges the air and falls far quicker; a building whose heat modulates shows
    no off-cycles, and keeps the whole wait. An off-cycle leaves the level: a fall known from
    a later step down (a door opened on a sagging house) is not one."""
    if model.cycles <= 0:
        return False
    if known > next((r.timestamp for r in history if r.timestamp > began), began):
        return False
    deep = model.cycle_low - max(CYCLE_MARGIN, 2 * noise, model.resolution)
    start = next((r for r in reversed(history) if r.timestamp <= began), None)
    if start is None or history[-1].value >= deep:
        return False
    past = next((r for r in history if r.timestamp > began and r.value < deep), None)
    if past is None:
        return False
    pace = (start.value - past.value) / ((past.timestamp - start.timestamp) / HOUR_MS)
    allowed = model.cycle_pace
    out = outside_now(outside, began)
    if model.cycle_rate > 0 and out is not None and start.value > out:
        allowed = model.cycle_rate * (start.value - out)
    return pace <= allowed


def _back(memory: HeatingMemory, model: HeatingModel, latest: Reading) -> HeatingStep:
    """The readings are at the usual level again: say so once, and go back to watching."""
    lowest = min(memory.lowest if memory.lowest is not None else latest.value, latest.value)
    event = HeatingEvent("heating_back", latest.timestamp, latest.value, model.level,
                         since=memory.since, lowest=lowest)
    since = memory.since if memory.since is not None else latest.timestamp
    back = replace(memory, phase=HeatingPhase.WATCHING, since=None, lowest=None,
                   below_since=None)
    if latest.timestamp - since < SHORT_MS:
        # back this soon, it was most likely the thermostat's own low (learned on mild days):
        # widen the band to it, and keep these readings for learning
        band = min(MAX_BAND, max(model.band, model.level - lowest + 0.1))
        # and the hours' profile goes until the next learning: it did not know this low
        widened = replace(model, band=round(band, 2), hours=())
        return HeatingStep(replace(back, model=widened), (event,))
    return HeatingStep(replace(back, skip_from=since, skip_to=latest.timestamp), (event,))


def _past_cycles(model: HeatingModel, value: float) -> bool:
    """Whether a reading is past where the thermostat's off-cycles ever turn (by CYCLE_MARGIN,
    the noise or a step of the sensor's)."""
    noise = max(model.noise, model.resolution / 2)
    return value < model.cycle_low - max(CYCLE_MARGIN, 2 * noise, model.resolution)


def _second_near_freezing(memory: HeatingMemory, model: HeatingModel, latest: Reading,
                          below_since: int) -> bool:
    """Whether the latest reading, near 0 °C, follows one already below the line and is past
    where the thermostat's off-cycles ever turn: the heater that turns the air up there did
    not. The history then confirms it (`_second_confirmed`) and that the fall got there as an
    off-cycle does (`like_off_cycle`), whatever the sensor's cadence."""
    if model.cycles <= 0 or latest.value >= NEAR_FREEZING:
        return False
    if memory.last_at is None or memory.last_at < below_since:
        return False
    return _past_cycles(model, latest.value)


def _second_confirmed(history: Sequence[Reading], below_since: int, began: int,
                      noise: float) -> bool:
    """Whether the history holds just two readings below the line (a sensor that reads every
    minute or two has many in its dwell, and waits it out: a defrost's dip passes the turn
    within it) and the fall did not quicken on the way (`_quickening`)."""
    if sum(1 for r in history if r.timestamp >= below_since) != 2:
        return False
    return not _quickening(history, began, noise)


def _quickening(history: Sequence[Reading], began: int, noise: float) -> bool:
    """Whether the fall since it `began` steepened on the way: a step between two readings
    that fell faster than the fall had on average up to it, by more than the `noise` (or a
    step of the sensor's) explains. An unheated building's air, like an off-cycle's, falls
    quickest as the heat stops and slows as it nears the building's mass, while a door
    opened or a defrost begun on the way down steepens it."""
    start = next((r for r in reversed(history) if r.timestamp <= began), None)
    if start is None:
        return True
    fall = [r for r in history if r.timestamp > start.timestamp]
    for a, b in itertools.pairwise(fall):
        pace = (start.value - a.value) / ((a.timestamp - start.timestamp) / HOUR_MS)
        if a.value - b.value > max(0.0, pace) * (b.timestamp - a.timestamp) / HOUR_MS + 2 * noise:
            return True
    return False


def _second_past_cycles(memory: HeatingMemory, model: HeatingModel, latest: Reading,
                        below_since: int) -> bool:
    """Whether the latest reading is the second below the line of a sensor that reads
    seldom (its quarter hour below would be a third reading, 20-30 minutes after the line; the
    history confirms no reading came between, as one would to a cycle run seldom), and
    is past where the thermostat's off-cycles ever turn: the heater that turns the air up there
    did not. A night's setback ends at its own turn, which a noisy sensor's two readings can
    pass by the line; a building whose heat modulates shows no turns to pass."""
    if model.cycles <= 0 or memory.last_at is None or memory.last_at < below_since:
        return False
    if latest.timestamp - memory.last_at < SELDOM_MS:
        return False
    return _past_cycles(model, latest.value)


def _watch(memory: HeatingMemory, model: HeatingModel, latest: Reading, now_ms: int,
           history: Sequence[Reading] | None, outside: Outside) -> HeatingStep:
    """Watching: steady while at the usual level; a fall below it is checked after a dwell;
    a house sunk for hours past where its off-cycles turn, above a line that doors widened,
    is checked at every reading."""
    threshold = line_at(model, latest.timestamp)
    if latest.value >= threshold + RESET or (
            memory.below_since is None and latest.value >= threshold):
        # steady: the memory is left as it is (nothing to store)
        steady = memory if memory.below_since is None else replace(memory, below_since=None)
        if not _past_cycles(model, latest.value) or model.cycles <= 0:
            return HeatingStep(steady)
        if history is None:
            return HeatingStep(memory, needs=(now_ms - CHECK_MS, now_ms))
        recent = [r for r in history if now_ms - CHECK_MS <= r.timestamp <= now_ms]
        if not recent or recent[-1].timestamp != latest.timestamp:
            recent.append(latest)
        if not sunk(model, recent, now_ms, outside):
            return HeatingStep(steady)
        began = _fall_began(model, recent, recent[0].timestamp)
        return _failed(memory, model, recent, latest, now_ms, outside, began)
    below_since = memory.below_since if memory.below_since is not None else latest.timestamp
    seldom = _second_past_cycles(memory, model, latest, below_since)
    second = _second_near_freezing(memory, model, latest, below_since)
    memory = replace(memory, below_since=below_since, last_at=latest.timestamp)
    urgent = latest.value < NEAR_FREEZING
    dwelling = latest.timestamp - below_since < (URGENT_BELOW_MS if urgent else BELOW_MS)
    if dwelling and not seldom and not second:
        return HeatingStep(memory)
    if history is None:
        return HeatingStep(memory, needs=(now_ms - CHECK_MS, now_ms))
    recent = checked(history, latest, now_ms, model.level)
    before = next((r.timestamp for r in reversed(recent) if r.timestamp < latest.timestamp), None)
    if dwelling and seldom and (before is None or latest.timestamp - before < SELDOM_MS):
        seldom = False  # the sensor reads often: a cycle that runs seldom missed some
    began = _fall_began(model, recent, below_since)
    # a coarse sensor hops a whole step (half of it either way) however quiet the air is
    noise = max(model.noise, model.resolution / 2)
    # a door is timed from its step down; whether the fall rose is judged since it began
    known = _fall_known(recent, began, noise)
    wait = URGENT_FALLING_MS if urgent else FALLING_MS
    cycle = urgent and like_off_cycle(model, recent, began, known, outside, noise)
    if cycle:
        wait = CYCLE_FALLING_MS  # the heat stopped as it does in an off-cycle, and stayed off
    # two readings below the line near 0 °C, past the off-cycles' turn at their pace, and
    # no quicker at the end than since the fall began: an off-cycle that never ends only slows
    second = second and cycle and _second_confirmed(recent, below_since, began, noise)
    if dwelling and not seldom and not second:
        return HeatingStep(memory)
    if now_ms - known < wait:
        return HeatingStep(memory)
    # a house sinking for hours: a dip that came back (a door, a defrost) was not its lowest
    sinking = sagging(model, recent, now_ms, below_since, outside)
    if (_rose(recent, began, noise) and not sinking) or not falling_unheated(
            model, recent, now_ms, below_since, outside, noise, urgent, sinking,
            began if seldom or second else None):
        return HeatingStep(memory)
    return _failed(memory, model, recent, latest, now_ms, outside, began)


def _failed(memory: HeatingMemory, model: HeatingModel, recent: list[Reading], latest: Reading,
            now_ms: int, outside: Outside, began: int) -> HeatingStep:
    """The warning, with its time to 0 °C, and the watch firing since the fall began."""
    prediction = predict_from(model, recent, now_ms, outside)
    event = HeatingEvent("heating_failed", latest.timestamp, latest.value, model.level,
                         prediction=prediction, since=began)
    low = min(r.value for r in recent if r.timestamp >= began)
    return HeatingStep(replace(memory, phase=HeatingPhase.FIRING, since=began, lowest=low,
                               below_since=None), (event,))


def evaluate(memory: HeatingMemory, latest: Reading | None, now_ms: int,
             history: Sequence[Reading] | None = None,
             outside: Outside = NO_OUTSIDE) -> HeatingStep:
    """One alert cycle of one heating rule (see `alerts.heating`)."""
    if latest is None:
        return HeatingStep(memory)
    if memory.first_seen is None:
        memory = replace(memory, first_seen=latest.timestamp)
    if history is None and latest.timestamp == memory.last_at:
        return HeatingStep(memory)  # no new reading: nothing to do
    first_seen = memory.first_seen if memory.first_seen is not None else latest.timestamp
    if latest.timestamp - first_seen < MIN_DAYS * DAY_MS:
        return HeatingStep(memory)
    if _due(memory, now_ms):
        if history is None:
            return HeatingStep(memory, needs=_learn_range(memory, now_ms))
        memory = _relearn(memory, history, outside, now_ms)
    model = memory.model
    if model is None or _silent(memory):
        return HeatingStep(memory)
    if memory.phase == HeatingPhase.FIRING:
        memory = replace(memory, last_at=latest.timestamp)
        # back at the level held when the fall began (a night's setback is not a recovery)
        began = memory.since if memory.since is not None else latest.timestamp
        floor = model.floor_at(began)
        # a warning of a house sunk past the off-cycles' turn, never below the line, is over
        # when the air is back above that turn
        above_line = memory.lowest is not None and memory.lowest >= line_at(model, began)
        if latest.value >= floor and not (above_line and _past_cycles(model, latest.value)):
            return _back(memory, model, latest)
        lowest = latest.value if memory.lowest is None else min(memory.lowest, latest.value)
        return HeatingStep(replace(memory, lowest=lowest))
    return _watch(memory, model, latest, now_ms, history, outside)


def turned_down(memory: HeatingMemory, now_ms: int) -> HeatingMemory:
    """"I turned the heating down": no alert for this drop; the level is relearned from the
    readings after now (τ, the building's own, is kept)."""
    return replace(memory, phase=HeatingPhase.WATCHING if memory.model else memory.phase,
                   since=None, lowest=None, below_since=None, relearn_from=now_ms)


def predict(memory: HeatingMemory, recent: Sequence[Reading], now_ms: int,
            outside: Outside = NO_OUTSIDE) -> Prediction:
    """When the sensor reaches 0 °C, from the recent readings (see `predict_from`)."""
    return predict_from(memory.model, recent, now_ms, outside)


def curve(memory: HeatingMemory, recent: Sequence[Reading], now_ms: int, until_ms: int,
          outside: Outside = NO_OUTSIDE) -> list[tuple[int, float, float, float]]:
    """The predicted course after now: `(epoch ms, expected, low, high)`, for the chart."""
    return curve_from(memory.model, recent, now_ms, until_ms, outside)


def _forecast(times: Sequence[int], outdoor: Sequence[Reading],
              now_ms: int) -> tuple[tuple[int, float], ...]:
    """Hourly points after now from the outdoor series (it stands for the forecast)."""
    points: list[tuple[int, float]] = []
    for h in range(1, FORECAST_H + 1):
        t = now_ms + h * HOUR_MS
        i = bisect.bisect_left(times, t)
        if i >= len(times):
            break
        j = i - 1 if i > 0 and t - times[i - 1] < times[i] - t else i
        if abs(times[j] - t) <= 2 * HOUR_MS:
            points.append((t, outdoor[j].value))
    return tuple(points)


def replay(indoor: Sequence[Reading], outdoor: Sequence[Reading] = ()) -> Iterator[HeatingEvent]:
    """Replay readings through `evaluate` as the alert cycle would have seen them."""
    for _, step in replay_steps(indoor, outdoor):
        yield from step.events


def replay_steps(indoor: Sequence[Reading], outdoor: Sequence[Reading] = ()
                 ) -> Iterator[tuple[HeatingMemory, HeatingStep]]:
    """Each reading's step with the memory it started from, answering `needs` as the cycle
    does: the readings up to now (and the one before the range), the outdoor series up to now
    as measurements and after it as the forecast."""
    indoor = sorted(indoor, key=lambda r: r.timestamp)
    outdoor = sorted(outdoor, key=lambda r: r.timestamp)
    times = [r.timestamp for r in indoor]
    out_times = [r.timestamp for r in outdoor]
    memory = HeatingMemory()
    for i, reading in enumerate(indoor):
        now = reading.timestamp
        step = evaluate(memory, reading, now)
        if step.needs is not None:
            start, end = step.needs
            lo = max(0, bisect.bisect_left(times, start, 0, i + 1) - 1)  # and the one before
            hi = bisect.bisect_right(times, min(end, now), 0, i + 1)
            o_lo = bisect.bisect_left(out_times, start)
            o_hi = bisect.bisect_right(out_times, min(end, now))
            outside = Outside(tuple(outdoor[o_lo:o_hi]), _forecast(out_times, outdoor, now))
            step = evaluate(memory, reading, now, indoor[lo:hi], outside)
        yield memory, step
        memory = step.memory



