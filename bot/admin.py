"""Admin commands, for `telegram.admins` only: users, tokens, invites."""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden

from bot.chat import command_words, reply, stored_link, too_many_words
from bot.context import BotContext
from core.formatting import echo
from core.tokens import issue_token
from core.users import NoFreeId, add_user_named
from storage.errors import AlreadyExists, InvalidRecord, NotFound
from storage.models import Invite

INVITE_TTL_MS = 24 * 3_600_000
REFUSAL = "Sorry, that command is only for this bot's administrators."
MAX_NAME = 64  # of a user's name or a token's label, as of a sensor's name

log = logging.getLogger("sensorbot.bot")

Handler = Callable[[Update, BotContext], Awaitable[None]]


def admin_only(handler: Handler) -> Handler:
    """Anyone else hears one polite sentence that reveals nothing."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: BotContext) -> None:
        user = update.effective_user
        if not context.services.is_admin(user.id if user else None):
            await reply(update, REFUSAL)
            return
        await handler(update, context)

    return guarded


@admin_only
async def adduser(update: Update, context: BotContext) -> None:
    """/adduser <name>: quotes around it are not part of it; at most 64 characters."""
    words = await command_words(update, context)
    if words is None:
        return
    name = " ".join(words).strip()
    if not name:
        await reply(update, "Give the new user a name, e.g. /adduser Summer cottage")
        return
    if len(name) > MAX_NAME:
        await reply(update, f"A name is at most {MAX_NAME} characters; that one has "
                            f"{len(name)}. E.g. /adduser Summer cottage")
        return
    services = context.services
    try:
        user_id = await services.run(add_user_named, services.store, name,
                                     now_ms=services.clock_ms())
    except NoFreeId:
        await reply(update, f"Could not find a free id for '{echo(name)}'; try another name.")
        return
    await reply(update, f"Created user {user_id} ({name}). Next: /token {user_id} write "
                        f"for its sensors, /invite {user_id} to link a chat.")


@admin_only
async def users(update: Update, context: BotContext) -> None:
    """/users."""
    services = context.services
    found = await services.run(services.store.list_users)
    await reply(update, "\n".join(f"{u.user_id} — {u.name}" for u in found) or
                "No users yet. Create one with /adduser <name>.")


@admin_only
async def token(update: Update, context: BotContext) -> None:
    """/token <user> read|write [label]: the secret goes only to the admin's private chat."""
    args = context.args or []
    problem = token_arguments_problem(args)
    if problem:
        await reply(update, f"{problem}, e.g. /token summer-cottage write attic sensor")
        return
    services = context.services
    try:
        secret, issued = await services.run(issue_token, services.store, args[0],
                                            args[1].lower(),
                                            label=" ".join(args[2:]),
                                            now_ms=services.clock_ms())
    except NotFound:
        await reply(update, f"There is no user '{echo(args[0])}'. See /users.")
        return
    announce = (f"New {issued.scope} token for {issued.user_id} (id {issued.token_id}). "
                "It is shown only this once:")
    if update.effective_chat is None or update.effective_chat.type == ChatType.PRIVATE:
        await reply(update, announce)
        await reply(update, secret)
        return
    await send_privately(update, context, issued.token_id, announce, secret)


def token_arguments_problem(args: list[str]) -> str:
    """What is wrong with /token's arguments, or "" when nothing is."""
    if len(args) < 2:
        return "Give a user and a scope (read or write)"
    if args[1].lower() not in ("read", "write"):
        return f"'{echo(args[1])}' is not a scope: give read or write after the user"
    label = " ".join(args[2:])
    if len(label) > MAX_NAME:
        return f"A label is at most {MAX_NAME} characters; that one has {len(label)}"
    return ""


async def send_privately(update: Update, context: BotContext, token_id: str, announce: str,
                         secret: str) -> None:
    """A token asked for in a group is sent to the admin's private chat; if the bot may not
    write there, the token is revoked rather than shown to the group."""
    if update.effective_user is None:
        return
    admin_id = update.effective_user.id
    try:
        await context.bot.send_message(admin_id, announce)
        await context.bot.send_message(admin_id, secret)
    except (Forbidden, BadRequest) as error:
        log.info("could not send a token to admin %s privately: %s", admin_id, error)
        await context.services.run(context.services.store.revoke_token, token_id)
        await reply(update, "I could not message you privately, so I revoked that token "
                            f"({token_id}) instead of showing it here. Open a chat with "
                            f"@{context.bot.username}, press Start, and ask there.")
        return
    await reply(update, f"Token {token_id} made: I sent it to you in a private chat, "
                        "never to a group.")


@admin_only
async def tokens(update: Update, context: BotContext) -> None:
    """/tokens [user]: ids, scopes, labels, last use (in the chat's zone); never secrets."""
    services = context.services
    args = context.args or []
    if len(args) > 1:
        await reply(update, f"{too_many_words(args[1:])} Give a user id from /users, or "
                            "nothing for every user's tokens, e.g. /tokens summer-cottage")
        return
    user_id = args[0] if args else None
    if user_id is not None and await services.run(services.store.get_user, user_id) is None:
        await reply(update, f"There is no user '{echo(user_id)}'. See /users.")
        return
    found = await services.run(services.store.list_tokens, user_id)
    link = await stored_link(context, update.effective_chat.id) if update.effective_chat else None
    zone = services.zone(link)  # an unlinked chat keeps its /tz too
    lines = [f"{t.token_id} · {t.user_id} · {t.scope}{' · ' + t.label if t.label else ''} · "
             f"{'revoked' if t.revoked else 'used ' + when(t.last_used, zone)}" for t in found]
    await reply(update, "\n".join(lines) or "No tokens.")


def when(ms: int | None, zone: ZoneInfo) -> str:
    return "never" if ms is None else \
        datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M ") + zone.key


@admin_only
async def revoke(update: Update, context: BotContext) -> None:
    """/revoke <token-id>."""
    args = context.args or []
    if len(args) != 1:
        extra = f"{too_many_words(args[1:])} " if args else ""
        await reply(update, f"{extra}Give a token id from /tokens, e.g. /revoke t_1a2b3c4d5e")
        return
    services = context.services
    [token_id] = context.args or [""]
    done = await services.run(services.store.revoke_token, token_id)
    await reply(update, f"Revoked {token_id}." if done
                else f"There is no token '{echo(token_id)}'. See /tokens.")


@admin_only
async def invite(update: Update, context: BotContext) -> None:
    """/invite <user>: a one-time t.me link, valid 24 h."""
    args = context.args or []
    if len(args) != 1:
        extra = f"{too_many_words(args[1:])} " if args else ""
        await reply(update, f"{extra}Give a user id from /users, e.g. /invite summer-cottage")
        return
    services = context.services
    [user_id] = context.args or [""]
    if await services.run(services.store.get_user, user_id) is None:
        await reply(update, f"There is no user '{echo(user_id)}'. See /users.")
        return
    now = services.clock_ms()
    code = secrets.token_urlsafe(16)
    try:
        await services.run(services.store.add_invite,
                           Invite(code, user_id, now, now + INVITE_TTL_MS))
    except (AlreadyExists, InvalidRecord):
        await reply(update, "Could not make an invite; please try again.")
        return
    await reply(update, f"Invite for {user_id}, valid once within 24 h:\n"
                        f"https://t.me/{context.bot.username}?start={code}")
