"""`benchmarks/heating_delay_why.py`: the check that held a warning back, at each reading."""

from __future__ import annotations

from alerts.heating import HeatingMemory, HeatingPhase, Outside
from alerts.heating.model import HeatingModel
from benchmarks.heating_delay_why import _why, group, segments
from storage.models import Reading

START = 1_800_000_000_000
MINUTE = 60_000
HOUR = 60 * MINUTE
MODEL = HeatingModel(learned_at=START, level=6.0, band=0.3, tau_h=20.0, tau_low_h=12.0,
                     tau_high_h=35.0, history_days=14.0, cooling_episodes=3, noise=0.05)


def test_it_names_the_line_the_dwell_and_the_fall_that_fires() -> None:
    held = [Reading("cellar", START + i * 5 * MINUTE, 6.0) for i in range(36)]
    fall = [Reading("cellar", START + (36 + k) * 5 * MINUTE, round(6.0 - 0.1 * k, 2))
            for k in range(1, 25)]
    readings = held + fall
    watching = HeatingMemory(HeatingPhase.WATCHING, model=MODEL)
    outside = Outside(forecast=((readings[-1].timestamp, -20.0),))
    at_level = readings[36]
    assert _why(watching, MODEL, at_level, at_level.timestamp, None, outside)[0] == (
        "above threshold")
    below = next(r for r in readings if r.value < 5.4)
    memory = HeatingMemory(HeatingPhase.WATCHING, model=MODEL, below_since=below.timestamp)
    assert _why(memory, MODEL, below, below.timestamp, readings, outside)[0] == "dwell below"
    last = readings[-1]
    assert _why(memory, MODEL, last, last.timestamp, readings, outside)[0] == "fires"


def test_segments_and_groups() -> None:
    log: list[tuple[int, str, dict[str, float]]] = [(START + m * MINUTE, why, {}) for m, why in
           ((0, "above threshold"), (30, "above threshold"), (45, "dwell below"),
            (60, "fires"))]
    assert segments(log, START, START + HOUR) == [
        ("above threshold", 0.0, 0.5), ("dwell below", 0.75, 0.75), ("fires", 1.0, 1.0)]
    assert group(2.5, 1.0, 0.4, 5).startswith("A")
    assert group(0.5, 0.2, 0.4, 5).startswith("B")
    assert group(0.5, 1.0, 2.0, 5).startswith("C")
    assert group(0.5, 1.0, 0.6, 15).startswith("D")
    assert group(0.5, 1.0, 0.4, 5).startswith("E")

