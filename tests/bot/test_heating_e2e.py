"""The heating watch's surfaces end to end: the bot long-polling the Bot API emulator, readings
through the HTTP API, a local fake of Open-Meteo. The watch's judgement here is a small fake
(tests/support/heating_fakes.py): these tests are about the plumbing around it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

import bot.data
from alerts.heating import HeatingMemory, HeatingPhase
from alerts.heating_rule import dump_memory
from alerts.rules import HEATING_SPEC
from bot.chart import render_png
from sensorbot.demo.emulator import BotApiEmulator
from storage.models import AlertRule, AlertState, OutsideSettings, Reading
from storage.sqlite import SQLiteStore
from tests.support.alerts import AlertWorld, start_world
from tests.support.api import Clock
from tests.support.bot import ALICE_CHAT
from tests.support.common import NOW_MS
from tests.support.heating_fakes import (
    FakeForecastServer,
    FakeWatch,
    learned,
    use_fake_watch,
)

MIN = 60_000


@pytest.fixture
def forecast_server() -> Iterator[FakeForecastServer]:
    server = FakeForecastServer()
    yield server
    server.close()


@pytest.fixture
def fake_watch(monkeypatch: Any) -> FakeWatch:
    return use_fake_watch(monkeypatch)


@pytest.fixture
def world(emulator: BotApiEmulator, tmp_path: Any, forecast_server: FakeForecastServer,
          fake_watch: FakeWatch) -> Iterator[AlertWorld]:
    store = SQLiteStore(tmp_path / "heating.db")
    store.write_readings("alice", [Reading("cottage", NOW_MS - i * 10 * MIN, 8.0)
                                   for i in range(1, 30)], now_ms=NOW_MS)
    store.write_readings("alice", [Reading("garden", NOW_MS - 5 * MIN, -12.3)], now_ms=NOW_MS)
    world = start_world(emulator, store, Clock(), forecast_url=forecast_server.base_url)
    yield world
    world.bot.stop()


def wait_alerts(world: AlertWorld, count: int, after: int, timeout: float = 15) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = world.alerts_to(ALICE_CHAT, after)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_outdoor_and_location_say_what_the_watch_will_use(world):
    chat = world.linked_chat()

    assert chat.ask("/outdoor garden") == (
        "Outdoor sensor: garden. The heating watch will use your outdoor sensor garden for the "
        "outside temperature up to now, and no forecast (no location set).")
    set_here = chat.ask("/location 60.17, 24.94")
    assert set_here.startswith("Location set. The heating watch will use your outdoor sensor")
    assert "the hourly forecast at 60.17, 24.94 for the hours ahead" in set_here
    assert world.store.get_outside_settings("alice") == OutsideSettings("alice", "garden",
                                                                         60.17, 24.94)
    assert "no forecast" in chat.ask("/location off")
    assert "no outdoor sensor" in chat.ask("/outdoor off")


def test_a_shared_location_is_the_forecasts_place(world):
    chat = world.linked_chat()
    start = len(world.emulator.calls)

    world.emulator.send_location(ALICE_CHAT, 61.4981, 23.7610)
    [answer] = chat.wait(start)

    assert answer.text.startswith("Location set from the one you shared.")
    assert "61.4981, 23.761" in answer.text
    assert world.store.get_outside_settings("alice").location == (61.4981, 23.761)


@pytest.mark.parametrize(("words", "problem"), [
    ("/location north", "That is not a latitude and a longitude."),
    ("/location 95 24", "Latitude 95 is not between -90 and 90."),
    ("/location 60 abc", "'abc' is not a number."),
    ("/outdoor nowhere", "nowhere"),
])
def test_bad_arguments_say_what_was_wrong_with_an_example(world, words, problem):
    chat = world.linked_chat()

    answer = chat.ask(words)

    assert problem in answer
    assert "e.g. /" in answer or "/sensors" in answer
    assert world.store.get_outside_settings("alice") is None


def test_a_failure_warns_once_with_the_forecast_and_the_buttons_work(world, forecast_server):
    chat = world.linked_chat()
    chat.ask("/outdoor garden")
    chat.ask("/location 60.17 24.94")
    added = chat.ask("/alert cottage heating")
    assert added.startswith("Alert r") and "heating watch" in added
    world.wait_cycles(2)  # learned, steady
    start = len(world.emulator.calls)

    world.post(4.4, sensor="cottage", timestamp=NOW_MS - MIN)
    [warning] = wait_alerts(world, 1, start)

    assert warning.text.startswith("🔥 Heating may have stopped at cottage: 4.4 °C "
                                   "(usually 8.0 °C), falling 0.7 °C/h. At the forecast")
    assert "it reaches 0 °C around 19:00 (in about 11 h; 8–15 h)." in warning.text
    assert warning.params.get("disable_notification") in (None, False)
    assert [b["text"] for b in warning.buttons] == ["Acknowledge", "I turned the heating down",
                                                   "Snooze 8h", "Chart 24h"]
    assert len(forecast_server.requests) == 1
    data = {b["text"]: b["callback_data"] for b in warning.buttons}

    mark = len(world.emulator.calls)
    world.emulator.press(warning, data["Chart 24h"], user_id=ALICE_CHAT)
    photo = world.emulator.wait_for(lambda c: c.method == "sendPhoto", after=mark, timeout=20)
    assert "Dashed: expected without heating, shaded: its likely range, for the next 15 h; " \
           "it reaches 0 °C in about 11 h." in photo.params["caption"]

    mark = len(world.emulator.calls)
    world.emulator.press(warning, data["I turned the heating down"], user_id=ALICE_CHAT)
    edited = world.emulator.wait_for(lambda c: c.method == "editMessageText", after=mark)
    assert "turned the heating down: no alert for this drop" in edited.params["text"]
    assert "Watching: usually 8.0 °C" in chat.ask("/alerts")
    world.wait_cycles(3)
    assert wait_alerts(world, 1, start, timeout=0) == [warning]  # no recovery message


def test_the_chart_button_draws_the_prediction_until_its_range_reaches_zero(world,
                                                                            monkeypatch):
    drawn: list[dict[str, Any]] = []

    def spy(readings: Any, **chart: Any) -> bytes:
        drawn.append(chart)
        return render_png(readings, **chart)

    monkeypatch.setattr(bot.data, "render_png", spy)
    chat = world.linked_chat()
    chat.ask("/alert cottage heating")
    world.wait_cycles(2)  # learned, steady
    start = len(world.emulator.calls)
    world.post(4.4, sensor="cottage", timestamp=NOW_MS - MIN)
    [warning] = wait_alerts(world, 1, start)
    assert "it reaches 0 °C around 19:00 (in about 11 h; 8–15 h)." in warning.text
    chart = {b["text"]: b["callback_data"] for b in warning.buttons}["Chart 24h"]

    mark = len(world.emulator.calls)
    world.emulator.press(warning, chart, user_id=ALICE_CHAT)
    world.emulator.wait_for(lambda c: c.method == "sendPhoto", after=mark, timeout=20)

    [drawn_chart] = drawn
    course = drawn_chart["prediction"]
    now = world.clock.now
    assert course[0][0] == now and course[-1][0] == now + 15 * 3_600_000
    assert course[-1][3] <= 0 < course[-2][3]  # on to where the range's slow end is at 0 °C
    assert drawn_chart["title"] == "cottage · last 24 h and the next 15 h without heating (UTC)"


def test_an_acknowledged_heating_warning_promises_no_end_to_reminders_it_never_sends(world):
    chat = world.linked_chat()
    chat.ask("/alert cottage heating")
    world.wait_cycles(2)
    start = len(world.emulator.calls)
    world.post(4.4, sensor="cottage", timestamp=NOW_MS - MIN)
    [warning] = wait_alerts(world, 1, start)

    mark = len(world.emulator.calls)
    acknowledge = next(b["callback_data"] for b in warning.buttons if b["text"] == "Acknowledge")
    world.emulator.press(warning, acknowledge, user_id=ALICE_CHAT)
    edited = world.emulator.wait_for(lambda c: c.method == "editMessageText", after=mark)

    assert edited.params["text"].endswith("\n\n✓ Acknowledged by Tester.")


def test_the_freeze_preset_brings_the_heating_watch_once(world):
    chat = world.linked_chat()

    first = chat.ask("/freeze cottage")
    again = chat.ask("/freeze cottage 4")

    assert "and the heating watch f" in first
    listed = chat.ask("/alerts")
    assert listed.count("heating watch") == 1
    assert "[freeze] — Learning" in listed or "[freeze] — Watching" in listed
    assert "replaces the previous freeze protection" in again


def test_the_watch_is_told_as_it_stands_and_outside_data_asked_for_only_while_missing(world):
    """A cottage with an outdoor sensor, whose watch had learned, was told "it learns from 3
    days of readings; /outdoor and /location let it say…" by every /freeze."""
    chat = world.linked_chat()

    first = chat.ask("/freeze cottage")
    world.wait_cycles(2)
    chat.ask("/outdoor garden")
    again = chat.ask("/freeze cottage 4")

    assert "Heating watch — Learning" in first and "/outdoor and /location let it" in first
    assert "Heating watch — Watching: usually 8.0 °C" in again
    assert "/outdoor and /location" not in again and "3 days" not in again


