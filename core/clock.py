"""The one place that reads the wall clock; everything else takes `now` as a parameter."""

from __future__ import annotations

import time


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000
