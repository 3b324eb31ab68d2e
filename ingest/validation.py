"""Pure validation of what sensors send: ids, values, timestamps (docs/api.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.errors import InvalidRecord
from storage.models import SENSOR_ID_RE, SENSOR_ID_RULE, Reading, check_value

FUTURE_TOLERANCE_MS = 5 * 60_000


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


def parse_value(raw: Any) -> float:
    """A finite JSON number, or a string that parses as one."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise Invalid(f"value must be a number, got {_shown(raw)}")
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (ValueError, OverflowError):
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
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number_to_ms(raw: int | float | str) -> int:
    """Fractional milliseconds (`time.time() * 1000` clients) are dropped, as reads do."""
    number = float(raw) if isinstance(raw, str) else raw
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
