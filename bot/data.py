"""The user's data: /sensors, /latest, /history (charts), /export, /rename, /unit."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from alerts import actions
from bot.chart import caption, render_png, summarize, threshold_lines
from bot.chat import (
    command_words,
    linked,
    linked_sensor,
    match_sensors,
    pressed_in_linked_chat,
    quote,
    reply,
    resolve_sensor,
    sensor_by_key,
    sensor_key,
    split_sensor_words,
    too_many_words,
)
from bot.context import BotContext
from bot.export import write_export, write_hourly_export
from bot.heating_chart import Ahead
from bot.heating_chart import note as prediction_note
from bot.heating_chart import title as chart_title
from bot.longterm import send_statistics_chart
from bot.pages import Page, page_buttons, page_of, page_text
from bot.sensor_list import sensor_lines
from core.formatting import (
    CAPTION_LIMIT,
    BadArgument,
    TimeRange,
    clip,
    format_ago,
    format_time,
    format_value,
    is_range,
    looks_like_range,
    parse_range,
    plural,
    safe_filename,
)
from storage.models import MAX_UNIT, ChatLink, Reading, Sensor
from storage.rollup import LONG_RANGE_MS

# Longer ones are refused: clipped, they would be stored with their "…".
MAX_NAME = 64
RELEARNING = "Its heating watch learns its usual level again in that unit."

log = logging.getLogger("sensorbot.bot")

Paged = tuple[str, InlineKeyboardMarkup | None]
DEFAULT_RANGE = "24h"
HISTORY_EXAMPLE = "e.g. /history attic 7d"
# The callback data prefixes of the sensor buttons /history and /export offer.
HISTORY_BUTTON = "h:"
EXPORT_BUTTON = "e:"


NO_SENSORS = "No sensors yet: they appear here with their first reading."
NAME_LIMIT = 40  # of a name in a list entry


@linked
async def sensors_command(update: Update, context: BotContext, link: ChatLink) -> None:
    """/sensors: name, id, last value, last seen and alert state of every sensor, a page at
    a time."""
    await send_page(update, *await sensors_page(context, link, 1))


async def sensors_page(context: BotContext, link: ChatLink, number: int) -> Paged:
    """/sensors' page `number`: only its sensors' latest readings are read."""
    found = await sensors_with_latest(context, link, number)
    if found is None:
        return NO_SENSORS, None
    page, last, now = found
    services = context.services
    rules = await services.run(services.store.list_alert_rules, link.user_id)
    states = {s.sensor_id: sorted({r.state.status for r in rules if r.sensor == s.sensor_id})
              for s in page.items}
    entries = sensor_lines(page.items, last, states, now)
    return page_text(entries, page, "sensor"), page_buttons("s", page)


async def sensors_with_latest(context: BotContext, link: ChatLink, number: int
                              ) -> tuple[Page[Sensor], dict[str, Reading], int] | None:
    """Page `number` of the chat's sensors, the latest reading of each sensor on it (by id)
    and the time it was read at; None when the user has no sensors."""
    services = context.services
    now = services.clock_ms()
    sensors = await services.run(services.store.list_sensors, link.user_id)
    if not sensors:
        return None
    page = page_of(sensors, number)
    latest = await services.run(services.store.latest_readings,
                                [(link.user_id, s.sensor_id) for s in page.items], now_ms=now)
    return page, {sensor: reading for (_, sensor), reading in latest.items()}, now


async def send_page(update: Update, text: str, buttons: InlineKeyboardMarkup | None) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(text, reply_markup=buttons, do_quote=False)


@linked
async def latest_command(update: Update, context: BotContext, link: ChatLink) -> None:
    """/latest [sensor] (alias /status): the latest values, a page at a time."""
    words = await command_words(update, context)
    if words is None:
        return
    if not words:
        await send_page(update, *await latest_page(context, link, 1))
        return
    services = context.services
    sensors = await services.run(services.store.list_sensors, link.user_id)
    query, rest = split_sensor_words(words, sensors, keep=0, pick=context.pick)
    if rest and match_sensors(sensors, query):  # `/latest attic 7d`: a range is /history's
        await reply(update, f"{too_many_words(rest)} /latest takes one sensor, e.g. /latest "
                            f"{quote(query)}; a chart of a range is /history {quote(query)} 7d")
        return
    sensor = await resolve_sensor(update, context, sensors, " ".join(words), [],
                                  usage="e.g. /latest attic")
    if sensor is None:
        return
    now = services.clock_ms()
    last = await services.run(services.store.latest_reading, link.user_id, sensor.sensor_id,
                              now_ms=now)
    await reply(update, latest_line(sensor, last, services.zone(link), now))


async def latest_page(context: BotContext, link: ChatLink, number: int) -> Paged:
    """/latest's page `number`."""
    found = await sensors_with_latest(context, link, number)
    if found is None:
        return NO_SENSORS, None
    page, last, now = found
    zone = context.services.zone(link)
    entries = [latest_line(s, last.get(s.sensor_id), zone, now) for s in page.items]
    return page_text(entries, page, "sensor"), page_buttons("l", page)


