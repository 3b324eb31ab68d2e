"""Heating rules in the alert cycle, on every backend: what a cycle reads, what the watch is
handed (history, outdoor sensor, forecast), what reaches the outbox, snooze and quiet hours.
The watch here is a small deterministic fake (tests/support/heating_fakes.py); the watch itself
is tested beside it and end to end in test_heating_e2e.py."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from alerts import actions
from alerts.cycle import Cycle, RuleBook
from alerts.delivery import Notice
from alerts.forecast import Forecasts, OpenMeteo
from alerts.heating import HeatingMemory, HeatingModel, HeatingPhase
from alerts.heating_rule import dump_memory, load_memory, memory_of, watch_unit
from storage.models import (
    AlertRule,
    AlertState,
    AlertStatus,
    ChatLink,
    OutsideSettings,
    Reading,
    RuleKind,
    RuleSpec,
    TransitionKind,
)
from tests.support.common import NOW_MS
from tests.support.heating_fakes import FakeForecastServer, FakeWatch, use_fake_watch

MIN = 60_000
HOUR = 3_600_000


class Notices:
    def __init__(self) -> None:
        self.sent: list[Notice] = []

    async def send(self, notice: Notice) -> None:
        self.sent.append(notice)


class Counting:
    """The real store, counting the calls a cycle makes."""

    def __init__(self, store: Any) -> None:
        self._store, self.calls = store, []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return target(*args, **kwargs)

        return counted


@pytest.fixture
def store(make_store) -> Any:
    store = make_store()
    store.put_chat_link(ChatLink(1, "u1", NOW_MS, quiet_hours="00:00-23:59"))
    store.write_readings("u1", [Reading("attic", NOW_MS - i * 10 * MIN, 8.0)
                                for i in range(1, 18)], now_ms=NOW_MS)
    return store


@pytest.fixture
def watch(monkeypatch) -> FakeWatch:
    return use_fake_watch(monkeypatch)


@pytest.fixture
def server():
    server = FakeForecastServer()
    yield server
    server.close()


def heating_rule(store: Any) -> AlertRule:
    return actions.add_rule(store, "u1", "attic", RuleSpec(RuleKind.HEATING), now_ms=NOW_MS - HOUR)


def cycle(store: Any, at: int, **kwargs: Any) -> tuple[Notices, Any]:
    notices = Notices()
    summary = asyncio.run(Cycle(store, notices, at, **kwargs).run())
    return notices, summary


def test_a_new_watch_counts_the_history_the_sensor_already_has(store):
    rule = heating_rule(store)

    assert memory_of(rule.state).first_seen == NOW_MS - 17 * 10 * MIN


def assert_a_steady_cycle_reads_only_the_latest_readings(store) -> None:
    """After the watch has learned, a third cycle reads the latest readings and nothing more,
    and changes nothing."""
    heating_rule(store)
    cycle(store, NOW_MS)  # learns
    counting, book = Counting(store), RuleBook()
    cycle(counting, NOW_MS + 1000, rulebook=book)
    counting.calls.clear()

    _, summary = cycle(counting, NOW_MS + 2000, rulebook=book)

    assert counting.calls == ["latest_readings"]
    assert summary.rules == 1 and summary.transitions == 0


def test_a_steady_cycle_reads_only_the_latest_readings_and_writes_nothing(store, watch):
    assert_a_steady_cycle_reads_only_the_latest_readings(store)


def test_a_steady_cycle_of_a_fahrenheit_watch_reads_no_more(fahrenheit, watch):
    """The unit is kept in the rule's state: a steady cycle asks the store nothing more."""
    assert_a_steady_cycle_reads_only_the_latest_readings(fahrenheit)


