"""The user's data through the chat: /sensors, /latest, /history, /export, /rename, /unit, /tz."""

from __future__ import annotations

import csv
import io

import pytest

from storage.models import Reading
from tests.support.bot import ALICE_CHAT, BOB_CHAT
from tests.support.common import NOW_MS


def test_sensors_lists_name_id_value_and_last_seen(world):
    chat = world.linked_chat()
    world.store.update_sensor("alice", "attic", name="Attic", unit="°C", now_ms=NOW_MS)
    world.clock.now += 5 * 60_000

    text = chat.ask("/sensors")

    assert "Attic (attic)" in text
    assert "2 °C" in text
    assert "last seen 5 min ago" in text


def test_latest_shows_every_sensor_or_one_and_status_is_an_alias(world):
    chat = world.linked_chat()
    world.store.write_readings("alice", [Reading("cellar", NOW_MS, 6.25)], now_ms=NOW_MS)

    everything = chat.ask("/latest")
    one = chat.ask("/status cellar")

    assert "attic: 2 at 08:00" in everything
    assert "cellar: 6.25" in everything
    assert one.startswith("cellar: 6.25")
    assert "attic" not in one


def test_latest_names_a_missing_sensor_and_the_ones_there_are(world):
    text = world.linked_chat().ask("/latest nosuch")

    assert "no sensor 'nosuch'" in text
    assert "attic" in text


def test_times_follow_the_chats_zone(world):
    chat = world.linked_chat()

    assert "Europe/Helsinki" in chat.ask("/tz Europe/Helsinki")
    assert "attic: 2 at 10:00" in chat.ask("/latest attic")
    assert "don't know the zone" in chat.ask("/tz Mars/Base")
    assert "don't know the zone" in chat.ask("/tz Europe")


def test_two_users_chats_never_see_each_others_data(world):
    alice = world.linked_chat("alice", ALICE_CHAT)
    bob = world.linked_chat("bob", BOB_CHAT)

    alice_text, bob_text = alice.ask("/latest"), bob.ask("/latest")

    assert "attic" in alice_text and "garage" not in alice_text
    assert "garage" in bob_text and "attic" not in bob_text
    assert "no sensor 'attic'" in bob.ask("/history attic")


def test_history_sends_a_png_chart_with_min_max_mean_last(world):
    [photo] = world.linked_chat().say("/history attic 6h")

    _, png = photo.files["photo"]
    assert photo.method == "sendPhoto"
    assert png.startswith(b"\x89PNG") and 10_000 < len(png) < 500_000
    assert photo.text.startswith("attic · last 6 h\nmin 0.81 · max 2 · mean 1.41 · last 2")
    assert "120 readings" in photo.text


def test_history_without_a_sensor_offers_buttons_that_draw_the_chart(world):
    chat = world.linked_chat()
    world.store.write_readings("alice", [Reading("c" * 64, NOW_MS, 1.0)], now_ms=NOW_MS)
    [question] = chat.say("/history 7d")
    buttons = question.buttons
    assert [b["text"] for b in buttons] == ["attic", "c" * 64]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    start = len(world.emulator.calls)

    world.emulator.press(question, buttons[1]["callback_data"])
    [photo] = chat.wait(start)

    assert photo.method == "sendPhoto"
    assert photo.text.startswith("c" * 64 + " · last 7 days")


@pytest.mark.parametrize(("command", "range_text"), [("/export", "24h"), ("/export 7d", "7d")])
def test_export_without_a_sensor_offers_buttons_that_send_the_same_files_as_naming_it(
        world, command, range_text):
    chat = world.linked_chat()
    world.store.write_readings("alice", [Reading("c" * 64, NOW_MS, 1.0)], now_ms=NOW_MS)
    [question] = chat.say(command)
    buttons = question.buttons
    assert question.text == f"Which sensor? ({range_text})"
    assert [b["text"] for b in buttons] == ["attic", "c" * 64]
    assert all(b["callback_data"].startswith("e:") for b in buttons)
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)

    for button, sensor in zip(buttons, ["attic", "c" * 64], strict=True):
        start = len(world.emulator.calls)
        world.emulator.press(question, button["callback_data"])
        [pressed] = chat.wait(start)
        [typed] = chat.say(f"/export {sensor} {range_text}")

        assert pressed.method == typed.method == "sendDocument"
        assert pressed.files["document"] == typed.files["document"]
        assert pressed.files["document"][0].endswith(f"_{range_text}.csv")
        assert pressed.text == typed.text


