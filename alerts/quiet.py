"""Quiet hours: a chat's `HH:MM-HH:MM` span in its own zone (pure)."""

from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

from core.formatting import echo

QUIET_RE = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-3]):([0-5]\d)")
# Two times as typed, each of which may be out of range (`25:00`).
SPAN_RE = re.compile(r"(\d{1,2}:\d{2})-(\d{1,2}:\d{2})")


class BadQuietHours(ValueError):
    """Not a span of two different times of day."""


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """`22:00-07:00` (may cross midnight)."""
    match = QUIET_RE.fullmatch(text.strip())
    if not match:
        typed = SPAN_RE.fullmatch(text.strip())
        wrong = next((part for part in typed.groups() if not QUIET_RE.fullmatch(
            f"{part}-{part}")), None) if typed else None
        if wrong is not None:
            raise BadQuietHours(f"{wrong} is not a time of day (00:00 to 23:59)")
        raise BadQuietHours(f"'{echo(text)}' is not a time span")
    hour1, minute1, hour2, minute2 = (int(part) for part in match.groups())
    start, end = time(hour1, minute1), time(hour2, minute2)
    if start == end:
        raise BadQuietHours(f"'{echo(text)}' starts and ends at once: quiet hours need a "
                            "different end")
    return start, end


def in_quiet_hours(quiet: str | None, now_ms: int, zone: ZoneInfo) -> bool:
    if not quiet:
        return False
    try:
        start, end = parse_quiet_hours(quiet)
    except BadQuietHours:
        return False  # an unreadable setting must not silence or block an alert
    now = datetime.fromtimestamp(now_ms / 1000, zone).time()
    return start <= now < end if start < end else now >= start or now < end