def test_a_warning_with_an_outdoor_sensor_reads_its_unit_once_in_the_cycles_sensor_list(
        store, watch):
    """The cycle has the user's sensors (to see a unit changed) before it reads outside: the
    outdoor sensor's unit comes from that list, not one more read."""
    rule = heating_rule(store)
    store.put_outside_settings(OutsideSettings("u1", "garden", None, None))
    store.write_readings("u1", [Reading("garden", NOW_MS - i * 10 * MIN, 10.4)
                                for i in range(20)], now_ms=NOW_MS)
    store.update_sensor("u1", "garden", unit="°F", now_ms=NOW_MS)
    cycle(store, NOW_MS)
    store.write_readings("u1", [Reading("attic", NOW_MS + 10 * MIN, 4.5)], now_ms=NOW_MS)
    counting = Counting(store)

    notices, _ = cycle(counting, NOW_MS + 11 * MIN)

    assert [n.rule.rule_id for n in notices.sent] == [rule.rule_id]
    assert {round(r.value, 2) for r in watch.outsides[0].measured} == {-12.0}
    assert "get_sensor" not in counting.calls
    assert counting.calls.count("list_sensors") == 1


def test_a_failure_is_one_warning_with_its_prediction_and_always_rings(store, watch):
    rule = heating_rule(store)
    cycle(store, NOW_MS)
    store.write_readings("u1", [Reading("attic", NOW_MS + 10 * MIN, 4.5)], now_ms=NOW_MS)

    notices, _ = cycle(store, NOW_MS + 11 * MIN)
    later, _ = cycle(store, NOW_MS + 5 * HOUR)  # still cold: no reminder

    [warning] = notices.sent
    entry = warning.entry
    assert (entry.kind, entry.value, entry.trend_per_hour) == (TransitionKind.FIRED, 4.5, -0.7)
    assert entry.outlook is not None and entry.outlook.level == 8.0
    assert entry.outlook.eta_ms == NOW_MS + 11 * MIN + 11 * HOUR
    assert warning.silent is False  # quiet hours all day, and it rings
    assert later.sent == []
    stored = store.get_alert_rule("u1", rule.rule_id)
    assert stored.state.status is AlertStatus.FIRING and stored.state.outbox == ()
    assert memory_of(stored.state).phase is HeatingPhase.FIRING
    # the watch was handed the history of the range it asked for, with the reading before
    assert watch.histories[0][0].timestamp < NOW_MS + 11 * MIN - 3 * HOUR


def test_recovery_says_how_long_and_how_low(store, watch):
    heating_rule(store)
    cycle(store, NOW_MS)
    store.write_readings("u1", [Reading("attic", NOW_MS + 10 * MIN, 4.5)], now_ms=NOW_MS)
    cycle(store, NOW_MS + 11 * MIN)
    store.write_readings("u1", [Reading("attic", NOW_MS + 2 * HOUR, 3.9)], now_ms=NOW_MS)
    cycle(store, NOW_MS + 2 * HOUR + MIN)
    store.write_readings("u1", [Reading("attic", NOW_MS + 5 * HOUR, 8.1)], now_ms=NOW_MS)

    notices, _ = cycle(store, NOW_MS + 5 * HOUR + MIN)

    [back] = notices.sent
    assert (back.entry.kind, back.entry.value, back.entry.extreme) == \
        (TransitionKind.RESOLVED, 8.1, 3.9)
    assert back.entry.since is not None and back.entry.since < NOW_MS


def test_the_watch_gets_the_outdoor_sensor_and_the_forecast(store, watch, server):
    heating_rule(store)
    store.put_outside_settings(OutsideSettings("u1", "garden", 60.17, 24.94))
    store.write_readings("u1", [Reading("garden", NOW_MS - i * 10 * MIN, -12.0)
                                for i in range(20)], now_ms=NOW_MS)
    forecasts = Forecasts(OpenMeteo(server.base_url))
    cycle(store, NOW_MS, forecasts=forecasts)
    store.write_readings("u1", [Reading("attic", NOW_MS + 10 * MIN, 4.5)], now_ms=NOW_MS)

    notices, _ = cycle(store, NOW_MS + 11 * MIN, forecasts=forecasts)

    [outside] = watch.outsides
    assert [r.value for r in outside.measured] == [-12.0] * 17  # the three hours asked for
    assert len(outside.forecast) == 40 and len(server.requests) == 1
    outlook = notices.sent[0].entry.outlook
    assert (outlook.outside, outlook.outside_source) == (-15.5, "forecast")


def test_no_location_no_forecast_request(store, watch, server):
    heating_rule(store)
    store.put_outside_settings(OutsideSettings("u1", "garden"))
    forecasts = Forecasts(OpenMeteo(server.base_url))
    store.write_readings("u1", [Reading("attic", NOW_MS + 10 * MIN, 4.5)], now_ms=NOW_MS)

    notices, _ = cycle(store, NOW_MS + 11 * MIN, forecasts=forecasts)

    assert len(notices.sent) == 1
    assert server.requests == []


