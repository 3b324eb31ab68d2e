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
from typing import Any
from zoneinfo import ZoneInfo

from alerts.delivery import DeliveryError, Notifier, mark_chat_inactive
from alerts.machine import Transition, evaluate
from alerts.messages import TREND_WINDOW_MS, buttons, in_quiet_hours, render, trend_per_hour
from alerts.rules import Spec
from storage.base import Store
from storage.models import AlertRule, AlertState, ChatLink, Reading, Sensor

log = logging.getLogger("sensorbot.alerts")

LEASE_MS = 60_000
GIVE_UP_MS = 24 * 3_600_000  # an entry undeliverable for a day is dropped, loudly
UPDATE_TRIES = 5


@dataclass
class RuleBook:
    """The rules and states between cycles of one process, so a steady cycle costs only the
    latest-reading lookups. Conditional writes keep it honest: a lost race, a change made
    here (`invalidate`), or `refresh_ms` passing reloads it from storage."""

    refresh_ms: int = 600_000
    rules: list[AlertRule] | None = None
    loaded_at: int = 0
    generation: int = 0  # bumped by every invalidation, so a cycle never keeps a stale copy

    def invalidate(self) -> None:
        self.rules = None
        self.generation += 1

    def keep(self, rules: list[AlertRule] | None, generation: int) -> None:
        if generation == self.generation:
            self.rules = rules

    def fresh(self, now_ms: int) -> list[AlertRule] | None:
        if self.rules is None or now_ms - self.loaded_at >= self.refresh_ms:
            return None
        return self.rules


@dataclass
class CycleSummary:
    rules: int = 0
    transitions: int = 0
    delivered: int = 0
    failed: int = 0
    lost_races: int = 0

    def __str__(self) -> str:
        return (f"{self.rules} rules, {self.transitions} new transitions, {self.delivered} "
                f"messages delivered, {self.failed} failed (retried next cycle)")


