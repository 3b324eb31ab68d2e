"""`/location` reads coordinates as people paste them."""

from __future__ import annotations

import pytest

from alerts.outside import BadLocation
from bot.outside import parse_location


@pytest.mark.parametrize("words", [["60.17", "24.94"], ["60.17,", "24.94"], ["60.17,24.94"]])
def test_a_latitude_and_a_longitude_in_any_usual_spacing(words):
    assert parse_location(words) == (60.17, 24.94)


def test_a_true_minus_as_maps_and_the_bot_print_it_is_a_minus():
    assert parse_location(["\u221233.87", "151.21"]) == (-33.87, 151.21)


def test_anything_else_says_which_part_is_not_a_number():
    with pytest.raises(BadLocation, match="'north' is not a number"):
        parse_location(["north", "24"])


def test_decimal_commas_as_much_of_europe_types_them_are_read_too():
    assert parse_location(["60,17", "24,94"]) == (60.17, 24.94)
    assert parse_location(["\u221233,87", "151,21"]) == (-33.87, 151.21)
