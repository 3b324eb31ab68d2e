"""The outside temperature a user's heating watches use: their outdoor sensor up to now, the
forecast at their location after. Setting them (/outdoor, /location) and gathering them
(the alert cycle, the chart) both live here. Synchronous: callers on an event loop run them
in a worker thread."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from alerts.forecast import Forecasts
from alerts.heating import Outside
from alerts.heating_rule import all_in_celsius
from storage.base import Store
from storage.models import OutsideSettings, Reading, Sensor


class BadLocation(ValueError):
    """Not a place on Earth; the message says why in the user's words."""


def check_location(latitude: float, longitude: float) -> tuple[float, float]:
    if not (math.isfinite(latitude) and -90 <= latitude <= 90):
        raise BadLocation(f"latitude {latitude:g} is not between -90 and 90")
    if not (math.isfinite(longitude) and -180 <= longitude <= 180):
        raise BadLocation(f"longitude {longitude:g} is not between -180 and 180")
    return round(latitude, 4), round(longitude, 4)  # about 10 m: plenty for weather


def settings_of(store: Store, user_id: str) -> OutsideSettings:
    return store.get_outside_settings(user_id) or OutsideSettings(user_id)


def set_outdoor_sensor(store: Store, user_id: str, sensor: str | None) -> OutsideSettings:
    settings = replace(settings_of(store, user_id), outdoor_sensor=sensor)
    store.put_outside_settings(settings)
    return settings


def set_location(store: Store, user_id: str, location: tuple[float, float] | None
                 ) -> OutsideSettings:
    latitude, longitude = check_location(*location) if location else (None, None)
    settings = replace(settings_of(store, user_id), latitude=latitude, longitude=longitude)
    store.put_outside_settings(settings)
    return settings


def gather(store: Store, forecasts: Forecasts, settings: OutsideSettings | None, start: int,
           end: int, now_ms: int, sensors: Mapping[str, Sensor] | None = None) -> Outside:
    """The outdoor sensor's readings in [start, end], in °C whatever its unit, and the
    forecast at the location; nothing is asked of the forecast without a location.
    `sensors`: the user's, when the caller has them already (the cycle): its unit is then
    not read again."""
    if settings is None:
        return Outside()
    measured: list[Reading] = []
    if settings.outdoor_sensor:
        measured = store.read_range(settings.user_id, settings.outdoor_sensor, start, end,
                                    now_ms=now_ms)
    if measured:
        name = settings.outdoor_sensor or ""
        outdoor = sensors.get(name) if sensors is not None else \
            store.get_sensor(settings.user_id, name)
        measured = all_in_celsius(measured, outdoor.unit if outdoor else None)
    return Outside(tuple(measured), forecasts.at(settings.location, now_ms))


def outside_for(store: Store, forecasts: Forecasts, user_id: str, start: int, end: int,
                now_ms: int) -> Outside:
    return gather(store, forecasts, store.get_outside_settings(user_id), start, end, now_ms)
