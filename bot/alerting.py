"""Alerts in the chat: the rule commands and the alert buttons. The decisions live in
alerts/ (alerts.actions); these handlers parse, call and answer."""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import (
    CallbackQuery,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    Update,
)
from telegram.error import BadRequest, TelegramError

from alerts import actions
from alerts.heating_rule import memory_of, watch_unit
from alerts.outside import settings_of
from alerts.quiet import BadQuietHours, parse_quiet_hours
from alerts.rules import (
    FREEZE_DEFAULT,
    MAX_SNOOZE_S,
    BadRule,
    check_freeze_threshold,
    freeze_default,
    is_freeze,
)
from bot.alert_buttons import SNOOZE_SECONDS, Action, after_press, parse_button
from bot.alert_syntax import ALERT_EXAMPLE, parse_alert, parse_number
from bot.alert_text import describe_rule
from bot.chat import (
    chat_link,
    command_words,
    linked,
    linked_sensor,
    names_a_sensor,
    pressed_in_linked_chat,
    reply,
    stored_link,
    too_many_words,
)
from bot.context import BotContext
from bot.data import send_chart
from bot.heating_chart import AHEAD_CAP_MS, ahead
from bot.heating_text import degrees, describe_state
from bot.pages import page_buttons, page_of, page_text
from bot.unit_question import reply_asking_unit
from core.formatting import (
    BadArgument,
    clip,
    describe_duration,
    echo,
    format_time,
    parse_duration,
    parse_range,
    plural,
)
from core.temperature import freezing_point
from storage.models import AlertRule, AlertStatus, ChatLink, RuleKind

log = logging.getLogger("sensorbot.bot")

FREEZE_USAGE = (f"Give a sensor and, if you like, a temperature: /freeze attic "
                f"(below {FREEZE_DEFAULT:g}) or /freeze attic 5")
OUTSIDE_HINT = " /outdoor and /location let it say when the sensor would reach {zero}."
SNOOZE_USAGE = ("Give a sensor (or all) and a duration or off, e.g. /snooze attic 2h, "
                "/snooze all 8h or /snooze attic off")


async def alert_command(update: Update, context: BotContext) -> None:
    """/alert <sensor> below|above <x> [for <dur>] [clear <y>] [repeat <dur>] | stale <dur>."""
    found = await linked_sensor(update, context, min_args=2,
                                usage=f"Give a sensor and a condition, {ALERT_EXAMPLE}")
    if found is None:
        return
    link, sensor, args = found
    try:
        spec = parse_alert(args[1:], sensor.unit)
    except BadArgument as problem:
        await reply(update, str(problem))
        return
    services = context.services
    now = services.clock_ms()
    try:
        rule = await services.run(actions.add_rule, services.store, link.user_id,
                                  sensor.sensor_id, spec, now_ms=now, rulebook=services.rulebook)
    except actions.AlreadyWatched as watched:
        part = ", part of its freeze protection" if is_freeze(watched.rule) else ""
        await reply(update, f"{sensor.display_name} has a heating watch already "
                            f"({watched.rule.rule_id}{part}), and one is enough: it warns once per "
                            "failure. /alerts shows it.")
        return
    text = (f"Alert {rule.rule_id}: {sensor.display_name} "
            f"{describe_rule(spec, sensor.unit)}. /alerts lists your rules.")
    if spec.kind is RuleKind.HEATING:
        note = await heating_note(context, link.user_id, rule, sensor.unit)
        await reply(update, f"Alert {rule.rule_id}: {sensor.display_name} "
                            f"{describe_rule(spec, sensor.unit)}. {note} "
                            "/alerts lists your rules.")
    elif spec.kind is RuleKind.STALE:
        await reply(update, text)
    else:
        await reply_asking_unit(update, text, sensor, rule.rule_id)


