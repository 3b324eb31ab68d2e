"""Ranges past 48 h: charts and exports from the hourly statistics, and /compare."""

from __future__ import annotations

import csv
import io
import json

import pytest

from storage.base import DAY_MS, HOUR_MS
from storage.models import HourStats, Reading
from storage.rollup import Rollup
from tests.support.common import NOW_MS


def old_year(world) -> None:
    """Statistics from 200 days ago, whose readings expired long since."""
    hours = [HourStats(NOW_MS - 200 * DAY_MS + i * HOUR_MS, 12, -8.0 + i % 5, -2.0 + i % 5,
                       -5.0 + i % 5, NOW_MS - 200 * DAY_MS + i * HOUR_MS,
                       NOW_MS - 200 * DAY_MS + i * HOUR_MS + 55 * 60_000) for i in range(48)]
    world.store.write_statistics("alice", "attic", hours, now_ms=NOW_MS)


def test_history_of_a_year_draws_statistics_where_the_readings_are_gone(world):
    old_year(world)
    assert world.store.read_range("alice", "attic", 0, NOW_MS - 100 * DAY_MS,
                                  now_ms=NOW_MS) == []

    [photo] = world.linked_chat().say("/history attic 1y")

    assert photo.method == "sendPhoto"
    assert photo.files["photo"][1].startswith(b"\x89PNG")
    assert photo.text.startswith("attic · last 1 year\nmin −8 · max 2 ·")
    assert "last 2" in photo.text  # the newest reading, from the hours not compiled yet
    assert "696 readings" in photo.text and "hourly min, max and mean" in photo.text


def test_history_of_30_days_reads_the_statistics_not_every_reading(world):
    Rollup(world.store).run(NOW_MS + HOUR_MS)
    world.store.write_readings("alice", [Reading("attic", NOW_MS - 30 * 60_000 + 1, 99.0)],
                               now_ms=NOW_MS)  # after its hour was compiled: not in the chart

    [photo] = world.linked_chat().say("/history attic 30d")

    assert photo.method == "sendPhoto"
    assert "max 2 ·" in photo.text and "120 readings" in photo.text


def test_export_of_a_long_range_gives_hourly_rows(world):
    old_year(world)

    [document] = world.linked_chat().say("/export attic 2026-06-01..2026-07-15")

    rows = list(csv.reader(io.StringIO(document.files["document"][1].decode())))
    assert rows[0] == ["timestamp_ms", "local_time", "n", "min", "max", "mean"]
    assert rows[1][:3] == [str(NOW_MS - 200 * DAY_MS), "2026-06-29T08:00:00+00:00", "12"]
    assert [float(x) for x in rows[1][3:]] == [-8.0, -2.0, -5.0]
    assert len(rows) == 49
    assert "48 hours of statistics" in document.text


def test_an_hourly_exports_mean_has_no_float_noise(world):
    hour = NOW_MS - 200 * DAY_MS
    world.store.write_statistics("alice", "attic", [HourStats(
        hour, 3, 0.1, 0.1, sum([0.1] * 3) / 3, hour, hour + 1)],  # 0.10000000000000002
        now_ms=NOW_MS)

    [document] = world.linked_chat().say("/export attic 2026-06-01..2026-07-15")

    rows = list(csv.reader(io.StringIO(document.files["document"][1].decode())))
    assert rows[1][3:] == ["0.1", "0.1", "0.1"]


def test_export_of_a_short_range_still_gives_every_reading(world):
    [document] = world.linked_chat().say("/export attic 24h")

    rows = list(csv.reader(io.StringIO(document.files["document"][1].decode())))
    assert rows[0] == ["timestamp_ms", "local_time", "value"] and len(rows) == 121


def add_sensor(world, sensor_id: str, unit: str | None, name: str | None = None,
               value: float = 5.0) -> None:
    world.store.write_readings("alice", [Reading(sensor_id, NOW_MS - i * 60_000, value + i % 3)
                                         for i in range(60)], now_ms=NOW_MS)
    world.store.update_sensor("alice", sensor_id, unit=unit, name=name, now_ms=NOW_MS)


def test_compare_draws_each_sensor_with_last_min_and_max(world):
    add_sensor(world, "cellar", None)
    add_sensor(world, "humidity", "%", value=40)

    [photo] = world.linked_chat().say("/compare attic cellar humidity 7d")

    assert photo.method == "sendPhoto"
    assert photo.text.splitlines() == [
        "last 7 days", "attic · last 2 · min 0.81 · max 2", "cellar · last 5 · min 5 · max 7",
        "humidity · last 40% · min 40% · max 42%"]


def test_compare_refuses_a_third_unit_with_a_sentence(world):
    add_sensor(world, "cellar", "°C")
    add_sensor(world, "humidity", "%")

    answer = world.linked_chat().ask("/compare attic cellar humidity")

    assert answer.startswith("These sensors have 3 units (no unit, °C, %)")


@pytest.mark.parametrize(("text", "problem"), [
    ("/compare", ""), ("/compare attic", "1 sensor is too few. "),
    ("/compare a b c d e f", "6 sensors are too many. ")])
def test_compare_wants_two_to_five_sensors_and_says_how_many_it_got(world, text, problem):
    assert world.linked_chat().ask(text).startswith(f"{problem}Give 2 to 5 sensors")


def test_compare_wants_different_sensors(world):
    answer = world.linked_chat().ask("/compare attic ATTIC")

    assert answer.startswith("Those all name attic: give 2 to 5 different sensors")


def test_compare_asks_which_sensor_an_ambiguous_name_means(world):
    add_sensor(world, "cellar", None, name="Store")
    add_sensor(world, "shed", None, name="store")
    chat = world.linked_chat()

    [question] = chat.say("/compare attic store 30d")
    assert "'store' could mean 2 sensors" in question.text
    start = len(world.emulator.calls)
    world.emulator.press(question, next(b["callback_data"] for b in question.buttons
                                        if b["text"] == "store (shed)"))
    [photo] = chat.wait(start)

    assert photo.method == "sendPhoto"
    assert photo.text.splitlines()[1:] == ["store · last 5 · min 5 · max 7",
                                           "attic · last 2 · min 0.81 · max 2"]


def test_compare_is_in_the_menu_and_the_help(polling_world):
    world = polling_world  # the menu is registered by `sensorbot run`, as it starts polling
    menu = world.emulator.wait_for(lambda c: c.method == "setMyCommands")
    commands = menu.params["commands"]
    commands = json.loads(commands) if isinstance(commands, str) else commands

    assert "compare" in [c["command"] for c in commands]
    assert "/compare <sensor> <sensor>" in world.linked_chat().ask("/help")