@dataclass
class Cycle:
    store: Store
    notifier: Notifier
    now_ms: int
    default_zone: str = "UTC"
    rulebook: RuleBook = field(default_factory=RuleBook)
    worker: str = field(default_factory=lambda: secrets.token_hex(4))
    summary: CycleSummary = field(default_factory=CycleSummary)
    _chats: dict[str, list[ChatLink]] = field(default_factory=dict)
    _sensors: dict[str, dict[str, Sensor]] = field(default_factory=dict)

    async def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
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
            if current is not None and current.state.data.get("outbox"):
                current = await self.deliver(current)
        except Exception:
            log.exception("alert rule %s of %s failed this cycle", rule.rule_id, rule.user_id)
            self.summary.failed += 1
            return None
        return current

    # -- evaluation ---------------------------------------------------------------------

    async def evaluate(self, rule: AlertRule, latest: Reading | None) -> AlertRule | None:
        spec = Spec.from_dict(rule.spec)
        data = {k: v for k, v in rule.state.data.items() if k != "outbox"}
        step = evaluate(spec, rule.state.status, data, latest, self.now_ms)
        if step.needs is not None:
            step = evaluate(spec, rule.state.status, data, latest, self.now_ms,
                            await self.history(rule, *step.needs))
        if not step.changed_from(rule.state.status, data) and not step.transitions:
            return rule
        entries = [await self.entry(rule, spec, t) for t in step.transitions]
        outbox = rule.state.data.get("outbox", []) + entries
        stored = await self.call(self.store.update_alert_state, rule.user_id, rule.rule_id,
                                 AlertState(step.status, 0, {**step.data, "outbox": outbox}),
                                 expected_version=rule.state.version)
        if stored is None:  # changed meanwhile (a button, another cycle): next cycle decides
            self.summary.lost_races += 1
            return None
        self.summary.transitions += len(entries)
        return replace(rule, state=stored)

    async def history(self, rule: AlertRule, start: int, end: int) -> list[Reading]:
        readings = await self.call(self.store.read_range, rule.user_id, rule.sensor, start,
                                   end, now_ms=self.now_ms)
        before = await self.call(self.store.latest_reading, rule.user_id, rule.sensor,
                                 now_ms=self.now_ms, before_ms=start)
        return ([before] if before else []) + readings

    async def entry(self, rule: AlertRule, spec: Spec, transition: Transition) -> dict[str, Any]:
        trend = None
        if spec.kind != "stale" and transition.kind != "resolved":
            recent = await self.call(self.store.read_range, rule.user_id, rule.sensor,
                                     self.now_ms - TREND_WINDOW_MS, self.now_ms,
                                     now_ms=self.now_ms)
            per_hour = trend_per_hour(recent)
            trend = {"per_hour": per_hour} if per_hour is not None else None
        return {**transition.to_dict(), "id": secrets.token_hex(5), "trend": trend,
                "delivered": [], "claim": None}

    # -- delivery -----------------------------------------------------------------------

    async def deliver(self, rule: AlertRule) -> AlertRule | None:
        """Send the outbox; the rule as stored afterwards (None: unsure, reload it)."""
        known: AlertRule | None = rule
        for entry in list(rule.state.data.get("outbox", [])):
            current = await self.claim(rule, entry["id"])
            if current is None:
                known = None
                continue
            rule, entry = current
            rule = await self.send_entry(rule, entry)
            settled = await self.settle(rule, entry["id"])
            known = settled if known is not None else None
            rule = settled or rule
        return known

    async def claim(self, rule: AlertRule, entry_id: str
                    ) -> tuple[AlertRule, dict[str, Any]] | None:
        def take(entry: dict[str, Any]) -> bool:
            claim = entry.get("claim")
            if claim and claim["until"] > self.now_ms and claim["by"] != self.worker:
                return False
            entry["claim"] = {"by": self.worker, "until": self.now_ms + LEASE_MS}
            return True

        updated = await self.change_entry(rule, entry_id, take)
        if updated is None:
            return None
        entry = next(e for e in updated.state.data["outbox"] if e["id"] == entry_id)
        return updated, entry

    async def send_entry(self, rule: AlertRule, entry: dict[str, Any]) -> AlertRule:
        spec = Spec.from_dict(rule.spec)
        sensor = (await self.sensors(rule.user_id)).get(rule.sensor, Sensor(rule.sensor))
        for chat in await self.chats(rule.user_id):
            if chat.chat_id in entry["delivered"]:
                continue
            zone = ZoneInfo(chat.timezone or self.default_zone)
            text = render(spec, entry, sensor.display_name, sensor.unit, zone, self.now_ms)
            silent = not spec.always_rings and in_quiet_hours(chat.quiet_hours, self.now_ms,
                                                              zone)
            try:
                await self.notifier.send(chat.chat_id, text, buttons=buttons(
                    rule.rule_id, entry["kind"], entry.get("since")), silent=silent)
            except DeliveryError as error:
                if not error.permanent:
                    self.summary.failed += 1
                    log.warning("alert to chat %s failed, retried next cycle: %s", chat.chat_id,
                                error)
                    continue
                await self.deactivate(chat)
            else:
                self.summary.delivered += 1
            rule = await self.change_entry(rule, entry["id"], lambda e, c=chat.chat_id:
                                           _mark(e, c)) or rule
        return rule

    async def settle(self, rule: AlertRule, entry_id: str) -> AlertRule | None:
        """Drop the entry once every current chat has it, or when it is a day old."""
        chats = {c.chat_id for c in await self.chats(rule.user_id)}
        fresh = await self.reread(rule)
        if fresh is None:
            return None
        entry = next((e for e in fresh.state.data.get("outbox", []) if e["id"] == entry_id),
                     None)
        if entry is None:
            return fresh
        if not chats <= set(entry["delivered"]) and self.now_ms - entry["at"] < GIVE_UP_MS:
            # Some chat failed for now: let the next cycle, of any process, try it again.
            return await self.change_entry(fresh, entry_id, _release) or fresh
        if not chats <= set(entry["delivered"]):
            log.error("dropping an alert for %s undeliverable for a day", rule.rule_id)
        outbox = [e for e in fresh.state.data["outbox"] if e["id"] != entry_id]
        return await self.write(fresh, {**fresh.state.data, "outbox": outbox})

    async def change_entry(self, rule: AlertRule, entry_id: str,
                           change: Callable[[dict[str, Any]], bool | None]) -> AlertRule | None:
        """Apply `change` to one outbox entry with a conditional write, re-reading on a race."""
        for _ in range(UPDATE_TRIES):
            outbox = [dict(e) for e in rule.state.data.get("outbox", [])]
            entry = next((e for e in outbox if e["id"] == entry_id), None)
            if entry is None or change(entry) is False:
                return None
            written = await self.write(rule, {**rule.state.data, "outbox": outbox})
            if written is not None:
                return written
            fresh = await self.reread(rule)
            if fresh is None:
                return None
            rule = fresh
        return None

    async def write(self, rule: AlertRule, data: dict[str, Any]) -> AlertRule | None:
        stored = await self.call(self.store.update_alert_state, rule.user_id, rule.rule_id,
                                 AlertState(rule.state.status, 0, data),
                                 expected_version=rule.state.version)
        return replace(rule, state=stored) if stored is not None else None

    async def reread(self, rule: AlertRule) -> AlertRule | None:
        rules = await self.call(self.store.list_alert_rules, rule.user_id)
        return next((r for r in rules if r.rule_id == rule.rule_id), None)

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
        self._chats[chat.user_id] = [c for c in self._chats.get(chat.user_id, [])
                                     if c.chat_id != chat.chat_id]
        log.info("chat %s blocked the bot; marked inactive", chat.chat_id)


def _release(entry: dict[str, Any]) -> bool:
    entry["claim"] = None
    return True


def _mark(entry: dict[str, Any], chat_id: int) -> bool:
    if chat_id not in entry["delivered"]:
        entry["delivered"] = [*entry["delivered"], chat_id]
    return True


async def run_cycle(store: Store, notifier: Notifier, now_ms: int, *,
                    default_zone: str = "UTC", rulebook: RuleBook | None = None) -> CycleSummary:
    """Evaluate every rule once and deliver what is pending."""
    return await Cycle(store, notifier, now_ms, default_zone,
                       rulebook if rulebook is not None else RuleBook()).run()


