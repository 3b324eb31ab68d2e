"""The heating watch on a tiny simulated building: learning, firing, staying silent, predicting."""

from __future__ import annotations

import math
from dataclasses import replace

from alerts.heating import (
    DAY_MS,
    HOUR_MS,
    LEARN_DAYS,
    HeatingEvent,
    HeatingMemory,
    HeatingPhase,
    Outside,
    Prediction,
    curve,
    eta,
    evaluate,
    predict,
    replay,
    turned_down,
)
from alerts.heating.learn import DEEP_HOURS, cooling_episodes, deep_tau, learn
from storage.models import Reading
from tests.support.heating import HOUR, START, Building, first_at_or_below, simulate


def events_of(b: Building, with_outside: bool = True) -> list[HeatingEvent]:
    indoor, outdoor = simulate(b)
    return list(replay(indoor, outdoor if with_outside else ()))


def memory_after(indoor: list[Reading], outdoor: list[Reading]) -> HeatingMemory:
    """The memory the cycle would hold after these readings (the replay's loop, by hand)."""
    memory = HeatingMemory()
    for r in indoor:
        step = evaluate(memory, r, r.timestamp)
        if step.needs is not None:
            start, end = step.needs
            history = [x for x in indoor if start <= x.timestamp <= end]
            measured = tuple(x for x in outdoor if start <= x.timestamp <= end)
            step = evaluate(memory, r, r.timestamp, history, Outside(measured))
        memory = step.memory
    return memory


def test_learns_the_level_from_a_banded_thermostat() -> None:
    indoor, outdoor = simulate(Building(days=5, setpoint=8.0, hysteresis=0.7))
    model = learn(indoor, outdoor, indoor[-1].timestamp, None)
    assert model is not None
    assert 7.2 <= model.level <= 8.4
    assert model.level - model.band >= 6.5  # the band's low, not much below it
    assert 0.25 <= model.band <= 1.5


def test_fires_on_a_failure_within_two_hours_with_a_prediction() -> None:
    b = Building(days=6, fail_at=4.5 * 24)
    events = events_of(b)
    assert [e.kind for e in events] == ["heating_failed"]
    failed = events[0]
    assert START + b.fail_at * HOUR <= failed.at <= START + (b.fail_at + 2) * HOUR
    assert failed.level is not None and 7.0 <= failed.level <= 8.5
    assert failed.prediction is not None and failed.prediction.eta_ms is not None
    assert failed.prediction.eta_ms > failed.at
    assert failed.prediction.outside_source == "forecast"
    assert failed.since is not None and failed.since <= failed.at


def test_the_eta_range_holds_the_physics_truth() -> None:
    b = Building(days=7, fail_at=4.5 * 24, tau_h=30.0, outside=-12.0)
    failed = events_of(b)[0]
    truth = first_at_or_below(b, 0.0, b.fail_at or 0.0)
    p = failed.prediction
    assert truth is not None and p is not None
    assert p.eta_low_ms is not None and p.eta_high_ms is not None and p.eta_ms is not None
    assert p.eta_low_ms <= truth <= p.eta_high_ms
    left = truth - failed.at
    assert abs(p.eta_ms - truth) <= 0.6 * left  # the air's quick first drop pulls it early
    assert p.eta_ms <= truth


def test_silent_on_a_door_left_open_for_half_an_hour() -> None:
    b = Building(days=6, door=(4.5 * 24, 4.5 * 24 + 0.5), door_wide=20.0)
    indoor, _ = simulate(b)
    assert min(r.value for r in indoor) < 5.0  # a sharp drop, far below the usual level
    assert events_of(b) == []


def test_silent_when_a_visit_ends_down_to_frost_guard() -> None:
    assert events_of(Building(days=7, visit=(3.5 * 24, 5 * 24))) == []


def test_silent_over_a_gap_in_the_readings() -> None:
    assert events_of(Building(days=6, gap=(4 * 24, 4 * 24 + 6))) == []


def test_silent_on_sunny_afternoons_cooling_back() -> None:
    assert events_of(Building(days=7, sun=12.0)) == []


def test_silent_in_the_first_three_days() -> None:
    b = Building(days=2.9, fail_at=24.0)
    indoor, outdoor = simulate(b)
    assert list(replay(indoor, outdoor)) == []
    assert memory_after(indoor, outdoor).phase == HeatingPhase.LEARNING


def test_fires_once_and_recovers_once() -> None:
    b = Building(days=6, fail_at=4 * 24, repair_at=4 * 24 + 8)
    events = events_of(b)
    assert [e.kind for e in events] == ["heating_failed", "heating_back"]
    failed, back = events
    assert back.at > START + (b.repair_at or 0) * HOUR
    assert back.since == failed.since
    assert back.lowest is not None and back.lowest < failed.value < back.value


