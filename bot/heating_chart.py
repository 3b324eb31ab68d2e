"""What a heating warning's chart draws after now (pure): the predicted course cut where its
whole range has reached 0 °C, at most two days ahead, and the words that say so."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.heating_text import about, degrees
from core.temperature import freezing_point

HOUR_MS = 3_600_000
AHEAD_CAP_MS = 48 * HOUR_MS  # further ahead, the past day would shrink to a sliver

Course = Sequence[tuple[int, float, float, float]]  # (epoch ms, expected, low, high)


@dataclass(frozen=True)
class Ahead:
    """The course to draw, and what it shows: when the expected line reaches 0 °C (None: not
    within the drawn hours), and whether the cap cut it before its range reached 0 °C."""

    course: Course
    now_ms: int
    zero_ms: int | None
    capped: bool
    unit: str | None = None  # the sensor's: its freezing point is 32 °F

    @property
    def freezing(self) -> str:
        """`0 °C`, `32 °F`."""
        return degrees(freezing_point(self.unit), self.unit)

    @property
    def span(self) -> str:
        """How far ahead it is drawn: `15 h`, or `40 min` when the range reaches 0 °C within
        the hour (never "the next 0 h")."""
        return about(self.course[-1][0] - self.now_ms) if self.course else ""


def ahead(course: Course, now_ms: int, unit: str | None = None) -> Ahead:
    """`course` (from now, up to the cap, in `unit`) cut at the first point where even the
    slow end of its range has reached 0 °C (32 °F): the chart shows where the sensor reaches
    it, and no more."""
    freezing = freezing_point(unit)
    course = [point for point in course if point[0] - now_ms <= AHEAD_CAP_MS]
    end = next((i for i, point in enumerate(course) if point[3] <= freezing), None)
    shown = course if end is None else course[:end + 1]
    if len(shown) < 2:  # the whole range at 0 °C already: nothing ahead to draw
        return Ahead((), now_ms, None, capped=False, unit=unit)
    zero = next((t for t, expected, _, _ in shown if expected <= freezing), None)
    return Ahead(shown, now_ms, zero, capped=end is None and bool(shown), unit=unit)


def title(name: str, past: str, zone: str, outlook: Ahead) -> str:
    """`Attic · last 24 h and the next 15 h without heating (Europe/Helsinki)`; a capped
    course says where it stops and what it does not reach."""
    if not outlook.course:
        return f"{name} · {past} ({zone})"
    if not outlook.capped:
        return f"{name} · {past} and the next {outlook.span} without heating ({zone})"
    beyond = f"{outlook.freezing} not reached by then" if outlook.zero_ms is None else \
        f"its range reaches {outlook.freezing} later"
    return (f"{name} · {past} and the next {outlook.span} without heating, cut at "
            f"{AHEAD_CAP_MS // HOUR_MS} h: {beyond} ({zone})")


def note(outlook: Ahead) -> str:
    """The caption's line for the dashed part: what it is and when it reaches 0 °C."""
    if not outlook.course:
        return ""
    drawn = (f"Dashed: expected without heating, shaded: its likely range, for the next "
             f"{outlook.span}")
    if outlook.zero_ms is None:
        return f"{drawn}; it does not reach {outlook.freezing} within them."
    if outlook.zero_ms <= outlook.now_ms:
        return f"{drawn}; it is at {outlook.freezing} already."
    return (f"{drawn}; it reaches {outlook.freezing} in about "
            f"{about(outlook.zero_ms - outlook.now_ms)}.")
