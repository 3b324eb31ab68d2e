"""Pure validation of what sensors send: ids, values, timestamps (docs/api.md)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.errors import InvalidRecord
from storage.models import SENSOR_ID_RE, SENSOR_ID_RULE, Reading, check_value

FUTURE_TOLERANCE_MS = 5 * 60_000
# The one number grammar of every path (HTTP strings, MQTT, Shelly, Ruuvi timestamps): what
# JSON and JavaScript's Number() read, in ASCII digits only. Python's float() also takes
# "1_000", full-width "２１" and Arabic-Indic "٢١", which no sensor means.
NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
NUMBER_RULE = "ASCII digits with an optional sign, point and exponent, e.g. 21.5 or -1.2e3"
ASCII_SPACE = " \t\r\n"
NOT_FINITE = frozenset({"nan", "inf", "infinity"})
# A number that rounds to 0 has a negative exponent (a digit, e and -, in JSON) or hundreds of
# zeros after the point.
MANY_ZEROS = b"0" * 300
DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


class Invalid(ValueError):
    """One problem with one field, worded for the client."""


@dataclass(frozen=True)
class Window:
    """What timestamps are acceptable now: not past retention, not beyond five minutes ahead."""

    now_ms: int
    retention_ms: int

    @property
    def oldest(self) -> int:
        return self.now_ms - self.retention_ms

    @property
    def newest(self) -> int:
        return self.now_ms + FUTURE_TOLERANCE_MS


def parse_sensor(raw: Any) -> str:
    if not isinstance(raw, str) or not SENSOR_ID_RE.fullmatch(raw):
        raise Invalid(f"sensor id {raw!r} is not valid: use {SENSOR_ID_RULE}")
    return raw


def parse_number(text: str, what: str = "value") -> float:
    """A number written as text, by NUMBER_RE; one that rounds to 0 although it is not zero
    (1e-400) is refused rather than stored as 0."""
    digits = text.strip(ASCII_SPACE)
    if not NUMBER_RE.fullmatch(digits):
        kind = "a finite number" if digits.lstrip("+-").lower() in NOT_FINITE else "a number"
        raise Invalid(f"{what} must be {kind} ({NUMBER_RULE}), got {_shown(text)}")
    number = float(digits)
    if number == 0 and any(c in "123456789" for c in digits.split("e")[0].split("E")[0]):
        raise Invalid(f"{what} {_shown(text)} is too small: readings are 0 or 1e-100 to 1e100 "
                      "in size")
    return number


def might_underflow(json_text: bytes) -> bool:
    """Whether JSON text may hold a number that a parser would read as 0 though it is not
    (1e-400): then it is read with parse_number, which refuses it."""
    # Bytes operations only: a regular expression tried at every byte of a batch cost more
    # than validating the batch (1.4 ms for 500 readings).
    if MANY_ZEROS in json_text:
        return True
    if b"-" not in json_text:
        return False
    digits_as_zero = json_text.translate(DIGITS_AS_ZERO)
    return b"0e-" in digits_as_zero or b"0E-" in digits_as_zero


def parse_value(raw: Any) -> float:
    """A finite JSON number, or a string that parses as one."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise Invalid(f"value must be a number, got {_shown(raw)}")
    try:
        value = parse_number(raw) if isinstance(raw, str) else float(raw)
    except OverflowError:
        raise Invalid(f"value must be a number, got {_shown(raw)}") from None
    if not math.isfinite(value):
        raise Invalid(f"value must be a finite number, got {_shown(raw)}")
    try:
        return check_value(value)
    except InvalidRecord as exc:
        raise Invalid(str(exc)) from None


def parse_timestamp(raw: Any, window: Window) -> int:
    """Epoch milliseconds, or ISO-8601 with a zone; None means now."""
    now = window.now_ms
    if type(raw) is int and now - window.retention_ms <= raw <= now + FUTURE_TOLERANCE_MS:
        return raw  # the usual case, first
    if raw is None:
        return window.now_ms
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise Invalid(f"timestamp must be epoch milliseconds or ISO-8601, got {_shown(raw)}")
    ms = _iso_to_ms(raw) if isinstance(raw, str) and not _is_number(raw) else _number_to_ms(raw)
    if ms > window.newest:
        raise Invalid(f"timestamp {_shown(raw)} is more than 5 minutes in the future")
    if ms < window.oldest:
        hint = " (it looks like seconds: send milliseconds)" if ms > 0 and ms < 10**11 else ""
        days = window.retention_ms // 86_400_000
        raise Invalid(f"timestamp {_shown(raw)} is older than the {days}-day retention{hint}")
    return ms


def parse_reading(sensor: Any, value: Any, timestamp: Any, window: Window) -> Reading:
    return Reading(parse_sensor(sensor), parse_timestamp(timestamp, window), parse_value(value))


def _is_number(text: str) -> bool:
    return NUMBER_RE.fullmatch(text.strip(ASCII_SPACE)) is not None


def _number_to_ms(raw: int | float | str) -> int:
    """Fractional milliseconds (`time.time() * 1000` clients) are dropped, as reads do."""
    number = parse_number(raw, "timestamp") if isinstance(raw, str) else raw
    if isinstance(number, float):
        if not math.isfinite(number):
            raise Invalid(f"timestamp must be epoch milliseconds, got {_shown(raw)}")
        return math.floor(number)
    return number


def _iso_to_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            f"timestamp {_shown(text)} is not epoch milliseconds or ISO-8601 such as "
            "2026-01-05T03:12:00Z"
        ) from None
    if moment.tzinfo is None:
        raise Invalid(f"timestamp {_shown(text)} needs a zone, e.g. 2026-01-05T03:12:00Z")
    return int(moment.timestamp() * 1000)


def _shown(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."
