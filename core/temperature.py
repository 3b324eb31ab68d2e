"""Degrees Fahrenheit and Celsius: a sensor may report either, and what is reasoned about
temperatures (the freezing point, a heating watch's model) is in °C, then said in the
sensor's unit."""

from __future__ import annotations

# How a unit set with /unit or sent by a device may spell Fahrenheit.
FAHRENHEIT = frozenset({"°f", "f", "℉", "degf", "deg f", "fahrenheit", "° f"})
FREEZING_C = 0.0


def is_fahrenheit(unit: str | None) -> bool:
    return unit is not None and unit.strip().lower() in FAHRENHEIT


def to_celsius(value: float, unit: str | None) -> float:
    """A reading in `unit` as °C (any unit but Fahrenheit is taken as °C already)."""
    return (value - 32) / 1.8 if is_fahrenheit(unit) else value


def from_celsius(value: float, unit: str | None) -> float:
    """A °C figure in `unit`."""
    return value * 1.8 + 32 if is_fahrenheit(unit) else value


def difference_from_celsius(delta: float, unit: str | None) -> float:
    """A difference or a rate (°C/h) in `unit`: no offset, only the scale."""
    return delta * 1.8 if is_fahrenheit(unit) else delta


def freezing_point(unit: str | None) -> float:
    """0 °C in `unit`: 32 °F."""
    return from_celsius(FREEZING_C, unit)