def test_a_warning_during_a_snooze_waits_for_its_end(store, watch):
    rule = heating_rule(store)
    cycle(store, NOW_MS)
    actions.snooze(store, [store.get_alert_rule("u1", rule.rule_id)], NOW_MS + 2 * HOUR)
    store.write_readings("u1", [Reading("attic", NOW_MS + 10 * MIN, 4.5)], now_ms=NOW_MS)

    during, _ = cycle(store, NOW_MS + 11 * MIN)
    still, _ = cycle(store, NOW_MS + HOUR)
    after, _ = cycle(store, NOW_MS + 2 * HOUR + MIN)

    assert during.sent == [] and still.sent == []
    [warning] = after.sent
    assert warning.entry.kind is TransitionKind.FIRED
    assert warning.entry.outlook.eta_ms == NOW_MS + 2 * HOUR + MIN + 11 * HOUR


def test_turned_down_ends_the_warning_without_a_recovery(store, watch):
    rule = heating_rule(store)
    cycle(store, NOW_MS)
    store.write_readings("u1", [Reading("attic", NOW_MS + 10 * MIN, 4.5)], now_ms=NOW_MS)
    cycle(store, NOW_MS + 11 * MIN)

    assert actions.heating_turned_down(store, "u1", rule.rule_id, now_ms=NOW_MS + 20 * MIN)
    store.write_readings("u1", [Reading("attic", NOW_MS + 30 * MIN, 4.0)], now_ms=NOW_MS)
    notices, _ = cycle(store, NOW_MS + 31 * MIN)

    assert notices.sent == []
    state = store.get_alert_rule("u1", rule.rule_id).state
    assert state.status is AlertStatus.OK
    assert memory_of(state).relearn_from == NOW_MS + 20 * MIN
    assert not actions.heating_turned_down(store, "u1", "r404", now_ms=NOW_MS)


def test_acknowledge_names_the_warnings_incident(store, watch):
    rule = heating_rule(store)
    cycle(store, NOW_MS)
    store.write_readings("u1", [Reading("attic", NOW_MS + 10 * MIN, 4.5)], now_ms=NOW_MS)
    notices, _ = cycle(store, NOW_MS + 11 * MIN)

    done = actions.acknowledge(store, "u1", rule.rule_id, notices.sent[0].entry.since, "Ann")

    assert done is actions.Acknowledged.DONE


def test_the_freeze_preset_keeps_its_heating_watch_and_what_it_learned(store, watch):
    rules, _ = actions.set_freeze(store, "u1", "attic", 3.0, now_ms=NOW_MS)
    cycle(store, NOW_MS)
    learned = memory_of(store.get_alert_rule("u1", rules[2].rule_id).state)

    again, replaced = actions.set_freeze(store, "u1", "attic", 5.0, now_ms=NOW_MS + MIN)

    kinds = sorted(r.spec.kind.value for r in store.list_alert_rules("u1"))
    assert kinds == ["below", "heating", "stale"] and replaced == 3
    assert again[2].rule_id == rules[2].rule_id
    assert learned.model is not None
    assert memory_of(store.get_alert_rule("u1", rules[2].rule_id).state) == learned


def test_a_memory_outlives_fields_added_and_removed():
    memory = HeatingMemory(HeatingPhase.WATCHING, first_seen=5)
    text = dump_memory(memory)

    assert load_memory(text) == memory
    assert load_memory(text.replace('"first_seen"', '"gone":1,"first_seen"')) == memory
    assert load_memory(None) == HeatingMemory()


def test_a_model_with_its_hours_of_the_day_loads_as_stored():
    hours = tuple(19.5 - (1.5 if h < 6 else 0.0) for h in range(24))
    model = HeatingModel(1, 20.0, 2.0, 30.0, 15.0, 55.0, 14.0, 3, hours=hours)
    memory = HeatingMemory(HeatingPhase.WATCHING, model=model, first_seen=5)

    assert load_memory(dump_memory(memory)) == memory
    assert load_memory(dump_memory(memory)).model.floor_at(12 * 3_600_000) == 19.5
    older = dump_memory(replace(memory, model=replace(model, hours=())))
    assert load_memory(older).model.floor_at(12 * 3_600_000) == 18.0