def test_turned_down_is_not_a_failure_and_the_level_is_relearned() -> None:
    hot, _ = simulate(Building(days=6, setpoint=15.0))
    cold, outdoor = simulate(Building(days=6, setpoint=6.0, seed=2))
    turn = START + 4 * DAY_MS
    indoor = [r for r in hot if r.timestamp < turn] + [r for r in cold if r.timestamp >= turn]
    memory = HeatingMemory()
    seen: list[HeatingEvent] = []
    for r in indoor:
        if r.timestamp >= turn and memory.relearn_from is None:
            memory = turned_down(memory, r.timestamp)
        step = evaluate(memory, r, r.timestamp)
        if step.needs is not None:
            history = [x for x in indoor if step.needs[0] <= x.timestamp <= step.needs[1]]
            step = evaluate(memory, r, r.timestamp, history, Outside(tuple(outdoor)))
        memory = step.memory
        seen.extend(step.events)
    assert seen == []
    assert memory.model is not None and memory.model.level < 7.0


def test_a_steady_cycle_reads_nothing_and_stores_nothing() -> None:
    indoor, outdoor = simulate(Building(days=5))
    memory = memory_after(indoor, outdoor)
    assert memory.phase == HeatingPhase.WATCHING and memory.model is not None
    at = memory.model.learned_at + HOUR_MS  # the model is fresh: learned within the day
    latest = Reading("attic", at, memory.model.level + 0.2)
    step = evaluate(memory, latest, latest.timestamp)
    assert step.needs is None and step.events == ()
    assert step.memory == memory


def test_relearning_asks_for_fourteen_days_at_most_daily() -> None:
    indoor, outdoor = simulate(Building(days=5))
    memory = memory_after(indoor, outdoor)
    assert memory.model is not None
    later = memory.model.learned_at + DAY_MS
    step = evaluate(memory, Reading("attic", later, memory.model.level), later)
    assert step.needs == (later - LEARN_DAYS * DAY_MS, later)


def test_prediction_with_and_without_outside_data() -> None:
    b = Building(days=6, fail_at=4.5 * 24, outside=-10.0)
    indoor, outdoor = simulate(b)
    memory = memory_after([r for r in indoor if r.timestamp < START + 4 * DAY_MS], outdoor)
    now = START + int((b.fail_at or 0) * HOUR) + 3 * HOUR_MS
    recent = [r for r in indoor if now - 3 * HOUR_MS <= r.timestamp <= now]
    measured = tuple(r for r in outdoor if now - 3 * HOUR_MS <= r.timestamp <= now)
    with_sensor = predict(memory, recent, now, Outside(measured))
    assert with_sensor.outside_source == "sensor" and with_sensor.outside is not None
    assert abs(with_sensor.outside + 10.0) < 0.5
    assert with_sensor.eta_ms is not None and with_sensor.eta_ms > now
    assert with_sensor.rate_per_h is not None and with_sensor.rate_per_h < 0
    forecast = tuple((now + h * HOUR_MS, -20.0) for h in range(1, 48))
    colder = predict(memory, recent, now, Outside(measured, forecast))
    assert colder.outside_source == "forecast"
    assert colder.eta_ms is not None and colder.eta_ms < with_sensor.eta_ms
    blind = predict(memory, recent, now)
    assert blind.outside is None and blind.outside_source is None
    if blind.eta_ms is not None:  # what the indoor curve alone supports
        assert blind.eta_low_ms is not None and blind.eta_high_ms is not None
        assert blind.eta_low_ms <= blind.eta_ms <= blind.eta_high_ms


def test_the_curve_falls_inside_its_band() -> None:
    b = Building(days=6, fail_at=4.5 * 24)
    indoor, outdoor = simulate(b)
    memory = memory_after([r for r in indoor if r.timestamp < START + 4 * DAY_MS], outdoor)
    now = START + int((b.fail_at or 0) * HOUR) + 2 * HOUR_MS
    recent = [r for r in indoor if now - 3 * HOUR_MS <= r.timestamp <= now]
    points = curve(memory, recent, now, now + 12 * HOUR_MS,
                   Outside(tuple(r for r in outdoor if r.timestamp <= now)))
    assert points and points[0][0] == now and points[-1][0] >= now + 12 * HOUR_MS
    assert all(low <= mid <= high for _, mid, low, high in points)
    assert points[-1][1] < points[0][1]


def test_no_reading_and_no_new_reading_change_nothing() -> None:
    memory = replace(HeatingMemory(), first_seen=START)
    assert evaluate(memory, None, START).memory == memory
    latest = Reading("attic", START, 8.0)
    step = evaluate(memory, latest, START + 60_000)
    assert step.needs is None and step.events == ()


def test_too_few_readings_to_learn_are_not_asked_for_every_cycle() -> None:
    sparse = [Reading("attic", START + i * 6 * HOUR_MS, 8.0) for i in range(16)]  # 4 a day
    memory = HeatingMemory()
    for r in sparse:
        memory = evaluate(memory, r, r.timestamp).memory
    latest = Reading("attic", sparse[-1].timestamp + 10 * 60_000, 8.0)
    first = evaluate(memory, latest, latest.timestamp)
    assert first.needs is not None
    answered = evaluate(memory, latest, latest.timestamp, sparse, Outside()).memory
    assert answered.model is None
    again = Reading("attic", latest.timestamp + 10 * 60_000, 8.0)
    assert evaluate(answered, again, again.timestamp).needs is None