def latest_line(sensor: Sensor, last: Reading | None, zone: ZoneInfo, now: int) -> str:
    name = clip(sensor.display_name, NAME_LIMIT * 2)
    if last is None:
        return f"{name}: no recent readings"
    return (f"{name}: {format_value(last.value, sensor.unit)} "
            f"at {format_time(last.timestamp, zone, now)} ({format_ago(last.timestamp, now)})")


def sensor_callback_data(prefix: str, range_text: str, sensor_id: str) -> str:
    """`<prefix><range>:#<key>` (`h:` for /history, `e:` for /export): a short key stands for
    an id of up to 200 characters, so the data stays within Telegram's 64 bytes."""
    return f"{prefix}{range_text}:#{sensor_key(sensor_id)}"


def picked_from_callback(prefix: str, data: str) -> tuple[str, str] | None:
    """The range and sensor key of a button offer_sensors made for the command of `prefix`;
    None for anything else."""
    if not data.startswith(prefix):
        return None
    parts = data[len(prefix):].split(":", 1)
    if len(parts) != 2 or not is_range(parts[0]) or not parts[1]:
        return None
    return parts[0], parts[1]


def sensor_from_callback(sensors: list[Sensor], key: str) -> Sensor | None:
    """`#<key>`, or the plain id older buttons carry."""
    if key.startswith("#"):
        return sensor_by_key(sensors, key[1:])
    return next((s for s in sensors if s.sensor_id == key), None)


def split_history_args(args: list[str], sensors: list[Sensor]) -> tuple[str | None, str]:
    """`[sensor] [range]`. A lone argument that reads as a range (or as one mistyped, `0h`)
    and names no sensor is the range; otherwise the longest leading run of words naming a
    sensor is the sensor, and what follows the range."""
    if not args:
        return None, DEFAULT_RANGE
    if len(args) == 1 and looks_like_range(args[0]) and not match_sensors(sensors, args[0]):
        return None, args[0]
    for cut in range(len(args), 0, -1):
        if match_sensors(sensors, " ".join(args[:cut])) and len(args) - cut <= 1:
            return " ".join(args[:cut]), args[cut] if cut < len(args) else DEFAULT_RANGE
    if len(args) > 1:
        return " ".join(args[:-1]), args[-1]
    return args[0], DEFAULT_RANGE


