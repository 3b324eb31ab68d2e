"""What handlers reach through `context`: the store, settings and clock, typed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from telegram.ext import Application, CallbackContext, ExtBot

from alerts.rulebook import RuleBook
from core.clock import wall_clock_ms
from core.config import Settings
from storage.base import Store
from storage.models import ChatLink

T = TypeVar("T")
GUARD_FREE_TRIES = 3
GUARD_MAX_WAIT_S = 3600


@dataclass
class LinkGuard:
    """Slows down guessing: after a few wrong tokens a chat waits, longer each time."""

    failures: dict[int, tuple[int, int]] = field(default_factory=dict)  # chat → (count, until)

    def wait_seconds(self, chat_id: int, now_ms: int) -> int:
        _, until = self.failures.get(chat_id, (0, 0))
        return max(0, -(-(until - now_ms) // 1000))

    def failed(self, chat_id: int, now_ms: int) -> None:
        count = self.failures.get(chat_id, (0, 0))[0] + 1
        wait_s = 0 if count < GUARD_FREE_TRIES else min(GUARD_MAX_WAIT_S,
                                                        10 * 2 ** (count - GUARD_FREE_TRIES))
        self.failures[chat_id] = (count, now_ms + wait_s * 1000)

    def succeeded(self, chat_id: int) -> None:
        self.failures.pop(chat_id, None)


@dataclass
class BotServices:
    store: Store
    settings: Settings
    clock_ms: Callable[[], int] = wall_clock_ms
    guard: LinkGuard = field(default_factory=LinkGuard)
    rulebook: RuleBook = field(default_factory=RuleBook)

    def rules_changed(self) -> None:
        """A rule or its state changed here: the alert cycle reloads them."""
        self.rulebook.invalidate()

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking call (storage, drawing) off the event loop."""
        return await asyncio.to_thread(partial(function, *args, **kwargs))

    def zone(self, link: ChatLink | None) -> ZoneInfo:
        return ZoneInfo((link and link.timezone) or self.settings.alerts.timezone)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.telegram.admins


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any],
                                 dict[Any, Any]]):
    @property
    def services(self) -> BotServices:
        return self.bot_data["services"]  # type: ignore[no-any-return]

    @classmethod
    def attach(cls, application: Application[Any, Any, Any, Any, Any, Any],
               services: BotServices) -> None:
        application.bot_data["services"] = services
