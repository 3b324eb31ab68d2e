"""Where the heating watch gets the outside temperature: /outdoor, /location and a location
shared in the chat. The settings live in alerts.outside; these handlers parse, call and
answer."""

from __future__ import annotations

import math
import re

from telegram import Update

from alerts.outside import BadLocation, set_location, set_outdoor_sensor, settings_of
from bot.chat import (
    chat_link,
    command_words,
    linked,
    linked_sensor,
    names_a_sensor,
    reply,
    too_many_words,
)
from bot.context import BotContext
from core.formatting import MINUS
from storage.models import ChatLink, OutsideSettings

OUTDOOR_USAGE = "Give your outdoor sensor, or off: e.g. /outdoor garden, or /outdoor off"
DECIMAL_COMMA = re.compile(rf"[-{MINUS}]?\d+,\d+")
LOCATION_USAGE = ("Give the latitude and longitude in degrees, or off: e.g. /location 60.17 "
                  "24.94, or /location off. Or share a location here (📎 → Location).")


def describe_outside(settings: OutsideSettings, sensor_name: str | None,
                     forecasts_on: bool) -> str:
    """What the heating watch will use, in a sentence or two."""
    now = f"your outdoor sensor {sensor_name or settings.outdoor_sensor} for the outside " \
          "temperature up to now" if settings.outdoor_sensor else "no outdoor sensor"
    if settings.location is None:
        ahead = "no forecast (no location set)"
    elif not forecasts_on:
        ahead = "no forecast (forecasts are off in this bot's configuration)"
    else:
        latitude, longitude = settings.location
        ahead = f"the hourly forecast at {latitude:g}, {longitude:g} for the hours ahead"
    text = f"The heating watch will use {now}, and {ahead}."
    if settings.outdoor_sensor is None and settings.location is None:
        text += (" Without either it can still warn that the heating stopped, but says when "
                 "a sensor reaches 0 °C from the indoor readings alone.")
    return text


def parse_location(words: list[str]) -> tuple[float, float]:
    """`60.17 24.94`, `60.17, 24.94`, or with decimal commas as much of Europe writes them,
    `60,17 24,94`."""
    if len(words) == 2 and all(DECIMAL_COMMA.fullmatch(word) for word in words):
        words = [word.replace(",", ".") for word in words]
    parts = [part for word in words for part in word.split(",") if part]
    if len(parts) != 2:
        raise BadLocation("that is not a latitude and a longitude")
    numbers = []
    for part in parts:
        try:
            number = float(part.replace(MINUS, "-"))
        except ValueError:
            raise BadLocation(f"'{part[:30]}' is not a number") from None
        if not math.isfinite(number):
            raise BadLocation(f"'{part[:30]}' is not a finite number")
        numbers.append(number)
    return numbers[0], numbers[1]


async def _sensor_name(context: BotContext, settings: OutsideSettings) -> str | None:
    if settings.outdoor_sensor is None:
        return None
    services = context.services
    sensor = await services.run(services.store.get_sensor, settings.user_id,
                                settings.outdoor_sensor)
    return sensor.display_name if sensor else None


async def _confirm(update: Update, context: BotContext, settings: OutsideSettings,
                   done: str) -> None:
    forecasts_on = context.services.settings.forecast.provider != "off"
    name = await _sensor_name(context, settings)
    await reply(update, f"{done} {describe_outside(settings, name, forecasts_on)}")


async def outdoor_command(update: Update, context: BotContext) -> None:
    """/outdoor <sensor|off>: the sensor outside, for the heating watch."""
    words = await command_words(update, context)
    if words is None:
        return
    services = context.services
    if not words or words[0].lower() == "off":
        link = await chat_link(update, context)
        if link is None:
            return
        sensors = await services.run(services.store.list_sensors, link.user_id) \
            if len(words) > 1 else []
        if not words:
            settings = await services.run(settings_of, services.store, link.user_id)
            await _confirm(update, context, settings, f"{OUTDOOR_USAGE}.")
            return
        if len(words) == 1:
            settings = await services.run(set_outdoor_sensor, services.store, link.user_id,
                                          None)
            await _confirm(update, context, settings, "Outdoor sensor off.")
            return
        if not names_a_sensor(sensors, words):  # else a sensor whose name begins with "off"
            await reply(update, f"{too_many_words(words[1:])} {OUTDOOR_USAGE}")
            return
    found = await linked_sensor(update, context, min_args=1, usage=OUTDOOR_USAGE)
    if found is None:
        return
    link, sensor, args = found
    if len(args) != 1:
        await reply(update, f"{too_many_words(args[1:])} {OUTDOOR_USAGE}")
        return
    settings = await services.run(set_outdoor_sensor, services.store, link.user_id,
                                  sensor.sensor_id)
    await _confirm(update, context, settings, f"Outdoor sensor: {sensor.display_name}.")


@linked
async def location_command(update: Update, context: BotContext, link: ChatLink) -> None:
    """/location <lat> <lon>|off: where the heating watch's forecast is for."""
    services = context.services
    words = context.args or []
    if not words:
        settings = await services.run(settings_of, services.store, link.user_id)
        await _confirm(update, context, settings, LOCATION_USAGE)
        return
    if words[0].lower() == "off" and len(words) > 1:
        await reply(update, f"{too_many_words(words[1:])} {LOCATION_USAGE}")
        return
    if words[0].lower() == "off":
        settings = await services.run(set_location, services.store, link.user_id, None)
        await _confirm(update, context, settings, "Location off: no forecast is fetched.")
        return
    try:
        settings = await services.run(set_location, services.store, link.user_id,
                                      parse_location(words))
    except BadLocation as problem:
        await reply(update, f"{str(problem).capitalize()}. {LOCATION_USAGE}")
        return
    await _confirm(update, context, settings, "Location set.")


@linked
async def location_shared(update: Update, context: BotContext, link: ChatLink) -> None:
    """A location shared in the chat (📎 → Location): the forecast's place."""
    message = update.effective_message
    if message is None or message.location is None:
        return
    services = context.services
    place = (message.location.latitude, message.location.longitude)
    try:
        settings = await services.run(set_location, services.store, link.user_id, place)
    except BadLocation as problem:
        await reply(update, f"That location cannot be used: {problem}.")
        return
    await _confirm(update, context, settings, "Location set from the one you shared.")
