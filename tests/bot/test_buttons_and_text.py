"""What the bot did not ask for: plain text, and button data it did not make."""

from __future__ import annotations

import logging

import pytest

from bot.app import safe_traceback
from tests.support.bot import ADMIN, ALICE_CHAT

FORGED = "FORGED ERROR sensorbot: the admin password is hunter2"


def test_plain_text_in_a_private_chat_gets_a_hint_pointing_to_help(world):
    [answer] = world.chat(ALICE_CHAT).say("Hi", timeout=5)

    assert "/help" in answer.text
    assert "\n" not in answer.text


def test_plain_text_in_a_group_gets_no_answer(world):
    group = world.linked_chat(chat_id=-5005)
    group.chat_type = "group"

    start = len(world.emulator.calls)
    world.emulator.send_text(-5005, "good morning all", user_id=ALICE_CHAT, chat_type="group")
    [answer] = group.say("/latest attic")

    replies = [c for c in world.emulator.calls[start:] if c.method == "sendMessage"]
    assert replies == [answer]
    assert answer.text.startswith("attic: 2")


@pytest.mark.parametrize("data", [
    "h:", "h:bogus:attic", "h:24h", "h:24h:", "h:24h:#0123456789ab", "zzz", "x:1:2", "w:",
    "w:0123456789ab", f"h:bogus\n{FORGED}:attic", f"w:\n{FORGED}", f"zz\n{FORGED}",
    "e:", "e:bogus:attic", "e:24h", "e:24h:", "e:24h:#0123456789ab", "e:24h:nosuch",
    f"e:bogus\n{FORGED}:attic",
])
def test_button_data_the_bot_did_not_make_is_answered_quietly(world, data, caplog):
    caplog.set_level(logging.INFO)
    chat = world.linked_chat()
    [offer] = chat.say("/export 7d" if data.startswith("e:") else "/history 7d")
    start = len(world.emulator.calls)

    world.emulator.press(offer, data)
    answered = world.emulator.wait_for(lambda c: c.method == "answerCallbackQuery", after=start)
    [latest] = chat.say("/latest attic")  # updates run in order: the press is handled by now

    sent = [c for c in world.emulator.calls[start:]
            if c.method in {"sendMessage", "sendPhoto", "sendDocument"}
            and c.chat_id in (ALICE_CHAT, ADMIN)]
    assert sent == [latest]
    assert answered.params.get("show_alert") in (None, False)
    assert f"\n{FORGED}" not in caplog.text
    assert "Sorry" not in caplog.text


def test_the_error_log_escapes_what_an_exception_quotes():
    try:
        raise ValueError(f"'bogus\n{FORGED}' is not a range")
    except ValueError as error:
        logged = safe_traceback(error)

    assert f"\n{FORGED}" not in logged
    assert "ValueError: " in logged and "\\nFORGED" in logged
    assert "test_the_error_log_escapes_what_an_exception_quotes" in logged
