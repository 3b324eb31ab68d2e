"""Alert rules: defaults, limits and the /freeze preset (pure)."""

from __future__ import annotations

import hashlib

from core.formatting import describe_duration
from core.temperature import from_celsius, is_fahrenheit
from storage.models import AlertRule, RuleKind, RuleSpec

DEFAULT_REPEAT_S = 3600
FREEZE = "freeze"
FREEZE_DEFAULT = 3.0
FREEZE_FOR_S = 600
FREEZE_STALE_S = 3600
ABSOLUTE_ZERO_C = -273.15
BOILING_C = 100.0
MAX_THRESHOLD = 100_000.0  # beyond any sensor's range: a typo, not a rule
MAX_SNOOZE_S = 365 * 86_400  # longer is a typo, or forgetting an alert: /delalert's job
MAX_RULE_S = 365 * 86_400  # a rule's for, repeat or stale: longer is a typo (9999d for 99d)


def freeze_default(unit: str | None) -> float:
    """/freeze's threshold when none is given: 3 °C in the sensor's unit (37.4 °F)."""
    return round(from_celsius(FREEZE_DEFAULT, unit), 1)


class BadRule(ValueError):
    """A rule that cannot be kept; the message says why in the user's words."""


def check_temperature(threshold: float, unit: str | None) -> float:
    """A threshold that is a temperature (°C unless the sensor says °F): none below absolute
    zero, which is a typo (-500 for -5), not a rule. /alert checks it on a sensor in °C or
    °F; /freeze on every sensor."""
    coldest = from_celsius(ABSOLUTE_ZERO_C, unit)
    if threshold < coldest:
        raise BadRule(f"{threshold:g} is below absolute zero ({coldest:g} {_degrees(unit)})")
    return threshold


def check_freeze_threshold(threshold: float, unit: str | None) -> float:
    """A freeze threshold is a temperature (check_temperature), and one no warmer than boiling
    water: freeze protection at 500 (for 5) would ring at once and never stop."""
    warmest = from_celsius(BOILING_C, unit)
    if threshold > warmest:
        raise BadRule(f"{threshold:g} is above boiling ({warmest:g} {_degrees(unit)}): freeze "
                      "protection warns of the cold")
    return check_temperature(threshold, unit)


def _degrees(unit: str | None) -> str:
    return "°F" if is_fahrenheit(unit) else "°C"


def check_rule(spec: RuleSpec) -> RuleSpec:
    """Refuse thresholds no sensor reaches and clear levels that would resolve at once."""
    # A clear level may sit one past a threshold at the limit (the preset's default).
    for name, level, limit in (("threshold", spec.threshold, MAX_THRESHOLD),
                               ("clear", spec.clear, MAX_THRESHOLD + 1)):
        if level is not None and abs(level) > limit:
            raise BadRule(f"a {name} of {level:g} is beyond ±{limit:g}")
    for name, seconds in (("for", spec.for_s), ("repeat", spec.repeat_s),
                          ("stale", spec.stale_s)):
        if seconds is not None and seconds > MAX_RULE_S:
            raise BadRule(f"'{name}' is at most {describe_duration(MAX_RULE_S)}, "
                          f"not {describe_duration(seconds)}")
    if spec.kind is RuleKind.HEATING:
        return spec  # learned from the readings: nothing to set
    if spec.kind is not RuleKind.STALE and spec.clears(spec.limit):  # recovered while firing
        side, step = ("above", 1) if spec.kind is RuleKind.BELOW else ("below", -1)
        raise BadRule(f"clear {spec.clear_level:g} must be {side} the threshold {spec.limit:g}, "
                      f"where the value is back to normal (e.g. clear {spec.limit + step:g})")
    if spec.kind is RuleKind.STALE and not spec.stale_s:
        raise BadRule("a no-data rule needs a duration")
    return spec


def freeze_preset(threshold: float = FREEZE_DEFAULT) -> list[RuleSpec]:
    """Pipe-freeze protection: below x for 10 min, clear at x+1, hourly reminders, a stale
    rule after an hour without data, and the heating watch."""
    return [check_rule(RuleSpec(RuleKind.BELOW, threshold, FREEZE_FOR_S, threshold + 1,
                                DEFAULT_REPEAT_S, preset=FREEZE)),
            RuleSpec(RuleKind.STALE, stale_s=FREEZE_STALE_S, preset=FREEZE),
            HEATING_SPEC_IN_FREEZE]


HEATING_SPEC = RuleSpec(RuleKind.HEATING)
HEATING_SPEC_IN_FREEZE = RuleSpec(RuleKind.HEATING, preset=FREEZE)


def preset_rule_id(user_id: str, sensor: str, kind: RuleKind) -> str:
    """The id of a preset's rule of one kind on one sensor, the same wherever it is derived:
    webhook Lambdas setting a preset at once write the same rules, never one set each.
    12 hex digits: 20,000 sensors' presets collide with odds below 1 in 10,000."""
    digest = hashlib.sha256(f"{user_id}\0{sensor}\0{kind.value}".encode()).hexdigest()
    return "f" + digest[:12]


def is_freeze(rule: AlertRule) -> bool:
    return rule.spec.preset == FREEZE
