"""The pure state machine: examples, then properties over any readings and times."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.machine import Step, Transition, evaluate
from storage.models import AlertState, AlertStatus, Reading, RuleKind, RuleSpec, TransitionKind

OK, PENDING, FIRING = AlertStatus.OK, AlertStatus.PENDING, AlertStatus.FIRING
FIRED, REMINDER, RESOLVED = TransitionKind.FIRED, TransitionKind.REMINDER, TransitionKind.RESOLVED


def Spec(kind: str, *args: Any, **kwargs: Any) -> RuleSpec:
    return RuleSpec(RuleKind(kind), *args, **kwargs)


MIN = 60_000
T0 = 1_800_000_000_000
FREEZE = Spec("below", 3.0, for_s=600, clear=4.0, repeat_s=3600, preset="freeze")


@dataclass
class Sim:
    """Readings arrive; cycles run; the machine's state carries over like in storage."""

    spec: Spec
    readings: list[Reading] = field(default_factory=list)
    state: AlertState = field(default_factory=AlertState)
    sent: list[tuple[Transition, AlertState]] = field(default_factory=list)

    @property
    def status(self) -> AlertStatus:
        return self.state.status

    def add(self, minute: float, value: float) -> None:
        self.readings.append(Reading("attic", T0 + int(minute * MIN), value))

    def cycle(self, minute: float) -> list[str]:
        now = T0 + int(minute * MIN)
        visible = [r for r in self.readings if r.timestamp <= now]
        latest = max(visible, key=lambda r: r.timestamp, default=None)
        step = evaluate(self.spec, self.state, latest, now, watched_since=T0)
        if step.needs is not None:
            start, end = step.needs
            history = [r for r in visible if start <= r.timestamp <= end]
            before = [r for r in visible if r.timestamp < start]
            if before:
                history.append(max(before, key=lambda r: r.timestamp))
            step = evaluate(self.spec, self.state, latest, now, history, watched_since=T0)
            assert step.needs is None
        self.apply(step)
        return [t.kind for t in step.transitions]

    def apply(self, step: Step) -> None:
        for transition in step.transitions:
            self.sent.append((transition, self.state))
        self.state = step.state


def test_it_fires_once_the_cold_has_lasted_for_and_recovers_with_the_lowest_value():
    sim = Sim(FREEZE)
    for minute, value in [(0, 5), (1, 2.9), (5, 2.5), (11, 1.2)]:
        sim.add(minute, value)

    assert sim.cycle(5) == []
    assert sim.status == PENDING
    assert sim.cycle(11) == [FIRED]
    sim.add(20, 3.5)  # between threshold and clear: hysteresis, still firing
    assert sim.cycle(20) == []
    sim.add(30, 4.1)
    assert sim.cycle(30) == [RESOLVED]
    resolved = sim.sent[-1][0]
    assert resolved.extreme == 1.2
    assert resolved.since == T0 + MIN
    assert sim.status == OK


def test_backfilled_cold_readings_fire_at_once():
    sim = Sim(FREEZE)
    for minute in range(21):
        sim.add(minute, 1.0)

    assert sim.cycle(21) == [FIRED]


def test_it_reports_when_the_cold_began_not_the_rules_window():
    sim = Sim(FREEZE)
    for minute in range(0, 180, 5):  # cold for three hours before anyone asked
        sim.add(minute, 1.0)

    assert sim.cycle(180) == [FIRED]
    assert sim.sent[-1][0].since == T0


def test_a_sensor_reporting_every_20_minutes_still_fires():
    sim = Sim(FREEZE)
    sim.add(0, 2.0)
    assert sim.cycle(0) == []
    sim.add(20, 2.0)

    assert sim.cycle(20) == [FIRED]


def test_a_warm_reading_inside_the_for_period_restarts_it():
    sim = Sim(FREEZE)
    for minute, value in [(0, 2), (5, 3.2), (6, 2), (12, 2)]:
        sim.add(minute, value)

    assert sim.cycle(12) == []
    assert sim.status == PENDING
    assert sim.state.since == T0 + 6 * MIN


def test_reminders_come_every_repeat_until_acknowledged():
    sim = Sim(Spec("above", 30, repeat_s=1800))
    sim.add(0, 31)
    assert sim.cycle(0) == [FIRED]
    assert sim.cycle(29) == []
    assert sim.cycle(30) == [REMINDER]
    sim.state = replace(sim.state, ack_by="Alice")
    assert sim.cycle(90) == []
    sim.add(91, 28)
    assert sim.cycle(91) == [RESOLVED]


