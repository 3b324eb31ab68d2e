"""Long lists a page at a time: one message whose ◀ ▶ buttons turn its pages in place, so a
user with 20,000 sensors gets one message, not hundreds. Pure: the handlers fetch and send."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.formatting import MESSAGE_LIMIT, clip, plural

T = TypeVar("T")

PAGE_SIZE = 20
PAGE_PREFIX = "p:"


@dataclass(frozen=True)
class Page(Generic[T]):
    """Page `number` (from 1) of `count`, holding `items` of the `total`."""

    items: list[T]
    number: int
    count: int
    total: int


def page_of(items: Sequence[T], number: int) -> Page[T]:
    """The page `number` of `items`; a number past either end gives the nearest page."""
    count = max(1, math.ceil(len(items) / PAGE_SIZE))
    number = min(max(1, number), count)
    start = (number - 1) * PAGE_SIZE
    return Page(list(items[start:start + PAGE_SIZE]), number, count, len(items))


def page_text(entries: list[str], page: Page[T], noun: str) -> str:
    """The page's entries with a footer saying where it is in the list; when they would not
    fit one message (ids of 200 characters), each is clipped to its share of it."""
    footer = f"— page {page.number:,} of {page.count:,} · {plural(page.total, noun)}" \
        if page.count > 1 else ""
    room = MESSAGE_LIMIT - len(footer) - len(entries) - 1
    if sum(map(len, entries)) > room:
        entries = [clip(entry, room // len(entries)) for entry in entries]
    return "\n".join(entries + ([footer] if footer else []))


def page_buttons(list_name: str, page: Page[T]) -> InlineKeyboardMarkup | None:
    """First, previous, next and last, where they lead somewhere; None on a single page."""
    if page.count == 1:
        return None
    targets = [("⏮ 1", 1, page.number > 2), ("◀", page.number - 1, page.number > 1),
               ("▶", page.number + 1, page.number < page.count),
               (f"{page.count:,} ⏭", page.count, page.number < page.count - 1)]
    row = [InlineKeyboardButton(label, callback_data=f"{PAGE_PREFIX}{list_name}:{number}")
           for label, number, shown in targets if shown]
    return InlineKeyboardMarkup([row])


def parse_page_button(data: str | None) -> tuple[str, int] | None:
    """(list name, page number) of a button page_buttons made; None for anything else."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] + ":" != PAGE_PREFIX or not parts[2].isascii() \
            or not parts[2].isdigit() or len(parts[2]) > 7:
        return None
    return parts[1], int(parts[2])
