"""Alerts to Telegram: the `Notifier` the alert cycle sends through."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError

from alerts.delivery import DeliveryError, Notice
from bot.alert_buttons import for_transition
from bot.alert_text import render
from core.clock import wall_clock_ms
from storage.models import RuleKind

# Telegram's words for a chat that is gone for good (a 400, not a 403): no retry helps.
PERMANENT_BAD_REQUESTS = ("chat not found", "user is deactivated", "bot was kicked",
                          "not enough rights to send", "have no rights to send",
                          "group chat was deactivated", "peer_id_invalid")


class TelegramNotifier:
    """Sends alert messages; a blocked or vanished chat is a permanent failure, a group that
    became a supergroup is followed."""

    def __init__(self, bot: Bot, *, default_zone: str = "UTC",
                 clock_ms: Callable[[], int] = wall_clock_ms) -> None:
        self.bot = bot
        self.default_zone = default_zone
        self.clock_ms = clock_ms

    async def send(self, notice: Notice) -> int | None:
        rule, entry, sensor = notice.rule, notice.entry, notice.sensor
        zone = ZoneInfo(notice.chat.timezone or self.default_zone)
        text = render(rule.spec, entry, sensor.display_name, sensor.unit, zone,
                      self.clock_ms())
        try:
            sent = await self.bot.send_message(
                notice.chat.chat_id, text, disable_notification=notice.silent,
                reply_markup=for_transition(entry.kind, rule.rule_id, entry.since,
                                            heating=rule.spec.kind is RuleKind.HEATING))
        except ChatMigrated as error:
            raise DeliveryError(str(error), permanent=False,
                                moved_to=error.new_chat_id) from error
        except Forbidden as error:
            raise DeliveryError(str(error), permanent=True) from error
        except BadRequest as error:
            raise DeliveryError(str(error), permanent=is_permanent(error)) from error
        except TelegramError as error:  # 429 after the rate limiter's retries, network, 5xx
            raise DeliveryError(str(error), permanent=False) from error
        return sent.message_id


def is_permanent(error: BadRequest) -> bool:
    message = error.message.lower()
    return any(words in message for words in PERMANENT_BAD_REQUESTS)
