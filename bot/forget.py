"""/forget <sensor>: delete a sensor with its alert rules and readings, after a button press."""

from __future__ import annotations

import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from alerts import actions
from bot.chat import (
    linked_sensor,
    pressed_in_linked_chat,
    sensor_by_key,
    sensor_key,
    too_many_words,
)
from bot.context import BotContext
from core.formatting import clip, plural
from storage.base import SensorDeletion
from storage.models import Sensor

FORGET_PREFIX = "f:"
CANCEL = "f:cancel"
USAGE = "Give the sensor to delete with its readings and alerts, e.g. /forget attic"
# A press deletes for at most this long (a webhook Lambda has 30 s); Continue goes on.
BUDGET_S = 20.0


def name_and_id(sensor: Sensor) -> str:
    """"Attic (attic)": which sensor goes, beyond doubt; its id alone when it has no name."""
    if sensor.display_name == sensor.sensor_id:
        return sensor.sensor_id
    return f"{sensor.display_name} ({sensor.sensor_id})"


def confirm_buttons(sensor: Sensor, label: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(clip(f"{label} {sensor.display_name}", 60),
                             callback_data=FORGET_PREFIX + sensor_key(sensor.sensor_id)),
        InlineKeyboardButton("Cancel", callback_data=CANCEL)]])


async def forget_command(update: Update, context: BotContext) -> None:
    """/forget <sensor>: asks first, with a button."""
    found = await linked_sensor(update, context, min_args=1, usage=USAGE)
    if found is None or update.effective_message is None:
        return
    link, sensor, args = found
    if len(args) > 1:
        await update.effective_message.reply_text(f"{too_many_words(args[1:])} {USAGE}",
                                                  do_quote=False)
        return
    services = context.services
    rules = [r for r in await services.run(services.store.list_alert_rules, link.user_id)
             if r.sensor == sensor.sensor_id]
    await update.effective_message.reply_text(
        f"Delete {name_and_id(sensor)} with all its readings and "
        f"{plural(len(rules), 'alert rule')}? This cannot be undone. A sensor that reports "
        "again comes back, with only its new readings.",
        reply_markup=confirm_buttons(sensor, "🗑 Delete"), do_quote=False)


async def forget_button(update: Update, context: BotContext) -> None:
    """Delete, Continue or Cancel under /forget's question."""
    query = update.callback_query
    if query is None:
        return
    if query.data == CANCEL:
        await query.answer()
        await edit(query.message, "Nothing was deleted.", None)
        return
    link = await pressed_in_linked_chat(update, context, query)
    if link is None:
        return
    services = context.services
    sensors = await services.run(services.store.list_sensors, link.user_id)
    sensor = sensor_by_key(sensors, (query.data or "").removeprefix(FORGET_PREFIX))
    if sensor is None:  # deleted meanwhile, or data the bot did not make: answered quietly
        await query.answer("That sensor is gone already.")
        return
    await query.answer("Deleting…")
    await edit(query.message, f"Deleting {sensor.display_name}…", None)
    deadline = time.monotonic() + BUDGET_S
    done = await services.run(actions.forget_sensor, services.store, link.user_id,
                              sensor.sensor_id, rulebook=services.rulebook,
                              should_stop=lambda: time.monotonic() > deadline)
    await edit(query.message, *outcome(sensor, done))


def outcome(sensor: Sensor, done: SensorDeletion) -> tuple[str, InlineKeyboardMarkup | None]:
    if done.complete:
        return (f"Deleted {name_and_id(sensor)}: "
                f"{plural(done.readings, 'reading')} and {plural(done.rules, 'alert rule')}.",
                None)
    return (f"Deleted {plural(done.readings, 'reading')} of {sensor.display_name} so far; "
            "press Continue to delete the rest.", confirm_buttons(sensor, "Continue deleting"))


async def edit(message: object, text: str, buttons: InlineKeyboardMarkup | None) -> None:
    if isinstance(message, Message):
        await message.edit_text(text, reply_markup=buttons)