def test_an_old_state_without_a_memory_loads_unchanged(store):
    store.put_alert_rule(AlertRule("u1", "r9", "attic", RuleSpec(RuleKind.BELOW, 3), NOW_MS))
    firing = AlertState(AlertStatus.FIRING, since=NOW_MS, extreme=1.0)
    stored = store.update_alert_state("u1", "r9", firing, expected_version=0)

    assert stored is not None and stored.heating is None
    assert store.get_alert_rule("u1", "r9").state == replace(firing, version=1)


@pytest.fixture
def fahrenheit(store) -> Any:
    """The attic reports °F: 46.4 °F is the fake watch's usual 8 °C."""
    store.write_readings("u1", [Reading("attic", NOW_MS - i * 10 * MIN, 46.4)
                                for i in range(1, 18)], now_ms=NOW_MS)
    store.update_sensor("u1", "attic", unit="°F", now_ms=NOW_MS)
    return store


def test_a_fahrenheit_watch_is_handed_celsius_and_warns_in_fahrenheit(fahrenheit, watch,
                                                                      server):
    store = fahrenheit
    rule = heating_rule(store)
    store.put_outside_settings(OutsideSettings("u1", "garden", 60.17, 24.94))
    store.write_readings("u1", [Reading("garden", NOW_MS - i * 10 * MIN, 10.4)
                                for i in range(20)], now_ms=NOW_MS)
    store.update_sensor("u1", "garden", unit="°F", now_ms=NOW_MS)
    forecasts = Forecasts(OpenMeteo(server.base_url))
    cycle(store, NOW_MS, forecasts=forecasts)
    store.write_readings("u1", [Reading("attic", NOW_MS + 10 * MIN, 40.1)], now_ms=NOW_MS)

    notices, _ = cycle(store, NOW_MS + 11 * MIN, forecasts=forecasts)

    assert watch_unit(rule.state) == "°F"
    assert {round(r.value, 2) for r in watch.histories[0]} == {8.0, 4.5}
    assert {round(r.value, 2) for r in watch.outsides[0].measured} == {-12.0}
    [warning] = notices.sent
    entry = warning.entry
    assert entry.value == 40.1 and entry.trend_per_hour == pytest.approx(-1.26)
    assert entry.outlook.level == pytest.approx(46.4)
    assert entry.outlook.outside == pytest.approx(4.1)  # the forecast's −15.5 °C
    stored = store.get_alert_rule("u1", rule.rule_id)
    assert stored.state.extreme == pytest.approx(40.1)
    assert watch_unit(stored.state) == "°F"  # kept through the watch's steps


def test_a_unit_a_device_set_after_the_watch_learned_makes_it_learn_again(store, watch):
    rule = heating_rule(store)  # no unit yet: °C
    cycle(store, NOW_MS)
    assert memory_of(store.get_alert_rule("u1", rule.rule_id).state).model is not None
    store.update_sensor("u1", "attic", unit="°F", now_ms=NOW_MS)  # as a device's first report
    store.write_readings("u1", [Reading("attic", NOW_MS + 10 * MIN, 4.5)], now_ms=NOW_MS)

    notices, _ = cycle(store, NOW_MS + 11 * MIN)

    assert notices.sent == []
    stored = store.get_alert_rule("u1", rule.rule_id)
    memory = memory_of(stored.state)
    assert (memory.model, memory.phase, memory.first_seen) == (
        None, HeatingPhase.LEARNING, NOW_MS - 17 * 10 * MIN)
    assert watch_unit(stored.state) == "°F"


def test_unit_set_relearns_only_a_watch_whose_unit_changed(store, watch):
    rule = heating_rule(store)
    cycle(store, NOW_MS)

    assert actions.unit_set(store, "u1", "attic", "°C") == 0
    assert actions.unit_set(store, "u1", "attic", "°F") == 1
    assert actions.unit_set(store, "u1", "attic", "F") == 0

    stored = store.get_alert_rule("u1", rule.rule_id)
    assert memory_of(stored.state).model is None and watch_unit(stored.state) == "°F"
