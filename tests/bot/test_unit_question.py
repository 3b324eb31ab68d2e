"""A sensor without a unit (posted over HTTP) is asked for one with its first alert rule."""

from __future__ import annotations

from tests.support.common import NOW_MS


def buttons_of(call) -> dict[str, str]:
    return {b["text"]: b["callback_data"] for b in call.buttons}


def test_freeze_on_a_sensor_without_a_unit_asks_for_it_and_the_answer_sets_it(world):
    chat = world.linked_chat()
    [answer] = chat.say("/freeze attic")

    start = len(world.emulator.calls)
    world.emulator.press(answer, buttons_of(answer)["°C"], user_id=chat.user_id)
    edited = world.emulator.wait_for(lambda c: c.method == "editMessageText", after=start)
    latest = chat.ask("/latest attic")

    assert "Pipe-freeze protection on attic" in answer.text
    assert "attic has no unit yet" in answer.text
    assert set(buttons_of(answer)) == {"°C", "°F", "%"}
    assert edited.text == "Unit set: attic now shows values in °C."
    assert world.store.get_sensor("alice", "attic").unit == "°C"
    assert "°C" in latest


def test_the_answer_never_overrides_a_unit_chosen_meanwhile(world):
    chat = world.linked_chat()
    [answer] = chat.say("/alert attic below 40")
    chat.ask("/unit attic °F")

    start = len(world.emulator.calls)
    world.emulator.press(answer, buttons_of(answer)["°C"], user_id=chat.user_id)
    edited = world.emulator.wait_for(lambda c: c.method == "editMessageText", after=start)

    assert "already" in edited.text
    assert world.store.get_sensor("alice", "attic").unit == "°F"


def test_a_sensor_with_a_unit_is_not_asked(world):
    world.store.update_sensor("alice", "attic", unit="°C", now_ms=NOW_MS)
    chat = world.linked_chat()

    [answer] = chat.say("/freeze attic")

    assert "no unit" not in answer.text and not answer.buttons
    assert "below 3 °C" in answer.text
