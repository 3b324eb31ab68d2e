"""The bot: one python-telegram-bot Application, wired here and nowhere else."""

from __future__ import annotations

import html
import logging
import traceback
from collections.abc import Callable
from typing import Any

from telegram import BotCommand, Update
from telegram.error import BadRequest, Conflict, Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from alerts.delivery import mark_chat_inactive
from bot import admin, alerting, compare, data, forget, linking, outside
from bot.chat import PICK_PREFIX, chat_link, picked, reply
from bot.context import BotContext, BotServices
from bot.forget import FORGET_PREFIX
from bot.pages import PAGE_PREFIX, parse_page_button
from bot.unit_question import unit_button
from core.config import ConfigError, Settings
from storage.base import Store

log = logging.getLogger("sensorbot.bot")

MENU = [
    BotCommand("latest", "latest values"),
    BotCommand("sensors", "every sensor, last seen"),
    BotCommand("history", "a chart: /history attic 7d"),
    BotCommand("compare", "sensors on one chart: /compare attic cellar 7d"),
    BotCommand("freeze", "pipe-freeze alerts: /freeze attic"),
    BotCommand("alerts", "your alert rules and states"),
    BotCommand("alert", "a rule: /alert attic below 3"),
    BotCommand("snooze", "silence alerts: /snooze all 2h"),
    BotCommand("quiet", "quiet hours: /quiet 22:00-07:00"),
    BotCommand("delalert", "delete a rule: /delalert r1a2b3"),
    BotCommand("outdoor", "your outdoor sensor: /outdoor garden"),
    BotCommand("location", "forecast location: /location 60.17 24.94"),
    BotCommand("export", "readings as CSV"),
    BotCommand("rename", "name a sensor"),
    BotCommand("forget", "delete a sensor: /forget attic"),
    BotCommand("unit", "set a sensor's unit"),
    BotCommand("tz", "your time zone"),
    BotCommand("link", "follow sensors with a read token"),
    BotCommand("unlink", "stop following"),
    BotCommand("help", "commands with examples"),
]

Wiring = list[tuple[str | tuple[str, ...], Callable[..., Any]]]

COMMANDS: Wiring = [
    # everyone
    ("start", linking.start),
    ("help", linking.help_command),
    (("link", "login"), linking.link),
    ("unlink", linking.unlink),
    ("tz", linking.set_timezone),
    # the linked user's data
    ("sensors", data.sensors_command),
    (("latest", "status"), data.latest_command),
    ("history", data.history_command),
    ("export", data.export_command),
    ("compare", compare.compare_command),
    ("rename", data.rename_command),
    ("unit", data.unit_command),
    ("forget", forget.forget_command),
    # alerts
    ("alert", alerting.alert_command),
    ("freeze", alerting.freeze_command),
    ("alerts", alerting.alerts_command),
    ("delalert", alerting.delalert_command),
    ("snooze", alerting.snooze_command),
    ("quiet", alerting.quiet_command),
    ("outdoor", outside.outdoor_command),
    ("location", outside.location_command),
    # admins (telegram.admins)
    ("adduser", admin.adduser),
    ("users", admin.users),
    ("token", admin.token),
    ("tokens", admin.tokens),
    ("revoke", admin.revoke),
    ("invite", admin.invite),
]


# Commands that take a sensor: an ambiguity question's button runs one of them again.
SENSOR_COMMANDS = frozenset({"latest", "status", "history", "export", "rename", "unit", "alert",
                             "freeze", "snooze", "compare", "forget", "outdoor"})
# The lists that page: a page button's list name → what renders one of its pages.
PAGED_LISTS = {"s": data.sensors_page, "l": data.latest_page, "a": alerting.alerts_page}
HINT = "I answer commands. /help lists them with examples — try /latest or /history."


SENSOR_HANDLERS: dict[str, Callable[..., Any]] = {
    name: handler for names, handler in COMMANDS
    for name in ((names,) if isinstance(names, str) else names) if name in SENSOR_COMMANDS}


def require_token(settings: Settings) -> str:
    if not settings.telegram.token:
        raise ConfigError(
            "No Telegram bot token is configured. Create a bot with @BotFather, then set "
            "[telegram] token in config.toml or the environment variable TELEGRAM_BOT_TOKEN.")
    return settings.telegram.token


def build_application(settings: Settings, store: Store, *,
                      clock_ms: Callable[[], int] | None = None,
                      polling: bool = True) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot; `polling=False` for a webhook, which is handed its updates one by one."""
    builder = (ApplicationBuilder()
               .token(require_token(settings))
               .context_types(ContextTypes(context=BotContext))
               .rate_limiter(AIORateLimiter(max_retries=3)))
    if not polling:
        builder = builder.updater(None)
    if settings.telegram.base_url:
        builder = builder.base_url(f"{settings.telegram.base_url}/bot") \
                         .base_file_url(f"{settings.telegram.base_url}/file/bot")
    application = builder.build()
    services = BotServices(store, settings) if clock_ms is None else \
        BotServices(store, settings, clock_ms)
    BotContext.attach(application, services)
    for names, handler in COMMANDS:
        application.add_handler(CommandHandler(names, handler))
    # buttons: the bot's own prefixes, then anything else, answered quietly
    application.add_handler(CallbackQueryHandler(data.history_button,
                                                 pattern=f"^{data.HISTORY_BUTTON}"))
    application.add_handler(CallbackQueryHandler(data.export_button,
                                                 pattern=f"^{data.EXPORT_BUTTON}"))
    application.add_handler(CallbackQueryHandler(alerting.alert_button, pattern=r"^a:"))
    application.add_handler(CallbackQueryHandler(unit_button, pattern=r"^u:"))
    application.add_handler(CallbackQueryHandler(forget.forget_button,
                                                 pattern=f"^{FORGET_PREFIX}"))
    application.add_handler(CallbackQueryHandler(page_button, pattern=f"^{PAGE_PREFIX}"))
    application.add_handler(CallbackQueryHandler(sensor_picked, pattern=f"^{PICK_PREFIX}"))
    application.add_handler(CallbackQueryHandler(unknown_button))
    # messages that no command took: a shared location is the forecast's place
    application.add_handler(MessageHandler(filters.LOCATION, outside.location_shared))
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(
        filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & ~filters.StatusUpdate.ALL,
        plain_text))
    application.add_error_handler(on_error)
    return application


async def register_menu(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The phone's command menu; a failure is logged and the bot runs without it."""
    try:
        await application.bot.set_my_commands(MENU)
    except TelegramError as error:
        log.warning("could not register the command menu: %s", error)


