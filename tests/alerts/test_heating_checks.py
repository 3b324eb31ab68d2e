"""The watch's checks on a fall, on small hand-made series."""

from __future__ import annotations

from dataclasses import replace

from alerts.heating import HeatingMemory, HeatingPhase, Outside, evaluate
from alerts.heating.model import DAY_MS, HeatingModel
from alerts.heating.watch import _fall_known, falling_unheated
from storage.models import Reading

START = 1_800_000_000_000
MINUTE = 60_000
MODEL = HeatingModel(learned_at=START, level=6.0, band=0.3, tau_h=20.0, tau_low_h=12.0,
                     tau_high_h=35.0, history_days=14.0, cooling_episodes=3, noise=0.05)


def series(values: list[float]) -> list[Reading]:
    """One reading every 5 minutes from START."""
    return [Reading("cellar", START + i * 5 * MINUTE, v) for i, v in enumerate(values)]


def check(values: list[float], noise: float = 0.05, urgent: bool = False) -> bool:
    readings = series(values)
    now = readings[-1].timestamp
    below = next(r.timestamp for r in readings if r.value < MODEL.level - MODEL.band - 0.3)
    outside = Outside(forecast=((now, -20.0),))
    return falling_unheated(MODEL, readings, now, below, outside, noise, urgent)


def test_a_quick_fall_is_still_at_its_lowest_though_its_last_quarter_hours_mean_is_not() -> None:
    # 3 °C/h: the latest quarter hour's mean sits 0.375 °C above its newest reading
    held = [6.0] * 10
    fall = held + [round(6.0 - 0.25 * i, 2) for i in range(1, 14)]
    assert check(fall)
    assert check(fall, urgent=True)  # near 0 °C too: it still falls


def test_a_doors_air_climbing_back_while_it_is_open_is_not_at_its_lowest() -> None:
    # down quickly, then up 0.5 °C in the last quarter hour as the heater runs flat out
    held = [6.0] * 10
    assert not check([*held, 5.0, 4.2, 3.6, 3.2, 3.0, 2.9, 2.85, 2.8, 3.0, 3.15, 3.3])


def test_a_doors_air_climbing_back_within_a_noisy_sensors_noise_is_not_falling() -> None:
    # a door at a frost-guard cabin: down to 2.5 °C, then back up 0.35 °C in 15 minutes while
    # it is still open (the heater flat out); within a noisy sensor's tolerance of the lowest
    held = [6.0] * 10
    door = [*held, 4.5, 3.5, 2.9, 2.6, 2.5, 2.6, 2.75, 2.85]
    assert not check(door, noise=0.2, urgent=True)
    # and far from 0 °C: a home's air climbing back after a door, or as a heater comes on
    home = [20.0] * 10
    climbing = [*home, 18.5, 17.6, 17.0, 16.7, 16.6, 16.7, 16.85, 16.95]
    home_model = replace(MODEL, level=20.0)
    readings = series(climbing)
    now = readings[-1].timestamp
    below = next(r.timestamp for r in readings if r.value < 19.4)
    assert not falling_unheated(home_model, readings, now, below,
                                Outside(forecast=((now, -20.0),)), 0.2)




def test_a_quick_fall_under_half_an_hour_old_is_timed_from_its_start() -> None:
    # a light cellar's air drops 0.5 °C every 5 minutes; with no rest of the fall to judge a
    # drop against, every quarter hour's drop looked like a door's step, and the wait started
    # again at every reading
    readings = series([6.0, 5.5, 5.0, 4.5, 4.0, 3.6, 3.3])
    began = readings[0].timestamp
    assert _fall_known(readings, began, 0.02) <= began + 5 * MINUTE


