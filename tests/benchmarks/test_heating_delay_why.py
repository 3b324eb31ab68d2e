"""`benchmarks/heating_delay_why.py`: the check that held a warning back, at each reading."""

from __future__ import annotations

import pytest

from alerts.heating import HeatingMemory, HeatingPhase, Outside
from alerts.heating.model import HeatingModel
from benchmarks import heating_delay_why as why
from benchmarks.heating_delay_why import (
    Reach,
    _why,
    bound,
    crossings,
    depth,
    group,
    segments,
)
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



def test_crossings_read_the_level_floor_and_line_the_watch_had_at_each_minute(
        monkeypatch: pytest.MonkeyPatch) -> None:
    lines = {"level": 6.0, "floor": 5.7, "threshold": 5.4}
    log = [(START + m * MINUTE, "above threshold", dict(lines)) for m in range(0, 120, 5)]
    # relearned after an hour: the line is lower from then on
    for _, _, info in log[12:]:
        info["threshold"] = 5.0
    monkeypatch.setattr(why, "LOG", log)
    truth = [6.105 - 0.01 * m for m in range(200)]  # 0.6 °C/h from 6.1 °C
    level, floor, line = crossings(truth.__getitem__, len(truth), 0, START)
    assert level == pytest.approx(11 / 60)
    assert floor == pytest.approx(41 / 60)
    assert line == pytest.approx(111 / 60)  # 5.4 at 71 min, but the line was 5.0 by then
    assert crossings(truth.__getitem__, 50, 0, START) == (level, floor, None)
    above, fell = depth(truth.__getitem__, len(truth), 0, START)
    assert above == pytest.approx(0.705) and fell == pytest.approx(0.6)


def test_bound_counts_the_visits_and_the_median_had_each_been_warned_at_a_crossing(
        capsys: pytest.CaptureFixture[str]) -> None:
    reaches = [Reach(1, True, 20.0, 3.0, 4.0, 5.0), Reach(2, True, 0.9, 0.1, 0.2, 0.3),
               Reach(3, False, 1.5, 0.1, 0.5, 1.0, 0.8, 1.0),
               Reach(4, False, 2.0, 0.2, 1.0, 1.6, 0.9, 0.6),
               Reach(5, False, 1.0, 0.0, 0.3, 0.5, 0.5, 1.2)]
    bound(reaches, 1.25)
    out = capsys.readouterr().out
    assert "5 failures warned before 3 °C, 2 during a visit (40%; 1 of them" in out
    assert "outside visits 1.50 h: the truth took 1.00 h to the line" in out
    assert "truth was 0.80 °C above the line, and fell 1.00 °C in the hour after" in out
    assert "needs 2 of the 3 outside visits (67%) warned within it: now 1" in out
    assert "crossed the level: outside visits within 1.25 h   3, overall median 0.20 h" in out
    assert "crossed the line : outside visits within 1.25 h   2, overall median 1.00 h" in out
