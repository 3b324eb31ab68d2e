"""Linking a chat to a user: /start (with invite codes), /help, /link, /unlink, /tz."""

from __future__ import annotations

import difflib
from dataclasses import replace
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from telegram import Update
from telegram.error import BadRequest

from bot.chat import UNLINKED, chat_id_of, linked, reply, stored_link
from bot.context import BotContext
from core.formatting import echo
from core.tokens import hash_token
from storage.models import ChatLink

HELP = """Commands
/sensors — every sensor with its last value
/latest [sensor] — latest values, e.g. /latest attic
/history [sensor] [range] — a chart, e.g. /history attic 7d
/export [sensor] [range] — readings as CSV, e.g. /export attic 30d
/compare <sensor> <sensor> […] [range] — up to 5 on one chart, e.g. /compare attic cellar 7d
/rename <sensor> <name> — e.g. /rename attic Attic
/unit <sensor> <unit> — e.g. /unit attic °C
/forget <sensor> — delete a sensor with its readings and alerts, e.g. /forget attic
/tz <Area/City> — times in your zone, e.g. /tz Europe/Helsinki
/link <read-token> — follow a user's sensors · /unlink
Ranges: 6h, 24h (default), 7d, 30d, 12w, 1y, 2026-01-05, 2026-01-01..2026-01-07
Past 48 h, charts and exports show hourly min, max and mean
A name with spaces goes in quotes, e.g. /history "Living room" 7d

Alerts
/freeze <sensor> [x] — pipe-freeze protection, e.g. /freeze attic
/alert <sensor> below|above <x> [for 10m] [clear <y>] [repeat 1h] — e.g. /alert attic below 3
/alert <sensor> stale <dur> — no data for that long, e.g. /alert attic stale 1h
/alert <sensor> heating — warns when the heating stops, hours before the cold
/outdoor <sensor|off> · /location <lat> <lon>|off (or share a location) — the outside
  temperature the heating watch uses, e.g. /outdoor garden, /location 60.17 24.94
/alerts — your rules · /delalert <id> — delete one
/snooze <sensor|all> <dur> — e.g. /snooze all 8h
/quiet <HH:MM-HH:MM|off> — silent ordinary alerts, e.g. /quiet 22:00-07:00"""

ADMIN_HELP = """Admin
/adduser <name> — e.g. /adduser Summer cottage
/users · /tokens [user] · /revoke <token-id>
/token <user> read|write [label] — e.g. /token summer-cottage write attic sensor
  (asked in a group, the token comes to you in a private chat)
/invite <user> — a one-time link that links a chat"""


async def start(update: Update, context: BotContext) -> None:
    """Welcome; with an invite code, link this chat."""
    if context.args:
        await use_invite(update, context, context.args[0])
        return
    link = await stored_link(context, chat_id_of(update))
    if link is None or not link.linked:
        await reply(update, "Hello! I watch home sensors and warn before pipes freeze.\n"
                            "To begin, send /link followed by a read token, or open the invite "
                            "link your admin gave you. /help lists everything I can do.")
        return
    followed = await shown_user(context, link.user_id)
    await reply(update, f"This chat follows the sensors of {followed}. "
                        "Try /latest or /history. /help lists everything.")


async def use_invite(update: Update, context: BotContext, code: str) -> None:
    services = context.services
    chat_id = chat_id_of(update)
    invite = await services.run(services.store.claim_invite, code, chat_id,
                                now_ms=services.clock_ms())
    if invite is None:
        await reply(update, "That invite link does not work: it was used already, has expired "
                            "or is mistyped. Ask your admin for a new one.")
        return
    await link_chat(update, context, invite.user_id)


async def link_chat(update: Update, context: BotContext, user_id: str) -> None:
    services = context.services
    chat_id = chat_id_of(update)
    old = await stored_link(context, chat_id)
    await services.run(services.store.put_chat_link, ChatLink(
        chat_id, user_id, services.clock_ms(), True, old.timezone if old else None,
        old.quiet_hours if old else None))
    await reply(update, "Linked: this chat now follows the sensors of "
                        f"{await shown_user(context, user_id)}. "
                        f"Try /sensors, /latest or /history.{zone_hint(context, old)}")


