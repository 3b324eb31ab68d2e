"""What handlers reach through `context`: the store, settings and clock, typed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from telegram.ext import Application, CallbackContext, ExtBot

from alerts.forecast import Forecasts, forecasts_from
from alerts.rulebook import RuleBook
from core.clock import wall_clock_ms
from core.config import Settings
from storage.base import Store
from storage.models import ChatLink

T = TypeVar("T")
GUARD_FREE_TRIES = 3
GUARD_MAX_WAIT_S = 3600


# matplotlib is not thread-safe, and every thread that draws keeps fonts and a heap arena of
# its own (+10 MB over a few charts): charts are drawn one at a time on this one thread.
CHARTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charts")

GuardKey = tuple[str, int]  # ("chat", chat id) or ("user", Telegram user id)


@dataclass
class LinkGuard:
    """Slows down guessing: after a few wrong tokens a chat, and the Telegram user who sent
    them, wait, longer each time — so hopping between group chats does not reset the count."""

    failures: dict[GuardKey, tuple[int, int]] = field(default_factory=dict)  # → (count, until)

    @staticmethod
    def keys(chat_id: int, user_id: int | None) -> list[GuardKey]:
        return [("chat", chat_id)] + ([("user", user_id)] if user_id is not None else [])

    def wait_seconds(self, chat_id: int, user_id: int | None, now_ms: int) -> int:
        until = max(self.failures.get(key, (0, 0))[1] for key in self.keys(chat_id, user_id))
        return max(0, -(-(until - now_ms) // 1000))

    def failed(self, chat_id: int, user_id: int | None, now_ms: int) -> None:
        for key in self.keys(chat_id, user_id):
            count = self.failures.get(key, (0, 0))[0] + 1
            wait_s = 0 if count < GUARD_FREE_TRIES else min(GUARD_MAX_WAIT_S,
                                                            10 * 2 ** (count - GUARD_FREE_TRIES))
            self.failures[key] = (count, now_ms + wait_s * 1000)

    def succeeded(self, chat_id: int, user_id: int | None) -> None:
        for key in self.keys(chat_id, user_id):
            self.failures.pop(key, None)


@dataclass(frozen=True)
class Pick:
    """A sensor chosen with a button after an ambiguous name: the command runs again with
    these words, and `query` (its sensor words) now means `sensor_id`."""

    words: list[str]
    query: str
    sensor_id: str


@dataclass
class BotServices:
    store: Store
    settings: Settings
    clock_ms: Callable[[], int] = wall_clock_ms
    guard: LinkGuard = field(default_factory=LinkGuard)
    rulebook: RuleBook = field(default_factory=RuleBook)
    forecast_cache: Forecasts | None = None  # built from [forecast] on first use

    @property
    def forecasts(self) -> Forecasts:
        """The process's forecasts, shared by the alert cycle and the charts."""
        if self.forecast_cache is None:
            wanted = self.settings.forecast
            self.forecast_cache = forecasts_from(wanted.provider, wanted.base_url,
                                                 wanted.timeout_seconds)
        return self.forecast_cache

    def rules_changed(self) -> None:
        """A rule or its state changed here: the alert cycle reloads them."""
        self.rulebook.invalidate()

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking call (storage, drawing) off the event loop."""
        return await asyncio.to_thread(partial(function, *args, **kwargs))

    async def draw(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A chart drawn off the event loop, on the charts' thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(CHARTS, partial(function, *args, **kwargs))

    def zone(self, link: ChatLink | None) -> ZoneInfo:
        return ZoneInfo((link and link.timezone) or self.settings.alerts.timezone)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.settings.telegram.admins


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any],
                                 dict[Any, Any]]):
    __slots__ = ("pick",)

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application, chat_id, user_id)
        self.pick: Pick | None = None

    @property
    def services(self) -> BotServices:
        services: BotServices = self.bot_data["services"]
        return services

    @classmethod
    def attach(cls, application: Application[Any, Any, Any, Any, Any, Any],
               services: BotServices) -> None:
        application.bot_data["services"] = services
