"""Naming sensors in the chat: quotes for names with spaces, unique names, ambiguity buttons."""

from __future__ import annotations

import pytest

from bot.chat import quote, sensor_by_key, sensor_key, split_words
from bot.data import EXPORT_BUTTON, HISTORY_BUTTON, sensor_callback_data
from core.formatting import BadArgument
from storage.models import Reading, Sensor
from tests.support.common import NOW_MS


def add_sensor(world, sensor_id: str, value: float = 5.0, name: str | None = None) -> None:
    world.store.write_readings("alice", [Reading(sensor_id, NOW_MS - 60_000, value)],
                               now_ms=NOW_MS)
    if name is not None:
        world.store.update_sensor("alice", sensor_id, name=name, now_ms=NOW_MS)


@pytest.mark.parametrize(("text", "words"), [
    ('"Living room" 7d', ["Living room", "7d"]),
    ("“Living room” 7d", ["Living room", "7d"]),
    ("'loft space' Attic", ["loft space", "Attic"]),
    ("attic Bob's room", ["attic", "Bob's", "room"]),
    ('"5"high" x', ['5"high', "x"]),
    ("  spaced   out  ", ["spaced", "out"]),
    ('""', [""]),
])
def test_it_splits_words_keeping_quoted_names_whole(text, words):
    assert split_words(text) == words


def test_it_explains_an_unclosed_quote():
    with pytest.raises(BadArgument, match=r'in quotes, e\.g\. /history "Living room" 7d'):
        split_words('"Living room 7d')


@pytest.mark.parametrize("word", ["attic", "Living room", 'say "hi" now', "'quoted'", "a\tb"])
def test_it_quotes_words_so_they_split_back_the_same(word):
    assert split_words(f"{quote(word)} next") == [word, "next"]


def test_it_charts_a_sensor_whose_name_has_spaces_given_in_quotes(world):
    add_sensor(world, "lr", name="Living room")

    [photo] = world.linked_chat().say('/history "Living room" 7d')

    assert photo.method == "sendPhoto"
    assert photo.text.startswith("Living room · last 7 days")


def test_it_renames_a_sensor_whose_id_has_spaces(world):
    chat = world.linked_chat()
    add_sensor(world, "loft space")

    quoted = chat.ask('/rename "loft space" Loft')
    unquoted = chat.ask("/rename loft space Attic loft")

    assert "sensor loft space now shows as Loft" in quoted
    assert "now shows as Attic loft" in unquoted
    assert world.store.get_sensor("alice", "loft space").name == "Attic loft"


def test_it_renames_a_sensor_whose_name_has_spaces(world):
    chat = world.linked_chat()
    add_sensor(world, "loft", name="loft space")

    quoted = chat.ask('/rename "loft space" Attic loft')
    unquoted = chat.ask("/rename attic loft Loft")

    assert "now shows as Attic loft" in quoted
    assert "now shows as Loft" in unquoted
    assert world.store.get_sensor("alice", "loft").name == "Loft"


def test_an_empty_name_clears_the_name_and_says_so(world):
    chat = world.linked_chat()
    add_sensor(world, "loft", name="Loft")

    answer = chat.ask('/rename Loft ""')

    assert answer == "Name cleared: sensor loft shows as its id again."
    assert world.store.get_sensor("alice", "loft").name is None


@pytest.mark.parametrize(("command", "says"), [
    ('/latest "Living room"', "Living room: 5"),
    ('/unit "Living room" °C', "Unit set: Living room now shows values in °C"),
    ('/export "Living room" 24h', "Living room · last 24 h · 1 reading"),
    ('/alert "Living room" below 3', "Living room below 3"),
    ('/freeze "Living room"', "Pipe-freeze protection on Living room"),
])
def test_every_sensor_command_takes_a_quoted_name(world, command, says):
    add_sensor(world, "lr", name="Living room")

    assert says in world.linked_chat().ask(command)


