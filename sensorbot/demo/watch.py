"""The demo's heating watch: the memory it would have after watching the cottage for two
weeks, and how long it takes to warn once the heating stops (a dry run)."""

from __future__ import annotations

from collections.abc import Sequence

from alerts import heating
from storage.models import Reading


def watched(indoor: Sequence[Reading], outdoor: Sequence[Reading]) -> heating.HeatingMemory:
    """The watch's memory after seeing `indoor` reading by reading, as the alert cycle
    would have. It stops short of a warning: that one is for the chat to see."""
    memory = heating.HeatingMemory()
    for before, step in heating.replay_steps(indoor, outdoor):
        if any(event.kind == "heating_failed" for event in step.events):
            return before
        memory = step.memory
    return memory


def when_it_warns(indoor: Sequence[Reading], outdoor: Sequence[Reading]) -> int | None:
    """The time of the watch's first heating warning over these readings, if any."""
    for event in heating.replay(indoor, outdoor):
        if event.kind == "heating_failed":
            return event.at
    return None
