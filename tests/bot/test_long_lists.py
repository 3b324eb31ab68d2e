"""Deleting sensors from the chat (/forget), and lists long enough to need pages."""

from __future__ import annotations

import pytest

from storage.models import AlertRule, Reading, RuleKind, RuleSpec, Sensor
from tests.support.bot import ALICE_CHAT
from tests.support.common import NOW_MS

MANY = 20_000
SENDING = {"sendMessage", "sendPhoto", "sendDocument"}


def sent_to_alice(world, start: int) -> list:
    return [c for c in world.emulator.calls[start:]
            if c.method in SENDING and c.chat_id == ALICE_CHAT]


@pytest.fixture
def crowded(world):
    """A mis-configured subscription made 20,000 sensors."""
    world.store.write_readings("alice", [Reading(f"z2m/{i:05d}", NOW_MS - 1000, i % 40)
                                         for i in range(MANY)], now_ms=NOW_MS)
    return world


@pytest.mark.parametrize("command", ["/sensors", "/latest", "/status"])
def test_a_list_of_20000_sensors_is_one_message_that_pages_with_buttons(crowded, command):
    chat = crowded.linked_chat()
    start = len(crowded.emulator.calls)

    [first] = chat.say(command, timeout=60)
    [after] = chat.say("/help")  # updates run in order: the list is complete by now

    assert len(sent_to_alice(crowded, start)) - 1 <= 3
    assert "page 1 of 1,001 · 20,001 sensors" in first.text
    assert len(first.text) <= 4096
    assert "00000" in first.text and "00018" in first.text  # attic sorts first
    assert "00019" not in first.text
    labels = [b["text"] for b in first.buttons]
    assert labels == ["▶", "1,001 ⏭"]

    mark = len(crowded.emulator.calls)
    crowded.emulator.press(first, first.buttons[1]["callback_data"])
    edited = crowded.emulator.wait_for(lambda c: c.method == "editMessageText", after=mark,
                                       timeout=30)
    assert "page 1,001 of 1,001" in edited.text and "z2m/19999" in edited.text
    assert [b["text"] for b in edited.buttons] == ["⏮ 1", "◀"]
    assert sent_to_alice(crowded, mark) == []
    assert after.text.startswith("Commands")


def test_alert_rules_page_too(world):
    for i in range(45):
        world.store.put_alert_rule(AlertRule("alice", f"r{i:05d}", "attic",
                                             RuleSpec(RuleKind.BELOW, float(i)), NOW_MS + i))
    chat = world.linked_chat()

    [first] = chat.say("/alerts")

    assert "page 1 of 3 · 45 rules" in first.text
    assert "r00000" in first.text and "r00020" not in first.text


def test_forget_asks_first_and_deletes_the_sensor_its_rules_and_readings(world):
    world.store.put_alert_rule(AlertRule("alice", "r1", "attic", RuleSpec(RuleKind.BELOW, 3.0),
                                         NOW_MS))
    world.store.write_readings("alice", [Reading("cellar", NOW_MS, 4.0)], now_ms=NOW_MS)
    chat = world.linked_chat()

    [question] = chat.say("/forget attic")
    assert "Delete attic with all its readings and 1 alert rule?" in question.text
    assert world.store.get_sensor("alice", "attic") is not None  # asking deletes nothing
    mark = len(world.emulator.calls)
    world.emulator.press(question, question.buttons[0]["callback_data"])
    done = world.emulator.wait_for(
        lambda c: c.method == "editMessageText" and c.text.startswith("Deleted"), after=mark,
        timeout=30)

    assert done.text == "Deleted attic: 120 readings and 1 alert rule."
    assert [s.sensor_id for s in world.store.list_sensors("alice")] == ["cellar"]
    assert world.store.read_range("alice", "attic", 0, NOW_MS, now_ms=NOW_MS) == []
    assert world.store.list_alert_rules("alice") == []
    assert "attic" not in chat.ask("/sensors")


def test_forget_cancelled_deletes_nothing(world):
    chat = world.linked_chat()
    [question] = chat.say("/forget attic")
    mark = len(world.emulator.calls)

    world.emulator.press(question, "f:cancel")
    cancelled = world.emulator.wait_for(lambda c: c.method == "editMessageText", after=mark)

    assert cancelled.text == "Nothing was deleted."
    assert world.store.get_sensor("alice", "attic") is not None


@pytest.mark.parametrize(("text", "answer"), [
    ("/forget", "Give the sensor to delete"),
    ("/forget nowhere", "There is no sensor 'nowhere'"),
])
def test_forget_says_what_was_wrong(world, text, answer):
    chat = world.linked_chat()

    assert answer in chat.ask(text)
    assert world.store.get_sensor("alice", "attic") is not None


def test_a_deletion_stopped_part_way_offers_to_continue():
    from bot.chat import sensor_key
    from bot.forget import FORGET_PREFIX, outcome
    from storage.base import SensorDeletion
    from storage.models import Sensor

    text, buttons = outcome(Sensor("attic"), SensorDeletion("attic", 40_000, 2, False))

    assert text == "Deleted 40,000 readings of attic so far; press Continue to delete the rest."
    data = [b.callback_data for row in buttons.inline_keyboard for b in row]
    assert data == [FORGET_PREFIX + sensor_key("attic"), "f:cancel"]


@pytest.mark.parametrize(("sensor", "named"), [
    (Sensor("attic"), "attic"),  # a sensor without a name shows as its id, once
    (Sensor("attic", name="Loft"), "Loft (attic)"),
])
def test_the_answer_names_a_sensor_by_its_name_and_id_or_its_id_alone(sensor, named):
    from bot.forget import outcome
    from storage.base import SensorDeletion

    text, buttons = outcome(sensor, SensorDeletion("attic", 120, 1, True))

    assert text == f"Deleted {named}: 120 readings and 1 alert rule."
    assert buttons is None
