"""One alert cycle: evaluate every rule, record transitions, deliver what is pending.

A transition is written into its rule's state (the outbox) by the same conditional update
that changes the state, so it is never lost. Delivery claims an outbox entry with a
conditional update (a lease), sends it to each active chat of the rule's user and marks each
chat delivered; a crash between a send and its mark resends to that chat once the lease ends.
Two cycles at once (a bot and a cron job) never both send: only one wins each claim.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from alerts import heating
from alerts.delivery import DeliveryError, Notice, Notifier, mark_chat_inactive, move_chat
from alerts.forecast import Forecasts
from alerts.heating_rule import (
    HeatingEvaluator,
    HeatingNotice,
    all_in_celsius,
    apply_step,
    deferred_warning,
    deferred_warning_due,
    in_celsius,
    memory_of,
    relearn_in,
    unit_changed,
    watch_unit,
)
from alerts.machine import Transition, evaluate
from alerts.outside import gather
from alerts.quiet import in_quiet_hours
from alerts.rulebook import RuleBook
from alerts.state import update_rule_state
from alerts.trend import TREND_WINDOW_MS, trend_per_hour
from core.formatting import plural
from storage.base import Store
from storage.models import (
    AlertRule,
    AlertState,
    ChatLink,
    Claim,
    OutboxEntry,
    OutsideSettings,
    Reading,
    RuleKind,
    Sensor,
    TransitionKind,
)

log = logging.getLogger("sensorbot.alerts")

LEASE_MS = 60_000
GIVE_UP_MS = 24 * 3_600_000  # an entry undeliverable for a day is dropped, loudly
T = TypeVar("T")

__all__ = ["LEASE_MS", "Cycle", "CycleSummary", "RuleBook", "run_cycle"]


@dataclass
class CycleSummary:
    rules: int = 0
    transitions: int = 0
    delivered: int = 0
    failed: int = 0
    lost_races: int = 0

    def __str__(self) -> str:
        return (f"{plural(self.rules, 'rule')}, {plural(self.transitions, 'new transition')}, "
                f"{plural(self.delivered, 'message')} delivered, {self.failed} failed "
                "(retried next cycle)")


@dataclass
class Cycle:
    store: Store
    notifier: Notifier
    now_ms: int
    default_zone: str = "UTC"
    rulebook: RuleBook = field(default_factory=RuleBook)
    worker: str = field(default_factory=lambda: secrets.token_hex(4))
    summary: CycleSummary = field(default_factory=CycleSummary)
    forecasts: Forecasts = field(default_factory=lambda: Forecasts(None))
    watch: HeatingEvaluator | None = None  # None: the heating watch itself (tests give a fake)
    _chats: dict[str, list[ChatLink]] = field(default_factory=dict)
    _outside: dict[str, OutsideSettings | None] = field(default_factory=dict)
    _sensors: dict[str, dict[str, Sensor]] = field(default_factory=dict)

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(lambda: function(*args, **kwargs))

    async def run(self) -> CycleSummary:
        generation = self.rulebook.generation
        rules = self.rulebook.fresh(self.now_ms)
        if rules is None:
            rules = await self.call(self.store.list_alert_rules)
            self.rulebook.loaded_at = self.now_ms
        keys = {(rule.user_id, rule.sensor) for rule in rules}
        latest = await self.call(self.store.latest_readings, keys, now_ms=self.now_ms)
        self.summary.rules = len(rules)
        kept: list[AlertRule] | None = []
        for rule in rules:
            current = await self.process(rule, latest.get((rule.user_id, rule.sensor)))
            if current is None or kept is None:
                kept = None  # something changed elsewhere: reload next cycle
            else:
                kept.append(current)
        self.rulebook.keep(kept, generation)
        return self.summary

    async def process(self, rule: AlertRule, latest: Reading | None) -> AlertRule | None:
        """One rule; its failure is logged and never stops the others."""
        try:
            current = await self.evaluate(rule, latest)
            if current is not None and current.state.outbox:
                current = await self.deliver(current)
        except Exception:
            log.exception("alert rule %s of %s failed this cycle", rule.rule_id, rule.user_id)
            self.summary.failed += 1
            return None
        return current

    # -- evaluation ---------------------------------------------------------------------

    async def evaluate(self, rule: AlertRule, latest: Reading | None) -> AlertRule | None:
        if rule.spec.kind is RuleKind.HEATING:
            return await self.evaluate_heating(rule, latest)
        step = evaluate(rule.spec, rule.state, latest, self.now_ms,
                        watched_since=rule.created)
        if step.needs is not None:
            step = evaluate(rule.spec, rule.state, latest, self.now_ms,
                            await self.history(rule, *step.needs), watched_since=rule.created)
        if not step.changed_from(rule.state) and not step.transitions:
            return rule
        entries = tuple([await self.entry(rule, t) for t in step.transitions])
        return await self.store_state(rule, step.state, entries)

    async def store_state(self, rule: AlertRule, state: AlertState,
                          entries: tuple[OutboxEntry, ...]) -> AlertRule | None:
        new = replace(state, outbox=rule.state.outbox + entries)
        stored = await self.call(self.store.update_alert_state, rule.user_id, rule.rule_id,
                                 new, expected_version=rule.state.version)
        if stored is None:  # changed meanwhile (a button, another cycle): next cycle decides
            self.summary.lost_races += 1
            return None
        self.summary.transitions += len(entries)
        return replace(rule, state=stored)

    async def evaluate_heating(self, rule: AlertRule, latest: Reading | None
                               ) -> AlertRule | None:
        """The heating watch: a steady cycle judges the latest reading and the memory alone;
        when the watch needs a range it gets the sensor's readings, the outdoor sensor's and
        the forecast. The watch sees °C: a °F sensor's readings are turned into °C here; when
        it reads the history it also checks the sensor's unit, and learns again after the
        unit changed."""
        memory = memory_of(rule.state)
        watch = self.watch or heating.evaluate
        unit = watch_unit(rule.state)
        seen = in_celsius(latest, unit)
        step = watch(memory, seen, self.now_ms, None, heating.Outside())
        outside = None
        if step.needs is not None:
            sensor = (await self.sensors(rule.user_id)).get(rule.sensor)
            if sensor is not None and unit_changed(rule.state, sensor.unit):
                log.info("heating rule %s: %s is now in %s; learning again", rule.rule_id,
                         rule.sensor, sensor.unit)
                return await self.store_state(rule, relearn_in(rule.state, sensor.unit), ())
            outside = await self.outside(rule.user_id, *step.needs)
            history = all_in_celsius(await self.history(rule, *step.needs), unit)
            step = watch(memory, seen, self.now_ms, history, outside)
            if step.needs is not None:
                log.warning("heating rule %s asked twice for history", rule.rule_id)
                return rule
        if step.memory == memory and not step.events and \
                not deferred_warning_due(rule.state, self.now_ms):
            return rule
        state, notices = apply_step(rule.state, step, self.now_ms)
        if deferred_warning_due(state, self.now_ms):
            state, notice = await self.deferred_warning(rule, state, latest, outside)
            notices.append(notice)
        entries = tuple(self.heating_entry(notice) for notice in notices)
        return await self.store_state(rule, state, entries)

    async def deferred_warning(self, rule: AlertRule, state: AlertState, latest: Reading | None,
                               outside: heating.Outside | None
                               ) -> tuple[AlertState, HeatingNotice]:
        """The snooze is over and the heating is still off: the warning, predicted afresh."""
        recent = all_in_celsius(
            await self.history(rule, self.now_ms - 3 * heating.HOUR_MS, self.now_ms),
            watch_unit(state))
        if outside is None:
            outside = await self.outside(rule.user_id, self.now_ms - 3 * heating.HOUR_MS,
                                         self.now_ms)
        prediction = heating.predict(memory_of(state), recent, self.now_ms, outside)
        return deferred_warning(state, latest, prediction, self.now_ms)

    def heating_entry(self, notice: HeatingNotice) -> OutboxEntry:
        return OutboxEntry(secrets.token_hex(5), notice.kind, self.now_ms, notice.value,
                           notice.reading_ts, notice.lowest, notice.since, notice.rate_per_h,
                           outlook=notice.outlook)

    async def outside(self, user_id: str, start: int, end: int) -> heating.Outside:
        if user_id not in self._outside:
            self._outside[user_id] = await self.call(self.store.get_outside_settings, user_id)
        # The user's sensors, when this cycle has them already: the outdoor sensor's unit is
        # then not read again.
        return await self.call(gather, self.store, self.forecasts, self._outside[user_id],
                               start, end, self.now_ms, self._sensors.get(user_id))

    async def history(self, rule: AlertRule, start: int, end: int) -> list[Reading]:
        readings = await self.call(self.store.read_range, rule.user_id, rule.sensor, start,
                                   end, now_ms=self.now_ms)
        before = await self.call(self.store.latest_reading, rule.user_id, rule.sensor,
                                 now_ms=self.now_ms, before_ms=start)
        return ([before] if before else []) + readings

    async def entry(self, rule: AlertRule, transition: Transition) -> OutboxEntry:
        trend = None
        if rule.spec.kind is not RuleKind.STALE and \
                transition.kind is not TransitionKind.RESOLVED:
            recent = await self.call(self.store.read_range, rule.user_id, rule.sensor,
                                     self.now_ms - TREND_WINDOW_MS, self.now_ms,
                                     now_ms=self.now_ms)
            trend = trend_per_hour(recent)
        return OutboxEntry(secrets.token_hex(5), transition.kind, transition.at,
                           transition.value, transition.reading_ts, transition.extreme,
                           transition.since, trend)

    # -- delivery -----------------------------------------------------------------------

    async def deliver(self, rule: AlertRule) -> AlertRule | None:
        """Send the outbox; the rule as stored afterwards (None: unsure, reload it)."""
        known: AlertRule | None = rule
        for waiting in rule.state.outbox:
            claimed = await self.claim(rule, waiting.entry_id)
            if claimed is None:
                known = None
                continue
            rule = await self.send_entry(claimed, waiting.entry_id)
            settled = await self.settle(rule, waiting.entry_id)
            known = settled if known is not None else None
            rule = settled or rule
        return known

    async def claim(self, rule: AlertRule, entry_id: str) -> AlertRule | None:
        def take(entry: OutboxEntry) -> OutboxEntry | None:
            claim = entry.claim
            if claim and claim.until > self.now_ms and claim.by != self.worker:
                return None
            return replace(entry, claim=Claim(self.worker, self.now_ms + LEASE_MS))

        return await self.change_entry(rule, entry_id, take)

    async def send_entry(self, rule: AlertRule, entry_id: str) -> AlertRule:
        sensor = (await self.sensors(rule.user_id)).get(rule.sensor, Sensor(rule.sensor))
        for chat in list(await self.chats(rule.user_id)):
            entry = rule.state.entry(entry_id)
            if entry is None or chat.chat_id in entry.delivered:
                continue
            settled, message = await self.send(rule, entry, sensor, chat)
            if settled:
                rule = await self.change_state(rule, partial(
                    _delivered, entry_id=entry_id, chat_id=chat.chat_id, message=message)) or rule
        return rule

    async def send(self, rule: AlertRule, entry: OutboxEntry, sensor: Sensor,
                   chat: ChatLink) -> tuple[bool, tuple[int, int] | None]:
        """One chat: whether it is settled for this entry (sent, or gone for good), and the
        (chat, message id) sent when known."""
        zone = ZoneInfo(chat.timezone or self.default_zone)
        silent = not rule.spec.always_rings and in_quiet_hours(chat.quiet_hours, self.now_ms,
                                                               zone)
        try:
            message_id = await self.notifier.send(Notice(chat, rule, entry, sensor, silent))
        except DeliveryError as error:
            if error.moved_to is not None:
                moved = await self.follow(chat, error.moved_to)
                return (True, None) if moved is None else \
                    await self.send(rule, entry, sensor, moved)
            if not error.permanent:
                self.summary.failed += 1
                log.warning("alert to chat %s failed, retried next cycle: %s", chat.chat_id,
                            error)
                return False, None
            await self.deactivate(chat)
            return True, None
        self.summary.delivered += 1
        return True, None if message_id is None else (chat.chat_id, message_id)

    async def settle(self, rule: AlertRule, entry_id: str) -> AlertRule | None:
        """Drop the entry once every current chat has it, or when it is a day old."""
        chats = {c.chat_id for c in await self.chats(rule.user_id)}
        fresh = await self.call(self.store.get_alert_rule, rule.user_id, rule.rule_id)
        entry = fresh.state.entry(entry_id) if fresh is not None else None
        if fresh is None or entry is None:
            return fresh
        undelivered = not chats <= set(entry.delivered)
        if undelivered and self.now_ms - entry.at < GIVE_UP_MS:
            # Some chat failed for now: let the next cycle, of any process, try it again.
            return await self.change_entry(fresh, entry_id,
                                           lambda e: replace(e, claim=None)) or fresh
        if undelivered:
            log.error("dropping an alert for %s undeliverable for a day", rule.rule_id)
        return await self.change_state(fresh, lambda state: replace(state, outbox=tuple(
            e for e in state.outbox if e.entry_id != entry_id)))

    async def change_entry(self, rule: AlertRule, entry_id: str,
                           change: Callable[[OutboxEntry], OutboxEntry | None]
                           ) -> AlertRule | None:
        """Apply `change` to one outbox entry with a conditional write, re-reading on a race."""
        def on_state(state: AlertState) -> AlertState | None:
            entry = state.entry(entry_id)
            changed = change(entry) if entry is not None else None
            if changed is None:
                return None
            return replace(state, outbox=tuple(changed if e.entry_id == entry_id else e
                                               for e in state.outbox))

        return await self.change_state(rule, on_state)

    async def change_state(self, rule: AlertRule,
                           change: Callable[[AlertState], AlertState | None]
                           ) -> AlertRule | None:
        return await self.call(update_rule_state, self.store, rule, change)

    async def chats(self, user_id: str) -> list[ChatLink]:
        if user_id not in self._chats:
            links = await self.call(self.store.chat_links_for_user, user_id)
            self._chats[user_id] = [link for link in links if link.active]
        return self._chats[user_id]

    async def sensors(self, user_id: str) -> dict[str, Sensor]:
        if user_id not in self._sensors:
            found = await self.call(self.store.list_sensors, user_id)
            self._sensors[user_id] = {s.sensor_id: s for s in found}
        return self._sensors[user_id]

    async def deactivate(self, chat: ChatLink) -> None:
        """The chat blocked the bot: no more attempts until it writes again."""
        await self.call(mark_chat_inactive, self.store, chat.chat_id, chat.user_id)
        self._forget(chat)
        log.info("chat %s blocked the bot; marked inactive", chat.chat_id)

    async def follow(self, chat: ChatLink, new_id: int) -> ChatLink | None:
        """The group became a supergroup: its link moves to the new id, which gets the alert."""
        moved = await self.call(move_chat, self.store, chat.chat_id, new_id)
        self._forget(chat)
        log.info("chat %s moved to %s; its link follows", chat.chat_id, new_id)
        return moved

    def _forget(self, chat: ChatLink) -> None:
        self._chats[chat.user_id] = [c for c in self._chats.get(chat.user_id, [])
                                     if c.chat_id != chat.chat_id]


def _delivered(state: AlertState, entry_id: str, chat_id: int,
               message: tuple[int, int] | None) -> AlertState | None:
    """The entry marked delivered to the chat; the message remembered while its incident
    lasts (a recovery has no buttons to update). None when the entry is gone."""
    entry = state.entry(entry_id)
    if entry is None:
        return None
    if chat_id not in entry.delivered:
        marked = replace(entry, delivered=(*entry.delivered, chat_id))
        state = replace(state, outbox=tuple(marked if e.entry_id == entry_id else e
                                            for e in state.outbox))
    if message is not None and entry.kind is not TransitionKind.RESOLVED and \
            entry.since is not None and entry.since == state.since:
        state = replace(state, messages=(
            *(m for m in state.messages if m[0] != message[0]), message))
    return state


async def run_cycle(store: Store, notifier: Notifier, now_ms: int, *,
                    default_zone: str = "UTC", rulebook: RuleBook | None = None,
                    forecasts: Forecasts | None = None) -> CycleSummary:
    """Evaluate every rule once and deliver what is pending."""
    return await Cycle(store, notifier, now_ms, default_zone,
                       rulebook if rulebook is not None else RuleBook(),
                       forecasts=forecasts if forecasts is not None else Forecasts(None)).run()
