"""The demo's heating watch: the memory it would have after watching the cottage for two
weeks, and how long it takes to warn once the heating stops (a dry run)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from alerts import heating
from storage.models import Reading


def watched(indoor: Sequence[Reading], outdoor: Sequence[Reading]) -> heating.HeatingMemory:
    """The watch's memory after seeing `indoor` reading by reading, as the alert cycle
    would have. It stops short of a warning: that one is for the chat to see."""
    times = [r.timestamp for r in indoor]
    out_times = [r.timestamp for r in outdoor]
    memory = heating.HeatingMemory()
    for i, reading in enumerate(indoor):
        now = reading.timestamp
        step = heating.evaluate(memory, reading, now)
        if step.needs is not None:
            start, end = step.needs
            lo = max(0, bisect.bisect_left(times, start, 0, i + 1) - 1)
            hi = bisect.bisect_right(times, min(end, now), 0, i + 1)
            measured = outdoor[bisect.bisect_left(out_times, start):
                               bisect.bisect_right(out_times, min(end, now))]
            step = heating.evaluate(memory, reading, now, indoor[lo:hi],
                                    heating.Outside(tuple(measured)))
        if any(event.kind == "heating_failed" for event in step.events):
            break
        memory = step.memory
    return memory


def when_it_warns(indoor: Sequence[Reading], outdoor: Sequence[Reading]) -> int | None:
    """The time of the watch's first heating warning over these readings, if any."""
    for event in heating.replay(indoor, outdoor):
        if event.kind == "heating_failed":
            return event.at
    return None
