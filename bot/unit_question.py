"""The unit of a sensor that has none, asked when it first gets an alert rule.

A sensor posted over HTTP arrives without a unit, so `/latest` shows `attic: 21.5` and
`/freeze attic` says "below 3": which could be °F. The answer sets the unit, never over one
chosen meanwhile with /unit.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from alerts import actions
from alerts.rules import FREEZE_DEFAULT, freeze_default, is_freeze
from bot.chat import pressed_in_linked_chat, quote, reply
from bot.context import BotContext
from core.formatting import format_number
from storage.models import AlertRule, RuleKind, Sensor

CHOICES = {"c": "°C", "f": "°F", "p": "%"}
BUTTON_RE = re.compile(r"u:([rf][0-9a-f]{1,16}):([cfp])")  # r…: /alert; f…: a preset's rule


async def reply_asking_unit(update: Update, text: str, sensor: Sensor, rule_id: str) -> None:
    """The reply to a new rule; on a sensor without a unit it also asks which unit its
    numbers are in, with a button per likely unit (in the same message, so nothing arrives
    after the answer)."""
    message = update.effective_message
    if sensor.unit or message is None:
        await reply(update, text)
        return
    buttons = InlineKeyboardMarkup([[
        InlineKeyboardButton(unit, callback_data=f"u:{rule_id}:{key}")
        for key, unit in CHOICES.items()]])
    await message.reply_text(
        f"{text}\n\n{sensor.display_name} has no unit yet, so its alerts show bare numbers. "
        f"Which unit are its readings in? (Another: /unit {quote(sensor.display_name)} hPa)",
        reply_markup=buttons, do_quote=False)


async def unit_button(update: Update, context: BotContext) -> None:
    """A unit chosen under the question: set, unless the sensor has one by now."""
    query = update.callback_query
    match = BUTTON_RE.fullmatch(query.data or "") if query else None
    if query is None or match is None:
        if query is not None:
            await query.answer()
        return
    link = await pressed_in_linked_chat(update, context, query)
    if link is None:
        return
    services = context.services
    rule = await services.run(services.store.get_alert_rule, link.user_id, match[1])
    if rule is None:
        await query.answer("That alert rule is gone.")
        return
    sensor = await services.run(services.store.get_sensor, link.user_id, rule.sensor)
    unit = CHOICES[match[2]]
    if sensor is not None and sensor.unit:
        text = f"{sensor.display_name} shows values in {sensor.unit} already " \
               f"(/unit {quote(sensor.display_name)} <unit> changes it)."
    else:
        changed = await services.run(services.store.update_sensor, link.user_id, rule.sensor,
                                     now_ms=services.clock_ms(), unit=unit)
        text = f"Unit set: {changed.display_name} now shows values in {unit}."
        text += await _freeze_in(context, link.user_id, rule, unit)
        await services.run(actions.unit_set, services.store, link.user_id, rule.sensor, unit,
                           rulebook=services.rulebook)
    await query.answer()
    await query.edit_message_text(text)


async def _freeze_in(context: BotContext, user_id: str, rule: AlertRule, unit: str) -> str:
    """/freeze without a threshold, answered °F: its 3 meant 3 °C, so the preset is set again
    at 37.4 °F; what the reply adds ("" for any other rule or unit)."""
    wanted = freeze_default(unit)
    if not is_freeze(rule) or rule.spec.kind is not RuleKind.BELOW or \
            rule.spec.threshold != FREEZE_DEFAULT or wanted == FREEZE_DEFAULT:
        return ""
    services = context.services
    rules, _ = await services.run(actions.set_freeze, services.store, user_id, rule.sensor,
                                  wanted, now_ms=services.clock_ms(),
                                  rulebook=services.rulebook)
    return (f" Its freeze alert {rules[0].rule_id} now fires below {format_number(wanted)} "
            f"{unit} ({FREEZE_DEFAULT:g} °C).")
