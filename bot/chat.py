"""Small steps every handler shares: replying within limits, finding the chat's link."""

from __future__ import annotations

from dataclasses import replace

from telegram import Message, Update

from bot.context import BotContext
from core.formatting import split_message
from storage.models import ChatLink, Sensor

HOW_TO_LINK = ("This chat is not linked to any sensors yet. Send /link followed by a read "
               "token, e.g. /link AbC123…, or open an invite link from your admin.")


async def reply(update: Update, text: str) -> Message | None:
    """Reply in as many messages as Telegram's 4096-character limit needs."""
    message = update.effective_message
    if message is None:
        return None
    last = None
    for chunk in split_message(text.split("\n")):
        last = await message.reply_text(chunk, do_quote=False)
    return last


async def chat_link(update: Update, context: BotContext) -> ChatLink | None:
    """The chat's link, re-activated if the chat was marked inactive; None after telling the
    user how to link."""
    chat = update.effective_chat
    services = context.services
    link = await services.run(services.store.get_chat_link, chat.id) if chat else None
    if link is None:
        await reply(update, HOW_TO_LINK)
        return None
    if not link.active:
        link = replace(link, active=True)
        await services.run(services.store.put_chat_link, link)
    return link


async def linked_sensor(update: Update, context: BotContext, *, min_args: int, usage: str
                        ) -> tuple[ChatLink, Sensor, list[str]] | None:
    """The chat's link and the sensor its first argument names, with all the arguments; None
    after telling the user what was wrong and showing `usage`."""
    link = await chat_link(update, context)
    if link is None:
        return None
    args = context.args or []
    if len(args) < min_args:
        await reply(update, usage)
        return None
    services = context.services
    sensors = await services.run(services.store.list_sensors, link.user_id)
    sensor = find_sensor(sensors, args[0])
    if sensor is None:
        await reply(update, f"{no_such_sensor(args[0], sensors)} ({usage})")
        return None
    return link, sensor, args


def find_sensor(sensors: list[Sensor], query: str) -> Sensor | None:
    """By id, else by name, ignoring case."""
    for sensor in sensors:
        if sensor.sensor_id == query:
            return sensor
    lowered = query.casefold()
    for sensor in sensors:
        if sensor.sensor_id.casefold() == lowered or (sensor.name or "").casefold() == lowered:
            return sensor
    return None


def no_such_sensor(query: str, sensors: list[Sensor]) -> str:
    if not sensors:
        return f"There is no sensor '{query}': no readings have arrived yet."
    known = ", ".join(s.sensor_id for s in sensors[:20])
    return f"There is no sensor '{query}'. Your sensors: {known}."
