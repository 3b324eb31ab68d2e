"""The grammar of /alert (pure): `below|above <x> [for <dur>] [clear <y>] [repeat <dur>]`,
`stale <dur>` or `heating`."""

from __future__ import annotations

import math
from typing import Any

from alerts.rules import BadRule, check_rule, check_temperature
from core.formatting import MINUS, BadArgument, echo, parse_duration
from core.temperature import is_celsius, is_fahrenheit
from storage.models import RuleKind, RuleSpec

ALERT_EXAMPLE = ("e.g. /alert attic below 3 for 10m clear 4 repeat 1h, /alert attic stale 1h "
                 "or /alert attic heating")
KINDS = {kind.value: kind for kind in RuleKind}
# The words after a threshold, and the option each one sets.
OPTIONS = {"for": "for_s", "clear": "clear", "repeat": "repeat_s"}


def parse_alert(words: list[str], unit: str | None = None) -> RuleSpec:
    """The rule the words after the sensor ask for; on a sensor in °C or °F (`unit`), no
    threshold below absolute zero (-500 for -5 is a typo)."""
    if not words or words[0] not in KINDS:
        raise BadArgument(f"Say below, above, stale or heating after the sensor; {ALERT_EXAMPLE}")
    kind = KINDS[words[0]]
    if kind is RuleKind.HEATING:
        if len(words) != 1:
            raise BadArgument(f"Heating takes nothing more: it learns from the readings; "
                              f"{ALERT_EXAMPLE}")
        return RuleSpec(RuleKind.HEATING)
    if kind is RuleKind.STALE:
        if len(words) != 2:
            raise BadArgument(f"Stale takes one duration; {ALERT_EXAMPLE}")
        return _checked(RuleSpec(RuleKind.STALE, stale_s=_duration(words[1])))
    if len(words) < 2:
        raise BadArgument(f"{kind.value.capitalize()} needs a number; {ALERT_EXAMPLE}")
    options: dict[str, Any] = {"threshold": parse_number(words[1])}
    rest = words[2:]
    for at in range(0, len(rest), 2):
        key = rest[at]
        if key not in OPTIONS:
            raise BadArgument(f"I don't know '{echo(key)}': use for, clear or repeat; "
                              f"{ALERT_EXAMPLE}")
        if at + 1 == len(rest):
            raise BadArgument(f"'{key}' needs a value after it; {ALERT_EXAMPLE}")
        if OPTIONS[key] in options:
            raise BadArgument(f"'{key}' is given twice; {ALERT_EXAMPLE}")
        value = rest[at + 1]
        options[OPTIONS[key]] = parse_number(value) if key == "clear" else _duration(value)
    if is_celsius(unit) or is_fahrenheit(unit):
        try:
            check_temperature(options["threshold"], unit)
        except BadRule as problem:
            raise BadArgument(f"{problem}; {ALERT_EXAMPLE}") from None
    return _checked(RuleSpec(kind, **options))


def parse_number(text: str) -> float:
    try:
        value = float(text.replace(",", ".").replace(MINUS, "-"))
    except ValueError:
        raise BadArgument(f"'{echo(text)}' is not a number; {ALERT_EXAMPLE}") from None
    if not math.isfinite(value):
        raise BadArgument(f"'{echo(text)}' is not a finite number; {ALERT_EXAMPLE}")
    return value


def _duration(text: str) -> int:
    try:
        return parse_duration(text)
    except BadArgument as problem:
        raise BadArgument(f"{problem}; {ALERT_EXAMPLE}") from None


def _checked(spec: RuleSpec) -> RuleSpec:
    try:
        return check_rule(spec)
    except BadRule as problem:
        raise BadArgument(f"{str(problem).capitalize()}; {ALERT_EXAMPLE}") from None
