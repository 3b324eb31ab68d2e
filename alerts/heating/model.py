"""The heating watch's values: what the caller passes in, what it stores, what it is told."""

from __future__ import annotations

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
    noise: float = 0.0  # the sensor's noise, one sigma (°C): the checks' tolerances grow with it
    resolution: float = 0.0  # the sensor's step (°C): a coarse one hops a whole step at once
    # the lowest the sensor's daily life goes around each hour of the day (UTC, 24 values, °C):
    # a night setback is deep, the day's hold is not (empty: `level − band` all day)
    hours: tuple[float, ...] = ()
    # τ read from deep unheated falls alone (a visit ending, a deep setback), and their hours
    # (0: none in the history): the building's own within about 15 %, which the time to 0 °C
    # then trusts; the watch's check of a fall keeps `tau_h`, learned from all falls
    deep_tau_h: float = 0.0
    deep_hours: float = 0.0
    # the thermostat's off-cycles (0 cycles: none seen, the heat modulates): the pace the air
    # falls at when the heater stops (°C/h, and per kelvin above the outside: 1/h, 0 unknown)
    # and the lowest they turn at (°C); a fall past that at their pace is the heat gone
    cycles: int = 0
    cycle_pace: float = 0.0
    cycle_rate: float = 0.0
    cycle_low: float = 0.0

    def __post_init__(self) -> None:
        # stored as a list; compared and hashed as a tuple
        object.__setattr__(self, "hours", tuple(float(v) for v in self.hours))

    def floor_at(self, t_ms: int) -> float:
        """The lowest the usual level goes at this time of day: `level − band`, or higher
        at the hours the history never went that low (a setback's band is the night's)."""
        floor = self.level - self.band
        if len(self.hours) != 24:
            return floor
        return max(floor, min(self.level, self.hours[(t_ms // HOUR_MS) % 24]))


@dataclass(frozen=True, slots=True)
class HeatingMemory:
    """The rule's memory between cycles: small, plain, stored on both backends."""

    phase: HeatingPhase = HeatingPhase.LEARNING
    model: HeatingModel | None = None
    first_seen: int | None = None  # the first reading's time: "learning, N days to go"
    since: int | None = None  # firing: when the fall began
    lowest: float | None = None  # firing: the lowest reading since
    relearn_from: int | None = None  # "I turned the heating down": learn only after this
    last_at: int | None = None  # the latest reading seen: a cycle with no new reading is free
    below_since: int | None = None  # watching: when the readings went below the usual level
    learn_tried: int | None = None  # the last learning that found too few readings
    skip_from: int | None = None  # the last event's span, left out of learning the level
    skip_to: int | None = None


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
