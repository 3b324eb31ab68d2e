"""Users (tenants): ids made from names."""

from __future__ import annotations

import re

from storage.base import Store
from storage.errors import AlreadyExists
from storage.models import User

MAX_TRIES = 1000


class NoFreeId(Exception):
    """Every id made from this name is taken."""


def slug(name: str) -> str:
    """`Summer Cottage` → `summer-cottage`."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48] or "user"


def add_user_named(store: Store, name: str, *, now_ms: int) -> str:
    """Create a user whose id is made from `name` (`cottage`, then `cottage-2`…); its id."""
    base = slug(name)
    for n in range(1, MAX_TRIES):
        candidate = base if n == 1 else f"{base}-{n}"
        try:
            store.add_user(User(candidate, name, now_ms))
        except AlreadyExists:
            continue
        return candidate
    raise NoFreeId(f"could not find a free id for {name!r}")
