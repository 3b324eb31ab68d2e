"""/compare: up to five sensors on one chart, a line and a colour each, one or two units."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from telegram import InputFile, Update

from bot.chart import Buckets, bucket, hour_buckets, lone_marker, new_figure, png_of, time_axis
from bot.chat import command_words, linked, match_sensors, reply, resolve_sensor
from bot.context import BotContext
from core.formatting import (
    CAPTION_LIMIT,
    BadArgument,
    TimeRange,
    clip,
    echo,
    format_value,
    looks_like_range,
    parse_range,
)
from storage.base import Store
from storage.models import ChatLink, Sensor
from storage.rollup import LONG_RANGE_MS, hourly_history

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_SENSORS = 5
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
DEFAULT_RANGE = "24h"
LEGEND_COLUMNS = 2
LEGEND_ROW_PX = 22  # one row of small text
LEGEND_PAD_PX = 10
USAGE = "e.g. /compare attic cellar 7d, or /compare \"Living room\" attic sauna 1y"


@dataclass(frozen=True)
class Line:
    """One sensor's line: its buckets, and the figures its legend entry gives."""

    sensor: Sensor
    buckets: Buckets
    last: float | None
    minimum: float
    maximum: float

    def label(self) -> str:
        unit = self.sensor.unit
        shown = [f"last {format_value(self.last, unit)}"] if self.last is not None else []
        shown += [f"min {format_value(self.minimum, unit)}",
                  f"max {format_value(self.maximum, unit)}"]
        return f"{self.sensor.display_name} · " + " · ".join(shown)


def split_compare_args(words: list[str], sensors: list[Sensor]) -> tuple[list[str], str]:
    """`<sensor> <sensor> […] [range]`: the last word is the range when it reads as one (or as
    one mistyped, `0h`) and names no sensor; the rest are sensors, each the longest run of
    words naming one."""
    range_text = DEFAULT_RANGE
    if words and looks_like_range(words[-1]) and not match_sensors(sensors, words[-1]):
        words, range_text = words[:-1], words[-1]
    queries, start = [], 0
    while start < len(words):
        cut = next((end for end in range(len(words), start, -1)
                    if match_sensors(sensors, " ".join(words[start:end]))), start + 1)
        queries.append(" ".join(words[start:cut]))
        start = cut
    return queries, range_text


def too_many_units(sensors: list[Sensor]) -> str | None:
    """A sentence refusing more than two units, or None."""
    units = list(dict.fromkeys(s.unit or "no unit" for s in sensors))
    if len(units) <= 2:
        return None
    return (f"These sensors have {len(units)} units ({', '.join(units)}); a chart has room for "
            "two, one axis each. Compare sensors of one or two units, e.g. /compare attic "
            "cellar 7d.")


def read_line(store: Store, user_id: str, sensor: Sensor, window: TimeRange, *,
              now_ms: int) -> Line | None:
    """The sensor's line over the window: readings up to 48 h, hourly statistics past that."""
    if window.end_ms - window.start_ms > LONG_RANGE_MS:
        history = hourly_history(store, user_id, sensor.sensor_id, window.start_ms,
                                 window.end_ms, now_ms=now_ms)
        if not history.hours:
            return None
        return Line(sensor, hour_buckets(history.hours),
                    history.last.value if history.last else None,
                    min(h.minimum for h in history.hours), max(h.maximum for h in history.hours))
    readings = store.read_range(user_id, sensor.sensor_id, window.start_ms, window.end_ms,
                                now_ms=now_ms)
    if not readings:
        return None
    values = [r.value for r in readings]
    return Line(sensor, bucket(readings), values[-1], min(values), max(values))


def render_compare_png(lines: list[Line], *, title: str, zone: ZoneInfo,
                       window: tuple[int, int]) -> bytes:
    return png_of(draw_compare(lines, title=title, zone=zone, window=window))


def draw_compare(lines: list[Line], *, title: str, zone: ZoneInfo,
                 window: tuple[int, int]) -> Figure:
    """One line per sensor; a second unit gets the right-hand axis. Names are drawn as they
    are (no mathtext)."""
    figure, x_of = new_figure(zone)
    _make_room_below(figure, rows=math.ceil(len(lines) / LEGEND_COLUMNS))
    left = figure.add_subplot()
    units = list(dict.fromkeys(line.sensor.unit for line in lines))
    axes_of: dict[str | None, Any] = {units[0]: left}
    if len(units) > 1:
        axes_of[units[1]] = left.twinx()
    handles = []
    for colour, line in zip(COLOURS, lines, strict=False):
        axes = axes_of[line.sensor.unit]
        times = x_of(line.buckets.times_ms.tolist())
        handles += axes.plot(times, line.buckets.means, color=colour, linewidth=1.4,
                             marker=lone_marker(times), label=line.label())
    for unit, axes in axes_of.items():
        axes.set_ylabel(unit or "value", parse_math=False)
    time_axis(left, zone, x_of, window)
    left.set_title(title, parse_math=False)
    # Below the plot, not over it: five lines' figures would cover the lines themselves.
    legend = left.legend(handles=handles, loc="lower center", ncols=LEGEND_COLUMNS,
                         fontsize="small", frameon=False,
                         bbox_to_anchor=(0.5, 4 / figure.bbox.height, 0, 0),
                         bbox_transform=figure.transFigure)
    for text in legend.get_texts():
        text.set_parse_math(False)
    return figure


