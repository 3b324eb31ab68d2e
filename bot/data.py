"""The user's data: /sensors, /latest, /history (charts), /export, /rename, /unit."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from bot.chart import caption, render_png, summarize
from bot.chat import chat_link, find_sensor, linked_sensor, no_such_sensor, reply
from bot.context import BotContext
from core.formatting import (
    CALLBACK_LIMIT,
    CAPTION_LIMIT,
    BadArgument,
    TimeRange,
    clip,
    format_ago,
    format_time,
    format_value,
    is_range,
    parse_range,
)
from storage.models import ChatLink, Reading, Sensor

DEFAULT_RANGE = "24h"
HISTORY_EXAMPLE = "e.g. /history attic 7d"


async def sensors_command(update: Update, context: BotContext) -> None:
    """/sensors: name, id, last value, last seen and alert state of every sensor."""
    link = await chat_link(update, context)
    if link is None:
        return
    services = context.services
    now = services.clock_ms()
    sensors = await services.run(services.store.list_sensors, link.user_id)
    if not sensors:
        await reply(update, "No sensors yet: they appear here with their first reading.")
        return
    latest = await services.run(services.store.latest_readings,
                                [(link.user_id, s.sensor_id) for s in sensors], now_ms=now)
    rules = await services.run(services.store.list_alert_rules, link.user_id)
    lines = []
    for sensor in sensors:
        last = latest.get((link.user_id, sensor.sensor_id))
        states = sorted({r.state.status for r in rules if r.sensor == sensor.sensor_id})
        seen = (f"{format_value(last.value, sensor.unit)} · last seen "
                f"{format_ago(last.timestamp, now)}") if last else "no recent readings"
        alert = f" · alerts: {', '.join(states)}" if states else ""
        lines.append(f"{sensor.display_name} ({sensor.sensor_id})\n  {seen}{alert}")
    await reply(update, "\n".join(lines))


async def latest_command(update: Update, context: BotContext) -> None:
    """/latest [sensor] (alias /status): the latest values."""
    link = await chat_link(update, context)
    if link is None:
        return
    services = context.services
    now = services.clock_ms()
    sensors = await services.run(services.store.list_sensors, link.user_id)
    if context.args:
        sensor = find_sensor(sensors, " ".join(context.args))
        if sensor is None:
            await reply(update, no_such_sensor(" ".join(context.args), sensors))
            return
        sensors = [sensor]
    latest = await services.run(services.store.latest_readings,
                                [(link.user_id, s.sensor_id) for s in sensors], now_ms=now)
    zone = services.zone(link)
    lines = [latest_line(s, latest.get((link.user_id, s.sensor_id)), zone, now) for s in sensors]
    await reply(update, "\n".join(lines) or "No sensors yet: they appear with their first reading.")


def latest_line(sensor: Sensor, last: Reading | None, zone: ZoneInfo, now: int) -> str:
    if last is None:
        return f"{sensor.display_name}: no recent readings"
    return (f"{sensor.display_name}: {format_value(last.value, sensor.unit)} "
            f"at {format_time(last.timestamp, zone, now)} ({format_ago(last.timestamp, now)})")


def history_callback_data(range_text: str, sensor_id: str) -> str:
    """`h:<range>:<sensor>`, or a digest of the sensor id where that passes 64 bytes."""
    data = f"h:{range_text}:{sensor_id}"
    if len(data.encode()) <= CALLBACK_LIMIT:
        return data
    return f"h:{range_text}:#{hashlib.sha256(sensor_id.encode()).hexdigest()[:16]}"


def sensor_from_callback(sensors: list[Sensor], key: str) -> Sensor | None:
    if key.startswith("#"):
        return next((s for s in sensors
                     if hashlib.sha256(s.sensor_id.encode()).hexdigest()[:16] == key[1:]), None)
    return next((s for s in sensors if s.sensor_id == key), None)


def split_history_args(args: list[str], sensors: list[Sensor]) -> tuple[str | None, str]:
    """`[sensor] [range]`. A lone argument that reads as a range is the range; otherwise the
    longest leading run of words naming a sensor is the sensor, and what follows the range."""
    if not args:
        return None, DEFAULT_RANGE
    if len(args) == 1 and is_range(args[0]) and find_sensor(sensors, args[0]) is None:
        return None, args[0]
    for cut in range(len(args), 0, -1):
        if find_sensor(sensors, " ".join(args[:cut])) is not None and len(args) - cut <= 1:
            return " ".join(args[:cut]), args[cut] if cut < len(args) else DEFAULT_RANGE
    if len(args) > 1:
        return " ".join(args[:-1]), args[-1]
    return args[0], DEFAULT_RANGE


async def history_command(update: Update, context: BotContext) -> None:
    """/history [sensor] [range]: a chart; without a sensor, buttons to pick one."""
    link = await chat_link(update, context)
    if link is None:
        return
    services = context.services
    sensors = await services.run(services.store.list_sensors, link.user_id)
    query, range_text = split_history_args(context.args or [], sensors)
    try:
        window = parse_range(range_text, now_ms=services.clock_ms(), zone=services.zone(link))
    except BadArgument as problem:
        await reply(update, f"{problem}. Example: /history attic 7d")
        return
    if query is None:
        await offer_sensors(update, sensors, range_text)
        return
    sensor = find_sensor(sensors, query)
    if sensor is None:
        await reply(update, no_such_sensor(query, sensors) + f" ({HISTORY_EXAMPLE})")
        return
    await send_chart(update, context, link, sensor, window)


async def offer_sensors(update: Update, sensors: list[Sensor], range_text: str) -> None:
    if not sensors:
        await reply(update, "No sensors yet: they appear with their first reading.")
        return
    rows = [[InlineKeyboardButton(s.display_name, callback_data=history_callback_data(
        range_text, s.sensor_id))] for s in sensors[:50]]
    await update.effective_message.reply_text(
        f"Which sensor? ({range_text})", reply_markup=InlineKeyboardMarkup(rows), do_quote=False)


async def history_button(update: Update, context: BotContext) -> None:
    """A sensor picked under /history."""
    query = update.callback_query
    await query.answer()
    link = await chat_link(update, context)
    if link is None:
        return
    services = context.services
    _, range_text, key = query.data.split(":", 2)
    sensors = await services.run(services.store.list_sensors, link.user_id)
    sensor = sensor_from_callback(sensors, key)
    if sensor is None:
        await reply(update, "That sensor is gone. Try /history again.")
        return
    window = parse_range(range_text, now_ms=services.clock_ms(), zone=services.zone(link))
    await send_chart(update, context, link, sensor, window)


async def send_chart(update: Update, context: BotContext, link: ChatLink, sensor: Sensor,
                     window: TimeRange) -> None:
    services = context.services
    readings = await services.run(services.store.read_range, link.user_id, sensor.sensor_id,
                                  window.start_ms, window.end_ms, now_ms=services.clock_ms())
    if not readings:
        await reply(update, f"No readings from {sensor.display_name} in {window.label}.")
        return
    zone = services.zone(link)
    png = await services.run(render_png, readings, title=f"{sensor.display_name} · "
                             f"{window.label} ({zone.key})", unit=sensor.unit, zone=zone)
    text = caption(sensor.display_name, sensor.unit, summarize(readings), window.label)
    await update.effective_message.reply_photo(
        InputFile(png, filename=f"{sensor.sensor_id.replace('/', '_')}.png"),
        caption=clip(text, CAPTION_LIMIT), do_quote=False)


async def export_command(update: Update, context: BotContext) -> None:
    """/export <sensor> [range]: every reading of the range as a CSV document."""
    link = await chat_link(update, context)
    if link is None:
        return
    services = context.services
    sensors = await services.run(services.store.list_sensors, link.user_id)
    query, range_text = split_history_args(context.args or [], sensors)
    if query is None:
        await reply(update, "Which sensor? e.g. /export attic 7d")
        return
    try:
        window = parse_range(range_text, now_ms=services.clock_ms(), zone=services.zone(link))
    except BadArgument as problem:
        await reply(update, f"{problem}. Example: /export attic 7d")
        return
    sensor = find_sensor(sensors, query)
    if sensor is None:
        await reply(update, no_such_sensor(query, sensors) + " (e.g. /export attic 7d)")
        return
    readings = await services.run(services.store.read_range, link.user_id, sensor.sensor_id,
                                  window.start_ms, window.end_ms, now_ms=services.clock_ms())
    data = to_csv(readings, services.zone(link))
    name = f"{sensor.sensor_id.replace('/', '_')}_{range_text.replace('..', '_')}.csv"
    await update.effective_message.reply_document(
        InputFile(data, filename=name), do_quote=False,
        caption=f"{sensor.display_name} · {window.label} · {len(readings):,} readings")


def to_csv(readings: list[Reading], zone: ZoneInfo) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp_ms", "local_time", "value"])
    for r in readings:
        local = datetime.fromtimestamp(r.timestamp / 1000, zone).isoformat(timespec="seconds")
        writer.writerow([r.timestamp, local, repr(r.value)])
    return out.getvalue().encode()


async def rename_command(update: Update, context: BotContext) -> None:
    """/rename <sensor> <name>."""
    await set_sensor_field(update, context, "name", "/rename attic Attic")


async def unit_command(update: Update, context: BotContext) -> None:
    """/unit <sensor> <unit>."""
    await set_sensor_field(update, context, "unit", "/unit attic °C")


async def set_sensor_field(update: Update, context: BotContext, field: str, example: str) -> None:
    found = await linked_sensor(update, context, min_args=2,
                                usage=f"Give a sensor and its new {field}, e.g. {example}")
    if found is None:
        return
    link, sensor, args = found
    services = context.services
    value = clip(" ".join(args[1:]), 64)
    changed = await services.run(services.store.update_sensor, link.user_id, sensor.sensor_id,
                                 now_ms=services.clock_ms(), **{field: value})
    await reply(update, f"{sensor.sensor_id}: {field} is now '{value}'. "
                        f"It shows as {changed.display_name}"
                        f"{' in ' + changed.unit if changed.unit else ''}.")
