"""What the heating watch says in the chat (pure): the warning with when the sensor reaches
0 °C, the recovery, and the rule's state for /alerts, in the sensor's unit (32 °F on a °F
sensor; the outbox holds its figures in that unit already, the model's are °C)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from alerts.heating import MIN_DAYS, HeatingMemory, HeatingPhase
from core.formatting import MINUS, format_elapsed, format_number, format_time
from core.temperature import freezing_point, from_celsius
from storage.models import HeatingOutlook, OutboxEntry, TransitionKind

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
CLOCK_ONLY_MS = 20 * HOUR_MS  # an ETA closer than this is said as a clock time alone
MIN_RATE_SHOWN = 0.05  # °C/h: slower is "falling", without a figure
LEVEL_DIGITS = 1  # a learned level is an estimate: one decimal


def degrees(value: float, unit: str | None, digits: int | None = None) -> str:
    """`−14 °C`: a true minus sign, as in print; `digits` after the point when given (a
    learned level or an outside figure is an estimate, not a reading)."""
    shown = format_number(value) if digits is None else f"{value:.{digits}f}"
    if shown.lstrip("-") == f"{0:.{digits or 0}f}":
        shown = shown.lstrip("-")
    return f"{shown.replace('-', MINUS)} {unit or '°C'}"


def duration(ms: int) -> str:
    """`14 min`, `5 h 10 min`, `11 h`: minutes under an hour, never "1 h" for 14 minutes; as
    the other alerts say how long an incident lasted."""
    return format_elapsed(ms)


def about(ms: int) -> str:
    """An estimate: minutes under an hour, else whole hours."""
    minutes = max(1, round(ms / MINUTE_MS))
    return f"{minutes} min" if minutes < 60 else f"{round(minutes / 60)} h"


def span(low_ms: int, high_ms: int) -> str:
    """`8–15 h`, `10–25 min`, `40 min–2 h`."""
    low, high = about(low_ms), about(high_ms)
    low_unit, high_unit = low.split()[1], high.split()[1]
    if low_unit == high_unit:
        return f"{low.split()[0]}–{high}"
    return f"{low}–{high}"


def clock(ms: int, zone: ZoneInfo, now_ms: int) -> str:
    if 0 <= ms - now_ms < CLOCK_ONLY_MS:
        return datetime.fromtimestamp(ms / 1000, zone).strftime("%H:%M")
    return format_time(ms, zone, now_ms)


def warning(entry: OutboxEntry, name: str, unit: str | None, zone: ZoneInfo, now_ms: int) -> str:
    """🔥 Heating may have stopped at Attic: 6.1 °C (usually 8.0 °C), falling 0.7 °C/h. At the
    forecast −14 °C outside it reaches 0 °C around 03:40 (in about 11 h; 8–15 h)."""
    outlook = entry.outlook or HeatingOutlook(None)
    # Set beside the learned level, the reading takes its precision: "6.85 °C (usually
    # 7.9 °C)" would compare figures of two different kinds.
    digits = None if outlook.level is None else LEVEL_DIGITS
    now = degrees(entry.value, unit, digits) if entry.value is not None else "no reading"
    usual = f" (usually {degrees(outlook.level, unit, LEVEL_DIGITS)})" \
        if outlook.level is not None else ""
    rate = entry.trend_per_hour
    falling = f"falling {abs(rate):.1f} {unit or '°C'}/h" \
        if rate is not None and rate <= -MIN_RATE_SHOWN else "falling"
    return (f"🔥 Heating may have stopped at {name}: {now}{usual}, {falling}. "
            f"{_outlook(outlook, unit, zone, now_ms)}")


def _outlook(outlook: HeatingOutlook, unit: str | None, zone: ZoneInfo, now_ms: int) -> str:
    zero = degrees(freezing_point(unit), unit)
    if outlook.outside is None:
        basis = "From the indoor readings alone"
    elif outlook.outside_source == "forecast":
        basis = f"At the forecast {degrees(outlook.outside, unit, 0)} outside"
    else:
        basis = f"At {degrees(outlook.outside, unit, 0)} outside (your outdoor sensor)"
    if outlook.eta_ms is None:
        if outlook.outside is not None and outlook.outside > freezing_point(unit):
            return f"{basis} it should stay above {zero}."
        return f"It cannot tell yet when it reaches {zero}."
    left = max(0, outlook.eta_ms - now_ms)
    when = f"around {clock(outlook.eta_ms, zone, now_ms)} (in about {about(left)}"
    if outlook.eta_low_ms is not None and outlook.eta_high_ms is not None:
        low, high = outlook.eta_low_ms - now_ms, outlook.eta_high_ms - now_ms
        when += f"; {span(max(0, low), max(0, high))}"
    return f"{basis} it reaches {zero} {when})."


def recovery(entry: OutboxEntry, name: str, unit: str | None) -> str:
    """✅ Attic is heated again (8.1 °C) after 5 h 10 min; lowest 5.2 °C."""
    now = f" ({degrees(entry.value, unit)})" if entry.value is not None else ""
    end = entry.reading_ts or entry.at
    lasted = f" after {duration(end - entry.since)}" if entry.since is not None else ""
    lowest = f"; lowest {degrees(entry.extreme, unit)}" if entry.extreme is not None else ""
    return f"✅ {name} is heated again{now}{lasted}{lowest}."


def render(entry: OutboxEntry, name: str, unit: str | None, zone: ZoneInfo, now_ms: int) -> str:
    if entry.kind is TransitionKind.RESOLVED:
        return recovery(entry, name, unit)
    return warning(entry, name, unit, zone, now_ms)


def describe_state(memory: HeatingMemory, unit: str | None, now_ms: int,
                   learned_in: str | None = None) -> str:
    """For /alerts: learning (N days to go), watching (usual level, τ with its range), firing.
    `learned_in`: "°F" when the watch turned °F readings into °C (its level is °C); None when
    its level is in the sensor's own figures, as a watch kept from before °F sensors had it,
    until it learns again."""
    model = memory.model
    if memory.phase is HeatingPhase.FIRING:
        return "Firing: the heating may have stopped"
    if model is None or memory.phase is HeatingPhase.LEARNING:
        if memory.first_seen is None:
            return f"Learning: waiting for readings ({MIN_DAYS} days needed)"
        left = memory.first_seen + MIN_DAYS * 86_400_000 - now_ms
        if left <= 0:
            return "Learning: it has the days it needs and learns at its next reading"
        days = -(-left // 86_400_000)
        return f"Learning: {days} {'day' if days == 1 else 'days'} to go"
    if model.deep_tau_h > 0:  # what the time to 0 °C trusts: the building's own, seen whole
        tau = (f"cools with τ ≈ {model.deep_tau_h:.0f} h (seen in {model.deep_hours:.0f} h of "
               "unheated cooling)")
    else:
        guess = ", a first guess" if model.cooling_episodes == 0 else ""
        tau = (f"cools with τ ≈ {model.tau_h:.0f} h ({model.tau_low_h:.0f}–"
               f"{model.tau_high_h:.0f} h{guess})")
    relearn = ", relearning the level after you turned it down" \
        if memory.relearn_from is not None and model.learned_at < memory.relearn_from else ""
    level = from_celsius(model.level, learned_in)
    return f"Watching: usually {degrees(level, unit, LEVEL_DIGITS)}, {tau}{relearn}"
