"""The alert use-cases on every backend: rules replaced, acknowledged, snoozed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from alerts import actions
from alerts.rulebook import RuleBook
from alerts.rules import BadRule
from alerts.state import update_rule_state
from storage.models import AlertState, AlertStatus, Reading, RuleKind, RuleSpec, Sensor
from tests.support.common import NOW_MS


@pytest.fixture
def book() -> RuleBook:
    book = RuleBook()
    book.rules = []
    return book


def test_it_replaces_the_freeze_preset_instead_of_piling_it_up(store, book):
    actions.set_freeze(store, "u1", "attic", 3.0, now_ms=NOW_MS)
    other = actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.ABOVE, 30), now_ms=NOW_MS)
    rules, replaced = actions.set_freeze(store, "u1", "attic", 5.0, now_ms=NOW_MS,
                                         rulebook=book)

    kept = store.list_alert_rules("u1")
    assert replaced == 3  # below, no data, heating watch
    assert sorted(r.rule_id for r in kept) == sorted([other.rule_id, *(r.rule_id for r in rules)])
    assert [r.spec.threshold for r in kept if r.spec.kind is RuleKind.BELOW] == [5.0]
    assert book.rules is None  # the next cycle reloads


def test_a_sensor_gets_one_heating_watch_not_two_warnings_a_failure(store):
    watch = actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.HEATING), now_ms=NOW_MS)
    actions.add_rule(store, "u1", "cellar", RuleSpec(RuleKind.HEATING), now_ms=NOW_MS)

    with pytest.raises(actions.AlreadyWatched) as again:
        actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.HEATING), now_ms=NOW_MS)
    rules, _ = actions.set_freeze(store, "u1", "cellar", 3.0, now_ms=NOW_MS)
    with pytest.raises(actions.AlreadyWatched) as after_freeze:
        actions.add_rule(store, "u1", "cellar", RuleSpec(RuleKind.HEATING), now_ms=NOW_MS)

    assert again.value.rule.rule_id == watch.rule_id
    assert after_freeze.value.rule.rule_id == rules[2].rule_id
    kinds = [(r.sensor, r.spec.kind) for r in store.list_alert_rules("u1")]
    assert kinds.count(("attic", RuleKind.HEATING)) == 1
    assert kinds.count(("cellar", RuleKind.HEATING)) == 1


class StaleList:
    """A store whose rule list was read before another chat's write: the race of two
    `/alert attic heating` handled at once (two webhook Lambdas)."""

    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def list_alert_rules(self, user_id=None):
        return []


def test_two_heating_watches_added_at_once_leave_one(store):
    first = actions.add_rule(StaleList(store), "u1", "attic", RuleSpec(RuleKind.HEATING),
                             now_ms=NOW_MS)
    with pytest.raises(actions.AlreadyWatched) as second:
        actions.add_rule(StaleList(store), "u1", "attic", RuleSpec(RuleKind.HEATING),
                         now_ms=NOW_MS + 1)

    assert second.value.rule.rule_id == first.rule_id
    assert [r.rule_id for r in store.list_alert_rules("u1")] == [first.rule_id]


def test_a_heating_watch_whose_id_another_rule_holds_gets_a_random_one(store):
    watch = actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.HEATING), now_ms=NOW_MS)
    store.delete_alert_rule("u1", watch.rule_id)
    store.put_alert_rule(replace(watch, sensor="cellar", spec=RuleSpec(RuleKind.BELOW, 3)))

    again = actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.HEATING), now_ms=NOW_MS)

    assert again.rule_id != watch.rule_id
    assert {(r.sensor, r.spec.kind) for r in store.list_alert_rules("u1")} == {
        ("cellar", RuleKind.BELOW), ("attic", RuleKind.HEATING)}


def test_a_freeze_takes_over_the_sensors_own_heating_watch_with_what_it_learned(store):
    watch = actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.HEATING), now_ms=NOW_MS)
    update_rule_state(store, watch, lambda state: replace(
        state, status=AlertStatus.FIRING, since=NOW_MS - 3_600_000))

    rules, replaced = actions.set_freeze(store, "u1", "attic", 3.0, now_ms=NOW_MS)

    watches = [r for r in store.list_alert_rules("u1") if r.spec.kind is RuleKind.HEATING]
    assert [w.rule_id for w in watches] == [rules[2].rule_id]
    assert (watches[0].state.status, watches[0].state.since) == (AlertStatus.FIRING,
                                                                 NOW_MS - 3_600_000)
    assert watches[0].state.heating == watch.state.heating
    assert replaced == 0  # no freeze preset was there: the watch was taken over, not replaced


def test_it_refuses_a_rule_no_sensor_could_meet(store):
    with pytest.raises(BadRule):
        actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.BELOW, -1e6), now_ms=NOW_MS)
    assert store.list_alert_rules("u1") == []


def test_it_acknowledges_only_the_incident_the_button_names(store, book):
    rule = actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.BELOW, 3), now_ms=NOW_MS)
    firing = AlertState(AlertStatus.FIRING, since=NOW_MS - 1000, notified=True)
    store.update_alert_state("u1", rule.rule_id, firing, expected_version=0)

    old = actions.acknowledge(store, "u1", rule.rule_id, NOW_MS - 99_000, "Bob")
    done = actions.acknowledge(store, "u1", rule.rule_id, NOW_MS - 1000, "Ann", rulebook=book)
    gone = actions.acknowledge(store, "u1", "r404", NOW_MS - 1000, "Ann")

    assert (old, done, gone) == (actions.Acknowledged.OVER, actions.Acknowledged.DONE,
                                 actions.Acknowledged.GONE)
    assert store.get_alert_rule("u1", rule.rule_id).state.ack_by == "Ann"
    assert book.rules is None


def test_it_snoozes_and_lifts_the_snooze_even_after_a_lost_race(store):
    rule = actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.BELOW, 3), now_ms=NOW_MS)
    # The cycle wrote meanwhile: the copy the chat holds is one version behind.
    store.update_alert_state("u1", rule.rule_id, replace(rule.state, notified=True),
                             expected_version=0)

    assert actions.snooze(store, [rule], NOW_MS + 3_600_000) == 1
    snoozed = store.get_alert_rule("u1", rule.rule_id)
    assert snoozed.state.snoozed_until == NOW_MS + 3_600_000
    assert snoozed.state.notified is True  # the other writer's change survived
    assert actions.snooze(store, [snoozed], None) == 1
    assert store.get_alert_rule("u1", rule.rule_id).state.snoozed_until is None


def test_deleting_a_rule_says_whether_there_was_one(store, book):
    rule = actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.STALE, stale_s=60),
                            now_ms=NOW_MS)

    assert actions.delete_rule(store, "u1", rule.rule_id, rulebook=book) is True
    assert actions.delete_rule(store, "u1", rule.rule_id) is False
    assert book.rules is None


def test_a_chart_request_names_the_rules_sensor_with_its_name(store):
    rule = actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.BELOW, 3), now_ms=NOW_MS)
    assert actions.chart_request(store, "u1", rule.rule_id) == Sensor("attic")
    store.write_readings("u1", [Reading("attic", NOW_MS, 2.0)], now_ms=NOW_MS)
    store.update_sensor("u1", "attic", name="Attic", unit="°C", now_ms=NOW_MS)

    sensor = actions.chart_request(store, "u1", rule.rule_id)

    assert (sensor.sensor_id, sensor.name, sensor.unit) == ("attic", "Attic", "°C")
    assert actions.chart_request(store, "u2", rule.rule_id) is None


def test_an_acknowledge_that_loses_to_the_incidents_end_says_it_is_over(store):
    rule = actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.BELOW, 3), now_ms=NOW_MS)
    store.update_alert_state("u1", rule.rule_id, AlertState(AlertStatus.FIRING, since=NOW_MS),
                             expected_version=0)

    class ResolvesFirst:
        """The store, where the cycle resolves the incident just before the button's write."""

        def __getattr__(self, name: str):
            return getattr(store, name)

        def update_alert_state(self, user_id, rule_id, state, *, expected_version):
            current = store.get_alert_rule(user_id, rule_id).state
            if current.status is AlertStatus.FIRING:
                store.update_alert_state(user_id, rule_id, AlertState(),
                                         expected_version=current.version)
            return store.update_alert_state(user_id, rule_id, state,
                                            expected_version=expected_version)

    outcome = actions.acknowledge(ResolvesFirst(), "u1", rule.rule_id, NOW_MS, "Ann")

    assert outcome is actions.Acknowledged.OVER
    assert store.get_alert_rule("u1", rule.rule_id).state.ack_by is None


