"""One alert cycle on demand: `sensorbot alerts check` and AlertsFunction (a schedule).

A scheduled Lambda reloads the rules every cycle: the bot that adds and removes them runs in
another function and cannot tell this one (docs/aws.md: what a cycle costs).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from telegram.error import NetworkError
from telegram.ext import AIORateLimiter, ExtBot

from alerts.cycle import CycleSummary, RuleBook, run_cycle
from alerts.forecast import Forecasts, forecasts_from
from bot.app import require_token
from bot.transport import TelegramNotifier
from core.clock import wall_clock_ms
from core.config import Settings
from storage.base import Store
from storage.errors import StorageError
from storage.rollup import Rollup

log = logging.getLogger("sensorbot.alerts")
TELEGRAM = "https://api.telegram.org/bot"  # PTB's default base URL


def alert_bot(settings: Settings) -> ExtBot[Any]:
    """Like the bot's: Telegram's 429 is waited out, not counted as a failed delivery."""
    base = settings.telegram.base_url
    return ExtBot(require_token(settings), base_url=f"{base}/bot" if base else TELEGRAM,
                  rate_limiter=AIORateLimiter(max_retries=3))


async def connect(bot: ExtBot[Any]) -> str | None:
    """Why Telegram cannot be reached, or None. Out of reach, the cycle still runs: what it
    cannot deliver stays in the rules' outboxes for the next one. A refused token still
    raises: it is the configuration, and no later cycle would deliver anything."""
    try:
        await bot.initialize()
    except NetworkError as error:
        return str(error)
    return None


async def cycle_once(settings: Settings, store: Store, bot: ExtBot[Any], now_ms: int,
                     forecasts: Forecasts | None = None) -> CycleSummary:
    zone = settings.alerts.timezone
    return await run_cycle(store, TelegramNotifier(bot, default_zone=zone), now_ms,
                           default_zone=zone, rulebook=RuleBook(), forecasts=forecasts)


def configured_forecasts(settings: Settings) -> Forecasts:
    """Kept for as long as the Lambda stays warm: at most one fetch per location an hour
    within it (a cold start fetches again)."""
    wanted = settings.forecast
    return forecasts_from(wanted.provider, wanted.base_url, wanted.timeout_seconds)


@dataclass
class ScheduledAlerts:
    """AlertsFunction's app: settings, store, an initialised Bot API client and its loop."""

    settings: Settings
    store: Store
    bot: ExtBot[Any]
    loop: asyncio.AbstractEventLoop
    rollup: Rollup | None = None  # the hourly statistics, compiled after the cycle
    forecasts: Forecasts = field(default_factory=lambda: Forecasts(None))

    @classmethod
    def build(cls, settings: Settings, store: Store) -> ScheduledAlerts:
        bot = alert_bot(settings)
        loop = asyncio.new_event_loop()
        unreachable = loop.run_until_complete(connect(bot))
        if unreachable is not None:
            log.warning("Telegram cannot be reached (%s); alerts wait in their rules until it "
                        "can", unreachable)
        return cls(settings, store, bot, loop, Rollup(store), configured_forecasts(settings))

    def run_once(self, now_ms: int | None = None) -> dict[str, Any]:
        now = wall_clock_ms() if now_ms is None else now_ms
        summary = self.loop.run_until_complete(cycle_once(self.settings, self.store, self.bot,
                                                          now, self.forecasts))
        if summary.transitions or summary.failed:
            log.info("alert cycle: %s", summary)
        if self.rollup is not None:
            try:
                self.rollup.run(now)
            except StorageError as error:  # the next cycle compiles what this one could not
                log.warning("could not compile the hourly statistics: %s", error)
        return asdict(summary)

    def close(self) -> None:
        """Lambda freezes and discards the environment; tests and benchmarks close it."""
        self.loop.run_until_complete(self.bot.shutdown())
        self.loop.close()
        self.forecasts.close()
