"""`sensorbot backtest`: replay a sensor's readings through the heating watch, as the alert
cycle would have seen them, and print when it would have warned.

A file is CSV of `timestamp_ms,value` rows or the bot's /export of 48 h or less
(`timestamp_ms,local_time,value`), with or without a header; a name ending in `.gz` is read
as gzip. Longer exports hold hourly statistics, which are refused with a pointer to the docs.
Readings in °F (`--unit °F`) are turned into °C for the watch, and its figures printed in °F.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any, TextIO

from alerts import heating
from alerts.heating_rule import all_in_celsius
from core.temperature import from_celsius, is_fahrenheit
from storage.models import Reading

EXIT_UNREADABLE = 2
# /export past 48 h: timestamp_ms,local_time,n,min,max,mean, statistics rather than readings.
HOURLY_FIELDS = 6
# Epoch seconds stay below this until 5138; epoch milliseconds pass it in March 1973.
SECONDS_UNTIL = 100_000_000_000


class Unreadable(Exception):
    """A file the backtest cannot read: the message names the file and the line."""


def parse_rows(rows: Iterable[list[str]], name: str, sensor: str) -> list[Reading]:
    """Readings from CSV rows; the first row may be a header. Raises Unreadable."""
    readings = []
    for number, row in enumerate(rows, 1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if any(";" in cell for cell in row):  # no header: "timestamp_ms;value" is one too
            raise Unreadable(f"{name}: line {number}: its fields are separated by ';' (a "
                             "spreadsheet's CSV where the decimal mark is a comma); the "
                             "backtest reads timestamp_ms,value with commas between the "
                             "fields and a point in numbers, e.g. 1767225600000,7.9")
        if number == 1 and not _is_number(row[0]):
            continue  # a header
        if len(row) == HOURLY_FIELDS:
            raise Unreadable(f"{name}: line {number}: this is an hourly export (/export past "
                             "48 h sends n,min,max,mean an hour); the backtest needs the "
                             "readings themselves: see docs/heating.md")
        if len(row) not in (2, 3):
            raise Unreadable(f"{name}: line {number}: expected timestamp_ms,value or "
                             f"timestamp_ms,local_time,value; found {len(row)} fields")
        readings.append(Reading(sensor, _timestamp(row[0], name, number),
                                _value(row[-1], name, number)))
    return readings


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _timestamp(text: str, name: str, number: int) -> int:
    try:
        value = float(text)
    except ValueError:
        raise Unreadable(f"{name}: line {number}: timestamp {text[:40]!r} is not epoch "
                         "milliseconds") from None
    if not math.isfinite(value) or value < 0:
        raise Unreadable(f"{name}: line {number}: timestamp {text[:40]!r} is not epoch "
                         "milliseconds")
    return int(value)


def _value(text: str, name: str, number: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Unreadable(f"{name}: line {number}: value {text[:40]!r} is not a number") \
            from None
    if not math.isfinite(value):
        raise Unreadable(f"{name}: line {number}: value {text[:40]!r} is not a finite number")
    return value


def read_file(path: str, sensor: str) -> list[Reading]:
    opener: Any = gzip.open if path.endswith(".gz") else open
    try:
        handle: IO[str]
        # utf-8-sig: a spreadsheet's BOM would make the first reading look like a header
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            return parse_rows(_rows(handle, path), path, sensor)
    except OSError as error:  # missing, unreadable, or not gzip after all
        raise Unreadable(f"{path}: cannot be read ({error.strerror or error})") from None
    except (UnicodeDecodeError, EOFError) as error:
        raise Unreadable(f"{path}: cannot be read as CSV text ({error})") from None


def _rows(handle: IO[str], name: str) -> Iterator[list[str]]:
    reader = csv.reader(handle)
    try:
        yield from reader
    except csv.Error as error:
        raise Unreadable(f"{name}: line {reader.line_num}: {error}") from None


def transition(event: heating.HeatingEvent, unit: str | None = None) -> dict[str, Any]:
    """One output line, its temperatures in `unit` (the watch's are °C)."""
    value = _said(event.value, unit)
    if event.kind == "heating_back":
        return {"t": event.at, "event": event.kind, "value": value}
    prediction = event.prediction
    level = None if event.level is None else _said(event.level, unit)
    return {"t": event.at, "event": event.kind, "value": value, "level": level,
            "eta_ms": prediction.eta_ms if prediction else None,
            "eta_low_ms": prediction.eta_low_ms if prediction else None,
            "eta_high_ms": prediction.eta_high_ms if prediction else None}


def _said(celsius: float, unit: str | None) -> float:
    """°F to two decimals (back from °C, 46.4 prints as 46.4, not 46.400000000000006)."""
    return round(from_celsius(celsius, unit), 2) if is_fahrenheit(unit) else celsius


def summary(indoor: list[Reading], outdoor: list[Reading], events: list[heating.HeatingEvent],
            cpu_s: float) -> str:
    if not indoor:
        return "no readings: nothing to replay"
    first, last = min(r.timestamp for r in indoor), max(r.timestamp for r in indoor)
    failed = sum(e.kind == "heating_failed" for e in events)
    back = len(events) - failed
    outside = f", {len(outdoor)} outdoor readings" if outdoor else ", no outdoor readings"
    return (f"replayed {len(indoor)} readings from {_iso(first)} to {_iso(last)} "
            f"({(last - first) / heating.DAY_MS:.1f} days){outside}: {failed} heating "
            f"warning{'s' if failed != 1 else ''}, {back} recover{'ies' if back != 1 else 'y'} "
            f"({cpu_s:.2f} s of CPU){_too_short(first, last)}")


def _too_short(first: int, last: int) -> str:
    """A 48 h /export is the longest the chat sends, and the watch is silent for its first
    days: say so, rather than let "0 heating warnings" read as "it would not have warned".
    Weeks of timestamps in seconds read as a few minutes of milliseconds: say that instead."""
    learning_ms = heating.MIN_DAYS * heating.DAY_MS
    if last - first >= learning_ms:
        return ""
    if last < SECONDS_UNTIL and (last - first) * 1000 >= learning_ms:
        return (f"\nthe timestamps look like seconds ({last} is {_iso(last * 1000)} in "
                "seconds): the backtest reads epoch milliseconds, "
                f"e.g. {last * 1000},7.9")
    return (f"\nthe watch learns for {heating.MIN_DAYS} days before it can warn, so these "
            "readings are too few to tell: give it a few weeks of them, from the HTTP API "
            "(docs/heating.md, \"Backtest your own readings\")")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%MZ")


def run(indoor_path: str, outdoor_path: str | None, out: TextIO | None = None,
        err: TextIO | None = None, unit: str | None = None) -> int:
    """The command: transitions as JSON lines on `out`, a summary on `err`; exit status.
    `unit`: the files' readings' unit, °C unless it is °F."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        indoor = all_in_celsius(read_file(indoor_path, "indoor"), unit)
        outdoor = all_in_celsius(read_file(outdoor_path, "outdoor"), unit) \
            if outdoor_path else []
    except Unreadable as problem:
        print(problem, file=err)
        return EXIT_UNREADABLE
    shown = unit if is_fahrenheit(unit) else None
    started = time.process_time()
    events = []
    for event in heating.replay(indoor, outdoor):
        events.append(event)
        print(json.dumps(transition(event, shown)), file=out)
    print(summary(indoor, outdoor, events, time.process_time() - started), file=err)
    return 0
