"""The cycle's delivery guarantees, against the real SQLite store and a recording notifier."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from alerts.cycle import LEASE_MS, Cycle, RuleBook
from alerts.delivery import DeliveryError, Notice
from storage.models import AlertRule, ChatLink, Reading, RuleKind, RuleSpec, TransitionKind
from storage.sqlite import SQLiteStore
from tests.support.common import NOW_MS


class Recorder:
    """Outermost I/O: records sends; can be slow, or crash after sending."""

    def __init__(self, *, delay: float = 0.0, crash_after_send: bool = False) -> None:
        self.sent: list[tuple[int, TransitionKind]] = []
        self.delay, self.crash_after_send = delay, crash_after_send

    async def send(self, notice: Notice) -> None:
        await asyncio.sleep(self.delay)
        self.sent.append((notice.chat.chat_id, notice.entry.kind))
        if self.crash_after_send:
            raise SystemExit("the process died right after sending")


@pytest.fixture
def store(make_store) -> SQLiteStore:
    """On SQLite and on DynamoDB (dynalite)."""
    store = make_store()
    store.put_alert_rule(AlertRule("u1", "r1", "attic", RuleSpec(RuleKind.BELOW, 3), NOW_MS))
    for chat in (1, 2):
        store.put_chat_link(ChatLink(chat, "u1", NOW_MS))
    store.write_readings("u1", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)
    return store


def test_two_cycles_at_once_send_each_alert_once_per_chat(store):
    notifier = Recorder(delay=0.05)

    async def both() -> None:
        await asyncio.gather(Cycle(store, notifier, NOW_MS).run(),
                             Cycle(store, notifier, NOW_MS).run())

    asyncio.run(both())
    asyncio.run(Cycle(store, notifier, NOW_MS + 1000).run())

    assert sorted(chat for chat, _ in notifier.sent) == [1, 2]
    assert store.list_alert_rules("u1")[0].state.outbox == ()


def test_a_crash_between_send_and_mark_resends_once_after_the_lease(store):
    with pytest.raises(SystemExit):
        asyncio.run(Cycle(store, Recorder(crash_after_send=True), NOW_MS).run())

    early, late = Recorder(), Recorder()
    asyncio.run(Cycle(store, early, NOW_MS + 1000).run())  # the lease still holds
    asyncio.run(Cycle(store, late, NOW_MS + LEASE_MS + 1000).run())
    asyncio.run(Cycle(store, late, NOW_MS + LEASE_MS + 2000).run())

    assert early.sent == []
    assert sorted(chat for chat, _ in late.sent) == [1, 2]


def test_a_transient_failure_is_retried_and_a_permanent_one_deactivates_the_chat(store):
    class Flaky(Recorder):
        async def send(self, notice: Notice) -> None:
            if notice.chat.chat_id == 1:
                raise DeliveryError("Forbidden: bot was blocked by the user", permanent=True)
            if not self.sent and not getattr(self, "failed_once", False):
                self.failed_once = True
                raise DeliveryError("timed out", permanent=False)
            await super().send(notice)

    notifier = Flaky()
    first = asyncio.run(Cycle(store, notifier, NOW_MS).run())
    second = asyncio.run(Cycle(store, notifier, NOW_MS + 1000).run())

    assert (first.failed, first.delivered) == (1, 0)
    assert second.delivered == 1
    assert [chat for chat, _ in notifier.sent] == [2]
    assert store.get_chat_link(1).active is False
    assert store.list_alert_rules("u1")[0].state.outbox == ()


def test_a_steady_cycle_writes_nothing(store):
    asyncio.run(Cycle(store, Recorder(), NOW_MS).run())
    version = store.list_alert_rules("u1")[0].state.version

    summary = asyncio.run(Cycle(store, Recorder(), NOW_MS + 1000).run())

    assert (summary.transitions, summary.delivered) == (0, 0)
    assert store.list_alert_rules("u1")[0].state.version == version


class Counting:
    """The real store, counting how often the rules are listed."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store, self.listings = store, 0

    def list_alert_rules(self, user_id: str | None = None) -> list:
        self.listings += 1
        return self._store.list_alert_rules(user_id)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def test_a_kept_rulebook_skips_listing_rules_until_something_changes(store):
    counting, book = Counting(store), RuleBook()
    asyncio.run(Cycle(counting, Recorder(), NOW_MS, rulebook=book).run())  # fires, delivers
    listed = counting.listings

    asyncio.run(Cycle(counting, Recorder(), NOW_MS + 1000, rulebook=book).run())
    steady = counting.listings - listed
    rule = store.list_alert_rules("u1")[0]
    store.update_alert_state("u1", "r1", replace(rule.state, ack_by="Bob"),
                             expected_version=rule.state.version)
    notifier = Recorder()
    asyncio.run(Cycle(counting, notifier, NOW_MS + 3_700_000, rulebook=book).run())
    asyncio.run(Cycle(counting, notifier, NOW_MS + 3_800_000, rulebook=book).run())

    assert steady == 0
    assert notifier.sent == []  # the acknowledgement made elsewhere was seen: no reminder


def test_a_rule_changed_during_a_cycle_is_not_forgotten(store):
    book = RuleBook()

    class AddsARule(Recorder):
        async def send(self, notice: Notice) -> None:
            if notice.chat.chat_id == 1:  # meanwhile, someone sends /alert in the chat
                store.put_alert_rule(AlertRule("u1", "r2", "attic",
                                               RuleSpec(RuleKind.BELOW, 5), NOW_MS))
                book.invalidate()
            await super().send(notice)

    first = asyncio.run(Cycle(store, AddsARule(), NOW_MS, rulebook=book).run())
    summary = asyncio.run(Cycle(store, Recorder(), NOW_MS + 1000, rulebook=book).run())

    assert (first.failed, summary.rules) == (0, 2)


def test_one_chats_unreadable_quiet_hours_block_nobody(store):
    store.put_chat_link(ChatLink(1, "u1", NOW_MS, quiet_hours="22:00Z-07:00"))
    notifier = Recorder()

    asyncio.run(Cycle(store, notifier, NOW_MS).run())

    assert sorted(chat for chat, _ in notifier.sent) == [1, 2]


def test_it_follows_a_group_that_became_a_supergroup(store):
    class Migrating(Recorder):
        async def send(self, notice: Notice) -> None:
            if notice.chat.chat_id == 1:
                raise DeliveryError("Group migrated to supergroup", permanent=False,
                                    moved_to=-1001)
            await super().send(notice)

    store.put_chat_link(ChatLink(1, "u1", NOW_MS, timezone="Europe/Helsinki"))
    notifier = Migrating()
    summary = asyncio.run(Cycle(store, notifier, NOW_MS).run())

    assert sorted(chat for chat, _ in notifier.sent) == [-1001, 2]
    assert summary.failed == 0
    assert store.get_chat_link(1) is None
    assert store.get_chat_link(-1001).timezone == "Europe/Helsinki"
    assert store.list_alert_rules("u1")[0].state.outbox == ()