def misplaced_words(words: list[str], sensors: list[Sensor], example: str) -> str | None:
    """What is wrong with `[sensor] [range]` words that hold more: the range first
    (`7d attic`), a second sensor (`attic cellar 7d`) or a second range (`attic 7d 30d`);
    None when they hold none of these."""
    command = example.split()[0]
    cut = _sensor_run(words, sensors)
    if not cut:
        if len(words) > 1 and looks_like_range(words[0]) and _sensor_run(words[1:], sensors) \
                == len(words) - 1:
            return f"The sensor goes first, e.g. {command} {quote(' '.join(words[1:]))} {words[0]}"
        return None
    first, rest = " ".join(words[:cut]), words[cut:]
    second = _sensor_run(rest, sensors)
    if rest and second and not is_range(rest[0]):
        others = " ".join(rest[second:])
        both = f"{command} {quote(first)} {others}".rstrip()
        hint = f"; /compare {quote(first)} {quote(' '.join(rest[:second]))} {others}".rstrip() \
            + " draws both" if command == "/history" else ""
        return f"{command} takes one sensor, e.g. {both}{hint}"
    if len(rest) > 1 and looks_like_range(rest[0]):
        return f"{too_many_words(rest[1:])} Example: {example}"
    return None


def _sensor_run(words: list[str], sensors: list[Sensor]) -> int:
    """How many leading words name a sensor together, the most that do; 0 when none do."""
    return next((cut for cut in range(len(words), 0, -1)
                 if match_sensors(sensors, " ".join(words[:cut]))), 0)


async def sensor_and_window(update: Update, context: BotContext, link: ChatLink,
                            example: str) -> tuple[Sensor | None, str, TimeRange] | None:
    """/history's and /export's `[sensor] [range]`: None after saying what was wrong; a None
    sensor when none was named."""
    words = await command_words(update, context)
    if words is None:
        return None
    services = context.services
    sensors = await services.run(services.store.list_sensors, link.user_id)
    problem = None if context.pick else misplaced_words(words, sensors, example)
    if problem:
        await reply(update, problem)
        return None
    query, range_text = split_history_args(words, sensors)
    try:
        window = parse_range(range_text, now_ms=services.clock_ms(), zone=services.zone(link))
    except BadArgument as problem:
        await reply(update, f"{problem}. Example: {example}")
        return None
    if query is None:
        return None, range_text, window
    rest = [range_text] if len(words) > 1 or query != " ".join(words) else []
    sensor = await resolve_sensor(update, context, sensors, query, rest, usage=f"e.g. {example}")
    return (sensor, range_text, window) if sensor else None


@linked
async def history_command(update: Update, context: BotContext, link: ChatLink) -> None:
    """/history [sensor] [range]: a chart; without a sensor, buttons to pick one."""
    found = await sensor_and_window(update, context, link, "/history attic 7d")
    if found is None:
        return
    sensor, range_text, window = found
    if sensor is None:
        await offer_sensors(update, context, link, range_text, HISTORY_BUTTON)
        return
    await send_chart(update, context, link, sensor, window)


async def offer_sensors(update: Update, context: BotContext, link: ChatLink, range_text: str,
                        prefix: str) -> None:
    """"Which sensor?" with a button per sensor; a press comes back with `prefix` (the
    command's own: HISTORY_BUTTON or EXPORT_BUTTON) and the range."""
    services = context.services
    sensors = await services.run(services.store.list_sensors, link.user_id)
    if not sensors:
        await reply(update, "No sensors yet: they appear with their first reading.")
        return
    rows = [[InlineKeyboardButton(s.display_name, callback_data=sensor_callback_data(
        prefix, range_text, s.sensor_id))] for s in sensors[:50]]
    if update.effective_message is None:
        return
    await update.effective_message.reply_text(
        f"Which sensor? ({range_text})", reply_markup=InlineKeyboardMarkup(rows), do_quote=False)