def test_a_freeze_over_the_sensors_own_watch_says_it_takes_it_over_not_that_it_replaces(
        world):
    chat = world.linked_chat()
    own = chat.ask("/alert cottage heating").split(":")[0].removeprefix("Alert ")

    said = chat.ask("/freeze cottage")

    assert "replaces the previous freeze protection" not in said
    assert f"It takes over your heating watch {own} (now f" in said
    assert own not in chat.ask("/alerts")


def test_a_second_heating_watch_on_a_sensor_is_refused_with_the_one_it_has(world):
    chat = world.linked_chat()
    chat.ask("/freeze cottage")

    said = chat.ask("/alert cottage heating")

    assert "cottage has a heating watch already (f" in said
    assert "part of its freeze protection" in said
    assert chat.ask("/alerts").count("heating watch") == 1


def test_a_house_that_stays_warm_hears_nothing(world, forecast_server):
    chat = world.linked_chat()
    chat.ask("/location 60.17 24.94")
    chat.ask("/alert cottage heating")
    start = len(world.emulator.calls)

    for minute in (-4, -3, -2, -1):
        world.post(8.1, sensor="cottage", timestamp=NOW_MS + minute * MIN)
    world.wait_cycles(3)

    assert world.alerts_to(ALICE_CHAT, start) == []
    assert forecast_server.requests == []  # a steady watch asks for nothing


