"""What devices publish, turned into readings: the `number`, `json` and `ruuvi` formats.

Pure functions: a message (topic, payload, arrival time) and a subscription in, readings with
their units out, validated as the HTTP API validates them (ingest.validation).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import orjson

from core.config import MqttSubscription
from ingest.ruuvi import UNITS as RUUVI_UNITS
from ingest.ruuvi import GarbledAdvertisement, UnsupportedFormat, decode_advertisement
from ingest.validation import (
    Invalid,
    Window,
    might_underflow,
    parse_number,
    parse_reading,
    parse_sensor,
    parse_timestamp,
    parse_value,
)
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


@functools.lru_cache(maxsize=4096)
def sensor_base(template: str, topic: str) -> str:
    """The subscription's sensor template filled with the topic's levels (remembered: a
    device publishes on the same few topics all day)."""
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
    """orjson: a tenth of the standard library's time, and it refuses NaN, infinities and
    nesting deeper than 1024 itself. It reads 1e-400 as 0, so a payload that may hold such a
    number is read again by the number grammar of every other path."""
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise BadPayload("the payload is not JSON (or holds a number beyond any reading)") \
            from None
    if might_underflow(payload):
        try:
            json.loads(payload, parse_float=parse_number)
        except Invalid as exc:
            raise BadPayload(str(exc)) from None
    return document


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
    if type(document) is not dict:
        if is_number(document):  # a bare number is one reading, as `number` reads it
            return [device_reading(base, document, arrived_ms, window, guess_unit(base))]
        raise BadPayload("the payload is JSON but not an object")
    stamp = document.get("timestamp")
    try:
        timestamp = arrived_ms if stamp is None else parse_timestamp(stamp, window)
    except Invalid as exc:
        raise BadPayload(str(exc)) from None
    temp_unit = "°F" if document.get("TempUnit") == "F" else "°C"  # Tasmota names its unit
    pressure_unit = document.get("PressureUnit")
    readings = []
    for path, last, value in numeric_fields(document):
        if fields and path not in fields:
            continue
        unit = guess_unit(last)
        if unit == "°C":
            unit = temp_unit
        elif unit == "hPa" and isinstance(pressure_unit, str):
            unit = pressure_unit
        readings.append(DeviceReading(
            Reading(field_sensor(base, path), timestamp, field_value(value)), unit))
    if not readings:
        raise BadPayload("the JSON has no numeric fields" + (" of those listed in `fields`"
                                                              if fields else ""))
    return readings


def numeric_fields(document: dict[str, Any], prefix: str = "", depth: int = 1
                   ) -> list[tuple[str, str, int | float]]:
    """(path joined with '/', last key, number) of every numeric field; strings, booleans,
    nulls, lists, times and ids are not readings."""
    found = []
    for key, value in document.items():
        kind = type(value)
        if kind is float or kind is int:  # not bool, whose type is its own
            if key.lower() not in NOT_READINGS:
                found.append((prefix + key, key, value))
        elif kind is dict and depth < MAX_DEPTH and key.lower() not in NOT_READINGS:
            found += numeric_fields(value, f"{prefix}{key}/", depth + 1)
    return found


@functools.lru_cache(maxsize=8192)
def field_sensor(base: str, path: str) -> str:
    """The sensor id of a field, checked once (the same fields arrive all day)."""
    try:
        return parse_sensor(f"{base}/{path}")
    except Invalid as exc:
        raise BadPayload(str(exc)) from None


def field_value(number: int | float) -> float:
    """A JSON number as a reading's value: finite and within what storage holds."""
    value = float(number)
    if value == 0 or 1e-100 <= abs(value) <= 1e100:  # what storage holds (storage.models)
        return value
    try:
        return parse_value(number)  # which says what is wrong with it
    except Invalid as exc:
        raise BadPayload(str(exc)) from None


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
        return int(parse_number(raw, "timestamp") if isinstance(raw, str) else raw) * 1000
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 is infinity
        raise BadPayload(f"the timestamp {str(raw)[:40]!r} is not Unix seconds") from None


@functools.lru_cache(maxsize=1024)
def guess_unit(name: str) -> str | None:
    """A unit for well-known names, by the last level: `…/temperature` → °C."""
    return UNIT_HINTS.get(name.rsplit("/", 1)[-1].lower())


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- HTTP devices ------------------------------------------------------------------------------

MAC_RE = re.compile(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}")


class SkippedTag(NamedTuple):
    """A tag of a gateway's POST that gave no readings, and why."""

    tag: str
    reason: str
    garbled: bool  # False for a well-formed advertisement of another format or device


class GatewayReport(NamedTuple):
    readings: list[DeviceReading]
    skipped: list[SkippedTag]


def ruuvi_gateway_readings(body: Any, window: Window) -> GatewayReport:
    """The Ruuvi Gateway's HTTP JSON: each tag's RAWv2 data, ids `ruuvi/<tag mac>/<quantity>`,
    at the tag's `timestamp` (Unix seconds) when the gateway sends one. A tag that gives no
    readings (another data format, or garbled data from a foreign device) is skipped, so one
    bad neighbour never blinds the gateway; a body whose only tags are garbled is refused."""
    data = body.get("data") if isinstance(body, dict) else None
    tags = data.get("tags") if isinstance(data, dict) else None
    if not isinstance(tags, dict):
        raise BadPayload('the body must be the Ruuvi Gateway\'s JSON: {"data": {"gw_mac": …, '
                         '"tags": {"<MAC>": {"data": "<hex advertisement>"}}}}')
    report = GatewayReport([], [])
    for mac, tag in tags.items():
        try:
            report.readings.extend(tag_readings(mac, tag, window))
        except UnsupportedFormat as exc:
            report.skipped.append(SkippedTag(clip_tag(mac), str(exc), False))
        except BadPayload as exc:
            report.skipped.append(SkippedTag(clip_tag(mac), str(exc), True))
    garbled = [s for s in report.skipped if s.garbled]
    if garbled and not report.readings:
        raise BadPayload("; ".join(f"data.tags.{s.tag}: {s.reason}" for s in garbled[:5]))
    return report


def tag_readings(mac: str, tag: Any, window: Window) -> list[DeviceReading]:
    """One tag's readings; BadPayload (or UnsupportedFormat) says why it has none."""
    if not MAC_RE.fullmatch(mac):
        raise BadPayload("the tag's key must be its MAC, e.g. D8:BF:48:C1:DA:4B")
    if not isinstance(tag, dict) or not isinstance(tag.get("data"), str):
        raise BadPayload('needs "data", the advertisement in hex')
    try:
        measurement = decode_advertisement(tag["data"])
    except GarbledAdvertisement as exc:
        raise BadPayload(str(exc)) from None
    timestamp = seconds_to_ms(tag.get("timestamp"))
    base = "ruuvi/" + mac.upper().replace("-", ":")  # as the gateway writes it, over MQTT too
    return [device_reading(f"{base}/{name}", value, timestamp, window, RUUVI_UNITS[name])
            for name, value in measurement.values().items()]


def clip_tag(mac: str) -> str:
    return mac if len(mac) <= 40 else mac[:37] + "..."


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
