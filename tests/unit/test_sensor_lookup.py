"""How the chat names sensors: words with quotes, ids and names, ambiguity — without a bot."""

from __future__ import annotations

import pytest

from bot.chat import (
    find_sensor,
    match_sensors,
    quote,
    spaced_name,
    split_sensor_words,
    split_words,
)
from core.formatting import BadArgument
from storage.models import Sensor

SENSORS = [Sensor("attic", "Loft"), Sensor("cottage/attic", "Attic"),
           Sensor("Living room"), Sensor("garage", "Garage")]


@pytest.mark.parametrize(("text", "words"), [
    ('"Living room" 7d', ["Living room", "7d"]),
    ("“Living room” 7d", ["Living room", "7d"]),
    ("Bob's attic", ["Bob's", "attic"]),
    ("  attic   6h ", ["attic", "6h"]),
    ("", []),
])
def test_it_splits_words_keeping_quoted_ones_whole(text, words):
    assert split_words(text) == words


def test_an_unclosed_quote_is_an_error_with_an_example():
    with pytest.raises(BadArgument, match="not closed"):
        split_words('"Living room 7d')


@pytest.mark.parametrize("word", ["attic", "Living room", 'say "hi"', "“odd”"])
def test_a_quoted_word_reads_back_as_itself(word):
    assert split_words(quote(word)) == [word]


def test_an_exact_id_wins_and_a_name_that_is_also_an_id_is_ambiguous():
    assert find_sensor(SENSORS, "attic") == SENSORS[0]
    assert [s.sensor_id for s in match_sensors(SENSORS, "Attic")] == ["attic", "cottage/attic"]
    assert find_sensor(SENSORS, "ATTIC") is None  # two sensors it may mean: ask which
    assert find_sensor(SENSORS, "loft") == SENSORS[0]
    assert find_sensor(SENSORS, "cellar") is None


def test_the_longest_run_of_words_naming_a_sensor_is_the_sensor():
    assert split_sensor_words(["Living", "room", "7d"], SENSORS, keep=0) == \
        ("Living room", ["7d"])
    assert split_sensor_words(["garage", "Main", "garage"], SENSORS, keep=1) == \
        ("garage", ["Main", "garage"])
    assert split_sensor_words(["nothing", "here"], SENSORS, keep=0) == ("nothing", ["here"])


@pytest.mark.parametrize(("query", "rest", "named"), [
    ("living", ["room"], "living room"),
    ("living", ["room", "7d"], "living room"),
    ("loft", ["space", "Attic"], None),
    ("nosuch", ["7d"], None),
    ("nosuch", [], None),
])
def test_the_quoting_hint_is_for_words_that_together_name_a_sensor(query, rest, named):
    assert spaced_name(SENSORS, query, rest) == named