@pytest.fixture
def fahrenheit(world: AlertWorld) -> AlertWorld:
    """The cottage and the garden report °F (46.4 °F is the fake watch's usual 8 °C)."""
    store = world.store
    store.write_readings("alice", [Reading("cottage", NOW_MS - i * 10 * MIN, 46.4)
                                   for i in range(1, 30)], now_ms=NOW_MS)
    store.write_readings("alice", [Reading("garden", NOW_MS - 5 * MIN, 9.9)], now_ms=NOW_MS)
    for sensor in ("cottage", "garden"):
        store.update_sensor("alice", sensor, unit="°F", now_ms=NOW_MS)
    return world


def test_a_fahrenheit_sensors_watch_works_in_celsius_and_speaks_fahrenheit(
        fahrenheit, fake_watch):
    world = fahrenheit
    chat = world.linked_chat()
    chat.ask("/outdoor garden")
    chat.ask("/location 60.17 24.94")
    added = chat.ask("/alert cottage heating")
    assert "heating watch (warns when the heating stops, and when it reaches 32 °F)" in added
    world.wait_cycles(2)  # learned, steady: 46.4 °F is not read as a warm 46.4 °C
    assert "Watching: usually 46.4 °F" in chat.ask("/alerts")
    start = len(world.emulator.calls)

    world.post(40.0, sensor="cottage", timestamp=NOW_MS - MIN)  # 4.4 °C: below the fake's 5 °C
    [warning] = wait_alerts(world, 1, start)

    assert warning.text.startswith("🔥 Heating may have stopped at cottage: 40.0 °F "
                                   "(usually 46.4 °F), falling 1.3 °F/h. At the forecast 4 °F "
                                   "outside it reaches 32 °F around 19:00")
    assert fake_watch.histories[0][-1].value == pytest.approx(4.44, abs=0.01)
    assert [r.value for r in fake_watch.outsides[0].measured] == [pytest.approx(-12.28,
                                                                                 abs=0.01)]
    mark = len(world.emulator.calls)
    world.emulator.press(warning, {b["text"]: b["callback_data"] for b in warning.buttons}[
        "Chart 24h"], user_id=ALICE_CHAT)
    photo = world.emulator.wait_for(lambda c: c.method == "sendPhoto", after=mark, timeout=20)
    assert "it reaches 32 °F in about 11 h." in photo.params["caption"]