def run_at_once(count: int, work) -> list:
    """`work` in `count` threads released together, as webhook Lambdas handle one command."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    barrier = Barrier(count)

    def start(_: int):
        barrier.wait()
        return work()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(start, range(count)))


@pytest.mark.parametrize("threshold", [3.0, None])
def test_four_freezes_at_once_leave_the_presets_rules_once(racing_store, threshold):
    store = racing_store
    from alerts.rules import freeze_preset

    if threshold is None:  # a sensor that had the preset (of an older version's random ids)
        actions.set_freeze(store, "u1", "attic", 1.0, now_ms=NOW_MS)
        for rule in store.list_alert_rules("u1"):
            store.delete_alert_rule("u1", rule.rule_id)
            store.put_alert_rule(replace(rule, rule_id="r" + rule.rule_id[-6:]))
    run_at_once(4, lambda: actions.set_freeze(store, "u1", "attic", threshold or 3.0,
                                              now_ms=NOW_MS))

    kept = store.list_alert_rules("u1")
    assert sorted(r.spec.kind for r in kept) == sorted(s.kind for s in freeze_preset(3.0))
    assert [r.spec.threshold for r in kept if r.spec.kind is RuleKind.BELOW] == [3.0]


def test_freezes_of_two_thresholds_at_once_leave_one_set(racing_store):
    store = racing_store
    from alerts.rules import freeze_preset

    run_at_once(4, lambda: actions.set_freeze(store, "u1", "attic", 3.0, now_ms=NOW_MS))
    thresholds = iter([5.0, 6.0, 5.0, 6.0])
    run_at_once(4, lambda: actions.set_freeze(store, "u1", "attic", next(thresholds),
                                              now_ms=NOW_MS))

    kept = store.list_alert_rules("u1")
    assert len(kept) == len(freeze_preset())
    assert [r.spec.threshold for r in kept if r.spec.kind is RuleKind.BELOW] in ([5.0], [6.0])


def test_a_freeze_with_a_new_threshold_replaces_the_rules_under_the_same_ids(store):
    rules, _ = actions.set_freeze(store, "u1", "attic", 3.0, now_ms=NOW_MS)
    below = next(r for r in rules if r.spec.kind is RuleKind.BELOW)
    firing = AlertState(AlertStatus.FIRING, since=NOW_MS)
    stored = store.update_alert_state("u1", below.rule_id, firing, expected_version=0)

    moved, replaced = actions.set_freeze(store, "u1", "attic", 4.0, now_ms=NOW_MS + 2)

    assert [r.rule_id for r in moved] == [r.rule_id for r in rules]
    assert replaced == 3
    now = store.get_alert_rule("u1", below.rule_id)
    assert (now.spec.threshold, now.state.status) == (4.0, AlertStatus.OK)
    # the replaced rule's version moved on: a state read before cannot be written over it
    assert store.update_alert_state("u1", below.rule_id, firing,
                                    expected_version=stored.version) is None


def test_the_same_freeze_again_does_not_reset_a_firing_alert(store):
    rules, _ = actions.set_freeze(store, "u1", "attic", 3.0, now_ms=NOW_MS)
    below = next(r for r in rules if r.spec.kind is RuleKind.BELOW)
    store.update_alert_state("u1", below.rule_id, AlertState(AlertStatus.FIRING, since=NOW_MS),
                             expected_version=0)

    actions.set_freeze(store, "u1", "attic", 3.0, now_ms=NOW_MS + 1)

    assert store.get_alert_rule("u1", below.rule_id).state.status is AlertStatus.FIRING
def test_the_first_acknowledge_of_an_incident_stands(store):
    rule = actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.BELOW, 3), now_ms=NOW_MS)
    firing = AlertState(AlertStatus.FIRING, since=NOW_MS - 1000, notified=True,
                        messages=((1001, 7), (-7007, 8)))
    store.update_alert_state("u1", rule.rule_id, firing, expected_version=0)

    first = actions.acknowledge(store, "u1", rule.rule_id, NOW_MS - 1000, "Ann")
    second = actions.acknowledge(store, "u1", rule.rule_id, NOW_MS - 1000, "Ben")

    assert (first, second) == (actions.Acknowledged.DONE, actions.Acknowledged.ALREADY)
    state = store.get_alert_rule("u1", rule.rule_id).state
    assert state.ack_by == "Ann"
    assert state.messages == ((1001, 7), (-7007, 8))  # kept, on every backend
    assert state.without_incident().messages == ()
