"""The heating watch: says the heating has stopped, hours before the pipes are cold, and when
the sensor will reach 0 °C.

It learns the level a building's heating holds and how fast the building cools unheated (a time
constant τ), fires when the readings leave that level the way an unheated building cools, and
predicts when the sensor reaches 0 °C from the outside temperature (the outdoor sensor up to
now, the forecast after). Pure: `now` is passed in, no I/O, no clock.

This module is the interface the alert cycle, `sensorbot backtest` and the benchmark share;
the learning, the detector and the predictor live beside it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from storage.models import Reading

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
LEARN_DAYS = 14  # the history the level and τ are learned from
MIN_DAYS = 3  # silent until it has this much
RELEARN_MS = DAY_MS  # relearning from the history happens at most this often


@dataclass(frozen=True, slots=True)
class Outside:
    """What is known of the outside temperature: the outdoor sensor's readings up to now
    (ascending) and the forecast after (hourly `(epoch ms, °C)` points, ascending)."""

    measured: tuple[Reading, ...] = ()
    forecast: tuple[tuple[int, float], ...] = ()


class HeatingPhase(StrEnum):
    LEARNING = "learning"  # fewer than MIN_DAYS of readings
    WATCHING = "watching"
    FIRING = "firing"


@dataclass(frozen=True, slots=True)
class HeatingModel:
    """What was learned from the history. Plain numbers only: it is stored with the rule."""

    learned_at: int  # epoch ms
    level: float  # the usual level the heating holds (°C)
    band: float  # how far below `level` the sensor's own daily life goes (°C)
    tau_h: float  # the building's cooling time constant, unheated
    tau_low_h: float
    tau_high_h: float
    history_days: float  # how much history backed it
    cooling_episodes: int  # unheated coolings τ was learned from (0 = the prior)


@dataclass(frozen=True, slots=True)
class HeatingMemory:
    """The rule's memory between cycles: small, plain, stored on both backends."""

    phase: HeatingPhase = HeatingPhase.LEARNING
    model: HeatingModel | None = None
    first_seen: int | None = None  # the first reading's time: "learning, N days to go"
    since: int | None = None  # firing: when the fall began
    lowest: float | None = None  # firing: the lowest reading since
    relearn_from: int | None = None  # "I turned the heating down": learn only after this


@dataclass(frozen=True, slots=True)
class Prediction:
    """When the sensor reaches 0 °C: `eta_ms` with its range, and the outside figure used."""

    eta_ms: int | None  # None: cannot tell yet (or it never gets there)
    eta_low_ms: int | None
    eta_high_ms: int | None
    rate_per_h: float | None  # the current fall, °C/h (negative when falling)
    outside: float | None  # the outside temperature it assumed, °C
    outside_source: Literal["sensor", "forecast"] | None


@dataclass(frozen=True, slots=True)
class HeatingEvent:
    kind: Literal["heating_failed", "heating_back"]
    at: int  # epoch ms: the time of the reading that decided it
    value: float
    level: float | None
    prediction: Prediction | None = None  # heating_failed only
    since: int | None = None  # when the fall began
    lowest: float | None = None  # heating_back: the lowest reading of the event


@dataclass(frozen=True, slots=True)
class HeatingStep:
    """The answer of `evaluate`. With `needs` set, the caller reads the sensor's readings in
    that inclusive range (and the outdoor sensor's, into `Outside.measured`) and calls again
    with them as `history`; the memory and events of a step with `needs` are not final."""

    memory: HeatingMemory
    events: tuple[HeatingEvent, ...] = ()
    needs: tuple[int, int] | None = None


def evaluate(memory: HeatingMemory, latest: Reading | None, now_ms: int,
             history: Sequence[Reading] | None = None,
             outside: Outside = Outside()) -> HeatingStep:
    """One alert cycle of one heating rule. A steady cycle (the latest reading where the
    heating holds it) answers without `needs`: it reads nothing beyond the latest reading."""
    raise NotImplementedError


def turned_down(memory: HeatingMemory, now_ms: int) -> HeatingMemory:
    """"I turned the heating down": no alert for this drop; the level is relearned from now."""
    raise NotImplementedError


def predict(memory: HeatingMemory, recent: Sequence[Reading], now_ms: int,
            outside: Outside = Outside()) -> Prediction:
    """When the sensor reaches 0 °C, from the recent readings (the chart's dashed line)."""
    raise NotImplementedError


def curve(memory: HeatingMemory, recent: Sequence[Reading], now_ms: int, until_ms: int,
          outside: Outside = Outside()) -> list[tuple[int, float, float, float]]:
    """The predicted course after now: `(epoch ms, expected, low, high)` points, for the chart."""
    raise NotImplementedError


def replay(indoor: Sequence[Reading], outdoor: Sequence[Reading] = ()) -> Iterator[HeatingEvent]:
    """Replay readings through `evaluate`, reading by reading, as the alert cycle would have
    seen them: `now` is each reading's time; the outdoor series stands for the measurements up
    to now and, after it, for the forecast. `sensorbot backtest` and the benchmark use this."""
    raise NotImplementedError
