"""Degrees Fahrenheit and Celsius: a sensor may report either, and what is reasoned about
temperatures (the freezing point, a heating watch's model) is in °C, then said in the
sensor's unit."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# How a unit set with /unit or sent by a device may spell Fahrenheit, once `_spelled` has
# taken out case, spaces, dots and the degree sign's look-alikes.
FAHRENHEIT = frozenset({"°f", "f", "degf", "degreef", "degreesf", "fahrenheit", "°fahrenheit",
                        "degfahrenheit", "degreesfahrenheit"})
CELSIUS = frozenset({"°c", "c", "degc", "degreec", "degreesc", "celsius", "°celsius",
                     "degcelsius", "degreescelsius", "centigrade"})
# "º" (the ordinal sign) and "˚" (the ring above, a Mac's Option-K) pass for the degree sign.
DEGREE_LOOKALIKES = str.maketrans({"º": "°", "˚": "°"})
FREEZING_C = 0.0


@lru_cache(maxsize=256)  # a °F watch asks at every reading; units are few
def _spelled(unit: str) -> str:
    """The unit without case, spaces or dots, "℉" as "°f", look-alikes as "°" (before NFKC,
    which would make "º" an "o")."""
    folded = unicodedata.normalize("NFKC", unit.translate(DEGREE_LOOKALIKES)).lower()
    return re.sub(r"[\s.]", "", folded)


def is_fahrenheit(unit: str | None) -> bool:
    return unit is not None and _spelled(unit) in FAHRENHEIT


def is_celsius(unit: str | None) -> bool:
    return unit is not None and _spelled(unit) in CELSIUS


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