def test_a_sparse_sensors_air_climbing_back_is_not_falling() -> None:
    # a door at a frost-guard cabin read every 10½ minutes: down to 3.0 °C, then 0.75 °C back
    # up as the heater runs flat out; the last 20 minutes hold only two readings, so the climb
    # is read from the last three
    values = [6.0] * 6 + [4.6, 3.55, 3.0, 3.75]
    readings = [Reading("cabin", START + i * 630_000, v) for i, v in enumerate(values)]
    now = readings[-1].timestamp
    below = readings[6].timestamp
    outside = Outside(forecast=((now, -20.0),))
    assert not falling_unheated(MODEL, readings, now, below, outside, 0.2, urgent=True)
    # still falling, the same sensor is read as falling
    falling = [*readings[:-1], Reading("cabin", now, 2.7)]
    assert falling_unheated(MODEL, falling, now, below, outside, 0.2, urgent=True)


def _fires_at(readings: list[Reading], model: HeatingModel = MODEL, every: int = 1) -> list[float]:
    """The values at which `evaluate` fires, given every `every`-th reading in turn (as the
    alert cycle does: the history up to each, the outside at −20 °C)."""
    memory = HeatingMemory(HeatingPhase.WATCHING, model=model, first_seen=START - 5 * DAY_MS)
    fired: list[float] = []
    for i, r in enumerate(readings):
        if i % every:
            continue
        step = evaluate(memory, r, r.timestamp, readings[:i + 1],
                        Outside(forecast=((r.timestamp, -20.0),)))
        fired += [e.value for e in step.events if e.kind == "heating_failed"]
        memory = step.memory
    return fired


def test_a_seldom_sensors_second_reading_past_the_off_cycles_turn_warns() -> None:
    # a cellar read every 10 minutes falls 1.2 °C/h from its level (6.0 °C) and crosses the line
    # (5.4 °C) an hour in; its thermostat's off-cycles never turned below 5.5 °C. The quarter
    # hour below the line held the warning to a third reading; the second, past where the
    # off-cycles turn, shows the heater did not come back
    cycling = replace(MODEL, cycles=400, cycle_pace=6.0, cycle_low=5.5)
    values = [6.0] * 12 + [5.9, 5.8, 5.7, 5.6, 5.5, 5.35, 5.15, 5.0, 4.85]
    readings = [Reading("cellar", START + i * 10 * MINUTE, v) for i, v in enumerate(values)]
    assert _fires_at(readings, cycling)[:1] == [5.15]
    # not yet past the off-cycles' turn by their margin (a setback's turn): the third reading
    assert _fires_at(readings, replace(cycling, cycle_low=5.3))[:1] == [5.0]
    # a heat that modulates shows no turns to pass: the third reading
    assert _fires_at(readings)[:1] == [5.0]
    # a sensor every 5 minutes still waits its quarter hour below the line (5.34 °C, 55 min in)
    quick = series([6.0] * 24 + [round(6.0 - 0.06 * i, 2) for i in range(1, 20)])
    assert _fires_at(quick, cycling)[:1] == [5.16]
    # nor is a sensor every 2 minutes that an alert cycle run every 10 minutes reads seldom
    often = [Reading("cellar", START + i * 2 * MINUTE, round(6.0 - 0.02 * max(0, i - 40), 2))
             for i in range(120)]
    turning = replace(cycling, cycle_low=5.6)
    assert _fires_at(often, turning, every=5)[:1] == [5.1]  # a quarter hour below 5.4, not 5.2


def test_a_heater_left_at_a_fraction_of_its_power_warns_while_the_house_keeps_sinking() -> None:
    # a home held at 20 °C whose heat pump lost most of its power: the air sinks 1 °C/h,
    # and every 70 minutes what is left of the pump defrosts (the air dips 2 °C for ten
    # minutes and comes back); each dip is a step down that restarts the wait for a door, each
    # recovery a rise, and the last dip stays lower than the air since, so the fall was never
    # at its lowest; hours below the usual level, still sinking hour after hour, it is the
    # heat no longer keeping up (and a dip of minutes is not the lowest the fall held)
    model = replace(MODEL, level=20.0, band=0.3)
    memory = HeatingMemory(phase=HeatingPhase.WATCHING, model=model,
                           first_seen=START - 10 * 24 * 60 * MINUTE)
    readings = []
    for i in range(12 * 12):  # 12 hours, a reading every 5 minutes
        hours = i / 12
        value = 20.0 - 1.0 * max(0.0, hours - 1.0)
        if i % 14 in (12, 13):
            value -= 2.0  # a defrost
        readings.append(Reading("home", START + i * 5 * MINUTE, round(value, 2)))
    warned = None
    for i, r in enumerate(readings):
        history = [h for h in readings[: i + 1] if h.timestamp >= r.timestamp - 3 * 60 * MINUTE]
        outside = Outside(forecast=((r.timestamp, -12.0),))
        step = evaluate(memory, r, r.timestamp, history, outside)
        memory = step.memory
        if step.events and step.events[0].kind == "heating_failed":
            warned = (r.timestamp - START) / (60 * MINUTE)
            break
    assert warned is not None and warned < 6.0, warned