async def sensor_pressed(update: Update, context: BotContext, prefix: str, command: str
                         ) -> tuple[ChatLink, Sensor, str, TimeRange] | None:
    """The chat's link, the sensor picked under offer_sensors, its range and window; None after
    answering the press: quietly for button data the bot did not make (or older data), with
    how to link in a chat that is not linked, with a sentence when the sensor is gone."""
    query = update.callback_query
    if query is None:
        return None
    parsed = picked_from_callback(prefix, query.data or "")
    if parsed is None:
        log.info("ignored %s button data %r", command, query.data)
        await query.answer()
        return None
    range_text, key = parsed
    link = await pressed_in_linked_chat(update, context, query)
    if link is None:
        return None
    services = context.services
    sensors = await services.run(services.store.list_sensors, link.user_id)
    sensor = sensor_from_callback(sensors, key)
    if sensor is None:
        await query.answer(f"That sensor is gone. Try /{command} again.")
        return None
    await query.answer()
    window = parse_range(range_text, now_ms=services.clock_ms(), zone=services.zone(link))
    return link, sensor, range_text, window


async def history_button(update: Update, context: BotContext) -> None:
    """A sensor picked under /history: its chart."""
    picked = await sensor_pressed(update, context, HISTORY_BUTTON, "history")
    if picked is not None:
        link, sensor, _, window = picked
        await send_chart(update, context, link, sensor, window)


async def send_chart(update: Update, context: BotContext, link: ChatLink, sensor: Sensor,
                     window: TimeRange, prediction: Ahead | None = None) -> None:
    """The sensor's chart over `window`; a firing heating watch's course after now, with
    words in the title and caption for what it draws."""
    if window.end_ms - window.start_ms > LONG_RANGE_MS:
        await send_statistics_chart(update, context, link, sensor, window)
        return
    services = context.services
    readings = await services.run(services.store.read_range, link.user_id, sensor.sensor_id,
                                  window.start_ms, window.end_ms, now_ms=services.clock_ms())
    if not readings:
        await reply(update, f"No readings from {sensor.display_name} {window.during}.")
        return
    rules = await services.run(services.store.list_alert_rules, link.user_id)
    zone = services.zone(link)
    ahead = prediction or Ahead((), window.end_ms, None, capped=False)
    png = await services.draw(
        render_png, readings, title=chart_title(sensor.display_name, window.label, zone.key,
                                                ahead),
        unit=sensor.unit, zone=zone, window=(window.start_ms, window.end_ms),
        thresholds=threshold_lines(rules, sensor.sensor_id, sensor.unit),
        prediction=ahead.course)
    text = caption(sensor.display_name, sensor.unit, summarize(readings), window.label)
    if ahead.course:
        text = f"{text}\n{prediction_note(ahead)}"
    if update.effective_message is None:
        return
    await update.effective_message.reply_photo(
        InputFile(png, filename=f"{safe_filename(sensor.sensor_id)}.png"),
        caption=clip(text, CAPTION_LIMIT), do_quote=False)


@linked
async def export_command(update: Update, context: BotContext, link: ChatLink) -> None:
    """/export [sensor] [range]: every reading of the range as a CSV document (gzip parts when
    large), written in a worker thread; without a sensor, buttons to pick one."""
    found = await sensor_and_window(update, context, link, "/export attic 7d")
    if found is None:
        return
    sensor, range_text, window = found
    if sensor is None:
        await offer_sensors(update, context, link, range_text, EXPORT_BUTTON)
        return
    await send_export(update, context, link, sensor, range_text, window)


async def export_button(update: Update, context: BotContext) -> None:
    """A sensor picked under /export: the same files as /export <sensor> <range>."""
    picked = await sensor_pressed(update, context, EXPORT_BUTTON, "export")
    if picked is not None:
        await send_export(update, context, *picked)


