"""What devices publish, turned into readings: the `number`, `json` and `ruuvi` formats.

Pure functions: a message (topic, payload, arrival time) and a subscription in, readings with
their units out, validated as the HTTP API validates them (ingest.validation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from core.config import MqttSubscription
from ingest.ruuvi import UNITS as RUUVI_UNITS
from ingest.ruuvi import GarbledAdvertisement, UnsupportedFormat, decode_advertisement
from ingest.validation import Invalid, Window, parse_reading, parse_timestamp
from storage.models import Reading

# Units guessed from a field's (or sensor id's) last level, set when a sensor is first seen.
UNIT_HINTS = {"temperature": "°C", "tc": "°C", "tf": "°F", "dewpoint": "°C",
              "humidity": "%", "rh": "%", "pressure": "hPa"}
# Numbers that are not measurements: times and identifiers (Tasmota's Time, Shelly's id...).
NOT_READINGS = frozenset({"timestamp", "time", "last_seen", "id"})
MAX_DEPTH = 8  # JSON nesting followed into fields; deeper levels are not readings


class BadPayload(ValueError):
    """A message that is not what its subscription's format expects; one short phrase."""


class DeviceReading(NamedTuple):
    reading: Reading
    unit: str | None


def sensor_base(template: str, topic: str) -> str:
    """The subscription's sensor template filled with the topic's levels."""
    try:
        return template.format(*topic.split("/"))
    except IndexError:
        raise BadPayload(f"topic {topic!r} has too few levels for sensor template "
                         f"{template!r}") from None


def readings_from_message(subscription: MqttSubscription, topic: str, payload: bytes,
                          arrived_ms: int, window: Window) -> list[DeviceReading]:
    """Every reading one message carries, or BadPayload saying why it carries none."""
    base = sensor_base(subscription.sensor, topic)
    if subscription.format == "number":
        return [device_reading(base, number_text(payload), arrived_ms, window,
                               guess_unit(base))]
    document = json_document(payload)
    if subscription.format == "ruuvi":
        return ruuvi_readings(base, document, arrived_ms, window)
    return json_readings(base, document, subscription.fields, arrived_ms, window)


def number_text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise BadPayload("the payload is not text") from None