def test_an_export_button_sends_every_reading_of_the_range_as_csv(world):
    chat = world.linked_chat()
    [question] = chat.say("/export")
    start = len(world.emulator.calls)

    world.emulator.press(question, question.buttons[0]["callback_data"])
    [document] = chat.wait(start)

    name, content = document.files["document"]
    rows = list(csv.reader(io.StringIO(content.decode())))
    stored = world.store.read_range("alice", "attic", NOW_MS - 86_400_000, NOW_MS, now_ms=NOW_MS)
    assert (name, document.text) == ("attic_24h.csv", "attic · last 24 h · 120 readings")
    assert [(int(r[0]), float(r[2])) for r in rows[1:]] == [(s.timestamp, s.value) for s in stored]


def test_an_export_button_for_an_empty_range_says_so(world):
    chat = world.linked_chat()
    [question] = chat.say("/export 2020-01-01")
    start = len(world.emulator.calls)

    world.emulator.press(question, question.buttons[0]["callback_data"])
    [answer] = chat.wait(start)

    assert answer.method == "sendMessage"
    assert answer.text == "No readings from attic on 2020-01-01."


@pytest.mark.parametrize("command", ["/export", "/history"])
def test_a_sensor_button_pressed_after_unlink_sends_nothing_but_how_to_link(world, command):
    chat = world.linked_chat()
    [question] = chat.say(command)
    chat.ask("/unlink")
    start = len(world.emulator.calls)

    world.emulator.press(question, question.buttons[0]["callback_data"])
    world.emulator.wait_for(lambda c: c.method == "answerCallbackQuery", after=start)
    [answer] = chat.wait(start)
    [latest] = chat.say("/latest attic")  # updates run in order: the press is handled by now

    assert answer.method == "sendMessage" and "/link" in answer.text
    sent = [c for c in world.emulator.calls[start:]
            if c.method in {"sendMessage", "sendPhoto", "sendDocument"}]
    assert sent == [answer, latest]


@pytest.mark.parametrize(("command", "says"), [
    ("/history attic 5x", "Example: /history attic 7d"),
    ("/history attic 2026-01-07..2026-01-01", "ends before it starts"),
    ("/history nosuch", "no sensor 'nosuch'"),
    ("/export attic 5x", "Example: /export attic 7d"),
    ("/rename attic", "e.g. /rename attic Attic"),
    ("/unit", "e.g. /unit attic °C"),
])
def test_bad_arguments_get_what_was_wrong_and_an_example(world, command, says):
    assert says in world.linked_chat().ask(command)


@pytest.mark.parametrize(("command", "says"), [
    ("/compare attic cellar 0h", "'0h' is no time at all"),
    ("/compare attic cellar -5h", "'-5h' is not a range"),
    ("/compare attic cellar 2026-13-01", "'2026-13-01' is not a range"),
    ("/history 0h", "'0h' is no time at all"),
    ("/export 7x", "'7x' is not a range"),
])
def test_a_mistyped_range_is_named_as_a_range_not_as_a_missing_sensor(world, command, says):
    world.store.write_readings("alice", [Reading("cellar", NOW_MS, 6.25)], now_ms=NOW_MS)

    answer = world.linked_chat().ask(command)

    assert answer.startswith(says)
    assert f"/{command.split()[0][1:]} attic" in answer  # the command's own example


def test_an_unknown_sensor_in_compare_is_still_named_as_one(world):
    world.store.write_readings("alice", [Reading("cellar", NOW_MS, 6.25)], now_ms=NOW_MS)

    assert world.linked_chat().ask("/compare attic 28-00ab").startswith(
        "There is no sensor '28-00ab'.")


@pytest.mark.parametrize(("command", "says"), [
    ("/snooze all 2h extra", "'extra' is one word too many. Give a sensor (or all) and a "
                             "duration or off, e.g. /snooze attic 2h"),
    ("/snooze all off now", "'now' is one word too many. Give a sensor (or all)"),
    ("/snooze attic 2h 3h", "'3h' is one word too many. Give a sensor (or all)"),
    ("/outdoor off the porch", "'the porch' is 2 words too many. Give your outdoor sensor, or "
                               "off: e.g. /outdoor garden"),
    ("/outdoor attic now", "'now' is one word too many. Give your outdoor sensor"),
    ("/location off now", "'now' is one word too many. Give the latitude and longitude in "
                          "degrees, or off: e.g. /location 60.17 24.94"),
    ("/forget attic now", "'now' is one word too many. Give the sensor to delete with its "
                          "readings and alerts, e.g. /forget attic"),
    ("/freeze attic 3 4", "'4' is one word too many. Give a sensor and, if you like, a "
                          "temperature: /freeze attic (below 3) or /freeze attic 5"),
    ("/delalert r1a2b3 r4c5d6", "'r4c5d6' is one word too many. Give a rule id from /alerts, "
                                "e.g. /delalert r1a2b3"),
])
def test_words_past_the_last_argument_are_named_and_nothing_changes(world, command, says):
    chat = world.linked_chat()
    chat.ask("/alert attic below 1")
    before = (world.store.list_alert_rules("alice"), world.store.list_sensors("alice"))

    assert chat.ask(command).startswith(says)
    assert (world.store.list_alert_rules("alice"), world.store.list_sensors("alice")) == before
    assert "will use no outdoor sensor, and no forecast" in chat.ask("/outdoor")