def _make_room_below(figure: Figure, rows: int) -> None:
    """Grows the figure downwards by `rows` legend rows, keeping the plot's size and margins in
    pixels."""
    width, height = figure.get_size_inches()
    added_px = LEGEND_ROW_PX * rows + LEGEND_PAD_PX
    dpi = figure.dpi
    grown = height * dpi + added_px
    params = figure.subplotpars
    figure.set_size_inches(width, grown / dpi)
    figure.subplots_adjust(right=0.93, top=1 - (1 - params.top) * height * dpi / grown,
                           bottom=(params.bottom * height * dpi + added_px) / grown)


@linked
async def compare_command(update: Update, context: BotContext, link: ChatLink) -> None:
    """/compare <sensor> <sensor> […] [range]: up to five sensors on one chart."""
    words = await command_words(update, context)
    if words is None:
        return
    services = context.services
    all_sensors = await services.run(services.store.list_sensors, link.user_id)
    queries, range_text = split_compare_args(words, all_sensors)
    stray = next((q for q in queries if looks_like_range(q) and not match_sensors(all_sensors, q)),
                 None)
    if stray is not None:  # `attic 7d cellar`, `attic cellar 7d 30d`
        await reply(update, f"'{echo(stray)}' reads as a range: give one range, after the "
                            f"sensors; {USAGE}")
        return
    if not 2 <= len(queries) <= MAX_SENSORS:
        count = f"{len(queries)} {'sensor is' if len(queries) == 1 else 'sensors are'} " \
            f"{'too few' if len(queries) < 2 else 'too many'}. " if queries else ""
        await reply(update, f"{count}Give 2 to {MAX_SENSORS} sensors and a range if you like, "
                            f"{USAGE}")
        return
    try:
        window = parse_range(range_text, now_ms=services.clock_ms(), zone=services.zone(link))
    except BadArgument as problem:
        await reply(update, f"{problem}; {USAGE}")
        return
    chosen: list[Sensor] = []
    for number, query in enumerate(queries):
        # The question's button runs the command again: the sensors already found go by id.
        rest = [s.sensor_id for s in chosen] + queries[number + 1:] + [range_text]
        sensor = await resolve_sensor(update, context, all_sensors, query, rest, usage=USAGE)
        if sensor is None:
            return
        chosen.append(sensor)
    chosen = list({s.sensor_id: s for s in chosen}.values())
    refusal = too_many_units(chosen) if len(chosen) > 1 else (
        f"Those all name {chosen[0].display_name}: give 2 to {MAX_SENSORS} different sensors, "
        f"{USAGE}")
    if refusal:
        await reply(update, refusal)
        return
    await send_compare(update, context, link.user_id, chosen, window, services.zone(link))


async def send_compare(update: Update, context: BotContext, user_id: str,
                       sensors: list[Sensor], window: TimeRange, zone: ZoneInfo) -> None:
    services = context.services
    now = services.clock_ms()
    found = await asyncio.gather(*(services.run(read_line, services.store, user_id, sensor,
                                                window, now_ms=now) for sensor in sensors))
    lines = [line for line in found if line is not None]
    missing = [s.display_name for s, line in zip(sensors, found, strict=True) if line is None]
    if not lines:
        await reply(update, f"No readings from these sensors {window.during}.")
        return
    png = await services.draw(render_compare_png, lines, zone=zone,
                              window=(window.start_ms, window.end_ms),
                              title=f"{' · '.join(s.display_name for s in sensors)} · "
                                    f"{window.label} ({zone.key})")
    text = f"{window.label}\n" + "\n".join(line.label() for line in lines)
    if missing:
        text += f"\nNo readings in this range: {', '.join(missing)}"
    if update.effective_message is not None:
        await update.effective_message.reply_photo(
            InputFile(png, filename="compare.png"), caption=clip(text, CAPTION_LIMIT),
            do_quote=False)
