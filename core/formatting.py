"""Pure helpers for the chat: durations, ranges, numbers, times, message splitting."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_LIMIT = 64
ECHO_LIMIT = 60
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_RE = re.compile(r"(\d{1,6})([smhd])")
RANGE_EXAMPLES = "6h, 24h, 7d, 30d, 12w, 1y, a date 2026-01-05, or 2026-01-01..2026-01-07"
# Ranges only: weeks and years back from now (a year is 365 days).
LONG_RANGE_RE = re.compile(r"(\d{1,3})([wy])")
# What a mistyped range looks like: a number with a few letters, or a date.
RANGE_LIKE_RE = re.compile(r"[-+\u2212]?[\d.,]+[a-z]{0,5}|\d{4}-\d.*", re.IGNORECASE)
# No reading is older (they are refused past their retention); a range that starts before
# it asks for nothing, and a chart's axis back near the year 1 cannot be drawn.
EARLIEST_MS = 0  # 1970-01-01 00:00 UTC
EARLIEST_DAY = date(1970, 1, 1)  # a span of days in any zone may start on it
LONG_UNITS = {"w": (7, "week"), "y": (365, "year")}


class BadArgument(ValueError):
    """What was wrong with a command's arguments, ready to show to the user."""


@dataclass(frozen=True)
class TimeRange:
    start_ms: int
    end_ms: int
    label: str  # "last 24 h", "2026-01-05", "2026-01-01 – 2026-01-07"

    @property
    def during(self) -> str:
        """The range within a sentence: "in the last 24 h", "on 2026-01-05", "from 2026-01-01
        to 2026-01-07"."""
        if self.label.startswith("last "):
            return f"in the {self.label}"
        first, sep, last = self.label.partition(" – ")
        return f"from {first} to {last}" if sep else f"on {first}"


def parse_duration(text: str) -> int:
    """`30s`, `10m`, `2h`, `7d` → seconds."""
    match = DURATION_RE.fullmatch(text.strip().lower())
    if match and int(match[1]) == 0:
        raise BadArgument(f"'{echo(text)}' is no time at all; give more than 0, e.g. 30s, 10m, "
                          "2h, 7d")
    if not match:
        raise BadArgument(f"'{echo(text)}' is not a duration; use a number and s, m, h or d, "
                          "e.g. 30s, 10m, 2h, 7d")
    return int(match[1]) * UNITS[match[2]]


def describe_duration(seconds: int) -> str:
    """`24 h`, `7 days`, `10 min`, `30 s`."""
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400} days"
    for suffix, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {suffix}"
    return f"{seconds} s"


def format_elapsed(ms: int) -> str:
    """How long something lasted: `14 min`, `5 h 10 min`, `20 h`, `3 days 4 h` — minutes only
    under an hour, so a phone never shows "310 min" or "1441 min"."""
    minutes = max(1, round(ms / 60_000))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 10:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    hours = round(minutes / 60)
    if hours < 48:
        return f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def looks_like_range(text: str) -> bool:
    """A range, or a word meant as one (`0h`, `-5h`, `7x`, `2026-13-01`): where a sensor may
    stand instead, such a word is read as a range, so its answer says what is wrong with it
    rather than that no sensor has that name."""
    return is_range(text) or RANGE_LIKE_RE.fullmatch(text) is not None


def is_range(text: str) -> bool:
    try:
        parse_range(text, now_ms=int(time.time() * 1000), zone=ZoneInfo("UTC"))
    except BadArgument:
        return False
    return True