def test_freeze_on_a_fahrenheit_sensor_fires_at_3_celsius_in_fahrenheit(fahrenheit):
    chat = fahrenheit.linked_chat()

    answer = chat.ask("/freeze cottage")

    assert "alert f" in answer and " when below 37.4 °F for 10 min" in answer
    assert answer.endswith("let it say when the sensor would reach 32 °F.")


def test_freeze_answered_fahrenheit_sets_its_alert_at_3_celsius(world):
    world.store.write_readings("alice", [Reading("attic", NOW_MS - MIN, 45.0)], now_ms=NOW_MS)
    chat = world.linked_chat()
    [answer] = chat.say("/freeze attic")
    assert "below 3 for 10 min" in answer.text

    start = len(world.emulator.calls)
    world.emulator.press(answer, {b["text"]: b["callback_data"] for b in answer.buttons}["°F"],
                         user_id=ALICE_CHAT)
    edited = world.emulator.wait_for(lambda c: c.method == "editMessageText", after=start)

    assert edited.text.startswith("Unit set: attic now shows values in °F. Its freeze alert ")
    assert edited.text.endswith(" now fires below 37.4 °F (3 °C).")
    thresholds = [r.spec.threshold for r in world.store.list_alert_rules("alice")
                  if r.spec.threshold is not None]
    assert thresholds == [37.4]


def test_a_unit_changed_with_unit_makes_the_watch_learn_again(world):
    chat = world.linked_chat()
    chat.ask("/alert cottage heating")
    world.wait_cycles(2)
    assert "Watching: usually 8.0 °C" in chat.ask("/alerts")

    answer = chat.ask("/unit cottage °F")

    assert answer == ("Unit set: cottage now shows values in °F. Its heating watch learns its "
                      "usual level again in that unit.")
    assert "Learning" in chat.ask("/alerts")
    assert chat.ask("/unit cottage F") == "Unit set: cottage now shows values in F."


def test_a_watch_kept_from_before_fahrenheit_shows_its_level_as_learned(fahrenheit):
    """A °F sensor's watch stored before watches worked in °C learned 46.4 from the readings
    as they came: /alerts says 46.4 °F (not 115.5 °F) until the watch learns again."""
    world = fahrenheit
    model = replace(learned(NOW_MS), level=46.4)
    memory = HeatingMemory(HeatingPhase.WATCHING, model, first_seen=NOW_MS - 5 * 1440 * MIN)
    world.store.put_alert_rule(AlertRule("alice", "r0ld01", "cottage", HEATING_SPEC, NOW_MS,
                                         AlertState(heating=dump_memory(memory))))
    chat = world.linked_chat()
    world.wait_cycles(1)  # steady: the readings and the level are in the same figures

    assert "Watching: usually 46.4 °F" in chat.ask("/alerts")
