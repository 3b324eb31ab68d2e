"""What a person does to alert rules: add, replace the freeze preset, delete, acknowledge,
snooze, ask for the chart. Each takes a Store (and `now_ms` where time matters), writes
through the one conditional-update loop, and tells the rulebook, so the next cycle sees the
change. Synchronous: callers on an event loop run them in a worker thread."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import replace
from enum import Enum

from alerts import heating
from alerts.forecast import Forecasts
from alerts.heating_rule import (
    all_in_celsius,
    dump_memory,
    memory_of,
    relearn_in,
    turn_down,
    unit_changed,
    watch_unit,
)
from alerts.outside import outside_for
from alerts.rulebook import RuleBook
from alerts.rules import check_rule, freeze_preset, is_freeze, preset_rule_id
from alerts.state import update_rule_state
from core.temperature import from_celsius
from storage.base import DeletionProgress, SensorDeletion, Store
from storage.errors import AlreadyExists
from storage.models import AlertRule, AlertState, AlertStatus, RuleKind, RuleSpec, Sensor

ID_TRIES = 5
COURSE_HISTORY_MS = 3 * 3_600_000  # the recent fall a heating chart's prediction starts from


class Acknowledged(Enum):
    DONE = "done"
    ALREADY = "already"  # someone acknowledged this incident first; their name stands
    OVER = "over"  # the incident the button named has ended (or another began)
    GONE = "gone"  # the rule was deleted
    FAILED = "failed"  # lost every race; try again


class AlreadyWatched(Exception):
    """The sensor has a heating watch already (`rule`): a second would warn twice a failure."""

    def __init__(self, rule: AlertRule) -> None:
        super().__init__(f"{rule.sensor} has a heating watch already ({rule.rule_id})")
        self.rule = rule


def add_rule(store: Store, user_id: str, sensor: str, spec: RuleSpec, *, now_ms: int,
             rulebook: RuleBook | None = None) -> AlertRule:
    """A new rule with a fresh short id (`r1a2b3`). Raises AlreadyWatched for a second
    heating watch on one sensor."""
    check_rule(spec)
    existing = store.list_alert_rules(user_id)
    watch = _heating_watch(existing, sensor)
    if spec.kind is RuleKind.HEATING and watch is not None:
        raise AlreadyWatched(watch)
    taken = {rule.rule_id for rule in existing}
    if spec.kind is RuleKind.HEATING:
        rule = _new_watch(store, user_id, sensor, spec, now_ms)
        if rule is not None:
            _changed(rulebook)
            return rule
    for _ in range(ID_TRIES):
        rule_id = "r" + secrets.token_hex(3)
        if rule_id in taken:
            continue
        rule = AlertRule(user_id, rule_id, sensor, spec, now_ms,
                         _first_state(store, user_id, sensor, spec, now_ms))
        try:
            store.put_alert_rule(rule)
        except AlreadyExists:
            continue
        _changed(rulebook)
        return rule
    raise AlreadyExists("no free rule id; try again")


def _new_watch(store: Store, user_id: str, sensor: str, spec: RuleSpec,
               now_ms: int) -> AlertRule | None:
    """The sensor's heating watch under an id derived from user and sensor, by a conditional
    write: two chats (or webhook Lambdas) adding it at once leave one, and the second is told
    it has one already. None in the rare case another rule holds that id: then a random one."""
    rule_id = "r" + hashlib.sha256(f"{user_id}\0{sensor}\0watch".encode()).hexdigest()[:6]
    rule = AlertRule(user_id, rule_id, sensor, spec, now_ms,
                     _first_state(store, user_id, sensor, spec, now_ms))
    try:
        store.put_alert_rule(rule)
    except AlreadyExists:
        stored = store.get_alert_rule(user_id, rule_id)
        if stored is not None and _heating_watch([stored], sensor) is not None:
            raise AlreadyWatched(stored) from None
        return None
    return rule


def _first_state(store: Store, user_id: str, sensor: str, spec: RuleSpec,
                 now_ms: int) -> AlertState:
    """A heating watch counts the history the sensor already has towards its learning, so a
    sensor with two weeks of readings is watched at once, not three days later."""
    if spec.kind is not RuleKind.HEATING:
        return AlertState()
    oldest = store.read_range(user_id, sensor, now_ms - heating.LEARN_DAYS * heating.DAY_MS,
                              now_ms, now_ms=now_ms, limit=1)
    first_seen = oldest[0].timestamp if oldest else None
    known = store.get_sensor(user_id, sensor)
    return AlertState(heating=dump_memory(heating.HeatingMemory(first_seen=first_seen),
                                          known.unit if known else None))


def set_freeze(store: Store, user_id: str, sensor: str, threshold: float, *, now_ms: int,
               rulebook: RuleBook | None = None) -> tuple[list[AlertRule], int]:
    """The freeze preset on a sensor, replacing the one it had: (its rules, how many rules of
    a freeze preset it replaced; a heating watch of the sensor's own, which it takes over, is
    not one of them: see `own_heating_watch`). Each rule's id derives from user, sensor and
    kind, and is written by a conditional write, so the same command run by several processes
    at once leaves one set; the same preset again keeps its rules' states (its heating watch
    what it learned). Written before the old ones (of an older version's random ids) are
    deleted, so the sensor is never unguarded."""
    specs = freeze_preset(threshold)
    existing = store.list_alert_rules(user_id)
    old = [r for r in existing if r.sensor == sensor and is_freeze(r)]
    # A heating watch of its own (`/alert attic heating`) joins the preset with what it
    # learned, rather than warn beside the preset's.
    own = _own_watch(existing, sensor)
    rules = [AlertRule(user_id, preset_rule_id(user_id, sensor, spec.kind), sensor, spec,
                       now_ms, replace(own.state, version=0)
                       if own is not None and spec.kind is RuleKind.HEATING
                       else _first_state(store, user_id, sensor, spec, now_ms))
             for spec in specs]
    for rule in rules:
        store.put_preset_rule(rule)
    kept = {rule.rule_id for rule in rules}
    for rule in [*old, *([own] if own is not None else [])]:
        if rule.rule_id not in kept:
            store.delete_alert_rule(user_id, rule.rule_id)
    _changed(rulebook)
    return rules, len(old)


def own_heating_watch(store: Store, user_id: str, sensor: str) -> AlertRule | None:
    """The sensor's heating watch of its own (`/alert attic heating`), which `/freeze` would
    take over with what it learned; None when it has none, or only a freeze preset's."""
    return _own_watch(store.list_alert_rules(user_id), sensor)


def _own_watch(rules: list[AlertRule], sensor: str) -> AlertRule | None:
    return _heating_watch([r for r in rules if not is_freeze(r)], sensor)


def _heating_watch(rules: list[AlertRule], sensor: str) -> AlertRule | None:
    return next((r for r in rules if r.sensor == sensor and r.spec.kind is RuleKind.HEATING),
                None)


def unit_set(store: Store, user_id: str, sensor: str, unit: str | None, *,
             rulebook: RuleBook | None = None) -> int:
    """The sensor's unit changed (/unit, the unit question): its heating watch, which learned
    in the other unit (°C or °F), learns again at once; how many watches that was."""
    relearned = 0
    for rule in store.list_alert_rules(user_id):
        if rule.sensor == sensor and rule.spec.kind is RuleKind.HEATING and \
                unit_changed(rule.state, unit):
            done = update_rule_state(store, rule, lambda state: relearn_in(state, unit)
                                     if unit_changed(state, unit) else None)
            relearned += done is not None
    if relearned:
        _changed(rulebook)
    return relearned


def heating_turned_down(store: Store, user_id: str, rule_id: str, *, now_ms: int,
                        rulebook: RuleBook | None = None) -> bool:
    """"I turned the heating down": no alert for this drop, the level relearned from now.
    False when the rule is gone or is not a heating watch."""
    rule = store.get_alert_rule(user_id, rule_id)
    if rule is None or rule.spec.kind is not RuleKind.HEATING:
        return False
    done = update_rule_state(store, rule,
                             lambda state: turn_down(state, heating.turned_down, now_ms))
    _changed(rulebook)
    return done is not None


def forget_sensor(store: Store, user_id: str, sensor: str, *,
                  rulebook: RuleBook | None = None,
                  progress: Callable[[DeletionProgress], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> SensorDeletion:
    """Delete a sensor with its rules and readings; the next cycle forgets its rules."""
    done = store.delete_sensor(user_id, sensor, progress=progress, should_stop=should_stop)
    _changed(rulebook)
    return done


def delete_rule(store: Store, user_id: str, rule_id: str, *,
                rulebook: RuleBook | None = None) -> bool:
    removed = store.delete_alert_rule(user_id, rule_id)
    _changed(rulebook)
    return removed


def acknowledge(store: Store, user_id: str, rule_id: str, incident: int, who: str, *,
                rulebook: RuleBook | None = None) -> Acknowledged:
    """Stop the reminders of the incident that began at `incident` (what the button names),
    so yesterday's button cannot silence today's alert."""
    rule = store.get_alert_rule(user_id, rule_id)
    if rule is None:
        return Acknowledged.GONE

    def current(state: AlertState) -> bool:
        return state.status is AlertStatus.FIRING and (state.since or 0) == incident

    def ack(state: AlertState) -> AlertState | None:
        if not current(state) or state.ack_by:
            return None
        return replace(state, ack_by=who)

    def judged(state: AlertState) -> Acknowledged:
        if not current(state):
            return Acknowledged.OVER
        return Acknowledged.ALREADY if state.ack_by else Acknowledged.FAILED

    if ack(rule.state) is None:
        return judged(rule.state)
    done = update_rule_state(store, rule, ack)
    _changed(rulebook)
    if done is not None:
        return Acknowledged.DONE
    # The cycle or another chat got there first: the incident may have ended meanwhile.
    fresh = store.get_alert_rule(user_id, rule_id)
    if fresh is None:
        return Acknowledged.GONE
    return judged(fresh.state)


def snooze(store: Store, rules: list[AlertRule], until_ms: int | None, *,
           rulebook: RuleBook | None = None) -> int:
    """Hold these rules' notices until `until_ms` (None: lift the snooze); how many changed."""
    changed = sum(
        update_rule_state(store, rule, lambda state: replace(state, snoozed_until=until_ms))
        is not None for rule in rules)
    _changed(rulebook)
    return changed


def heating_course(store: Store, forecasts: Forecasts, user_id: str, rule_id: str, *,
                   now_ms: int, until_ms: int) -> list[tuple[int, float, float, float]]:
    """What a firing heating watch expects after now, `(epoch ms, expected, low, high)`, for
    its chart; empty for any other rule, or one not firing."""
    rule = store.get_alert_rule(user_id, rule_id)
    if rule is None or rule.spec.kind is not RuleKind.HEATING or \
            rule.state.status is not AlertStatus.FIRING:
        return []
    start = now_ms - COURSE_HISTORY_MS
    unit = watch_unit(rule.state)
    recent = all_in_celsius(store.read_range(user_id, rule.sensor, start, now_ms, now_ms=now_ms),
                            unit)
    outside = outside_for(store, forecasts, user_id, start, now_ms, now_ms)
    return [(at, from_celsius(expected, unit), from_celsius(low, unit), from_celsius(high, unit))
            for at, expected, low, high in heating.curve(memory_of(rule.state), recent, now_ms,
                                                         until_ms, outside)]


def chart_request(store: Store, user_id: str, rule_id: str) -> Sensor | None:
    """The sensor a rule's Chart button draws: the registered one (with its name and unit),
    or the bare id while no reading has registered it; None when the rule is gone."""
    rule = store.get_alert_rule(user_id, rule_id)
    if rule is None:
        return None
    return store.get_sensor(user_id, rule.sensor) or Sensor(rule.sensor)


def _changed(rulebook: RuleBook | None) -> None:
    if rulebook is not None:
        rulebook.invalidate()