async def freeze_command(update: Update, context: BotContext) -> None:
    """/freeze <sensor> [x]: the pipe-freeze preset, replacing the sensor's previous one."""
    found = await linked_sensor(update, context, min_args=1, usage=FREEZE_USAGE)
    if found is None:
        return
    link, sensor, args = found
    if len(args) > 2:
        await reply(update, f"{too_many_words(args[2:])} {FREEZE_USAGE}")
        return
    services = context.services
    own = await services.run(actions.own_heating_watch, services.store, link.user_id,
                             sensor.sensor_id)
    try:
        threshold = check_freeze_threshold(parse_number(args[1]), sensor.unit) \
            if len(args) == 2 else freeze_default(sensor.unit)
        rules, replaced = await services.run(
            actions.set_freeze, services.store, link.user_id, sensor.sensor_id, threshold,
            now_ms=services.clock_ms(), rulebook=services.rulebook)
    except (BadArgument, BadRule) as problem:
        said = str(problem).split(';')[0]
        await reply(update, f"{said[:1].upper()}{said[1:]}. E.g. /freeze attic 5")
        return
    below, stale, watch = rules
    again = " It replaces the previous freeze protection there." if replaced else ""
    if own is not None:
        again += (f" It takes over your heating watch {own.rule_id} (now {watch.rule_id}), "
                  "with what it learned.")
    await reply_asking_unit(
        update, f"Pipe-freeze protection on {sensor.display_name}: alert {below.rule_id} when "
        f"{describe_rule(below.spec, sensor.unit)}, alert {stale.rule_id} on "
        f"{describe_rule(stale.spec)}, and the heating watch {watch.rule_id}, which warns hours "
        f"earlier when the heating stops. Freeze alerts ring even in quiet hours.{again} "
        f"Heating watch — {await heating_note(context, link.user_id, watch, sensor.unit)}",
        sensor, below.rule_id)


async def heating_note(context: BotContext, user_id: str, watch: AlertRule,
                       unit: str | None) -> str:
    """The watch's state (learning, with the days to go; watching), and the hint to give it
    outside data only while it has none: a cottage with an outdoor sensor needs no such
    advice."""
    services = context.services
    # A /freeze run again keeps the stored watch, which may have learned since.
    stored = await services.run(services.store.get_alert_rule, user_id, watch.rule_id)
    kept = (stored or watch).state
    state = describe_state(memory_of(kept), unit, services.clock_ms(), watch_unit(kept))
    outside = await services.run(settings_of, services.store, user_id)
    has_outside = outside.outdoor_sensor is not None or outside.latitude is not None
    hint = OUTSIDE_HINT.format(zero=degrees(freezing_point(unit), unit))
    return f"{state}.{'' if has_outside else hint}"


@linked
async def alerts_command(update: Update, context: BotContext, link: ChatLink) -> None:
    """/alerts: rules with ids and states, a page at a time."""
    text, buttons = await alerts_page(context, link, 1)
    if update.effective_message is not None:
        await update.effective_message.reply_text(text, reply_markup=buttons, do_quote=False)


