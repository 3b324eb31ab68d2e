"""The old bot's chats after `sensorbot migrate`: every old sensor in /sensors, /latest and the
/history buttons, on the table ranchdata filled (dynalite)."""

from __future__ import annotations

from core.config import Settings
from tests.support.api import Clock
from tests.support.bot import Chat, RunningBot
from tests.support.migrate import EXPECTED_23, migrate

APOLOGY = "something went wrong"


def test_an_old_chat_sees_every_old_sensor_and_draws_their_charts(ranch, emulator):
    assert migrate(ranch) == 0
    settings = Settings(telegram={"token": emulator.token, "base_url": emulator.base_url},
                        api={"enabled": False})
    bot = RunningBot(settings, ranch["store"], Clock())
    try:
        emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=20)
        chat = Chat(emulator, 1001, 1001)  # linked by migrate from users.json

        sensors, latest = chat.ask("/sensors"), chat.ask("/latest")
        [question] = chat.say("/history")
        buttons = {b["text"]: b["callback_data"] for b in question.buttons}
        start = len(emulator.calls)
        emulator.press(question, buttons["telldus"])
        [photo] = chat.wait(start)
    finally:
        bot.stop()

    assert APOLOGY not in sensors + latest
    assert all(sensor in sensors for sensor in EXPECTED_23)
    assert "5.25" in latest and "2.5" in latest
    assert set(buttons) == EXPECTED_23
    assert photo.method == "sendPhoto" and photo.text.startswith("telldus")