async def send_export(update: Update, context: BotContext, link: ChatLink, sensor: Sensor,
                      range_text: str, window: TimeRange) -> None:
    """The sensor's readings over `window` as documents named after it and `range_text`; past
    48 h, hourly statistics; an empty range says so instead."""
    services = context.services
    stem = f"{safe_filename(sensor.sensor_id)}_{safe_filename(range_text.replace('..', '_'))}"
    hourly = window.end_ms - window.start_ms > LONG_RANGE_MS  # hourly statistics rows
    files = await services.run(write_hourly_export if hourly else write_export, services.store,
                               link.user_id, sensor.sensor_id, window.start_ms, window.end_ms,
                               now_ms=services.clock_ms(), zone=services.zone(link), stem=stem)
    try:
        if not files.count or update.effective_message is None:
            await reply(update, f"No readings from {sensor.display_name} {window.during}.")
            return
        parts = files.named_parts()
        for number, (path, name) in enumerate(parts, 1):
            with path.open("rb") as content:
                await update.effective_message.reply_document(
                    InputFile(content, filename=name, read_file_handle=False), do_quote=False,
                    caption=clip(export_caption(sensor, window, files.count, files.compressed,
                                                number, len(parts), files.row_word),
                                 CAPTION_LIMIT))
    finally:
        await services.run(files.close)


def export_caption(sensor: Sensor, window: TimeRange, count: int, compressed: bool,
                   number: int, parts: int, row_word: str = "reading") -> str:
    text = f"{sensor.display_name} · {window.label} · {plural(count, row_word)}"
    if row_word == "hour":
        text += " of statistics (n, min, max, mean)"
    if compressed:
        text += " · gzip-compressed CSV"
    return text + (f" · part {number} of {parts}" if parts > 1 else "")


async def rename_command(update: Update, context: BotContext) -> None:
    """/rename <sensor> <name>: display names are unique, so a name means one sensor."""
    found = await linked_sensor(update, context, min_args=2, usage=(
        'Give a sensor and its new name, e.g. /rename attic Attic or /rename "loft space" Loft'))
    if found is None:
        return
    link, sensor, args = found
    services = context.services
    name = " ".join(args[1:]).strip()
    if len(name) > MAX_NAME:
        await reply(update, f"A name is at most {MAX_NAME} characters; that one has "
                            f"{len(name)}. E.g. /rename attic Attic")
        return
    sensors = await services.run(services.store.list_sensors, link.user_id)
    taken = next((s for s in sensors if s.sensor_id != sensor.sensor_id
                  and s.display_name.casefold() == name.casefold()), None)
    if taken is not None:
        await reply(update, f"Another sensor ({taken.sensor_id}) is already called "
                            f"'{taken.display_name}'. Pick a name no other sensor shows as, "
                            f"e.g. /rename {quote(sensor.sensor_id)} {quote(name + ' 2')}")
        return
    changed = await services.run(services.store.update_sensor, link.user_id, sensor.sensor_id,
                                 now_ms=services.clock_ms(), name=name or None)
    await reply(update, f"Renamed: sensor {sensor.sensor_id} now shows as "
                        f"{changed.display_name}." if name else
                f"Name cleared: sensor {sensor.sensor_id} shows as its id again.")


async def unit_command(update: Update, context: BotContext) -> None:
    """/unit <sensor> <unit>."""
    found = await linked_sensor(update, context, min_args=2,
                                usage="Give a sensor and its unit, e.g. /unit attic °C")
    if found is None:
        return
    link, sensor, args = found
    services = context.services
    unit = " ".join(args[1:]).strip()
    if len(unit) > MAX_UNIT:
        await reply(update, f"A unit is at most {MAX_UNIT} characters; that one has "
                            f"{len(unit)}. E.g. /unit attic °C")
        return
    changed = await services.run(services.store.update_sensor, link.user_id, sensor.sensor_id,
                                 now_ms=services.clock_ms(), unit=unit or None)
    relearned = await services.run(actions.unit_set, services.store, link.user_id,
                                   sensor.sensor_id, changed.unit, rulebook=services.rulebook)
    again = f" {RELEARNING}" if relearned else ""
    await reply(update, f"Unit set: {changed.display_name} now shows values in "
                        f"{changed.unit}.{again}" if changed.unit else
                f"Unit cleared: {changed.display_name} now shows bare numbers.{again}")