def zone_hint(context: BotContext, link: ChatLink | None) -> str:
    """Alerts and readings show clock times: a chat that never chose a zone is told which one
    they are in, or an owner in Helsinki reads UTC times as their own."""
    if link is not None and link.timezone:
        return ""
    zone = context.services.settings.alerts.timezone
    return f" Times are shown in {zone}; /tz Europe/Helsinki (say) sets this chat's zone."


async def shown_user(context: BotContext, user_id: str) -> str:
    """A user as people know it: by name (`Summer cottage`), else by id."""
    services = context.services
    user = await services.run(services.store.get_user, user_id)
    return user.name if user is not None and user.name else user_id


async def link(update: Update, context: BotContext) -> None:
    """/link <read-token> (alias /login): follow the token's user; the token message goes."""
    services = context.services
    chat_id = chat_id_of(update)
    user_id = update.effective_user.id if update.effective_user else None
    if context.args:
        await delete_token_message(update)
    now = services.clock_ms()
    wait = services.guard.wait_seconds(chat_id, user_id, now)
    if wait:
        await reply(update, f"Too many wrong tokens. Try again in {wait} s.")
        return
    if len(context.args or []) != 1:
        await reply(update, "Send /link followed by a read token, e.g. /link AbC123… "
                            "An admin makes one with /token <user> read, or on the server "
                            "with: sensorbot tokens issue <user> --scope read")
        return
    [secret] = context.args or [""]
    token = await services.run(services.store.token_by_hash, hash_token(secret))
    if token is None or token.revoked or token.scope != "read":
        services.guard.failed(chat_id, user_id, now)
        await reply(update, "That token does not work here. /link needs a valid read token.")
        return
    services.guard.succeeded(chat_id, user_id)
    await link_chat(update, context, token.user_id)


async def delete_token_message(update: Update) -> None:
    """A token must not linger in the chat history."""
    message = update.effective_message
    if message is None:
        return
    try:
        await message.delete()
    except BadRequest:
        await reply(update, "I could not delete your message: please delete it yourself, "
                            "it holds a token.")


async def unlink(update: Update, context: BotContext) -> None:
    """/unlink: this chat stops following its user; its /tz and /quiet stay for a relink."""
    services = context.services
    link = await stored_link(context, chat_id_of(update))
    if link is None or not link.linked:
        await reply(update, "This chat is not linked.")
        return
    await services.run(services.store.put_chat_link,
                       replace(link, user_id=UNLINKED, active=False))
    await reply(update, "Unlinked: this chat no longer follows any sensors.")


async def help_command(update: Update, context: BotContext) -> None:
    """/help: every command with an example."""
    user = update.effective_user
    admin = context.services.is_admin(user.id if user else None)
    text = HELP + ("\n\n" + ADMIN_HELP if admin else "")
    await reply(update, text)


@linked
async def set_timezone(update: Update, context: BotContext, link: ChatLink) -> None:
    """/tz <Area/City>: the chat's zone for every time shown."""
    services = context.services
    if not context.args:
        await reply(update, f"Times here are shown in {services.zone(link).key}. To change it "
                            "send /tz with a zone name, e.g. /tz Europe/Helsinki")
        return
    typed = " ".join(context.args)
    zone = find_zone(typed)
    if zone is None:
        await reply(update, f"I don't know the zone '{echo(typed)}'. {zone_suggestion(typed)}")
        return
    await services.run(services.store.put_chat_link, replace(link, active=True,
                                                             timezone=zone.key))
    await reply(update, f"Times in this chat are now shown in {zone.key}.")


@cache
def zone_names() -> dict[str, str]:
    """Every IANA zone name, by its case-folded spelling."""
    return {name.casefold(): name for name in available_timezones()}


def find_zone(text: str) -> ZoneInfo | None:
    """The zone `text` names, ignoring case and with spaces for underscores
    (`america/new york`); None if there is none."""
    name = zone_names().get(text.strip().replace(" ", "_").casefold())
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zone_suggestion(text: str) -> str:
    """`Did you mean /tz Europe/Helsinki?`, else the general form with examples."""
    names = zone_names()
    close = difflib.get_close_matches(text.strip().casefold().replace(" ", "_"), names, n=1,
                                      cutoff=0.75)
    if close:
        return f"Did you mean /tz {names[close[0]]}?"
    return "Use an Area/City name, e.g. /tz Europe/Helsinki or /tz America/New_York"