def test_all_and_off_still_begin_sensors_named_so(world):
    world.store.write_readings("alice", [Reading("porch", NOW_MS, 6.25)], now_ms=NOW_MS)
    chat = world.linked_chat()
    chat.ask('/rename porch "off the porch"')
    chat.ask('/rename attic "All rooms"')
    chat.ask("/alert attic below 1")

    assert chat.ask("/outdoor off the porch").startswith("Outdoor sensor: off the porch.")
    assert chat.ask("/snooze all rooms 2h").startswith("Snoozed 1 alert for 2 h")


@pytest.mark.parametrize(("command", "example"), [
    ("/history attic", "Example: /history attic 7d"),
    ("/export", "(e.g. /export attic 7d)"),
    ("/latest", "(e.g. /latest attic)"),
    ("/alert attic below", "/alert attic heating"),
    ("/alert attic below 3 for", "/alert attic heating"),
    ("/freeze attic", "E.g. /freeze attic 5"),
    ("/snooze all", "/snooze attic off)"),
    ("/quiet", "e.g. /quiet 22:00-07:00 or /quiet off"),
    ("/tz", "e.g. /tz Europe/Helsinki or /tz America/New_York"),
    ("/delalert", "See /alerts."),
])
def test_a_long_paste_is_quoted_short_and_the_example_survives(world, command, example):
    answer = world.linked_chat().ask(f"{command} {'x' * 4000}")

    assert answer.endswith(example)
    assert f"'{'x' * 59}…'" in answer and len(answer) < 400


def test_latest_with_a_range_points_to_history(world):
    chat = world.linked_chat()

    assert chat.ask("/latest attic 7d") == (
        "'7d' is one word too many. /latest takes one sensor, e.g. /latest attic; a chart of a "
        "range is /history attic 7d")
    assert chat.ask("/latest loft 7d").startswith("There is no sensor 'loft 7d'.")


@pytest.mark.parametrize("command", ["/history attic 0w", "/history 0y"])
def test_zero_weeks_or_years_is_no_time_at_all(world, command):
    assert world.linked_chat().ask(command) == (
        f"'{command.split()[-1]}' is no time at all; give more than 0, e.g. 12w, 1y. "
        "Example: /history attic 7d")


@pytest.mark.parametrize(("command", "example"), [
    ("/history attic 999999d", "e.g. 1y, 10y. Example: /history attic 7d"),  # was a crash
    ("/history attic 739000d", "e.g. 1y, 10y. Example: /history attic 7d"),  # was a crash
    ("/compare attic cellar 58y", "e.g. 1y, 10y; e.g. /compare attic cellar 7d, or /compare "
                                  '"Living room" attic sauna 1y'),
    ("/export attic 1969-12-31..2027-01-01",
     "e.g. 2026-01-01..2026-01-07. Example: /export attic 7d"),
])
def test_a_range_reaching_back_before_1970_is_refused_not_a_crash(world, command, example):
    world.store.write_readings("alice", [Reading("cellar", NOW_MS, 6.25)], now_ms=NOW_MS)
    chat = world.linked_chat()
    chat.ask("/tz America/Adak")

    answer = chat.ask(command)

    assert answer == (f"'{command.split()[-1]}' reaches back before 1970, older than any "
                      f"reading; {example}")
    assert chat.ask("/history attic 1970-01-01..2027-01-20").startswith(  # the first day is fine
        "attic · 1970-01-01 – 2027-01-20")


