"""The thermostat's off-cycles read from the history, and a fall read against them."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

from alerts.heating import HeatingMemory, HeatingPhase, Outside, evaluate, replay
from alerts.heating.cycles import off_cycles, with_cycles
from alerts.heating.model import DAY_MS
from alerts.heating.watch import like_off_cycle
from alerts.heating_rule import dump_memory, memory_of
from storage.codec import canonical
from storage.models import AlertRule, AlertState, AlertStatus, Reading, RuleKind, RuleSpec
from tests.alerts.test_heating import memory_after
from tests.alerts.test_heating_checks import MINUTE, MODEL, START, series
from tests.support.heating import Building, simulate


def cycling(days: int, minutes: int = 2) -> list[Reading]:
    """A light cabin's air under a thermostat: 10 minutes off falling 6.5 → 5.5 °C (6 °C/h),
    4 minutes on climbing back, read every `minutes`."""
    out: list[Reading] = []
    for i in range(days * 24 * 60 // minutes):
        m = (i * minutes) % 14
        value = 6.5 - 0.1 * m if m <= 10 else 5.5 + 0.25 * (m - 10)
        out.append(Reading("cabin", START + i * minutes * MINUTE, round(value, 2)))
    return out


def test_off_cycles_give_their_pace_and_where_they_turn() -> None:
    found = off_cycles(cycling(4), (), 0.02, 0.0)
    assert found.count > 300
    assert 5.5 <= found.pace <= 6.5
    assert 5.4 <= found.low <= 5.6
    assert found.rate == 0.0  # no outside reading: no pace per kelvin


def test_off_cycles_are_read_per_kelvin_above_the_outside_when_it_is_known() -> None:
    readings = cycling(4)
    outdoor = [Reading("out", r.timestamp, -14.0) for r in readings[::5]]
    found = off_cycles(readings, outdoor, 0.02, 0.0)
    assert 6.0 / 21.0 <= found.rate <= 6.5 / 20.0


def test_a_quick_sensors_noise_does_not_quicken_the_off_cycles_pace() -> None:
    rng = random.Random(1)
    noisy = [Reading(r.sensor, r.timestamp, round(r.value + rng.gauss(0, 0.1), 1))
             for r in cycling(4, minutes=1)]
    found = off_cycles(noisy, (), 0.1, 0.1)
    assert found.count > 300
    assert 5.5 <= found.pace <= 7.5  # not the 12 °C/h of two readings' noise apart


def test_a_heat_that_modulates_shows_no_off_cycles() -> None:
    rng = random.Random(4)
    steady = [Reading("floor", START + i * 5 * MINUTE, round(6.0 + rng.gauss(0, 0.05), 2))
              for i in range(4 * 288)]
    assert off_cycles(steady, (), 0.05, 0.0).count == 0
    model = with_cycles(MODEL, steady, ())
    assert model.cycles == 0 and model.cycle_pace == 0.0


def test_the_watch_learns_the_off_cycles_with_the_level() -> None:
    # a small building under an on/off thermostat: its off-cycles are read when it learns
    indoor, outdoor = simulate(Building(days=5, setpoint=6.0))
    model = memory_after(indoor, outdoor).model
    assert model is not None and model.cycles > 0
    assert model.cycle_pace > 0 and model.cycle_rate > 0  # the outdoor sensor is known
    assert model.level - 1.0 <= model.cycle_low <= model.level


CYCLING = replace(MODEL, cycles=400, cycle_pace=6.0, cycle_low=5.5)
NO_WIND = Outside()


def test_a_fall_at_the_off_cycles_pace_past_their_turn_is_one_that_never_ended() -> None:
    readings = series([6.0] * 6 + [5.5, 5.0, 4.5, 4.0])
    began = readings[5].timestamp
    assert like_off_cycle(CYCLING, readings, began, began + 5 * MINUTE, NO_WIND, 0.05)
    # not yet past where they turn
    assert not like_off_cycle(CYCLING, readings[:7], began, began + 5 * MINUTE, NO_WIND, 0.05)
    # a building whose heat modulates has no off-cycles to read it against
    assert not like_off_cycle(MODEL, readings, began, began + 5 * MINUTE, NO_WIND, 0.05)


def test_a_step_down_after_the_fall_began_is_a_door_not_an_off_cycle() -> None:
    # a house sagging below its level for an hour, then a door: the fall is known from the
    # door's step, not from where it left the level
    readings = series([6.0] * 6 + [5.8, 5.7, 5.6, 5.5, 5.4, 5.3, 5.2, 5.2, 4.6, 4.1, 3.7])
    began = readings[5].timestamp
    assert like_off_cycle(CYCLING, readings, began, readings[6].timestamp, NO_WIND, 0.05)
    assert not like_off_cycle(CYCLING, readings, began, readings[13].timestamp, NO_WIND, 0.05)


def test_a_fall_far_quicker_than_the_off_cycles_is_a_door() -> None:
    readings = series([6.0] * 6 + [4.5, 4.0, 3.8, 3.7])  # the air exchanged
    began, known = readings[5].timestamp, readings[6].timestamp
    assert not like_off_cycle(CYCLING, readings, began, known, NO_WIND, 0.05)


def test_the_off_cycles_pace_per_kelvin_follows_the_outside() -> None:
    readings = series([6.0] * 6 + [5.5, 5.0, 4.5, 4.0])  # 6 °C/h
    began = readings[5].timestamp
    per_kelvin = replace(CYCLING, cycle_rate=6.0 / 26.0)
    known = began + 5 * MINUTE
    assert like_off_cycle(per_kelvin, readings, began, known, Outside(forecast=((began, -20.0),)),
                          0.05)
    # far milder out than the off-cycles knew: the same pace is too quick for the heat to stop
    assert not like_off_cycle(per_kelvin, readings, began, known, Outside(forecast=((began, 0.0),)),
                              0.05)


def _fires_at(model_cycles: int, values: list[float]) -> list[float]:
    """The values at which `evaluate` fires, reading the fall one reading at a time."""
    model = replace(CYCLING, cycles=model_cycles, learned_at=START)
    readings = series(values)
    memory = HeatingMemory(HeatingPhase.WATCHING, model=model, first_seen=START - 5 * DAY_MS)
    fired: list[float] = []
    for i, r in enumerate(readings):
        outside = Outside(forecast=((r.timestamp, -20.0),))
        step = evaluate(memory, r, r.timestamp, readings[:i + 1], outside)
        fired += [e.value for e in step.events if e.kind == "heating_failed"]
        memory = step.memory
    return fired


def test_near_0_a_fall_like_an_off_cycle_that_never_ended_is_told_ten_minutes_sooner() -> None:
    fall = [6.0] * 24 + [5.5, 5.0, 4.5, 4.0, 3.6, 3.3, 3.1, 2.9, 2.7]
    assert _fires_at(400, fall) == [4.0]  # 15 minutes after the first reading of the fall
    assert _fires_at(0, fall) == [3.3]  # no off-cycles: the door's whole 25 minutes


def test_a_model_stored_before_off_cycles_were_learned_loads_without_them(store: Any) -> None:
    # the state as an older version stored it: a model with none of the off-cycle fields
    model = replace(CYCLING, cycles=0, cycle_pace=0.0, cycle_low=0.0)
    older = json.loads(dump_memory(HeatingMemory(HeatingPhase.WATCHING, model=model)))
    for name in ("cycles", "cycle_pace", "cycle_rate", "cycle_low"):
        del older["model"][name]
    store.put_alert_rule(AlertRule("u1", "r1", "cabin", RuleSpec(RuleKind.HEATING), START))
    state = AlertState(AlertStatus.OK, 0, heating=canonical(older))
    store.update_alert_state("u1", "r1", state, expected_version=0)

    loaded = memory_of(store.get_alert_rule("u1", "r1").state)
    assert loaded.model == model  # no off-cycles known: the watch waits as before
    readings = series([6.0] * 6 + [5.5, 5.0, 4.5, 4.0])
    assert not like_off_cycle(loaded.model, readings, readings[5].timestamp,
                              readings[6].timestamp, NO_WIND, 0.05)
    # and what this version learns is kept
    learned = HeatingMemory(HeatingPhase.WATCHING, model=CYCLING)
    store.update_alert_state("u1", "r1", replace(state, heating=dump_memory(learned)),
                             expected_version=1)
    assert memory_of(store.get_alert_rule("u1", "r1").state) == learned


def test_a_visits_off_cycles_do_not_fire_the_watch_when_the_cabin_falls_back_to_frost_guard(
) -> None:
    # a cabin held at 7 °C by a heat that modulates, then a week's visit at 20 °C under an
    # on/off thermostat (off-cycles 20.5 → 19.5 °C): when the visit ends the air falls back
    # to its frost guard at the building's unheated pace, past where the visit's off-cycles
    # turned, hours above the frost guard's line; those cycles say nothing of its turn
    rng = random.Random(6)
    values: list[float] = [round(7.0 + rng.gauss(0, 0.03), 2) for _ in range(6 * 288)]
    for i in range(7 * 288):
        m = (i * 2) % 14  # the off-cycle: 10 minutes off, 4 on, read every 5 minutes
        values.append(round(20.5 - 0.1 * m if m <= 10 else 19.5 + 0.25 * (m - 10), 2))
    air = 20.0
    for _ in range(2 * 288):  # τ 30 h towards -5 °C, the frost guard holding 7 °C
        air = max(7.0, air - (air + 5.0) * 5 / (30 * 60))
        values.append(round(air + rng.gauss(0, 0.03), 2))
    indoor = [Reading("cabin", START + i * 5 * MINUTE, v) for i, v in enumerate(values)]
    outdoor = [Reading("out", r.timestamp, -5.0) for r in indoor[::6]]
    events = list(replay(indoor, outdoor))
    assert not [e for e in events if e.kind == "heating_failed"]
