"""Small steps every handler shares: replying within limits, finding the chat's link, reading
a command's words (quotes group a name with spaces) and finding the sensor they name."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.context import BotContext, Pick
from core.formatting import BadArgument, clip, echo, split_message
from storage.models import ChatLink, Sensor

HOW_TO_LINK = ("This chat is not linked to any sensors yet. Send /link followed by a read "
               "token, e.g. /link AbC123…, or open an invite link from your admin.")
# An unlinked chat keeps its row, with no user, so its /tz and /quiet survive a relink.
UNLINKED = ""
QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»", "'": "'", "‘": "’"}
QUOTE_EXAMPLE = 'Put a name with spaces in quotes, e.g. /history "Living room" 7d'
PICK_PREFIX = "w:"


async def reply(update: Update, text: str) -> Message | None:
    """Reply in as many messages as Telegram's 4096-character limit needs."""
    message = update.effective_message
    if message is None:
        return None
    last = None
    for chunk in split_message(text.split("\n")):
        last = await message.reply_text(chunk, do_quote=False)
    return last


def chat_id_of(update: Update) -> int:
    """The update's chat; every update a command handler gets has one."""
    if update.effective_chat is None:
        raise ValueError("an update without a chat reached a chat handler")
    return update.effective_chat.id


async def stored_link(context: BotContext, chat_id: int) -> ChatLink | None:
    """The chat's row, linked or not (an unlinked one holds only preferences)."""
    services = context.services
    return await services.run(services.store.get_chat_link, chat_id)


async def chat_link(update: Update, context: BotContext) -> ChatLink | None:
    """The chat's link, re-activated if the chat was marked inactive; None after telling the
    user how to link."""
    chat = update.effective_chat
    link = await stored_link(context, chat.id) if chat else None
    if link is None or not link.linked:
        await reply(update, HOW_TO_LINK)
        return None
    if not link.active:
        link = replace(link, active=True)
        await context.services.run(context.services.store.put_chat_link, link)
    return link



LinkedHandler = Callable[[Update, BotContext, ChatLink], Awaitable[None]]
Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def linked(handler: LinkedHandler) -> Handler:
    """A command for linked chats only: the handler gets the chat's link as its third
    argument; any other chat is told how to link, and the handler does not run."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: BotContext) -> None:
        link = await chat_link(update, context)
        if link is not None:
            await handler(update, context, link)

    return guarded


async def pressed_in_linked_chat(update: Update, context: BotContext,
                                 query: CallbackQuery) -> ChatLink | None:
    """The link of the chat a button was pressed in; None after answering the press (the
    chat is told how to link)."""
    link = await chat_link(update, context)
    if link is None:
        await query.answer()
    return link

# -- words ----------------------------------------------------------------------------------

def split_words(text: str) -> list[str]:
    """Words split on whitespace; a word that opens with a quote runs to its closing quote
    (one followed by whitespace or the end), so `"Living room"` is one word and `Bob's` stays
    whole. Phones' curly quotes count too."""
    words: list[str] = []
    i, size = 0, len(text)
    while i < size:
        if text[i].isspace():
            i += 1
            continue
        close = QUOTES.get(text[i])
        if close is not None:
            end = next((j for j in range(i + 1, size)
                        if text[j] == close and (j + 1 == size or text[j + 1].isspace())), -1)
            if end < 0:
                raise BadArgument(f"A quote is not closed. {QUOTE_EXAMPLE}")
            words.append(text[i + 1:end])
            i = end + 1
            continue
        end = next((j for j in range(i, size) if text[j].isspace()), size)
        words.append(text[i:end])
        i = end
    return words


def quote(word: str) -> str:
    """The word as split_words reads it back."""
    if word and not any(c.isspace() for c in word) and word[0] not in QUOTES:
        return word
    for opening, closing in QUOTES.items():
        if closing not in word:
            return f"{opening}{word}{closing}"
    return f'"{word}"'


async def command_words(update: Update, context: BotContext) -> list[str] | None:
    """The words after the command (a button's pick supplies them again); None after telling
    the user about an unclosed quote."""
    if context.pick is not None:
        return context.pick.words
    message = update.effective_message
    parts = (message.text or "").split(None, 1) if message else []
    try:
        return split_words(parts[1] if len(parts) == 2 else "")
    except BadArgument as problem:
        await reply(update, str(problem))
        return None


# -- sensors --------------------------------------------------------------------------------

def match_sensors(sensors: list[Sensor], query: str) -> list[Sensor]:
    """Every sensor `query` may mean: by id (exact beats ignoring case) and by name (ignoring
    case). More than one is ambiguous."""
    lowered = query.casefold()
    by_id = [s for s in sensors if s.sensor_id == query] or \
        [s for s in sensors if s.sensor_id.casefold() == lowered]
    by_name = [s for s in sensors if s.name and s.name.casefold() == lowered]
    return list({s.sensor_id: s for s in by_id + by_name}.values())


def names_a_sensor(sensors: list[Sensor], words: list[str]) -> bool:
    """Whether some leading run of the words names a sensor (`all rooms` of `all rooms`): only
    when none does are words after a keyword such as `all` or `off` too many."""
    return any(match_sensors(sensors, " ".join(words[:cut]))
               for cut in range(1, len(words) + 1))


def too_many_words(extra: list[str]) -> str:
    """What was wrong with words past a command's last argument: "'extra' is one word too
    many."."""
    count = "one word" if len(extra) == 1 else f"{len(extra)} words"
    return f"'{echo(' '.join(extra))}' is {count} too many."


