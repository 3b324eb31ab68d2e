"""Test helpers shared by modules and fixtures; the fixtures live in tests/bot/conftest.py.

The bot as a whole: a real Application long-polling the Bot API emulator over HTTP
(`RunningBot`), or handed each update by `Application.process_update` where polling is not
the point (`DirectBot`); either way its replies go to the emulator.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from telegram import Update

from bot.app import build_application
from core.config import Settings
from core.tokens import issue_token
from sensorbot.demo.emulator import BotApiEmulator, Call
from sensorbot.runner import serve
from storage.models import Reading, User
from storage.sqlite import SQLiteStore
from tests.support.api import Clock
from tests.support.common import NOW_MS

ADMIN = 900


ALICE_CHAT, BOB_CHAT = 101, 202


class FaultyStore:
    """The real store; the operations named in `faults` raise, as a bug would. It counts the
    alert cycles begun (each starts by reading the rules' latest readings), so tests can wait
    for cycles instead of sleeping."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.faults: set[str] = set()
        self.cycles_begun = 0

    def __getattr__(self, name: str) -> Any:
        if name in self.faults:
            def fail(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError(f"injected fault in {name}")
            return fail
        if name == "latest_readings":
            self.cycles_begun += 1
        return getattr(self._store, name)


class RunningBot:
    """`serve()` on its own event loop in a thread, as `sensorbot run` would run it."""

    def __init__(self, settings: Settings, store: Any, clock: Clock) -> None:
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self.error: BaseException | None = None

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(serve(settings, store, self._stop, clock_ms=clock))
            except BaseException as exc:  # surfaced by stop()
                self.error = exc

        self._thread = threading.Thread(target=run, name="bot", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the bot did not stop"
        if self.error:
            raise self.error


class DirectBot:
    """The bot's Application, started without polling on a loop of its own thread; the
    emulator hands it each update a test sends, and returns once the bot has handled it."""

    def __init__(self, settings: Settings, store: Any, clock: Clock,
                 emulator: BotApiEmulator) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bot", daemon=True)
        self._thread.start()
        self.application = build_application(settings, store, clock_ms=clock, polling=False)
        self._run(self.application.initialize())
        self._run(self.application.start())
        emulator.deliver = self.deliver

    def _run(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=30)

    def deliver(self, update: dict[str, Any]) -> None:
        self._run(self.application.process_update(
            Update.de_json(update, self.application.bot)))

    def stop(self) -> None:
        self._run(self.application.stop())
        self._run(self.application.shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()


@dataclass
class Chat:
    emulator: BotApiEmulator
    chat_id: int
    user_id: int
    chat_type: str = "private"

    def say(self, text: str, *, replies: int = 1, timeout: float = 15) -> list[Call]:
        """Write `text` and wait for the bot's next `replies` messages to this chat."""
        start = len(self.emulator.calls)
        self.emulator.send_text(self.chat_id, text, user_id=self.user_id,
                                chat_type=self.chat_type)
        return self.wait(start, replies, timeout)

    def wait(self, start: int, replies: int = 1, timeout: float = 15) -> list[Call]:
        found: list[Call] = []
        sending = {"sendMessage", "sendPhoto", "sendDocument"}
        while len(found) < replies:
            call = self.emulator.wait_for(
                lambda c: c.method in sending and c.chat_id == self.chat_id and c not in found,
                timeout=timeout, after=start)
            found.append(call)
        return found

    def ask(self, text: str, **kwargs: Any) -> str:
        return "\n".join(call.text for call in self.say(text, **kwargs))


@dataclass
class World:
    emulator: BotApiEmulator
    store: SQLiteStore
    clock: Clock
    bot: RunningBot | DirectBot
    tokens: dict[str, str] = field(default_factory=dict)
    faulty: FaultyStore | None = None

    def chat(self, chat_id: int, user_id: int | None = None, chat_type: str = "private") -> Chat:
        return Chat(self.emulator, chat_id, user_id or chat_id, chat_type)

    def linked_chat(self, user: str = "alice", chat_id: int = ALICE_CHAT) -> Chat:
        chat = self.chat(chat_id)
        assert "Linked" in chat.ask(f"/link {self.tokens[user + '_read']}")
        return chat


def seed_users(store: SQLiteStore, clock: Clock) -> dict[str, str]:
    tokens = {}
    for user in ("alice", "bob"):
        store.add_user(User(user, user.title(), NOW_MS))
        for scope in ("read", "write"):
            tokens[f"{user}_{scope}"], _ = issue_token(store, user, scope, now_ms=NOW_MS)
    store.write_readings("alice", [Reading("attic", NOW_MS - i * 60_000, 2.0 - i / 100)
                                   for i in range(120)], now_ms=NOW_MS)
    store.write_readings("bob", [Reading("garage", NOW_MS - 30_000, 11.5)], now_ms=NOW_MS)
    return tokens

