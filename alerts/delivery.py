"""Who is told, what they are told about, and how a failed send is judged."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from storage.base import Store
from storage.models import AlertRule, ChatLink, OutboxEntry, Sensor


class DeliveryError(Exception):
    """Sending failed. `permanent`: the chat blocked the bot or is gone — do not retry it.
    `moved_to`: the chat lives on under a new id (a group became a supergroup)."""

    def __init__(self, message: str, *, permanent: bool, moved_to: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.moved_to = moved_to


@dataclass(frozen=True)
class Notice:
    """One transition for one chat; the notifier words it in the chat's zone."""

    chat: ChatLink
    rule: AlertRule
    entry: OutboxEntry
    sensor: Sensor
    silent: bool


class Notifier(Protocol):
    async def send(self, notice: Notice) -> int | None:
        """Deliver one message; its message id when there is one (so that a button pressed
        in another chat can update it); raise DeliveryError on failure."""


def mark_chat_inactive(store: Store, chat_id: int, user_id: str | None = None) -> bool:
    """A chat that blocked the bot gets nothing until it writes again. Re-read first, so a
    /tz, /quiet, /unlink or /link made meanwhile is not undone."""
    link = store.get_chat_link(chat_id)
    if link is None or not link.active or (user_id is not None and link.user_id != user_id):
        return False
    store.put_chat_link(replace(link, active=False))
    return True


def move_chat(store: Store, old_id: int, new_id: int) -> ChatLink | None:
    """A group upgraded to a supergroup: its link, with its preferences, follows the new id.
    The new link, or None when the old one is gone."""
    link = store.get_chat_link(old_id)
    if link is None:
        return store.get_chat_link(new_id)
    moved = replace(link, chat_id=new_id)
    store.put_chat_link(moved)
    store.delete_chat_link(old_id)
    return moved
