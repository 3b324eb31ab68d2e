"""Alerts in the chat: the rule commands, the alert buttons, and the Telegram notifier."""

from __future__ import annotations

import secrets
from dataclasses import replace

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, TelegramError

from alerts.delivery import DeliveryError
from alerts.machine import acknowledge, snooze
from alerts.messages import parse_quiet_hours
from alerts.rules import (
    ALERT_EXAMPLE,
    FREEZE_DEFAULT,
    Spec,
    freeze_preset,
    parse_alert,
    parse_number,
)
from bot.chat import chat_link, find_sensor, linked_sensor, no_such_sensor, reply
from bot.context import BotContext
from bot.data import send_chart
from core.formatting import (
    BadArgument,
    describe_duration,
    format_time,
    parse_duration,
    parse_range,
)
from storage.errors import AlreadyExists
from storage.models import AlertRule, AlertState, ChatLink

SNOOZES = {"s1": 3600, "s8": 8 * 3600}


class TelegramNotifier:
    """Sends alert messages; a blocked or vanished chat is a permanent failure."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, text: str, *, buttons: list[tuple[str, str]],
                   silent: bool) -> None:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)
                                        for label, data in buttons[:2]],
                                       [InlineKeyboardButton(label, callback_data=data)
                                        for label, data in buttons[2:]]]) if buttons else None
        try:
            await self.bot.send_message(chat_id, text, reply_markup=markup,
                                        disable_notification=silent)
        except Forbidden as error:
            raise DeliveryError(str(error), permanent=True) from error
        except BadRequest as error:
            permanent = "chat not found" in str(error).lower()
            raise DeliveryError(str(error), permanent=permanent) from error
        except TelegramError as error:  # 429 after the rate limiter's retries, network, 5xx
            raise DeliveryError(str(error), permanent=False) from error


async def new_rule_id(context: BotContext, user_id: str) -> str:
    rules = await context.services.run(context.services.store.list_alert_rules, user_id)
    taken = {r.rule_id for r in rules}
    while True:
        rule_id = "r" + secrets.token_hex(3)
        if rule_id not in taken:
            return rule_id


async def add_rules(update: Update, context: BotContext, link: ChatLink, sensor_id: str,
                    specs: list[Spec]) -> list[str]:
    services = context.services
    ids = []
    for spec in specs:
        for _ in range(5):
            rule = AlertRule(link.user_id, await new_rule_id(context, link.user_id), sensor_id,
                             spec.to_dict(), services.clock_ms(), AlertState())
            try:
                await services.run(services.store.put_alert_rule, rule)
            except AlreadyExists:
                continue
            ids.append(rule.rule_id)
            break
    services.rules_changed()
    return ids


async def alert_command(update: Update, context: BotContext) -> None:
    """/alert <sensor> below|above <x> [for <dur>] [clear <y>] [repeat <dur>] | stale <dur>."""
    found = await linked_sensor(update, context, min_args=2,
                                usage=f"Give a sensor and a condition, {ALERT_EXAMPLE}")
    if found is None:
        return
    link, sensor, args = found
    try:
        spec = parse_alert(args[1:])
    except BadArgument as problem:
        await reply(update, str(problem))
        return
    [rule_id] = await add_rules(update, context, link, sensor.sensor_id, [spec])
    await reply(update, f"Alert {rule_id}: {sensor.display_name} {spec.describe(sensor.unit)}. "
                        "/alerts lists your rules.")


async def freeze_command(update: Update, context: BotContext) -> None:
    """/freeze <sensor> [x]: the pipe-freeze preset."""
    usage = ("Give a sensor and, if you like, a temperature: /freeze attic "
             f"(below {FREEZE_DEFAULT:g}) or /freeze attic 5")
    found = await linked_sensor(update, context, min_args=1, usage=usage)
    if found is None:
        return
    link, sensor, args = found
    if len(args) > 2:
        await reply(update, usage)
        return
    try:
        threshold = parse_number(args[1]) if len(args) == 2 else FREEZE_DEFAULT
    except BadArgument as problem:
        await reply(update, f"{problem} (e.g. /freeze attic 5)")
        return
    specs = freeze_preset(threshold)
    ids = await add_rules(update, context, link, sensor.sensor_id, specs)
    await reply(update, f"Pipe-freeze protection on {sensor.display_name}: alert {ids[0]} when "
                        f"{specs[0].describe(sensor.unit)}, and alert {ids[1]} on "
                        f"{specs[1].describe()}. Freeze alerts ring even in quiet hours.")


async def alerts_command(update: Update, context: BotContext) -> None:
    """/alerts: rules with ids and states."""
    link = await chat_link(update, context)
    if link is None:
        return
    services = context.services
    rules = await services.run(services.store.list_alert_rules, link.user_id)
    if not rules:
        await reply(update, "No alert rules yet. Try /freeze attic, or /alert attic below 3.")
        return
    sensors = {s.sensor_id: s for s in await services.run(services.store.list_sensors,
                                                         link.user_id)}
    zone, now = services.zone(link), services.clock_ms()
    lines = []
    for rule in rules:
        spec = Spec.from_dict(rule.spec)
        sensor = sensors.get(rule.sensor)
        name = sensor.display_name if sensor else rule.sensor
        state = rule.state.status
        if rule.state.data.get("snoozed_until", 0) > now:
            state += f", snoozed until {format_time(rule.state.data['snoozed_until'], zone, now)}"
        if rule.state.data.get("ack_by"):
            state += f", acknowledged by {rule.state.data['ack_by']}"
        preset = " [freeze]" if spec.preset == "freeze" else ""
        lines.append(f"{rule.rule_id} · {name}: {spec.describe(sensor.unit if sensor else None)}"
                     f"{preset} — {state}")
    if link.quiet_hours:
        lines.append(f"Quiet hours: {link.quiet_hours}")
    await reply(update, "\n".join(lines))


async def delalert_command(update: Update, context: BotContext) -> None:
    """/delalert <id>."""
    link = await chat_link(update, context)
    if link is None:
        return
    if len(context.args or []) != 1:
        await reply(update, "Give a rule id from /alerts, e.g. /delalert r1a2b3")
        return
    services = context.services
    removed = await services.run(services.store.delete_alert_rule, link.user_id,
                                 context.args[0])
    services.rules_changed()
    await reply(update, f"Deleted alert {context.args[0]}." if removed else
                f"There is no alert '{context.args[0]}'. See /alerts.")


async def snooze_command(update: Update, context: BotContext) -> None:
    """/snooze <sensor|all> <dur>."""
    link = await chat_link(update, context)
    if link is None:
        return
    args = context.args or []
    if len(args) != 2:
        await reply(update, "Give a sensor (or all) and a duration, e.g. /snooze attic 2h")
        return
    services = context.services
    try:
        seconds = parse_duration(args[1])
    except BadArgument as problem:
        await reply(update, f"{problem} (e.g. /snooze attic 2h)")
        return
    rules = await services.run(services.store.list_alert_rules, link.user_id)
    if args[0] != "all":
        sensors = await services.run(services.store.list_sensors, link.user_id)
        sensor = find_sensor(sensors, args[0])
        if sensor is None:
            await reply(update, no_such_sensor(args[0], sensors) + " (e.g. /snooze all 2h)")
            return
        rules = [r for r in rules if r.sensor == sensor.sensor_id]
    until = services.clock_ms() + seconds * 1000
    for rule in rules:
        await change_state(context, rule, lambda data: snooze(data, until))
    await reply(update, f"Snoozed {len(rules)} alert(s) for {describe_duration(seconds)}."
                if rules else "No alerts to snooze there. See /alerts.")


async def change_state(context: BotContext, rule: AlertRule, change) -> bool:
    """Conditional update of a rule's state, re-reading when the alert cycle got there first."""
    services = context.services
    for _ in range(5):
        state = rule.state
        stored = await services.run(services.store.update_alert_state, rule.user_id,
                                    rule.rule_id, AlertState(state.status, 0,
                                                             change(dict(state.data))),
                                    expected_version=state.version)
        if stored is not None:
            services.rules_changed()
            return True
        rules = await services.run(services.store.list_alert_rules, rule.user_id)
        fresh = next((r for r in rules if r.rule_id == rule.rule_id), None)
        if fresh is None:
            return False
        rule = fresh
    return False


