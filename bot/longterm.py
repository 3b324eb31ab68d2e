"""/history past 48 h: drawn from the hourly statistics, which outlive the readings."""

from __future__ import annotations

from telegram import InputFile, Update

from bot.chart import caption, render_statistics_png, summarize_statistics, threshold_lines
from bot.chat import reply
from bot.context import BotContext
from core.formatting import CAPTION_LIMIT, TimeRange, clip, safe_filename
from storage.models import ChatLink, Sensor
from storage.rollup import hourly_history


async def send_statistics_chart(update: Update, context: BotContext, link: ChatLink,
                                sensor: Sensor, window: TimeRange) -> None:
    """The mean line in the min–max band of each hour (merged to a pixel column a bucket)."""
    services = context.services
    history = await services.run(hourly_history, services.store, link.user_id,
                                 sensor.sensor_id, window.start_ms, window.end_ms,
                                 now_ms=services.clock_ms())
    if not history.hours:
        await reply(update, f"No readings from {sensor.display_name} {window.during}.")
        return
    rules = await services.run(services.store.list_alert_rules, link.user_id)
    zone = services.zone(link)
    png = await services.draw(
        render_statistics_png, history.hours,
        title=f"{sensor.display_name} · {window.label} ({zone.key})", unit=sensor.unit,
        zone=zone, window=(window.start_ms, window.end_ms),
        thresholds=threshold_lines(rules, sensor.sensor_id, sensor.unit))
    text = caption(sensor.display_name, sensor.unit,
                   summarize_statistics(history.hours, history.last), window.label)
    if update.effective_message is not None:
        await update.effective_message.reply_photo(
            InputFile(png, filename=f"{safe_filename(sensor.sensor_id)}.png"),
            caption=clip(text + " · hourly min, max and mean", CAPTION_LIMIT), do_quote=False)