def find_sensor(sensors: list[Sensor], query: str) -> Sensor | None:
    """By exact id, else the only sensor the query can mean (None when ambiguous)."""
    exact = next((s for s in sensors if s.sensor_id == query), None)
    if exact is not None:
        return exact
    found = match_sensors(sensors, query)
    return found[0] if len(found) == 1 else None


def sensor_key(sensor_id: str) -> str:
    """A short stand-in for an id of up to 200 characters in 64-byte button data."""
    return hashlib.sha256(sensor_id.encode()).hexdigest()[:12]


def sensor_by_key(sensors: list[Sensor], key: str) -> Sensor | None:
    return next((s for s in sensors if sensor_key(s.sensor_id) == key), None)


def no_such_sensor(query: str, sensors: list[Sensor]) -> str:
    if not sensors:
        return f"There is no sensor '{echo(query)}': no readings have arrived yet."
    known = ", ".join(quote(s.sensor_id) for s in sensors[:20])
    return f"There is no sensor '{echo(query)}'. Your sensors: {known}."


def spaced_name(sensors: list[Sensor], query: str, rest: list[str]) -> str | None:
    """The sensor the first words name together ("living room" of `living room Attic`), when
    they do: only then is the hint about quoting a name with spaces to the point."""
    words = [query, *rest]
    for cut in range(len(words), 1, -1):
        joined = " ".join(words[:cut])
        if match_sensors(sensors, joined):
            return joined
    return None


async def resolve_sensor(update: Update, context: BotContext, sensors: list[Sensor],
                         query: str, rest: list[str], *, usage: str) -> Sensor | None:
    """The one sensor `query` names. None after saying there is none (with `usage`), or after
    asking with buttons which one an ambiguous name means; a button runs the command again."""
    pick = context.pick
    if pick is not None and pick.query == query:
        chosen = next((s for s in sensors if s.sensor_id == pick.sensor_id), None)
        if chosen is not None:
            return chosen
    found = match_sensors(sensors, query)
    if len(found) == 1:
        return found[0]
    if not found:
        named = spaced_name(sensors, query, rest)
        hint = f" Did you mean '{named}'? {QUOTE_EXAMPLE}." if named else ""
        await reply(update, f"{no_such_sensor(query, sensors)} ({usage}){hint}")
        return None
    await ask_which(update, query, rest, found)
    return None


async def ask_which(update: Update, query: str, rest: list[str], found: list[Sensor]) -> None:
    """The command, its sensor words quoted, is the question's last line: the button's press
    reads it back from the message, so nothing needs remembering (the webhook Lambda can't)."""
    message = update.effective_message
    if message is None:
        return
    command = (message.text or "/").split()[0].split("@")[0]
    line = " ".join([command, quote(query), *(quote(word) for word in rest)])
    rows = [[InlineKeyboardButton(clip(f"{s.display_name} ({s.sensor_id})", 60),
                                  callback_data=PICK_PREFIX + sensor_key(s.sensor_id))]
            for s in found[:20]]
    await message.reply_text(
        f"'{query}' could mean {len(found)} sensors. Which one?\n{line}",
        reply_markup=InlineKeyboardMarkup(rows), do_quote=False)


async def picked(update: Update, context: BotContext) -> tuple[str, Pick] | None:
    """The command and the pick behind a sensor button under ask_which's question; None when
    the button or its message is not one that question made."""
    button = update.callback_query
    message = button.message if button else None
    text = message.text if isinstance(message, Message) else None
    if not button or not button.data or not text or update.effective_chat is None:
        return None
    line = text.rsplit("\n", 1)[-1]
    command, _, rest = line.partition(" ")
    try:
        words = split_words(rest)
    except BadArgument:
        return None
    link = await stored_link(context, update.effective_chat.id)
    if not command.startswith("/") or not words or link is None or not link.linked:
        return None
    services = context.services
    sensors = await services.run(services.store.list_sensors, link.user_id)
    sensor = sensor_by_key(sensors, button.data.removeprefix(PICK_PREFIX))
    if sensor is None:
        return None
    return command[1:], Pick(words, words[0], sensor.sensor_id)


def split_sensor_words(words: list[str], sensors: list[Sensor], *, keep: int,
                       pick: Pick | None = None) -> tuple[str, list[str]]:
    """The sensor's words and the rest: the longest leading run naming a sensor that leaves at
    least `keep` words, so `/rename loft space Attic` works without quotes too."""
    if pick is not None and words and words[0] == pick.query:
        return words[0], words[1:]
    for cut in range(len(words) - keep, 0, -1):
        if match_sensors(sensors, " ".join(words[:cut])):
            return " ".join(words[:cut]), words[cut:]
    return words[0], words[1:]


async def linked_sensor(update: Update, context: BotContext, *, min_args: int, usage: str
                        ) -> tuple[ChatLink, Sensor, list[str]] | None:
    """The chat's link and the sensor its first words name, with the arguments (the sensor's
    words joined into the first); None after telling the user what was wrong and showing
    `usage`. The lookup the sensor commands share: quotes, ambiguity buttons and all."""
    link = await chat_link(update, context)
    if link is None:
        return None
    words = await command_words(update, context)
    if words is None:
        return None
    if len(words) < min_args:
        await reply(update, usage)
        return None
    services = context.services
    sensors = await services.run(services.store.list_sensors, link.user_id)
    query, rest = split_sensor_words(words, sensors, keep=min_args - 1, pick=context.pick)
    sensor = await resolve_sensor(update, context, sensors, query, rest, usage=usage)
    if sensor is None:
        return None
    return link, sensor, [query, *rest]