def test_silent_on_heat_pump_defrost_dips() -> None:
    b = Building(days=6, defrost_every_min=120, defrost_min=25)
    indoor, _ = simulate(b)
    assert min(r.value for r in indoor) < 6.5  # each dip goes well below the usual level
    assert events_of(b) == []


def test_silent_when_the_weather_gets_colder_and_the_heater_holds() -> None:
    # from −2 °C to −20 °C over six days; the heater (40 K) holds 8 °C throughout
    assert events_of(Building(days=6, outside=-2.0, colder=3.0, power=40.0)) == []


def test_silent_when_a_heater_barely_keeps_up_on_a_cold_spell() -> None:
    # down to −26 °C with a heater holding 27 K: the air sags slowly below the usual level
    b = Building(days=6, outside=-2.0, colder=4.0, power=27.0)
    indoor, _ = simulate(b)
    assert min(r.value for r in indoor) < 6.0
    assert events_of(b) == []


def test_fires_without_outside_data_and_says_what_the_indoor_curve_supports() -> None:
    b = Building(days=6, fail_at=4.5 * 24)
    events = events_of(b, with_outside=False)
    assert [e.kind for e in events] == ["heating_failed"]
    p = events[0].prediction
    assert p is not None and p.outside is None and p.outside_source is None
    truth = first_at_or_below(b, 0.0, b.fail_at or 0.0)
    assert truth is not None and p.eta_ms is not None and p.eta_low_ms is not None
    assert p.eta_low_ms <= p.eta_ms <= truth  # early, never later than the truth