def json_document(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: 4,300+ digits too
        raise BadPayload("the payload is not JSON (or holds a number too long to read)") \
            from None


def device_reading(sensor: str, value: Any, timestamp: Any, window: Window,
                   unit: str | None) -> DeviceReading:
    try:
        return DeviceReading(parse_reading(sensor, value, timestamp, window), unit)
    except Invalid as exc:
        raise BadPayload(str(exc)) from None


def json_readings(base: str, document: Any, fields: list[str], arrived_ms: int,
                  window: Window) -> list[DeviceReading]:
    """Every numeric field, nested ones joined with '/'; a top-level `timestamp` (epoch ms)
    is the readings' time, else the arrival time."""
    if is_number(document):  # a bare number is one reading, as the `number` format reads it
        return [device_reading(base, document, arrived_ms, window, guess_unit(base))]
    if not isinstance(document, dict):
        raise BadPayload("the payload is JSON but not an object")
    stamp = document.get("timestamp")
    try:
        timestamp = arrived_ms if stamp is None else parse_timestamp(stamp, window)
    except Invalid as exc:
        raise BadPayload(str(exc)) from None
    temp_unit = "°F" if document.get("TempUnit") == "F" else "°C"  # Tasmota names its unit
    readings = []
    for path, value in numeric_fields(document):
        if fields and "/".join(path) not in fields:
            continue
        unit = guess_unit(path[-1])
        if unit == "°C":
            unit = temp_unit
        elif unit == "hPa" and isinstance(document.get("PressureUnit"), str):
            unit = document["PressureUnit"]
        readings.append(device_reading("/".join((base, *path)), value, timestamp, window, unit))
    if not readings:
        raise BadPayload("the JSON has no numeric fields" + (" of those listed in `fields`"
                                                              if fields else ""))
    return readings


def numeric_fields(document: dict[str, Any], prefix: tuple[str, ...] = ()
                   ) -> Iterator[tuple[tuple[str, ...], int | float]]:
    """(path, number) of every numeric field; strings, booleans, nulls, lists, times and ids
    are not readings."""
    for key, value in document.items():
        if str(key).lower() in NOT_READINGS:
            continue
        path = (*prefix, str(key))
        if is_number(value):
            yield path, value
        elif isinstance(value, dict) and len(path) < MAX_DEPTH:
            yield from numeric_fields(value, path)


def ruuvi_readings(base: str, document: Any, arrived_ms: int, window: Window
                   ) -> list[DeviceReading]:
    """Ruuvi Gateway MQTT: `data` is the raw advertisement, `ts` the gateway's Unix seconds."""
    if not isinstance(document, dict) or not isinstance(document.get("data"), str):
        raise BadPayload('the JSON has no "data" string (a Ruuvi Gateway advertisement)')
    try:
        measurement = decode_advertisement(document["data"])
    except (GarbledAdvertisement, UnsupportedFormat) as exc:
        raise BadPayload(str(exc)) from None
    timestamp = seconds_to_ms(document.get("ts")) or arrived_ms
    return [device_reading(f"{base}/{name}", value, timestamp, window, RUUVI_UNITS[name])
            for name, value in measurement.values().items()]


def seconds_to_ms(raw: Any) -> int | None:
    """A gateway's Unix-seconds string ("1653668027") as epoch ms; None if absent or blank."""
    if raw is None or raw == "":
        return None
    try:
        return int(raw) * 1000
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 is infinity
        raise BadPayload(f"the timestamp {str(raw)[:40]!r} is not Unix seconds") from None


def guess_unit(name: str) -> str | None:
    """A unit for well-known names, by the last level: `…/temperature` → °C."""
    return UNIT_HINTS.get(name.rsplit("/", 1)[-1].lower())


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- HTTP devices ------------------------------------------------------------------------------

MAC_RE = re.compile(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}")


def ruuvi_gateway_readings(body: Any, window: Window) -> list[DeviceReading]:
    """The Ruuvi Gateway's HTTP JSON: each tag's RAWv2 data, ids `ruuvi/<tag mac>/<quantity>`,
    at the tag's `timestamp` (Unix seconds) when the gateway sends one. Tags sending another
    data format are passed over; garbled data refuses the whole body."""
    data = body.get("data") if isinstance(body, dict) else None
    tags = data.get("tags") if isinstance(data, dict) else None
    if not isinstance(tags, dict):
        raise BadPayload('the body must be the Ruuvi Gateway\'s JSON: {"data": {"gw_mac": …, '
                         '"tags": {"<MAC>": {"data": "<hex advertisement>"}}}}')
    readings = []
    for mac, tag in tags.items():
        where = f"data.tags.{mac}"
        if not MAC_RE.fullmatch(mac):
            raise BadPayload(f"{where}: the tag's key must be its MAC, e.g. D8:BF:48:C1:DA:4B")
        if not isinstance(tag, dict) or not isinstance(tag.get("data"), str):
            raise BadPayload(f'{where}: needs "data", the advertisement in hex')
        try:
            measurement = decode_advertisement(tag["data"])
            timestamp = seconds_to_ms(tag.get("timestamp"))
        except UnsupportedFormat:
            continue
        except (GarbledAdvertisement, BadPayload) as exc:
            raise BadPayload(f"{where}: {exc}") from None
        base = "ruuvi/" + mac.upper().replace("-", ":")  # as the gateway writes it, over MQTT too
        try:
            readings += [device_reading(f"{base}/{name}", value, timestamp, window,
                                        RUUVI_UNITS[name])
                         for name, value in measurement.values().items()]
        except BadPayload as exc:
            raise BadPayload(f"{where}: {exc}") from None
    return readings


SHELLY_QUANTITIES = {"temp": ("temperature", "°C"), "hum": ("humidity", "%")}


def shelly_query(query: str) -> dict[str, str]:
    """A Shelly H&T report URL's parameters, first value of each. The device appends
    `?hum=…&temp=…&id=…` to the configured URL, so a URL that already had `?apikey=…` arrives
    with a second '?': read it as '&'."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(query.replace("?", "&"), keep_blank_values=True):
        params.setdefault(name, value)
    return params


def shelly_readings(params: dict[str, str], window: Window) -> list[DeviceReading]:
    """`<id>/temperature` (°C) and `<id>/humidity` (%) from a Shelly H&T report."""
    device = params.get("id", "")
    if not device:
        raise BadPayload("id is missing: the H&T adds it (id=shellyht-XXXXXX), or put "
                         "&id=<name> in the URL")
    readings = []
    for key, (name, unit) in SHELLY_QUANTITIES.items():
        if params.get(key):
            try:
                readings.append(device_reading(f"{device}/{name}", params[key], None, window,
                                               unit))
            except BadPayload as problem:
                raise BadPayload(f"{key}: {problem}") from None
    if not readings:
        raise BadPayload("no temp or hum in the query; the H&T sends e.g. "
                         "?hum=45&temp=21.5&id=shellyht-00EB85")
    return readings