async def quiet_command(update: Update, context: BotContext) -> None:
    """/quiet <HH:MM-HH:MM|off>: ordinary alerts arrive silently in those hours."""
    link = await chat_link(update, context)
    if link is None:
        return
    if len(context.args or []) != 1:
        await reply(update, "Give a span or off, e.g. /quiet 22:00-07:00 or /quiet off")
        return
    text = context.args[0]
    if text != "off":
        try:
            parse_quiet_hours(text)
        except BadArgument as problem:
            await reply(update, str(problem))
            return
    services = context.services
    await services.run(services.store.put_chat_link,
                       replace(link, quiet_hours=None if text == "off" else text))
    await reply(update, "Quiet hours are off." if text == "off" else
                f"Quiet hours {text}: ordinary alerts arrive silently then; freeze and "
                "no-data alerts still ring.")


async def alert_button(update: Update, context: BotContext) -> None:
    """Acknowledge, Snooze 1h / 8h, Chart 24h under an alert."""
    query = update.callback_query
    _, action, rule_id, *incident = query.data.split(":")
    link = await chat_link(update, context)
    if link is None:
        await query.answer()
        return
    services = context.services
    rules = await services.run(services.store.list_alert_rules, link.user_id)
    rule = next((r for r in rules if r.rule_id == rule_id), None)
    if rule is None:
        await query.answer("That alert rule is gone.")
        return
    who = query.from_user.first_name if query.from_user else "someone"
    if action == "chart":
        await query.answer()
        sensors = await services.run(services.store.list_sensors, link.user_id)
        sensor = find_sensor(sensors, rule.sensor)
        if sensor is not None:
            window = parse_range("24h", now_ms=services.clock_ms(), zone=services.zone(link))
            await send_chart(update, context, link, sensor, window)
        return
    if action == "ack":
        if rule.state.status != "firing" or \
                str(rule.state.data.get("since") or 0) != (incident or ["0"])[0]:
            await query.answer("That alert is over already.")
            return
        done = await change_state(context, rule, lambda data: acknowledge(data, who))
        note = f"✓ Acknowledged by {who}: no more reminders for this incident."
    else:
        seconds = SNOOZES[action]
        until = services.clock_ms() + seconds * 1000
        done = await change_state(context, rule, lambda data: snooze(data, until))
        note = f"💤 Snoozed for {describe_duration(seconds)} by {who}."
    await query.answer(note if done else "Could not change the alert; try again.")
    if done and query.message is not None:
        await query.edit_message_text(f"{query.message.text}\n\n{note}")