def test_a_frost_guards_second_reading_past_the_off_cycles_turn_warns_near_freezing() -> None:
    # a cabin held at 4 °C, its sensor every 5 minutes: the off-cycles fall from 5.1 °C at
    # 5.4 °C/h and turn by 3.6 °C; the last one never turned. It crosses the line (3.45 °C) at
    # 3.3 °C and reaches 3 °C ten minutes later: the second reading below the line, past the
    # turn, no quicker than the fall since the heater stopped, warns rather than a third
    cabin = replace(MODEL, level=4.0, band=0.25, cycles=500, cycle_pace=5.4, cycle_low=3.6)
    held = [4.0] * 6 + [4.6, 5.1, 4.7, 4.4, 4.1, 3.9, 3.7, 3.5]
    assert _fires_at(series([*held, 3.3, 3.2, 3.1, 2.9, 2.8]), cabin)[:1] == [3.2]
    # a door opened on the way down steepens the fall: not at the second reading (2.8 °C)
    assert _fires_at(series([*held, 3.3, 2.8, 2.7, 2.6, 2.5, 2.4]), cabin)[:1] == [2.7]
    # nor a defrost begun just above the line, though its dip slows by the second reading
    dip = [4.0] * 6 + [4.6, 5.1, 4.7, 4.4, 4.1, 3.95, 3.5, 3.3, 3.2, 3.1, 2.9]
    assert _fires_at(series(dip), cabin)[:1] == [3.1]
    # not yet past where the off-cycles turn (by their margin): the third reading
    assert _fires_at(series([*held, 3.4, 3.35, 3.1, 2.9, 2.8]), cabin)[:1] == [3.1]
    # a building whose heat modulates shows no turns to pass: the third reading
    modulating = replace(cabin, cycles=0)
    assert _fires_at(series([*held, 3.3, 3.2, 3.1, 2.9, 2.8]), modulating)[:1] == [3.1]


def test_a_house_sunk_past_the_off_cycles_turn_for_hours_warns_above_a_wide_bands_line() -> None:
    # a cellar held at 7.4 °C whose doors, left open now and then, took it 4 °C lower for
    # half an hour: its band is 4 °C, its line 3.1 °C. Its off-cycles never turned below
    # 6.8 °C. The heating fails and the air sinks 1 °C/h: three hours past the turn, each
    # hour lower than the last, it warns at 3.6 °C rather than after the line
    cellar = replace(MODEL, level=7.4, band=4.0, cycles=300, cycle_pace=5.0, cycle_low=6.8)
    every = [Reading("cellar", START + i * 10 * MINUTE, round(7.4 - max(0, i - 12) / 6, 2))
             for i in range(12 + 31)]
    assert _fires_at(every, cellar)[:1] == [3.57]
    # a building whose heat modulates shows no turns: after the line
    assert _fires_at(every, replace(cellar, cycles=0))[0] < 3.1
    # a door left open for half an hour goes as deep, and comes back
    door = [7.4] * 12 + [5.0, 3.5, 3.2, 3.4, 6.0, 7.2] + [7.4] * 30
    assert _fires_at(series(door), cellar) == []
    # the warning is over when the air is back above the turn, not at the wide band's floor
    back = [Reading("cellar", every[35].timestamp + i * 10 * MINUTE, v)
            for i, v in enumerate([5.0, 5.5, 6.0, 7.0], start=1)]
    memory = HeatingMemory(HeatingPhase.WATCHING, model=cellar, first_seen=START - 5 * DAY_MS)
    events = []
    readings = [*every[:36], *back]
    for i, r in enumerate(readings):
        step = evaluate(memory, r, r.timestamp, readings[:i + 1], Outside())
        events += [(e.kind, e.value) for e in step.events]
        memory = step.memory
    assert events == [("heating_failed", 3.57), ("heating_back", 7.0)]