def test_fires_on_a_failure_read_by_a_coarse_half_degree_sensor() -> None:
    # a 0.5 °C sensor hops a whole step, up as often as down, however steadily the air falls
    b = Building(days=6, fail_at=4.5 * 24, step=0.5, noise=0.15, seed=3)
    indoor, outdoor = simulate(b)
    model = learn(indoor[: len(indoor) * 2 // 3], outdoor, START + 4 * DAY_MS, None)
    assert model is not None and model.resolution == 0.5
    events = list(replay(indoor, outdoor))
    assert [e.kind for e in events] == ["heating_failed"]
    at_3 = first_at_or_below(b, 3.0, b.fail_at or 0.0)
    assert at_3 is not None and events[0].at < at_3


def test_silent_when_a_holiday_of_most_of_the_days_ends_down_to_frost_guard() -> None:
    # nine of the last twelve days at 20 °C: the median day is the holiday's, not the level
    b = Building(days=13.5, setpoint=8.0, visit=(2.5 * 24, 11.6 * 24), sun=1.0)
    assert events_of(b) == []
    indoor, outdoor = simulate(b)
    model = learn(indoor, outdoor, indoor[-1].timestamp, None)
    assert model is not None and 7.0 <= model.level <= 8.5


def test_a_night_setback_does_not_slow_the_warning_by_day() -> None:
    # 2 °C down every night: the night's low is not the day's, so a fall by day is seen early
    b = Building(days=10, setpoint=20.0, setback=(23.0, 4.0, 2.0), hysteresis=0.3, outside=5.0,
                 tau_h=40.0, fail_at=8 * 24 + 14)
    events = events_of(b)
    assert [e.kind for e in events] == ["heating_failed"]
    assert events[0].at <= START + (8 * 24 + 14 + 1.25) * HOUR


def test_silent_through_the_nights_of_a_setback() -> None:
    b = Building(days=12, setpoint=20.0, setback=(23.0, 4.0, 2.0), hysteresis=0.3, outside=5.0,
                 tau_h=40.0, sun=2.0)
    assert events_of(b) == []


def test_a_setback_fall_is_read_after_the_thermostats_hold_and_the_airs_quick_drop() -> None:
    # 3 °C down every night in a 50 h house: the run of falling means starts with hours of the
    # thermostat's hold, then the air drops quickly towards the mass; neither is τ
    b = Building(days=5, setpoint=20.0, setback=(23.0, 4.0, 3.0), hysteresis=0.3, outside=0.0,
                 tau_h=50.0)
    indoor, outdoor = simulate(b)
    falls = cooling_episodes(indoor, outdoor)
    assert len(falls) >= 3
    assert all(40.0 <= tau <= 60.0 for tau, _ in falls), falls


def test_shallow_off_cycles_do_not_teach_a_tau_far_too_slow() -> None:
    # 1 °C down every night: the heater is back on before the fall says much, and such shallow
    # falls read slow; they weigh little against the prior
    b = Building(days=5, setpoint=20.0, setback=(23.0, 4.0, 1.0), hysteresis=0.3, outside=0.0,
                 tau_h=30.0)
    indoor, outdoor = simulate(b)
    model = learn(indoor, outdoor, indoor[-1].timestamp, None)
    assert model is not None and 20.0 <= model.tau_h <= 40.0, model
    # nor do they count as falls learned from: the ETA trusts the learned τ by that count
    assert model.cooling_episodes == 0


def test_deep_falls_count_as_falls_learned_from() -> None:
    b = Building(days=5, setpoint=20.0, setback=(23.0, 4.0, 3.0), hysteresis=0.3, outside=0.0,
                 tau_h=50.0)
    indoor, outdoor = simulate(b)
    model = learn(indoor, outdoor, indoor[-1].timestamp, None)
    assert model is not None and model.cooling_episodes >= 3


def test_a_visit_ending_teaches_the_buildings_own_tau_without_the_prior() -> None:
    # a light cabin (15 h) falls from a visit's 20 °C to its frost guard: hours of a deep fall,
    # whose τ is the building's own; blended with the 30 h prior it came out 21 h
    b = Building(days=6, setpoint=8.0, visit=(2.5 * 24, 4.0 * 24), tau_h=15.0, outside=-10.0)
    indoor, outdoor = simulate(b)
    model = learn(indoor, outdoor, indoor[-1].timestamp, None)
    assert model is not None and model.deep_hours >= DEEP_HOURS
    assert 13.0 <= model.deep_tau_h <= 17.0, model


def test_a_tau_from_deep_falls_is_kept_when_they_leave_the_fourteen_days() -> None:
    # the visit that showed τ ended more than 14 days ago: the building is the same
    b = Building(days=6, setpoint=8.0, visit=(2.5 * 24, 4.0 * 24), tau_h=15.0, outside=-10.0)
    indoor, outdoor = simulate(b)
    before = learn(indoor, outdoor, indoor[-1].timestamp, None)
    quiet, quiet_outdoor = simulate(Building(days=6, setpoint=8.0, tau_h=15.0, outside=-10.0))
    assert before is not None and before.deep_hours >= DEEP_HOURS
    fresh = learn(quiet, quiet_outdoor, quiet[-1].timestamp, None)
    assert fresh is not None and fresh.deep_hours == 0.0
    model = learn(quiet, quiet_outdoor, quiet[-1].timestamp, before)
    assert model is not None
    assert (model.deep_tau_h, model.deep_hours) == (before.deep_tau_h, before.deep_hours)


def _readings(values: list[float]) -> list[Reading]:
    """One reading every 5 minutes from START."""
    return [Reading("s", START + i * 5 * 60_000, round(v, 2)) for i, v in enumerate(values)]


def test_a_quick_step_the_heating_holds_is_not_a_deep_fall() -> None:
    # 3 °C down in 20 minutes, then held at the new level for 4 h: the part fitted barely falls
    # (read by the whole fall's depth it weighed 2.75 and taught τ = 150 h)
    values = ([21.0] * 24 + [21.0 - 0.75 * i for i in range(1, 5)]
              + [18.0 - 0.2 * i / 48 for i in range(48)] + [21.0] * 24)
    outside = _readings([-20.0] * len(values))
    assert deep_tau(cooling_episodes(_readings(values), outside, deep=True)) == (0.0, 0.0)


def test_a_fall_held_at_frost_guard_is_read_to_its_bottom() -> None:
    # a 20 h building falls from 21 °C towards −20 °C and is held at 8 °C for 6 h: read with the
    # hold, its τ came out 63 h
    fall = [-20.0 + 41.0 * math.exp(-i / 12 / 20.0) for i in range(1, 93)]
    values = [21.0] * 24 + [max(8.0, v) for v in fall] + [8.0] * 72
    outside = _readings([-20.0] * len(values))
    tau, hours = deep_tau(cooling_episodes(_readings(values), outside, deep=True))
    assert hours >= DEEP_HOURS and 18.0 <= tau <= 22.0


def test_a_noisy_sensor_gives_the_hours_of_the_day_more_room() -> None:
    def room_at_noon(noise: float) -> float:
        indoor, outdoor = simulate(Building(days=9, setpoint=20.0, setback=(23.0, 4.0, 2.0),
                                            hysteresis=0.3, outside=5.0, noise=noise))
        model = learn(indoor, outdoor, indoor[-1].timestamp, None)
        assert model is not None and len(model.hours) == 24
        return model.level - model.floor_at(START + 12 * HOUR)

    # a noisy sensor reads below its lowest hold now and then: its floor sits lower
    assert room_at_noon(0.15) >= room_at_noon(0.03) + 0.12


def test_the_hours_of_the_day_are_known_after_five_days() -> None:
    b = Building(days=8, setpoint=20.0, setback=(23.0, 4.0, 2.0), hysteresis=0.3, outside=5.0,
                 tau_h=40.0, fail_at=6 * 24 + 14)
    events = events_of(b)
    assert [e.kind for e in events] == ["heating_failed"]
    assert events[0].at <= START + (6 * 24 + 14 + 1.25) * HOUR


def test_a_heater_that_only_partly_fails_has_its_truth_in_the_range_once_the_fall_slows() -> None:
    # 30 % of a heater with 40 % to spare: the fall heads for −2.5 °C, not for −10 °C
    b = Building(days=8, fail_at=6.5 * 24, fail_power=0.3, power=25.0)
    indoor, outdoor = simulate(b)
    memory = memory_after([r for r in indoor if r.timestamp < START + 6 * DAY_MS], outdoor)
    truth = first_at_or_below(b, 0.0, b.fail_at or 0.0)
    assert truth is None or truth > START + 8 * DAY_MS  # it takes far longer than unheated
    now = START + int((b.fail_at or 0) * HOUR) + 2 * HOUR_MS
    recent = [r for r in indoor if now - 3 * HOUR_MS <= r.timestamp <= now]
    measured = tuple(r for r in outdoor if now - 3 * HOUR_MS <= r.timestamp <= now)
    p = predict(memory, recent, now, Outside(measured))
    assert p.eta_ms is not None and p.eta_low_ms is not None and p.eta_high_ms is not None
    unheated = 30.0 * math.log((7.0 + 10.0) / 10.0)  # h from 7 °C with τ = 30 h at −10 °C
    assert p.eta_high_ms - now > 2 * unheated * HOUR_MS  # the range reaches past unheated


def test_the_eta_is_never_later_than_the_truth_by_more_than_its_range_says() -> None:
    # the range's early end is at or before the truth, with and without outside data, in a
    # slow, a typical and a fast building (the air's quick first drop is in every fall)
    for tau_h, outside in ((45.0, -15.0), (30.0, -12.0), (15.0, -6.0)):
        b = Building(days=7, fail_at=4.5 * 24, tau_h=tau_h, outside=outside)
        truth = None
        for with_outside in (True, False):
            failed = events_of(b, with_outside)[0]
            truth = truth or first_at_or_below(b, 0.0, b.fail_at or 0.0)
            p = failed.prediction
            assert truth is not None and p is not None and p.eta_low_ms is not None
            assert p.eta_low_ms <= truth, (tau_h, with_outside)


def test_a_two_node_fall_is_read_past_the_airs_quick_first_drop() -> None:
    # the air drops 2 °C in its first 20 minutes (towards the building's mass), then cools with
    # τ = 30 h; a straight line through the first hour overstates the rate threefold
    b = Building(days=7, fail_at=4.5 * 24, tau_h=30.0, outside=-12.0)
    failed = events_of(b)[0]
    truth = first_at_or_below(b, 0.0, b.fail_at or 0.0)
    p = failed.prediction
    assert truth is not None and p is not None and p.eta_ms is not None
    assert abs(p.eta_ms - truth) <= 0.4 * (truth - failed.at)
    # and the range is as narrow as that supports: under the time left wide, the truth inside
    assert p.eta_low_ms is not None and p.eta_high_ms is not None
    assert p.eta_low_ms <= truth <= p.eta_high_ms
    assert p.eta_high_ms - p.eta_low_ms <= 1.0 * (truth - failed.at)


def test_a_coarse_sensors_steps_are_not_read_as_the_quick_drop_ending() -> None:
    # a 0.5 °C sensor's steps bend the fall as a knee would; read as one, the building's own
    # rate came out a tenth of the truth and the time to 0 °C more than half again too late
    b = Building(days=7, fail_at=4.5 * 24, tau_h=30.0, outside=-12.0, step=0.5, noise=0.15,
                 seed=3)
    failed = events_of(b)[0]
    truth = first_at_or_below(b, 0.0, b.fail_at or 0.0)
    p = failed.prediction
    assert truth is not None and p is not None and p.eta_ms is not None
    assert p.eta_ms <= truth


def test_a_tau_learned_wrong_from_many_falls_does_not_put_the_range_after_the_truth() -> None:
    # 80 h learned from 14 falls for a 30 h building: the fall itself still weighs 40 %
    b = Building(days=7, fail_at=4.5 * 24, tau_h=30.0, outside=-12.0)
    indoor, outdoor = simulate(b)
    memory = memory_after([r for r in indoor if r.timestamp < START + 4 * DAY_MS], outdoor)
    assert memory.model is not None
    wrong = replace(memory, model=replace(memory.model, tau_h=80.0, tau_low_h=50.0,
                                          tau_high_h=130.0, cooling_episodes=14))
    now = START + int((b.fail_at or 0) * HOUR) + HOUR_MS
    recent = [r for r in indoor if now - 3 * HOUR_MS <= r.timestamp <= now]
    measured = tuple(r for r in outdoor if now - 3 * HOUR_MS <= r.timestamp <= now)
    p = predict(wrong, recent, now, Outside(measured))
    truth = first_at_or_below(b, 0.0, b.fail_at or 0.0)
    assert truth is not None and p.eta_low_ms is not None
    assert p.eta_low_ms <= truth


def test_without_outside_data_the_chart_draws_what_the_message_says() -> None:
    b = Building(days=6, fail_at=4.5 * 24)
    indoor, outdoor = simulate(b)
    memory = memory_after([r for r in indoor if r.timestamp < START + 4 * DAY_MS], outdoor)
    now = START + int((b.fail_at or 0) * HOUR) + HOUR_MS
    recent = [r for r in indoor if now - 3 * HOUR_MS <= r.timestamp <= now]
    p = predict(memory, recent, now)
    points = curve(memory, recent, now, now + 48 * HOUR_MS)
    assert p.eta_ms is not None and p.eta_low_ms is not None and p.eta_high_ms is not None

    def reaches_zero(column: int) -> int:
        return next(int(point[0]) for point in points if point[column] <= 0.0)

    step = 15 * 60_000  # the chart's course is drawn every 15 minutes
    assert abs(reaches_zero(1) - p.eta_ms) <= step
    assert abs(reaches_zero(2) - p.eta_low_ms) <= step
    assert abs(reaches_zero(3) - p.eta_high_ms) <= step
    assert all(low <= mid <= high for _, mid, low, high in points)


def test_silent_on_a_door_opened_while_a_weak_heater_sags_on_a_cold_spell() -> None:
    # the heater barely keeps up, the air has sagged below the usual level for hours, then a
    # door is open 36 min: the wait for it to close is timed from its step down, not the sag's
    b = Building(days=6, outside=-2.0, colder=4.0, power=27.0, door=(5.7 * 24, 5.7 * 24 + 0.6))
    indoor, _ = simulate(b)
    assert min(r.value for r in indoor) < 5.0
    assert events_of(b) == []


def test_silent_on_a_door_left_open_for_45_minutes() -> None:
    b = Building(days=6, setpoint=20.0, outside=-6.0, power=34.0, door=(4.5 * 24, 4.5 * 24 + 0.75),
                 door_wide=20.0)
    indoor, _ = simulate(b)
    assert min(r.value for r in indoor) < 15.0
    assert events_of(b) == []


def test_silent_on_a_door_opened_in_a_gap_just_after_the_last_reading_at_the_level() -> None:
    # no readings for 20 min, the door opens 2 min into them and stays open 51 min: the wait is
    # timed from the first reading that shows the fall, not from the last one at the level
    t = 4.5 * 24
    b = Building(days=6, setpoint=20.0, outside=-6.0, power=34.0, gap=(t + 1 / 60, t + 20 / 60),
                 door=(t + 2 / 60, t + 2 / 60 + 0.85))
    indoor, _ = simulate(b)
    assert min(r.value for r in indoor) < 17.0
    assert events_of(b) == []


def test_silent_when_a_holiday_of_eleven_of_fourteen_days_ends_down_to_frost_guard() -> None:
    # the days before it, at frost guard, are too few to be the lower quarter of the days
    b = Building(days=16.5, setpoint=8.0, visit=(2.5 * 24, 13.6 * 24), sun=1.0)
    assert events_of(b) == []


def test_silent_on_a_door_whose_step_is_most_of_the_fall_below_a_sagging_level() -> None:
    # the sag is slow, the door's step is most of the drop: it is a step against the pace of
    # the rest of the fall (against the whole fall's mean pace, which it makes, it was not)
    b = Building(days=6, outside=-2.0, colder=2.0, power=27.0, door=(5.2 * 24, 5.2 * 24 + 0.7))
    indoor, _ = simulate(b)
    assert min(r.value for r in indoor) < 6.0
    assert events_of(b) == []


def _predicted_with_tau(b: Building, tau_h: float, falls: int, after_failure_min: int
                        ) -> tuple[Prediction, int, int]:
    """The prediction `after_failure_min` into the failure with τ learned as `tau_h` (its range
    ×0.7–1.4) from `falls` falls, the truth's time and now."""
    indoor, outdoor = simulate(b)
    memory = memory_after([r for r in indoor if r.timestamp < START + 4 * DAY_MS], outdoor)
    assert memory.model is not None
    learned = replace(memory, model=replace(memory.model, tau_h=tau_h, tau_low_h=0.7 * tau_h,
                                            tau_high_h=1.4 * tau_h, cooling_episodes=falls))
    now = START + int((b.fail_at or 0) * HOUR) + after_failure_min * 60_000
    recent = [r for r in indoor if now - 3 * HOUR_MS <= r.timestamp <= now]
    measured = tuple(r for r in outdoor if now - 3 * HOUR_MS <= r.timestamp <= now)
    truth = first_at_or_below(b, 0.0, b.fail_at or 0.0)
    assert truth is not None
    return predict(learned, recent, now, Outside(measured)), truth, now


def test_a_fall_read_as_two_nodes_outweighs_a_tau_learned_wrong_from_many_falls() -> None:
    # 80 h learned from 14 falls for a 30 h building: an hour in, the fall's own two nodes are
    # resolved and weigh 80 % (at 40 % the ETA came out 28 % of the time left too late)
    b = Building(days=7, fail_at=4.5 * 24, tau_h=30.0, outside=-12.0)
    p, truth, now = _predicted_with_tau(b, 80.0, 14, 60)
    assert p.eta_ms is not None
    assert p.eta_ms <= truth
    assert truth - p.eta_ms <= 0.3 * (truth - now)


def test_a_fall_still_in_its_quick_drop_keeps_the_learned_tau_in_its_range() -> None:
    # 40 min in, the last 45 min fall twice as fast as the last 90: the air's quick drop, not
    # yet the building's rate; the range reaches from that drop to the learned τ's slow end
    # (read from the drop alone, its late end was 4 % of the time left past the truth)
    b = Building(days=7, fail_at=4.5 * 24, tau_h=30.0, outside=-12.0)
    p, truth, now = _predicted_with_tau(b, 30.0, 5, 40)
    assert p.eta_low_ms is not None and p.eta_high_ms is not None
    assert p.eta_low_ms <= truth <= p.eta_high_ms
    assert p.eta_high_ms - truth >= 0.3 * (truth - now)
    # and a τ learned wrong (80 h) still leaves the range's early end before the truth
    wrong, _, _ = _predicted_with_tau(b, 80.0, 14, 40)
    assert wrong.eta_low_ms is not None and wrong.eta_low_ms <= truth


def test_a_fall_still_near_the_off_cycles_pace_is_read_as_mostly_their_quick_drop() -> None:
    # an off-cycle is the air's quick drop alone: a fall still as fast as the off-cycles fall
    # is mostly that drop, so the building's own τ is the more above what the fall shows
    b = Building(days=7, fail_at=4.5 * 24, tau_h=30.0, outside=-12.0)
    indoor, outdoor = simulate(b)
    memory = memory_after([r for r in indoor if r.timestamp < START + 4 * DAY_MS], outdoor)
    assert memory.model is not None
    now = START + int((b.fail_at or 0) * HOUR) + 60 * 60_000
    recent = [r for r in indoor if now - 3 * HOUR_MS <= r.timestamp <= now]
    measured = Outside(tuple(r for r in outdoor if now - 3 * HOUR_MS <= r.timestamp <= now))
    rate = eta.recent_rate(recent, now)
    assert rate is not None and rate < 0

    def predicted(cycles: int, pace: float) -> int:
        model = replace(memory.model, cycles=cycles, cycle_pace=pace)  # type: ignore[arg-type]
        p = predict(replace(memory, model=model), recent, now, measured)
        assert p.eta_ms is not None
        return p.eta_ms

    assert eta.quick_scale(None, rate) == eta.OBSERVED_SCALE
    far = replace(memory.model, cycles=50, cycle_pace=-20 * rate)
    near = replace(memory.model, cycles=50, cycle_pace=-rate)
    half = replace(memory.model, cycles=50, cycle_pace=-2 * rate)
    assert eta.quick_scale(far, rate) == eta.OBSERVED_SCALE  # the quick drop is over
    assert eta.quick_scale(near, rate) == eta.MOST_SCALE
    assert math.isclose(eta.quick_scale(half, rate), 1 + eta.PACE_SCALE / 2)
    assert eta.quick_scale(replace(far, cycles=0), rate) == eta.MODULATED_SCALE
    assert predicted(50, -20 * rate) < predicted(0, 0.0) < predicted(50, -rate)


def test_a_coarse_sensors_lull_and_a_tau_learned_too_slow_keep_the_early_end_first() -> None:
    # a 0.5 °C sensor can sit between two steps for most of 45 minutes; with 150 h learned from
    # 14 falls for a 30 h building, the range's early end came 57 % of the time left after the
    # truth; it now reaches the quickest τ the last 45 or 90 minutes show
    b = Building(days=7, fail_at=4.5 * 24, tau_h=30.0, outside=-12.0, step=0.5, noise=0.15,
                 seed=3)
    p, truth, _ = _predicted_with_tau(b, 150.0, 14, 90)
    assert p.eta_low_ms is not None and p.eta_low_ms <= truth


def _predicted_with_deep_tau(b: Building, deep_tau_h: float, after_failure_min: int
                             ) -> tuple[Prediction, int | None, int]:
    """The prediction `after_failure_min` into the failure with τ learned from deep falls as
    `deep_tau_h`, the truth's time (None: not within the run) and now."""
    indoor, outdoor = simulate(b)
    memory = memory_after([r for r in indoor if r.timestamp < START + 4 * DAY_MS], outdoor)
    assert memory.model is not None
    learned = replace(memory, model=replace(memory.model, deep_tau_h=deep_tau_h, deep_hours=5.0))
    now = START + int((b.fail_at or 0) * HOUR) + after_failure_min * 60_000
    recent = [r for r in indoor if now - 3 * HOUR_MS <= r.timestamp <= now]
    measured = tuple(r for r in outdoor if now - 3 * HOUR_MS <= r.timestamp <= now)
    return (predict(learned, recent, now, Outside(measured)),
            first_at_or_below(b, 0.0, b.fail_at or 0.0), now)


def test_a_tau_learned_from_deep_falls_sets_the_time_to_0() -> None:
    # a 45 h building an hour into its fall: with its own τ from deep falls weighing 80 % and no
    # early lean, the time is 15 % of the time left early (blended as other falls, 52 %)
    b = Building(days=7, fail_at=4.5 * 24, tau_h=45.0, outside=-15.0)
    p, truth, now = _predicted_with_deep_tau(b, 45.0, 60)
    assert truth is not None and p.eta_ms is not None
    assert p.eta_low_ms is not None and p.eta_high_ms is not None
    assert abs(p.eta_ms - truth) <= 0.25 * (truth - now)
    assert p.eta_low_ms <= truth <= p.eta_high_ms


def test_a_fall_far_slower_than_the_deep_falls_tau_is_not_judged_by_it() -> None:
    # 60 % of the heater left: the fall shows a τ past twice the building's own; judged by the
    # deep falls' τ the stated time was 24 h and the range ended at 42 h, where the fall's own
    # rate says about 50 h, 115 h at its slow end
    b = Building(days=8, fail_at=6.5 * 24, fail_power=0.6, power=25.0)
    p, _, now = _predicted_with_deep_tau(b, 30.0, 120)
    unheated = 30.0 * math.log((7.0 + 10.0) / 10.0)  # 16 h from 7 °C with τ = 30 h at −10 °C
    assert p.eta_ms is not None and p.eta_ms - now > 2 * unheated * HOUR_MS
    assert p.eta_high_ms is not None and p.eta_high_ms - now > 4 * unheated * HOUR_MS


def test_without_outside_data_a_fall_just_begun_keeps_the_early_end_first() -> None:
    # 20 min in, the last 90 minutes are mostly the level before the failure: their straight
    # line put the early end half the time left after the truth; the last 45 minutes' does not
    b = Building(days=7, fail_at=4.5 * 24, tau_h=15.0, outside=-6.0, setpoint=4.0)
    indoor, outdoor = simulate(b)
    memory = memory_after([r for r in indoor if r.timestamp < START + 4 * DAY_MS], outdoor)
    now = START + int((b.fail_at or 0) * HOUR) + 20 * 60_000
    recent = [r for r in indoor if now - 3 * HOUR_MS <= r.timestamp <= now]
    p = predict(memory, recent, now, Outside())
    truth = first_at_or_below(b, 0.0, b.fail_at or 0.0)
    assert truth is not None and p.eta_low_ms is not None and p.eta_ms is not None
    assert p.eta_low_ms <= truth


def test_silent_when_a_visit_in_the_first_days_ends_down_to_frost_guard() -> None:
    # three days of history, two of them a visit: its one day at frost guard is a quarter of
    # the days, enough to say the warm ones are a visit (two days are asked of a longer history)
    b = Building(days=4.5, setpoint=8.0, visit=(0.9 * 24, 3 * 24 + 1), sun=1.0)
    assert events_of(b) == []
    indoor, outdoor = simulate(b)
    upto = START + 3 * DAY_MS
    model = learn([r for r in indoor if r.timestamp <= upto], outdoor, upto, None)
    assert model is not None and 7.0 <= model.level <= 8.5


def events_with_forecast(b: Building) -> list[HeatingEvent]:
    """The events as the cycle sees them with a forecast at the location, no outdoor sensor."""
    indoor, _ = simulate(b)
    memory, events = HeatingMemory(), []
    for r in indoor:
        now = r.timestamp
        step = evaluate(memory, r, now)
        if step.needs is not None:
            start, end = step.needs
            forecast = tuple((now + h * HOUR, b.outside) for h in range(1, 49))
            history = [x for x in indoor if start <= x.timestamp <= min(end, now)]
            step = evaluate(memory, r, now, history, Outside((), forecast))
        memory = step.memory
        events += step.events
    return events


def test_silent_on_a_door_at_a_frost_guard_cabin_with_only_a_forecast() -> None:
    # wide open for 35 min at 6 °C: below 4.5 °C within minutes, far faster than unheated;
    # the forecast says how cold it is outside, as an outdoor sensor would
    b = Building(days=6, setpoint=6.0, door=(4.5 * 24, 4.5 * 24 + 35 / 60), door_wide=20.0)
    indoor, _ = simulate(b)
    assert min(r.value for r in indoor) < 3.0
    assert events_with_forecast(b) == []
    failed = Building(days=6, setpoint=6.0, fail_at=4.5 * 24)
    assert [e.kind for e in events_with_forecast(failed)] == ["heating_failed"]


def test_without_outside_data_a_fall_back_from_a_gap_is_timed_with_its_fall_across_it() -> None:
    # silent from an hour before the failure to 2.5 h after it: the few readings back show the
    # building's slow late fall, its quick start hidden in the gap; read from them alone the
    # time to 0 °C was 37 % late, with the fall across the gap 11 % early
    fail_at = 4.5 * 24
    b = Building(days=7, fail_at=fail_at, setpoint=7.0, outside=-6.0,
                 gap=(fail_at - 1.0, fail_at + 2.5))
    warned = [e for e in events_of(b, with_outside=False) if e.kind == "heating_failed"]
    truth = first_at_or_below(b, 0.0, fail_at)
    assert warned and truth is not None
    p = warned[0].prediction
    assert p is not None and p.eta_ms is not None
    assert p.eta_low_ms is not None and p.eta_high_ms is not None
    assert abs(p.eta_ms - truth) <= 0.25 * (truth - warned[0].at)
    assert p.eta_low_ms <= truth <= p.eta_high_ms
    # the current fall it states is the readings' own, not the gap's
    assert p.rate_per_h is not None and p.rate_per_h > -0.4
