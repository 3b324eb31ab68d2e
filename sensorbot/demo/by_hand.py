"""`sensorbot emulator`: the local Bot API emulator, run by hand, with this terminal as a chat.

So that `sensorbot run` can be tried with one's own configuration before there is a bot token:
the bot talks to the emulator as it would to Telegram, and what it sends shows here.
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path
from typing import TextIO

from sensorbot.demo import DEMO_CHAT, Terminal, chat
from sensorbot.demo.emulator import BotApiEmulator

DEFAULT_PORT = 8081
TOKEN = "123456:EMULATOR"  # noqa: S105 - the emulator's own, worth nothing elsewhere


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def run_emulator(stdin: TextIO, out: TextIO, *, host: str = "127.0.0.1",
                 port: int = DEFAULT_PORT) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sensorbot-emulator-"))
    emulator = BotApiEmulator(token=TOKEN, username="sensorbot_emulated_bot", host=host,
                              port=port).start()
    terminal = Terminal(folder, out)
    emulator.on_call(terminal.show)
    try:
        out.write(banner(emulator.base_url, folder))
        chat(emulator, terminal, stdin, out, no_answer=(
            f"(no answer yet: is `sensorbot run` pointed at {emulator.base_url}? Your message "
            "waits for it.)"))
    except KeyboardInterrupt:
        out.write("\n")
    finally:
        emulator.stop()
        out.write(f"Bye. Files the bot sent are in {folder}\n")


def banner(base_url: str, folder: Path) -> str:
    run = (f"SENSORBOT_TELEGRAM__BASE_URL={base_url} SENSORBOT_TELEGRAM__TOKEN={TOKEN} "
           ".venv/bin/sensorbot run")
    return (
        f"The Bot API emulator listens on {base_url}: a stand-in for Telegram, on this machine.\n"
        "Run the bot against it from another terminal, with your own config.toml:\n"
        f"  {run}\n"
        f'(or set base_url = "{base_url}" and token = "{TOKEN}" in its [telegram] section).\n'
        f"This terminal is a private chat with that bot; you are Telegram user {DEMO_CHAT}.\n"
        f"For the admin commands add {DEMO_CHAT} to [telegram] admins, or put "
        f"SENSORBOT_TELEGRAM__ADMINS='[{DEMO_CHAT}]' before the command above.\n"
        "Try /start, then /link <read token>. Charts and files the bot sends are saved under\n"
        f"{folder}. Ctrl-D or Ctrl-C leaves.\n\n")