def test_a_snoozed_rule_stays_quiet_then_speaks_if_still_firing():
    sim = Sim(Spec("below", 3))
    sim.state = replace(sim.state, snoozed_until=T0 + 60 * MIN)
    sim.add(0, 1)
    assert sim.cycle(0) == []
    assert sim.status == FIRING
    assert sim.cycle(61) == [FIRED]


def test_an_incident_wholly_inside_a_snooze_sends_nothing():
    sim = Sim(Spec("below", 3))
    sim.state = replace(sim.state, snoozed_until=T0 + 60 * MIN)
    sim.add(0, 1)
    sim.cycle(0)
    sim.add(10, 5)

    assert sim.cycle(10) == []
    assert sim.status == OK


def test_stale_fires_after_the_silence_and_resolves_on_the_next_reading():
    sim = Sim(Spec("stale", stale_s=3600))
    sim.add(0, 1.9)
    assert sim.cycle(59) == []
    assert sim.cycle(60) == [FIRED]
    fired = sim.sent[-1][0]
    assert (fired.value, fired.since) == (1.9, T0)
    assert sim.cycle(90) == []
    sim.add(100, 2.0)
    assert sim.cycle(100) == [RESOLVED]


def test_a_stale_rule_on_a_sensor_without_any_data_fires_once_the_rule_has_waited():
    sim = Sim(Spec("stale", stale_s=600))  # made at T0, on a sensor that never reported

    assert sim.cycle(0) == []
    assert sim.cycle(9) == []
    assert sim.cycle(10) == [FIRED]
    assert sim.sent[-1][0].since == T0


# -- properties -----------------------------------------------------------------------------

specs = st.one_of(
    st.builds(Spec, kind=st.just("below"), threshold=st.just(3.0),
              for_s=st.sampled_from([0, 300, 600, 1200]), clear=st.sampled_from([None, 4.0, 5.0]),
              repeat_s=st.sampled_from([600, 3600])),
    st.builds(Spec, kind=st.just("above"), threshold=st.just(30.0),
              for_s=st.sampled_from([0, 600]), clear=st.sampled_from([None, 28.0]),
              repeat_s=st.sampled_from([600, 3600])),
)
events = st.lists(st.tuples(
    st.sampled_from(["reading", "reading", "reading", "cycle", "cycle", "ack", "snooze"]),
    st.integers(min_value=0, max_value=40),  # minutes since the previous event
    st.floats(min_value=-5, max_value=40, allow_nan=False),
), max_size=60)


@given(specs, events)
@settings(max_examples=1500, deadline=None)
def test_alerts_follow_the_lifecycle_for_any_readings_and_times(spec, script):
    sim = Sim(spec)
    minute = 0.0
    snoozed_until = 0
    acknowledged = False
    fired_in_incident = 0
    for action, gap, value in script:
        minute += gap
        now = T0 + int(minute * MIN)
        if action == "reading":
            sim.add(minute, value)
        elif action == "ack" and sim.status == FIRING:
            sim.state, acknowledged = replace(sim.state, ack_by="someone"), True
        elif action == "snooze":
            snoozed_until = now + 60 * MIN
            sim.state = replace(sim.state, snoozed_until=snoozed_until)
        elif action == "cycle":
            latest = max((r for r in sim.readings if r.timestamp <= now),
                         key=lambda r: r.timestamp, default=None)
            kinds = sim.cycle(minute)
            assert len(kinds) <= 1
            for kind in kinds:
                if kind == FIRED:
                    fired_in_incident += 1
                    assert fired_in_incident == 1, "one firing per incident"
                    assert latest is not None
                    assert now >= snoozed_until, "nothing while snoozed"
                    assert not spec.clears(latest.value) or spec.offends(latest.value)
                if kind == REMINDER:
                    assert fired_in_incident == 1
                    assert now >= snoozed_until and not acknowledged
                if kind == RESOLVED:
                    assert fired_in_incident == 1, "a resolve follows a fire"
                    assert latest is not None and spec.clears(latest.value), "hysteresis"
                    fired_in_incident, acknowledged = 0, False
            if sim.status == OK:
                fired_in_incident, acknowledged = 0, False
            if sim.status == FIRING and latest is not None and not kinds:
                assert not spec.clears(latest.value) or sim.status == FIRING