async def unknown_command(update: Update, context: BotContext) -> None:
    """Anything else that looks like a command."""
    message = update.effective_message
    command = ((message.text if message else None) or "/").split()[0]
    await reply(update, f"I don't know {command[:64]}. /help lists what I can do.")


async def plain_text(update: Update, context: BotContext) -> None:
    """Text (or anything else) that is not a command, in a private chat: a one-line hint."""
    await reply(update, HINT)


async def sensor_picked(update: Update, context: BotContext) -> None:
    """A sensor chosen under an ambiguity question: run its command again with that sensor."""
    found = await picked(update, context)
    handler = SENSOR_HANDLERS.get(found[0]) if found else None
    if found is None or handler is None or update.callback_query is None:
        await unknown_button(update, context)
        return
    await update.callback_query.answer()
    try:  # the question is answered: a second press must not run the command twice
        await update.callback_query.edit_message_reply_markup(reply_markup=None)
    except BadRequest as error:
        log.info("could not remove the buttons of a sensor question: %s", error)
    context.pick = found[1]
    await handler(update, context)


async def page_button(update: Update, context: BotContext) -> None:
    """◀ ▶ under a paged list: the message turns to that page."""
    query = update.callback_query
    parsed = parse_page_button(query.data if query else None)
    render = PAGED_LISTS.get(parsed[0]) if parsed else None
    if query is None or parsed is None or render is None:
        await unknown_button(update, context)
        return
    link = await chat_link(update, context)
    await query.answer()
    if link is None:
        return
    text, buttons = await render(context, link, parsed[1])
    try:
        await query.edit_message_text(text, reply_markup=buttons)
    except BadRequest as error:  # e.g. pressed twice: "message is not modified"
        log.info("could not turn the page: %s", error)


async def unknown_button(update: Update, context: BotContext) -> None:
    """Button data the bot did not make (forged, or from an old version): answered quietly;
    the data is logged escaped, never raw."""
    query = update.callback_query
    if query is not None:
        log.info("ignored button data %r", query.data)
        await query.answer()


async def on_error(update: object, context: BotContext) -> None:
    """Log with the traceback, apologise to the user, tell the admins in one line."""
    error = context.error
    chat = update.effective_chat if isinstance(update, Update) else None
    if isinstance(error, Forbidden) and chat is not None:
        await mark_inactive(context, chat.id)
        return
    log.error("error while handling an update:\n%s", safe_traceback(error))
    if chat is not None:
        try:
            await context.bot.send_message(
                chat.id, "Sorry, something went wrong on my side. Please try again later.")
        except TelegramError:
            log.warning("could not apologise in chat %s", chat.id)
    notice = f"sensorbot error in chat {chat.id if chat else '-'}: " \
             f"{type(error).__name__}: {html.escape(str(error))[:200]}"
    for admin_id in context.services.settings.telegram.admins:
        try:
            await context.bot.send_message(admin_id, notice)
        except TelegramError:
            log.warning("could not notify admin %s", admin_id)


def safe_traceback(error: BaseException | None) -> str:
    """The traceback, root cause first, with each message repr()'d: a message may quote user
    text, and a newline in it would forge a log line."""
    parts: list[str] = []
    current, seen = error, set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append("".join(traceback.format_tb(current.__traceback__)) +
                     f"{type(current).__qualname__}: {str(current)!r}")
        current = current.__cause__ or (None if current.__suppress_context__
                                         else current.__context__)
    return "\nwhich led to:\n".join(reversed(parts))


async def mark_inactive(context: BotContext, chat_id: int) -> None:
    """A chat that blocked the bot (403) gets nothing until it writes again."""
    services = context.services
    await services.run(mark_chat_inactive, services.store, chat_id)
    log.info("chat %s blocked the bot; marked inactive", chat_id)


class PollingErrors:
    """The Updater's error callback: a 409 Conflict is explained once, in plain words."""

    def __init__(self) -> None:
        self.conflict_reported = False

    def __call__(self, error: TelegramError) -> None:
        if isinstance(error, Conflict):
            if not self.conflict_reported:
                log.error("Telegram says another process is polling this bot token (409 "
                          "Conflict). Stop the other `sensorbot run`, or give this one its own "
                          "bot token. Retrying until it goes away.")
                self.conflict_reported = True
            return
        log.warning("polling Telegram failed: %s; retrying", error)