def parse_range(text: str, *, now_ms: int, zone: ZoneInfo) -> TimeRange:
    """A duration back from now, a day, or an inclusive span of days in the chat's zone."""
    text = text.strip()
    if DURATION_RE.fullmatch(text.lower()):
        seconds = parse_duration(text)
        return _within_calendar(text, TimeRange(now_ms - seconds * 1000, now_ms,
                                                f"last {describe_duration(seconds)}"))
    long_range = LONG_RANGE_RE.fullmatch(text.lower())
    if long_range and not int(long_range[1]):
        raise BadArgument(f"'{echo(text)}' is no time at all; give more than 0, e.g. 12w, 1y")
    if long_range:
        days, word = LONG_UNITS[long_range[2]]
        count = int(long_range[1])
        return _within_calendar(text, TimeRange(now_ms - count * days * 86_400_000, now_ms,
                                                f"last {count} {word}{'' if count == 1 else 's'}"))
    first, sep, last = text.partition("..")
    try:
        start_day = date.fromisoformat(first)
        end_day = date.fromisoformat(last) if sep else start_day
    except ValueError:
        raise BadArgument(f"'{echo(text)}' is not a range; use {RANGE_EXAMPLES}") from None
    if end_day < start_day:
        raise BadArgument(f"'{echo(text)}' ends before it starts; e.g. 2026-01-01..2026-01-07")
    try:
        start = datetime.combine(start_day, datetime.min.time(), zone)
        end = datetime.combine(end_day + timedelta(days=1), datetime.min.time(), zone)
    except OverflowError:
        raise BadArgument(f"'{echo(text)}' is past the end of the calendar") from None
    if start_day < EARLIEST_DAY:
        raise BadArgument(f"'{echo(text)}' reaches back before 1970, older than any reading; "
                          "e.g. 2026-01-01..2026-01-07")
    label = str(start_day) if not sep else f"{start_day} – {end_day}"
    return TimeRange(int(start.timestamp() * 1000), int(end.timestamp() * 1000) - 1, label)


def _within_calendar(text: str, window: TimeRange) -> TimeRange:
    """A range that starts in 1970 or later: none is older (999999d reaches back to 711 BC)."""
    if window.start_ms < EARLIEST_MS:
        raise BadArgument(f"'{echo(text)}' reaches back before 1970, older than any reading; "
                          "e.g. 1y, 10y")
    return window


MINUS = "\u2212"  # the true minus sign, as in print; the bot's number parser reads it back


def format_number(value: float) -> str:
    """At most two decimals, no trailing zeros, a true minus: 21.5, −3, 0.25."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text.replace("-", MINUS)


def format_value(value: float, unit: str | None) -> str:
    if not unit:
        return format_number(value)
    spacer = "" if unit in {"%", "°"} else " "
    return f"{format_number(value)}{spacer}{unit}"


def format_ago(then_ms: int, now_ms: int) -> str:
    seconds = max(0, (now_ms - then_ms) // 1000)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400 * 2:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h {minutes} min ago" if hours < 6 and minutes else f"{hours} h ago"
    return f"{seconds // 86400} days ago"


def format_time(ms: int, zone: ZoneInfo, now_ms: int) -> str:
    """`03:12` today, `Jan 5 03:12` this year, `Jan 5 2299 03:12` otherwise, in the chat's
    zone."""
    moment = datetime.fromtimestamp(ms / 1000, zone)
    today = datetime.fromtimestamp(now_ms / 1000, zone).date()
    if moment.date() == today:
        return moment.strftime("%H:%M")
    return moment.strftime("%b %-d %H:%M" if moment.year == today.year else "%b %-d %Y %H:%M")


def split_message(lines: list[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join lines into as few messages as fit Telegram's limit; over-long lines are cut."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = line if len(line) <= limit else line[:limit - 1] + "…"
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            candidate = line
        current = candidate
    if current:
        chunks.append(current)
    return chunks


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def echo(text: str) -> str:
    """The user's words as an answer quotes them back: at most 60 characters, so a long paste
    still leaves the answer its example (Telegram cuts a message at 4096)."""
    return clip(text, ECHO_LIMIT)


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 reading`, `2 readings`, `1,500,000 readings`."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def safe_filename(text: str, limit: int = 60) -> str:
    """A sensor id (any text, up to 200 characters) as a harmless file name part."""
    cleaned = re.sub(r"[^\w.-]+", "_", text).strip("._") or "sensor"
    return cleaned[:limit]
