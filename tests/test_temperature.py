"""°F and °C as users and devices spell them, and the conversions between them."""

from __future__ import annotations

import pytest

from core.temperature import (
    difference_from_celsius,
    freezing_point,
    from_celsius,
    is_celsius,
    is_fahrenheit,
    to_celsius,
)


@pytest.mark.parametrize("unit", ["°F", "F", "f", "degF", "°f", "deg F", "℉", "° F", " °F ",
                                  "ºF", "˚F", "degrees F", "deg. F", "Fahrenheit",
                                  "degrees Fahrenheit"])
def test_fahrenheit_is_known_however_it_is_spelled(unit):
    assert is_fahrenheit(unit)
    assert not is_celsius(unit)
    assert freezing_point(unit) == 32
    assert to_celsius(46.4, unit) == pytest.approx(8.0)


@pytest.mark.parametrize("unit", ["°C", "C", "degC", "ºC", "˚C", "celsius", "deg C"])
def test_celsius_however_it_is_spelled(unit):
    assert is_celsius(unit)
    assert not is_fahrenheit(unit)


@pytest.mark.parametrize("unit", [None, "", "%", "hPa", "ft", "of", "K"])
def test_other_units_are_neither_and_stay_as_they_are(unit):
    assert not is_fahrenheit(unit)
    assert to_celsius(8.0, unit) == from_celsius(8.0, unit) == 8.0
    assert difference_from_celsius(-0.7, unit) == -0.7
    assert freezing_point(unit) == 0


def test_a_rate_scales_without_the_offset():
    assert difference_from_celsius(-0.7, "°F") == pytest.approx(-1.26)
    assert from_celsius(to_celsius(37.4, "°F"), "°F") == pytest.approx(37.4)
