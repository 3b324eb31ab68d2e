"""Waiting on a condition instead of the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from storage.sqlite import SQLiteStore

# How long a test waits for a sensorbot process to start: a fresh interpreter importing the
# product takes 2 s alone, and many times that on a loaded CI machine. Waiting polls, so a
# generous bound costs a passing test nothing.
STARTUP_S = 90.0


def wait_until(condition: Callable[[], Any], *, timeout: float = 15.0,
               what: str = "the condition") -> Any:
    """Poll `condition` until it is truthy and return its value; fail the test at `timeout`."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what} did not hold within {timeout} s"
        time.sleep(0.01)
    return value


def holds_write_lock(store: SQLiteStore) -> bool:
    """Whether another thread holds `store`'s write lock (waiting there for the file's)."""
    lock = store._lock
    if lock.acquire(blocking=False):
        lock.release()
        return False
    return True