async def alerts_page(context: BotContext, link: ChatLink,
                      number: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """/alerts' page `number`."""
    services = context.services
    rules = await services.run(services.store.list_alert_rules, link.user_id)
    if not rules:
        return "No alert rules yet. Try /freeze attic, or /alert attic below 3.", None
    sensors = {s.sensor_id: s for s in await services.run(services.store.list_sensors,
                                                         link.user_id)}
    zone, now = services.zone(link), services.clock_ms()
    page = page_of(rules, number)
    lines = []
    for rule in page.items:
        sensor = sensors.get(rule.sensor)
        name = clip(sensor.display_name if sensor else rule.sensor, 60)
        state = rule.state.status.value.capitalize()
        if rule.state.snoozed(now) and rule.state.snoozed_until is not None:
            state += f", snoozed until {format_time(rule.state.snoozed_until, zone, now)}"
        if rule.state.ack_by:
            state += f", acknowledged by {rule.state.ack_by}"
        preset = " [freeze]" if is_freeze(rule) else ""
        if rule.spec.kind is RuleKind.HEATING:
            state = describe_state(memory_of(rule.state), sensor.unit if sensor else None, now,
                                   watch_unit(rule.state)) \
                + state[len(rule.state.status.value):]
        lines.append(f"{rule.rule_id} · {name}: "
                     f"{describe_rule(rule.spec, sensor.unit if sensor else None)}"
                     f"{preset} — {state}")
    if link.quiet_hours:
        lines.append(f"Quiet hours: {link.quiet_hours}")
    return page_text(lines, page, "rule"), page_buttons("a", page)


@linked
async def delalert_command(update: Update, context: BotContext, link: ChatLink) -> None:
    """/delalert <id>."""
    args = context.args or []
    if len(args) != 1:
        extra = f"{too_many_words(args[1:])} " if args else ""
        await reply(update, f"{extra}Give a rule id from /alerts, e.g. /delalert r1a2b3")
        return
    services = context.services
    rule_id = (context.args or [""])[0]
    removed = await services.run(actions.delete_rule, services.store, link.user_id, rule_id,
                                 rulebook=services.rulebook)
    await reply(update, f"Deleted alert {rule_id}." if removed else
                f"There is no alert '{echo(rule_id)}'. See /alerts.")


async def snooze_command(update: Update, context: BotContext) -> None:
    """/snooze <sensor|all> <dur|off>."""
    words = await command_words(update, context)
    if words is None:
        return
    if len(words) < 2:
        await reply(update, SNOOZE_USAGE)
        return
    link, sensor_id = None, None
    if words[0].lower() == "all" and (len(words) == 2 or not await _names_a_sensor(
            update, context, words[:-1])):
        link = await chat_link(update, context)
        if link is not None and len(words) > 2:
            await reply(update, f"{too_many_words(words[2:])} {SNOOZE_USAGE}")
            return
    else:
        found = await linked_sensor(update, context, min_args=2, usage=SNOOZE_USAGE)
        if found is not None and len(found[2]) > 2:
            await reply(update, f"{too_many_words(found[2][2:])} {SNOOZE_USAGE}")
            return
        if found is not None:
            link, sensor_id = found[0], found[1].sensor_id
    if link is None:
        return
    try:
        seconds = None if words[-1].lower() == "off" else parse_duration(words[-1])
    except BadArgument as problem:
        await reply(update, f"{problem} ({SNOOZE_USAGE})")
        return
    if seconds is not None and seconds > MAX_SNOOZE_S:
        await reply(update, f"A snooze lasts at most {describe_duration(MAX_SNOOZE_S)}, e.g. "
                            "/snooze all 7d; to stop an alert for good, delete it with "
                            "/delalert (its id is in /alerts).")
        return
    services = context.services
    rules = [r for r in await services.run(services.store.list_alert_rules, link.user_id)
             if sensor_id is None or r.sensor == sensor_id]
    if not rules:
        await reply(update, "No alerts to snooze there. See /alerts.")
        return
    now = services.clock_ms()
    until = None if seconds is None else now + seconds * 1000
    changed = await services.run(actions.snooze, services.store, rules, until,
                                 rulebook=services.rulebook)
    if until is None:
        await reply(update, f"Snooze lifted from {plural(changed, 'alert')}.")
        return
    await reply(update, f"Snoozed {plural(changed, 'alert')} for "
                        f"{describe_duration(seconds or 0)}, until "
                        f"{format_time(until, services.zone(link), now)}.")


async def _names_a_sensor(update: Update, context: BotContext, words: list[str]) -> bool:
    """Whether the words begin with a sensor's name (`all rooms 2h`), in a linked chat."""
    link = await stored_link(context, update.effective_chat.id) if update.effective_chat \
        else None
    if link is None or not link.linked:
        return False
    services = context.services
    return names_a_sensor(await services.run(services.store.list_sensors, link.user_id), words)


@linked
async def quiet_command(update: Update, context: BotContext, link: ChatLink) -> None:
    """/quiet <HH:MM-HH:MM|off>: ordinary alerts arrive silently in those hours."""
    args = context.args or []
    if not args:
        now = f"Quiet hours are {link.quiet_hours}." if link.quiet_hours else \
            "Quiet hours are off."
        await reply(update, f"{now} Set them with /quiet 22:00-07:00, or /quiet off.")
        return
    if len(args) > 1 and not _quiet_problem("".join(args)):  # `22:00 - 07:00`
        args = ["".join(args)]
    text = "off" if args[0].lower() == "off" else args[0]
    problem = "" if text == "off" else _quiet_problem(text)
    if len(args) > 1 and not problem:
        problem = too_many_words(args[1:])[:-1]
    elif len(args) > 1:
        problem = f"'{echo(' '.join(args))}' is not a time span"
    if problem:
        await reply(update, f"{problem[:1].upper()}{problem[1:]}. Give a span or off, "
                            "e.g. /quiet 22:00-07:00 or /quiet off")
        return
    services = context.services
    await services.run(services.store.put_chat_link,
                       replace(link, quiet_hours=None if text == "off" else text))
    await reply(update, "Quiet hours are off." if text == "off" else
                f"Quiet hours {text}: ordinary alerts arrive silently then; freeze and "
                "no-data alerts still ring.")


async def chart_of_rule(update: Update, context: BotContext, link: ChatLink,
                        rule_id: str) -> None:
    """The last 24 hours of the rule's sensor; a firing heating watch adds its prediction, as
    far ahead as it takes to reach 0 °C (two days at most)."""
    services = context.services
    sensor = await services.run(actions.chart_request, services.store, link.user_id, rule_id)
    if sensor is None:
        return
    now = services.clock_ms()
    window = parse_range("24h", now_ms=now, zone=services.zone(link))
    course = await services.run(actions.heating_course, services.store, services.forecasts,
                                link.user_id, rule_id, now_ms=now,
                                until_ms=now + AHEAD_CAP_MS)
    await send_chart(update, context, link, sensor, window, ahead(course, now, sensor.unit))


async def turned_down(update: Update, context: BotContext, link: ChatLink, rule_id: str,
                      who: str) -> None:
    """"I turned the heating down": no alert for this drop; the usual level is relearned."""
    query = update.callback_query
    if query is None:
        return
    services = context.services
    done = await services.run(actions.heating_turned_down, services.store, link.user_id,
                              rule_id, now_ms=services.clock_ms(), rulebook=services.rulebook)
    note = (f"🌡 {who} turned the heating down: no alert for this drop; the watch relearns "
            "the usual level from the next days' readings.")
    await query.answer(note[:200] if done else "Could not change the alert; try again.")
    if done and isinstance(query.message, Message) and query.message.text:
        await query.edit_message_text(f"{query.message.text}\n\n{note}",
                                      reply_markup=after_press(Action.TURNED_DOWN, rule_id, 0))


def _quiet_problem(text: str) -> str:
    """What is wrong with a span of quiet hours, or "" when nothing is."""
    try:
        parse_quiet_hours(text)
    except BadQuietHours as problem:
        return str(problem)
    return ""


async def alert_button(update: Update, context: BotContext) -> None:
    """Acknowledge, Snooze 1h / 8h, Chart 24h under an alert."""
    query = update.callback_query
    button = parse_button(query.data if query else None)
    if query is None or button is None:
        if query is not None:
            await query.answer()  # not a button this bot made: answered quietly
        return
    link = await pressed_in_linked_chat(update, context, query)
    if link is None:
        return
    services = context.services
    rule = await services.run(services.store.get_alert_rule, link.user_id, button.rule_id)
    if rule is None:
        await query.answer("That alert rule is gone.")
        return
    who = query.from_user.first_name if query.from_user else "someone"
    if button.action is Action.CHART:
        await query.answer()
        await chart_of_rule(update, context, link, rule.rule_id)
        return
    if button.action is Action.TURNED_DOWN:
        await turned_down(update, context, link, rule.rule_id, who)
        return
    if button.action is Action.ACK:
        await acknowledge_pressed(query, context, link.user_id, link.chat_id, rule.rule_id,
                                  button.incident, who)
        return
    seconds = SNOOZE_SECONDS[button.action]
    until = services.clock_ms() + seconds * 1000
    done = await services.run(actions.snooze, services.store, [rule], until,
                              rulebook=services.rulebook) == 1
    note = f"💤 Snoozed for {describe_duration(seconds)} by {who}."
    await query.answer(note if done else "Could not change the alert; try again.")
    if done:
        incident = rule.state.since or 0 if rule.state.status is AlertStatus.FIRING else 0
        buttons = after_press(button.action, rule.rule_id, incident)
        await show_on(query.message, note, buttons)
        await tell_other_chats(context, link.user_id, rule.rule_id, link.chat_id, note,
                               buttons)


async def acknowledge_pressed(query: CallbackQuery, context: BotContext, user_id: str,
                              chat_id: int, rule_id: str, incident: int, who: str) -> None:
    """The first acknowledge of an incident stands: a later press (in this chat or another
    following the same user) is told who it was, and changes nothing."""
    services = context.services
    outcome = await services.run(actions.acknowledge, services.store, user_id, rule_id,
                                 incident, who, rulebook=services.rulebook)
    if outcome is actions.Acknowledged.OVER:
        await query.answer("That alert is over already.")
        return
    if outcome not in (actions.Acknowledged.DONE, actions.Acknowledged.ALREADY):
        await query.answer("Could not change the alert; try again.")
        return
    first = await services.run(services.store.get_alert_rule, user_id, rule_id)
    by = first.state.ack_by if first is not None and first.state.ack_by else who
    # A heating warning has no reminders to stop: it is one message a failure.
    heating = first is not None and first.spec.kind is RuleKind.HEATING
    note = f"✓ Acknowledged by {by}." if heating else \
        f"✓ Acknowledged by {by}: no more reminders for this incident."
    buttons = after_press(Action.ACK, rule_id, incident)
    if outcome is actions.Acknowledged.ALREADY:
        await query.answer(f"Already acknowledged by {by}.")
        await show_on(query.message, note, buttons)
        return
    await query.answer(note)
    await show_on(query.message, note, buttons)
    await tell_other_chats(context, user_id, rule_id, chat_id, note, buttons)


async def show_on(message: MaybeInaccessibleMessage | None, note: str,
                  buttons: InlineKeyboardMarkup | None) -> None:
    """The pressed message says what was done (once) and keeps the buttons that still fit."""
    if not isinstance(message, Message) or not message.text:
        return
    text = message.text if note in message.text else f"{message.text}\n\n{note}"
    try:
        await message.edit_text(text, reply_markup=buttons)
    except BadRequest as error:  # "message is not modified": it says so already
        log.debug("alert message %s not edited: %s", message.message_id, error)


async def tell_other_chats(context: BotContext, user_id: str, rule_id: str, pressed_in: int,
                           note: str, buttons: InlineKeyboardMarkup | None) -> None:
    """Every other chat following the user (a second phone, a family group) loses the
    buttons that no longer fit under its copy of the alert, and hears what was done, quietly.
    A chat that cannot be reached is skipped: the press has been done all the same."""
    services = context.services
    rule = await services.run(services.store.get_alert_rule, user_id, rule_id)
    for chat_id, message_id in rule.state.messages if rule is not None else ():
        if chat_id == pressed_in:
            continue
        try:
            await context.bot.edit_message_reply_markup(chat_id, message_id,
                                                        reply_markup=buttons)
            await context.bot.send_message(chat_id, note, disable_notification=True,
                                           reply_to_message_id=message_id)
        except TelegramError as error:
            log.info("alert message %s in chat %s not updated: %s", message_id, chat_id, error)