def test_a_fall_back_from_a_gap_is_timed_from_the_first_reading_back() -> None:
    # a cellar held at 8 °C, its off-cycles turning by 7.5 °C, read every 10 minutes by a
    # noisy sensor; it is silent for 6 hours and comes back at 4.0 °C, falling 3 °C/h. The
    # fall began in the gap: its first reading back shows it, and its rate reads across the
    # gap (the window holds 20 minutes of readings, too few for a rate of their own)
    cellar = replace(MODEL, level=8.0, cycles=400, cycle_pace=6.0, cycle_low=7.5, noise=0.2)
    held = [Reading("cellar", START + i * 10 * MINUTE, 8.0) for i in range(24)]
    back_at = held[-1].timestamp + 6 * 60 * MINUTE
    back = [Reading("cellar", back_at + i * 10 * MINUTE, v)
            for i, v in enumerate([4.0, 3.5, 3.0, 2.5, 2.0, 1.5])]
    assert _fires_at([*held, *back], cellar)[:1] == [3.0]
    # a building whose heat modulates waits out the whole near-0 °C wait (25 minutes)
    assert _fires_at([*held, *back], replace(cellar, cycles=0))[:1] == [2.5]
    # back at the level after the gap, a door's quick fall is read as any other: its own pace
    # is a door's, not the gap's (read across the gap it would be slow enough to warn)
    door = [8.4, 8.5, 5.75, 3.9, 2.5, 1.8, 1.55, 1.3, 1.25, 1.3, 4.0, 5.6, 6.9, 7.7, 8.0]
    after = [Reading("cellar", back_at + i * 5 * MINUTE, v) for i, v in enumerate(door)]
    assert _fires_at([*held, *after], replace(cellar, noise=0.05)) == []


def test_a_dip_that_came_back_above_the_line_before_the_fall_is_no_rise_in_it() -> None:
    # a heat pump's home held at 8.5 °C (line 7.7 °C) read every 5 minutes: a defrost dips
    # the air to 6.0 °C and it comes back to 8.2 °C, a quarter hour later the heat fails and
    # the air falls 1.8 °C/h. The dip's recovery is no rise on the way down: the fall is
    # timed from the last reading back above the line, and warns within the hour rather
    # than when the dip leaves the three hours of history (3.25 °C, 2 h 40 min in)
    pump = replace(MODEL, level=8.5, band=0.5)
    values = [8.5] * 24 + [7.0, 6.0, 7.4, 8.2] + [8.2] * 3 + [
        round(8.2 - 0.15 * i, 2) for i in range(1, 40)]
    readings = [Reading("home", START + i * 5 * MINUTE, v) for i, v in enumerate(values)]
    assert _fires_at(readings, pump)[:1] == [6.25]


def test_a_coarse_sensors_reading_one_step_below_its_usual_low_is_not_below_the_line() -> None:
    # a home held at 20 °C by day, read every 5 minutes in 0.5 °C steps, its nights' low
    # 19.5 °C: a night set back a hair deeper reads 19.0 °C, one step below, and holds there;
    # the air may have moved by a hair. Below the line is a step more, as a failure's fall
    # soon shows (1.2 °C/h: warned at 18.5 °C, a quarter hour later than on the first step)
    home = replace(MODEL, level=20.0, band=0.5, resolution=0.5, noise=0.2)
    night = [21.5] * 12 + [21.0, 21.0, 20.5, 20.5, 20.0, 20.0, 20.0] + [19.5] * 4 + [19.0] * 14
    assert _fires_at(series(night), home) == []
    fall = [20.0] * 12 + [round((20.0 - 0.1 * i) * 2) / 2 for i in range(1, 60)]
    assert _fires_at(series(fall), home)[:1] == [18.5]