def test_it_refuses_a_name_another_sensor_shows_as(world):
    chat = world.linked_chat()
    add_sensor(world, "cottage/attic")

    answer = chat.ask("/rename cottage/attic ATTIC")

    assert "Another sensor (attic) is already called 'attic'" in answer
    assert world.store.get_sensor("alice", "cottage/attic").name is None


def test_an_ambiguous_name_asks_which_sensor_and_the_button_finishes_the_command(world):
    chat = world.linked_chat()
    world.store.update_sensor("alice", "attic", name="Loft", now_ms=NOW_MS)
    add_sensor(world, "cottage/attic", name="attic")

    [question] = chat.say("/freeze attic 4")
    assert "'attic' could mean 2 sensors" in question.text
    assert world.store.list_alert_rules("alice") == []
    buttons = {b["text"]: b["callback_data"] for b in question.buttons}
    assert set(buttons) == {"Loft (attic)", "attic (cottage/attic)"}
    start = len(world.emulator.calls)
    world.emulator.press(question, buttons["attic (cottage/attic)"])
    [done] = chat.wait(start)

    assert "Pipe-freeze protection on attic" in done.text
    assert world.emulator.wait_for(lambda c: c.method == "editMessageReplyMarkup",
                                   after=start).params.get("reply_markup") in (None, "")
    rules = world.store.list_alert_rules("alice")
    assert {r.sensor for r in rules} == {"cottage/attic"}
    assert any(r.spec.threshold == 4 for r in rules)


def test_an_ambiguous_name_under_history_charts_the_picked_sensor_and_range(world):
    chat = world.linked_chat()
    world.store.update_sensor("alice", "attic", name="Loft", now_ms=NOW_MS)
    add_sensor(world, "cottage/attic", name="Attic")

    [question] = chat.say("/history Attic 7d")
    start = len(world.emulator.calls)
    pick = next(b for b in question.buttons if b["text"] == "Loft (attic)")
    world.emulator.press(question, pick["callback_data"])
    [photo] = chat.wait(start)

    assert photo.method == "sendPhoto"
    assert photo.text.startswith("Loft · last 7 days")


def test_button_data_stays_short_for_ids_of_200_characters():
    long_id = "ö" * 199 + "x"

    for prefix in (HISTORY_BUTTON, EXPORT_BUTTON):
        assert len(sensor_callback_data(prefix, "2026-01-01..2026-01-07", long_id).encode()) \
            <= 64
    assert sensor_by_key([Sensor("attic"), Sensor(long_id)], sensor_key(long_id)).sensor_id \
        == long_id


def test_buttons_work_for_the_longest_ids_storage_takes(world):
    chat = world.linked_chat()
    long_id = "ö" * 199 + "x"
    add_sensor(world, long_id, name="attic")

    [question] = chat.say("/latest attic")
    [offer] = chat.say("/history 24h")

    data = [b["callback_data"] for b in question.buttons + offer.buttons]
    assert len(data) == 4
    assert all(len(d.encode()) <= 64 for d in data)
    start = len(world.emulator.calls)
    world.emulator.press(question, question.buttons[1]["callback_data"])
    [answer] = chat.wait(start)
    assert answer.text.startswith("attic: 5")


def test_words_that_together_name_a_sensor_get_the_hint_about_quotes(world):
    add_sensor(world, "z2m/loft", name="loft space")

    answer = world.linked_chat().ask("/rename loft space")

    assert "There is no sensor 'loft'" in answer
    assert "Did you mean 'loft space'?" in answer
    assert 'in quotes, e.g. /history "Living room" 7d' in answer


def test_an_unknown_sensor_before_more_words_is_unknown_without_a_quoting_hint(world):
    answer = world.linked_chat().ask("/rename loft space Attic")

    assert "There is no sensor 'loft'. Your sensors: attic" in answer
    assert "e.g. /rename attic Attic" in answer
    assert "quotes" not in answer
