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
