"""What an alert says (pure): text, buttons, the trend, and whether quiet hours apply."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from alerts.machine import FIRED, REMINDER, RESOLVED
from alerts.rules import Spec
from core.formatting import (
    BadArgument,
    describe_duration,
    format_time,
    format_value,
)
from storage.models import Reading

TREND_WINDOW_MS = 2 * 3_600_000
MIN_SLOPE_PER_H = 0.1
MAX_ETA_H = 48


def trend_per_hour(readings: Sequence[Reading]) -> float | None:
    """Least-squares slope of the readings, per hour; None with fewer than 3 or no spread."""
    if len(readings) < 3:
        return None
    t0 = readings[0].timestamp
    xs = [(r.timestamp - t0) / 3_600_000 for r in readings]
    ys = [r.value for r in readings]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def describe_trend(spec: Spec, value: float | None, per_hour: float | None,
                   unit: str | None) -> str:
    """`falling 0.8 °C/h — reaches 0 °C in about 3 h`, when it helps; else empty."""
    if per_hour is None or abs(per_hour) < MIN_SLOPE_PER_H or value is None:
        return ""
    direction = "falling" if per_hour < 0 else "rising"
    text = f"{direction} {format_value(abs(per_hour), unit)}/h"
    if spec.kind == "below" and per_hour < 0 and value > 0:
        hours = value / -per_hour
        if hours <= MAX_ETA_H:
            text += f" — reaches {format_value(0, unit)} in about {max(1, round(hours))} h"
    return text


def render(spec: Spec, entry: dict[str, Any], name: str, unit: str | None, zone: ZoneInfo,
           now_ms: int) -> str:
    kind, value, at = entry["kind"], entry.get("value"), entry.get("reading_ts")
    when = format_time(at, zone, now_ms) if at else "?"
    shown = format_value(value, unit) if value is not None else "no value"
    if spec.kind == "stale":
        return _stale_text(kind, entry, name, shown, when, zone, now_ms)
    assert spec.threshold is not None
    limit = format_value(spec.threshold, unit)
    extreme = entry.get("extreme")
    word = "lowest" if spec.kind == "below" else "highest"
    if kind == RESOLVED:
        lasted = describe_duration(max(60, (entry["at"] - (entry.get("since") or entry["at"]))
                                       // 1000 // 60 * 60))
        worst = f", {word} {format_value(extreme, unit)}" if extreme is not None else ""
        return f"✅ {name} recovered after {lasted}{worst}. Now {shown} at {when}."
    icon = "❄️" if spec.kind == "below" else "🔥"
    title = "Pipe-freeze alert" if spec.preset == "freeze" else "Alert"
    prefix = "Reminder — " if kind == REMINDER else ""
    since = entry.get("since")
    lines = [f"{icon} {prefix}{title}: {name} is {shown} at {when}, {spec.kind} {limit}"]
    details = []
    if since:
        details.append(f"since {format_time(since, zone, now_ms)}")
    if extreme is not None and extreme != value:
        details.append(f"{word} {format_value(extreme, unit)}")
    if details:
        lines.append(" · ".join(details))
    trend = describe_trend(spec, value, (entry.get("trend") or {}).get("per_hour"), unit)
    if trend:
        lines.append(trend)
    return "\n".join(lines)


def _stale_text(kind: str, entry: dict[str, Any], name: str, shown: str, when: str,
                zone: ZoneInfo, now_ms: int) -> str:
    if kind == RESOLVED:
        return f"✅ {name} is reporting again: {shown} at {when}."
    since = entry.get("since")
    silent_for = describe_duration(max(60, (entry["at"] - since) // 1000 // 60 * 60)) \
        if since else "a while"
    last = f" (last {shown} at {when})" if entry.get("reading_ts") else " (no readings kept)"
    prefix = "Reminder — " if kind == REMINDER else ""
    return f"📵 {prefix}No data from {name} for {silent_for}{last}."


def buttons(rule_id: str, kind: str, since: int | None) -> list[tuple[str, str]]:
    """(label, callback data) — on firing and reminder messages only. Acknowledge names its
    incident (by its start), so yesterday's button cannot silence today's alert."""
    if kind not in (FIRED, REMINDER):
        return []
    return [("Acknowledge", f"a:ack:{rule_id}:{since or 0}"), ("Snooze 1h", f"a:s1:{rule_id}"),
            ("Snooze 8h", f"a:s8:{rule_id}"), ("Chart 24h", f"a:chart:{rule_id}")]


QUIET_RE = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-3]):([0-5]\d)")


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """`22:00-07:00` in the chat's zone (may cross midnight)."""
    match = QUIET_RE.fullmatch(text.strip())
    if not match:
        raise BadArgument(f"'{text}' is not a time span; e.g. /quiet 22:00-07:00 or "
                          "/quiet off")
    hour1, minute1, hour2, minute2 = (int(part) for part in match.groups())
    start, end = time(hour1, minute1), time(hour2, minute2)
    if start == end:
        raise BadArgument("quiet hours need a start and a different end, e.g. 22:00-07:00")
    return start, end


def in_quiet_hours(quiet: str | None, now_ms: int, zone: ZoneInfo) -> bool:
    if not quiet:
        return False
    try:
        start, end = parse_quiet_hours(quiet)
    except BadArgument:
        return False  # an unreadable setting must not silence or block an alert
    now = datetime.fromtimestamp(now_ms / 1000, zone).time()
    return start <= now < end if start < end else now >= start or now < end

