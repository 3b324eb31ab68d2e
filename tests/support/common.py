"""Test helpers shared by modules and fixtures; the fixtures live in tests/conftest.py.

Shared fixtures: every storage backend behind one `store` fixture, and dynalite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NOW_MS = 1_800_000_000_000  # 2027-01-15, so tests never depend on the clock


BACKENDS = ["sqlite", "moto", "dynalite"]


StoreFactory = Callable[..., Any]