@pytest.mark.parametrize(("command", "answer"), [
    ("/history attic 7d 30d", "'30d' is one word too many. Example: /history attic 7d"),
    ("/export attic 7d 30d", "'30d' is one word too many. Example: /export attic 7d"),
    ("/history attic cellar 7d",
     "/history takes one sensor, e.g. /history attic 7d; /compare attic cellar 7d draws both"),
    ("/export attic cellar 7d", "/export takes one sensor, e.g. /export attic 7d"),
    ("/history 7d attic", "The sensor goes first, e.g. /history attic 7d"),
    ("/compare attic cellar 7d 30d", "'7d' reads as a range: give one range, after the sensors; "
                                     "e.g. /compare attic cellar 7d, or /compare \"Living room\" "
                                     "attic sauna 1y"),
])
def test_a_second_sensor_or_range_or_a_range_first_is_named(world, command, answer):
    world.store.write_readings("alice", [Reading("cellar", NOW_MS, 6.25)], now_ms=NOW_MS)

    assert world.linked_chat().ask(command) == answer


def test_a_name_or_unit_too_long_is_refused_not_stored_clipped_with_an_ellipsis(world):
    chat = world.linked_chat()

    unit = chat.ask("/unit attic " + "u" * 33)
    name = chat.ask("/rename attic " + "n" * 65)

    assert unit == "A unit is at most 32 characters; that one has 33. E.g. /unit attic °C"
    assert name == "A name is at most 64 characters; that one has 65. E.g. /rename attic Attic"
    attic = world.store.get_sensor("alice", "attic")
    assert (attic.name, attic.unit) == (None, None)
    assert "Unit set" in chat.ask("/unit attic " + "u" * 32)


def test_history_of_an_empty_range_says_so(world):
    assert "No readings from attic on 2020-01-01" in world.linked_chat().ask(
        "/history attic 2020-01-01")


def test_export_sends_every_reading_of_the_range_as_csv(world):
    [document] = world.linked_chat().say("/export attic 24h")

    name, content = document.files["document"]
    rows = list(csv.reader(io.StringIO(content.decode())))
    stored = world.store.read_range("alice", "attic", NOW_MS - 86_400_000, NOW_MS, now_ms=NOW_MS)
    assert document.method == "sendDocument"
    assert name == "attic_24h.csv"
    assert rows[0] == ["timestamp_ms", "local_time", "value"]
    assert [(int(r[0]), float(r[2])) for r in rows[1:]] == [(s.timestamp, s.value) for s in stored]
    assert len(rows) == 121


def test_rename_and_unit_change_how_a_sensor_shows(world):
    chat = world.linked_chat()

    chat.ask("/rename attic Attic")
    chat.ask("/unit attic °C")

    assert "Attic: 2 °C" in chat.ask("/latest")
    assert "no sensor 'cellar'" in chat.ask("/rename cellar Cellar")


@pytest.mark.parametrize("command", [
    "/sensors", "/latest", "/status", "/history", "/export attic", "/rename attic A",
    "/unit attic C", "/tz Europe/Oslo", "/compare attic cellar", "/location 60.1 24.9",
    "/alerts", "/alert attic below 3", "/freeze attic", "/snooze all 2h", "/delalert r1",
    "/quiet 22:00-07:00", "/outdoor off", "/forget attic"])
def test_an_unlinked_chat_is_told_how_to_link(world, command):
    assert "/link" in world.chat(ALICE_CHAT).ask(command)


def red_pixels(png: bytes) -> int:
    """Reddish pixels: a threshold line is tab:red, nothing else in a chart is."""
    from PIL import Image

    data = Image.open(io.BytesIO(png)).convert("RGB").tobytes()
    return sum(1 for i in range(0, len(data), 3)
               if data[i] > 150 and data[i] - data[i + 1] > 60 and data[i] - data[i + 2] > 60)


def test_the_chart_draws_the_threshold_of_the_sensors_alert_rule(world):
    chat = world.linked_chat()
    [plain] = chat.say("/history attic 6h")

    chat.ask("/alert attic below 1.5")
    [with_rule] = chat.say("/history attic 6h")

    assert red_pixels(plain.files["photo"][1]) == 0
    assert red_pixels(with_rule.files["photo"][1]) > 500


@pytest.mark.parametrize("name", ["$$", r"$\undefinedmacro$", "$x^"])
def test_a_sensor_named_with_dollars_still_gets_its_chart(world, name):
    chat = world.linked_chat()
    chat.ask(f"/rename attic {name}")
    chat.ask("/unit attic $")

    [photo] = chat.say("/history attic 6h")

    assert photo.method == "sendPhoto"
    assert photo.text.startswith(f"{name} · last 6 h")


def test_a_chart_caption_counts_one_reading_in_the_singular(world):
    world.store.write_readings("alice", [Reading("cellar", NOW_MS, 6.25)], now_ms=NOW_MS)

    [photo] = world.linked_chat().say("/history cellar")

    assert photo.text.endswith("\n1 reading")
