"""What an alert says in the chat (pure): the message for a transition, a rule in words,
the trend."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot import heating_text
from core.formatting import (
    describe_duration,
    format_elapsed,
    format_number,
    format_time,
    format_value,
)
from core.temperature import freezing_point
from storage.models import OutboxEntry, RuleKind, RuleSpec, TransitionKind

MIN_SLOPE_PER_H = 0.1
MAX_ETA_H = 48


def describe_rule(spec: RuleSpec, unit: str | None = None) -> str:
    """`below 3 °C for 10 min (clears at 4, reminders every 1 h)`."""
    if spec.kind is RuleKind.STALE:
        return f"no data for {describe_duration(spec.stale_s or 0)}"
    if spec.kind is RuleKind.HEATING:
        zero = heating_text.degrees(freezing_point(unit), unit)
        return f"heating watch (warns when the heating stops, and when it reaches {zero})"
    shown = f"{spec.kind.value} {format_number(spec.limit)}{' ' + unit if unit else ''}"
    if spec.for_s:
        shown += f" for {describe_duration(spec.for_s)}"
    return shown + f" (clears at {format_number(spec.clear_level)}, reminders every " \
                   f"{describe_duration(spec.repeat_s)})"


def describe_trend(spec: RuleSpec, value: float | None, per_hour: float | None,
                   unit: str | None) -> str:
    """`falling 0.8 °C/h — reaches 0 °C in about 3 h` (32 °F on a °F sensor), when it helps;
    else empty."""
    if per_hour is None or abs(per_hour) < MIN_SLOPE_PER_H or value is None:
        return ""
    direction = "falling" if per_hour < 0 else "rising"
    text = f"{direction} {format_value(abs(per_hour), unit)}/h"
    zero = freezing_point(unit)
    if spec.kind is RuleKind.BELOW and per_hour < 0 and value > zero:
        hours = (value - zero) / -per_hour
        if hours <= MAX_ETA_H:
            text += f" — reaches {format_value(zero, unit)} {time_to_go(hours)}"
    return text


def time_to_go(hours: float) -> str:
    """`in about 13 min`, `in about 2 h 40 min`, `in about 9 h`: rounded down, so the warning
    is never later than the trend says (an ETA of 14 minutes must not read as an hour)."""
    minutes = int(hours * 60)
    if minutes < 1:
        return "within a minute"
    if minutes < 60:
        return f"in about {minutes} min"
    if minutes < 6 * 60:
        whole, rest = divmod(minutes // 10 * 10, 60)
        return f"in about {whole} h" + (f" {rest} min" if rest else "")
    return f"in about {minutes // 60} h"


def render(spec: RuleSpec, entry: OutboxEntry, name: str, unit: str | None, zone: ZoneInfo,
           now_ms: int) -> str:
    if spec.kind is RuleKind.HEATING:
        return heating_text.render(entry, name, unit, zone, now_ms)
    when = format_time(entry.reading_ts, zone, now_ms) if entry.reading_ts else "?"
    shown = format_value(entry.value, unit) if entry.value is not None else "no value"
    if spec.kind is RuleKind.STALE:
        return _stale_text(entry, name, shown, when)
    word = "lowest" if spec.kind is RuleKind.BELOW else "highest"
    if entry.kind is TransitionKind.RESOLVED:
        lasted = format_elapsed(entry.at - (entry.since or entry.at))
        worst = f", {word} {format_value(entry.extreme, unit)}" \
            if entry.extreme is not None else ""
        return f"✅ {name} recovered after {lasted}{worst}. Now {shown} at {when}."
    icon = "❄️" if spec.kind is RuleKind.BELOW else "🔥"
    title = "Pipe-freeze alert" if spec.preset == "freeze" else "Alert"
    prefix = "Reminder — " if entry.kind is TransitionKind.REMINDER else ""
    lines = [f"{icon} {prefix}{title}: {name} is {shown} at {when}, {spec.kind.value} "
             f"{format_value(spec.limit, unit)}"]
    details = []
    if entry.since:
        details.append(f"since {format_time(entry.since, zone, now_ms)}")
    if entry.extreme is not None and entry.extreme != entry.value:
        details.append(f"{word} {format_value(entry.extreme, unit)}")
    if details:
        lines.append(" · ".join(details))
    trend = describe_trend(spec, entry.value, entry.trend_per_hour, unit)
    if trend:
        lines.append(trend)
    return "\n".join(lines)


def _stale_text(entry: OutboxEntry, name: str, shown: str, when: str) -> str:
    if entry.kind is TransitionKind.RESOLVED:
        return f"✅ {name} is reporting again: {shown} at {when}."
    silent_for = format_elapsed(entry.at - entry.since) if entry.since else "a while"
    last = f" (last {shown} at {when})" if entry.reading_ts else " (no readings kept)"
    prefix = "Reminder — " if entry.kind is TransitionKind.REMINDER else ""
    return f"📵 {prefix}No data from {name} for {silent_for}{last}."
