"""Who is told, and how a failed send is judged."""

from __future__ import annotations

from typing import Protocol


class DeliveryError(Exception):
    """Sending failed. `permanent`: the chat blocked the bot or is gone — do not retry it."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Notifier(Protocol):
    async def send(self, chat_id: int, text: str, *, buttons: list[tuple[str, str]],
                   silent: bool) -> None:
        """Deliver one message; raise DeliveryError on failure."""
