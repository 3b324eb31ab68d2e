"""Alert rules: their parameters, defaults, the /freeze preset, and parsing /alert (pure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core.formatting import BadArgument, describe_duration, format_number, parse_duration

DEFAULT_REPEAT_S = 3600
FREEZE_DEFAULT = 3.0
FREEZE_FOR_S = 600
FREEZE_STALE_S = 3600
ALERT_EXAMPLE = "e.g. /alert attic below 3 for 10m clear 4 repeat 1h, or /alert attic stale 1h"


@dataclass(frozen=True)
class Spec:
    """What a rule watches. Threshold rules: below/above `threshold`, held for `for_s`,
    resolved at `clear` (hysteresis). Stale rules: no reading for `stale_s`."""

    kind: str  # "below" | "above" | "stale"
    threshold: float | None = None
    for_s: int = 0
    clear: float | None = None
    repeat_s: int = DEFAULT_REPEAT_S
    stale_s: int | None = None
    preset: str | None = None  # "freeze": always rings, even in quiet hours

    @property
    def clear_level(self) -> float:
        assert self.threshold is not None
        if self.clear is not None:
            return self.clear
        return self.threshold + 1 if self.kind == "below" else self.threshold - 1

    def offends(self, value: float) -> bool:
        assert self.threshold is not None
        return value < self.threshold if self.kind == "below" else value > self.threshold

    def clears(self, value: float) -> bool:
        return value >= self.clear_level if self.kind == "below" else value <= self.clear_level

    def worse(self, a: float, b: float) -> float:
        """The more extreme of two values for this rule (lowest for below)."""
        return min(a, b) if self.kind == "below" else max(a, b)

    @property
    def always_rings(self) -> bool:
        return self.preset == "freeze" or self.kind == "stale"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spec:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def describe(self, unit: str | None = None) -> str:
        if self.kind == "stale":
            return f"no data for {describe_duration(self.stale_s or 0)}"
        assert self.threshold is not None
        shown = f"{self.kind} {format_number(self.threshold)}{' ' + unit if unit else ''}"
        if self.for_s:
            shown += f" for {describe_duration(self.for_s)}"
        return shown + f" (clears at {format_number(self.clear_level)}, reminders every " \
                       f"{describe_duration(self.repeat_s)})"


def parse_alert(words: list[str]) -> Spec:
    """`below|above <x> [for <dur>] [clear <y>] [repeat <dur>]` or `stale <dur>`."""
    if not words or words[0] not in ("below", "above", "stale"):
        raise BadArgument(f"say below, above or stale after the sensor; {ALERT_EXAMPLE}")
    kind = words[0]
    if kind == "stale":
        if len(words) != 2:
            raise BadArgument(f"stale takes one duration; {ALERT_EXAMPLE}")
        return Spec("stale", stale_s=parse_duration(words[1]))
    if len(words) < 2:
        raise BadArgument(f"{kind} needs a number; {ALERT_EXAMPLE}")
    options: dict[str, Any] = {"threshold": parse_number(words[1])}
    rest = words[2:]
    if len(rest) % 2:
        raise BadArgument(f"'{rest[-1]}' needs a value after it; {ALERT_EXAMPLE}")
    for key, value in zip(rest[::2], rest[1::2], strict=True):
        if key == "for":
            options["for_s"] = parse_duration(value)
        elif key == "repeat":
            options["repeat_s"] = parse_duration(value)
        elif key == "clear":
            options["clear"] = parse_number(value)
        else:
            raise BadArgument(f"I don't know '{key}': use for, clear or repeat; {ALERT_EXAMPLE}")
    spec = Spec(kind, **options)
    if spec.clears(spec.threshold) if spec.threshold is not None else False:
        raise BadArgument(f"clear {format_number(spec.clear_level)} would resolve at the "
                          f"threshold itself; for {kind} it must be "
                          f"{'above' if kind == 'below' else 'below'} {words[1]}")
    return spec


def parse_number(text: str) -> float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise BadArgument(f"'{text}' is not a number; {ALERT_EXAMPLE}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadArgument(f"'{text}' is not a finite number")
    return value


def freeze_preset(threshold: float = FREEZE_DEFAULT) -> list[Spec]:
    """Pipe-freeze protection: below x for 10 min, clear at x+1, hourly reminders, plus
    a stale rule after an hour without data."""
    return [Spec("below", threshold, FREEZE_FOR_S, threshold + 1, DEFAULT_REPEAT_S,
                 preset="freeze"),
            Spec("stale", stale_s=FREEZE_STALE_S, preset="freeze")]
