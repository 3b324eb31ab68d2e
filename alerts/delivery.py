"""Who is told, and how a failed send is judged."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from storage.base import Store


class DeliveryError(Exception):
    """Sending failed. `permanent`: the chat blocked the bot or is gone — do not retry it."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def mark_chat_inactive(store: Store, chat_id: int, user_id: str | None = None) -> bool:
    """A chat that blocked the bot gets nothing until it writes again. Re-read first, so a
    /tz, /quiet, /unlink or /link made meanwhile is not undone."""
    link = store.get_chat_link(chat_id)
    if link is None or not link.active or (user_id is not None and link.user_id != user_id):
        return False
    store.put_chat_link(replace(link, active=False))
    return True


class Notifier(Protocol):
    async def send(self, chat_id: int, text: str, *, buttons: list[tuple[str, str]],
                   silent: bool) -> None:
        """Deliver one message; raise DeliveryError on failure."""
