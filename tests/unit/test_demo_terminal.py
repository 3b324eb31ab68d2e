"""The demo's terminal: what arrives while you type starts a line of its own."""

from __future__ import annotations

import io

from sensorbot.demo import DEMO_CHAT, Terminal
from sensorbot.demo.emulator import Call


def test_an_alert_arriving_at_the_prompt_gets_its_own_line_and_the_prompt_back(tmp_path):
    out = io.StringIO()
    terminal = Terminal(tmp_path, out)
    alert = Call("sendMessage", {"chat_id": DEMO_CHAT, "text": "❄️ Alert"}, {})

    terminal.show(alert)
    terminal.prompting = True
    terminal.show(alert)

    assert out.getvalue() == "bot> ❄️ Alert\n\nbot> ❄️ Alert\nyou> "


def keyboard(method: str, message_id: int, *labels: str) -> Call:
    params = {"chat_id": DEMO_CHAT, "text": labels[0],
              "reply_markup": {"inline_keyboard": [[{"text": label, "callback_data": label}]
                                                   for label in labels]}}
    if method == "editMessageText":
        params["message_id"] = message_id
    return Call(method, params, {}, result={"message_id": message_id})


def test_an_earlier_messages_buttons_stay_pressable_by_their_own_numbers(tmp_path):
    """The heating warning, then /history's sensor list: the warning's Chart 24h is still 4."""
    out = io.StringIO()
    terminal = Terminal(tmp_path, out)

    terminal.show(keyboard("sendMessage", 7, "Acknowledge", "Turned down", "Snooze 8h",
                           "Chart 24h"))
    terminal.show(keyboard("sendMessage", 9, "Attic", "Cellar"))

    assert "[5] Attic" in out.getvalue() and "[6] Cellar" in out.getvalue()
    assert [terminal.button(n)[1] for n in (1, 4, 5, 6)] == [
        "Acknowledge", "Chart 24h", "Attic", "Cellar"]
    assert terminal.button(4)[0].result == {"message_id": 7}
    assert terminal.button(7) is None and terminal.button(0) is None


def test_an_edited_message_keeps_each_buttons_number_and_loses_the_buttons_it_no_longer_has(
        tmp_path):
    """After Acknowledge the warning keeps Chart 24h: it is still 4, as the user read it."""
    out = io.StringIO()
    terminal = Terminal(tmp_path, out)
    terminal.show(keyboard("sendMessage", 7, "Acknowledge", "Turned down", "Snooze 8h",
                           "Chart 24h"))
    terminal.show(keyboard("sendMessage", 9, "Attic", "Cellar"))

    terminal.show(keyboard("editMessageText", 7, "Acknowledge", "Chart 24h"))

    assert out.getvalue().endswith("bot>   [1] Acknowledge\nbot>   [4] Chart 24h\n"
                                   "bot>   (type a number to press that button)\n")
    assert terminal.button(4)[1] == "Chart 24h"
    assert terminal.button(2) is None and terminal.button(3) is None
    assert terminal.button(5)[1] == "Attic"


def test_a_button_an_edit_adds_gets_a_new_number_and_the_others_keep_theirs(tmp_path):
    terminal = Terminal(tmp_path, io.StringIO())
    terminal.show(keyboard("sendMessage", 7, "Acknowledge", "Snooze 8h", "Chart 24h"))

    terminal.show(keyboard("editMessageText", 7, "Chart 24h", "Undo"))

    assert terminal.button(3)[1] == "Chart 24h" and terminal.button(4)[1] == "Undo"
    assert terminal.button(1) is None


def test_a_number_that_is_no_button_is_answered_in_the_terminal_not_sent(tmp_path):
    """Telegram cannot send a press as text: the bot would answer "I answer commands"."""
    from sensorbot.demo import chat

    class Emulator:
        def __init__(self) -> None:
            self.calls: list[Call] = []
            self.sent: list[str] = []

        def send_text(self, chat_id: int, text: str, **_: object) -> None:
            self.sent.append(text)

    out = io.StringIO()
    emulator = Emulator()
    chat(emulator, Terminal(tmp_path, out), io.StringIO("7\n"), out)  # type: ignore[arg-type]

    assert "there is no button 7 now" in out.getvalue()
    assert emulator.sent == []
