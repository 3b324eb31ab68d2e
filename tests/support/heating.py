"""A tiny two-node building for the heating-watch tests: air and mass, a thermostat with a band,
and what can happen to it (a failure, a door, a visit, sun, a gap)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from storage.models import Reading

START = 1_800_000_000_000 - 1_800_000_000_000 % 86_400_000  # a midnight
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000


@dataclass
class Building:
    """What to simulate; times in hours from START."""

    days: float = 5.0
    setpoint: float = 8.0
    hysteresis: float = 0.5
    tau_h: float = 30.0
    outside: float = -10.0
    fail_at: float | None = None
    repair_at: float | None = None
    fail_power: float = 0.0  # the share of the heater's power left after the failure
    door: tuple[float, float] | None = None  # open from, to (hours)
    door_wide: float = 5.0  # the air's loss to the outside multiplies by this while open
    visit: tuple[float, float] | None = None  # at 20 °C from, to (hours)
    sun: float = 0.0  # gain at noon, kelvin
    gap: tuple[float, float] | None = None  # no readings from, to (hours)
    defrost_every_min: int = 0  # a heat pump: the heater stops and draws this often...
    defrost_min: int = 8  # ... for this long
    power: float | None = None  # the heater's power (kelvin held above outside); None: ample
    colder: float = 0.0  # the outside falls this much per day (a cold spell coming)
    setback: tuple[float, float, float] | None = None  # nightly: from, to (hour of day), °C down
    cadence_min: int = 5
    step: float = 0.1  # the sensor's resolution (°C)
    noise: float = 0.03  # the sensor's noise, one sigma (°C)
    seed: int = 1
    air: list[tuple[int, float]] = field(default_factory=list)


def simulate(b: Building) -> tuple[list[Reading], list[Reading]]:
    """The indoor and outdoor sensors' readings; `b.air` gets the true air every minute."""
    rng = random.Random(b.seed)
    c_air, c_mass = 0.1 * b.tau_h, 0.9 * b.tau_h
    k_ao, k_mo, k_am = 0.5, 0.5, 8.0
    power = b.power if b.power is not None else 2.0 * (20.0 - b.outside)
    t_air = b.setpoint
    t_mass = (k_am * t_air + k_mo * b.outside) / (k_am + k_mo)
    heating = True
    indoor: list[Reading] = []
    outdoor: list[Reading] = []
    b.air = []
    for m in range(int(b.days * 1440)):
        h = m / 60.0
        outside = b.outside - b.colder * h / 24.0
        sp = 20.0 if b.visit and b.visit[0] <= h < b.visit[1] else b.setpoint
        if b.setback and (h % 24 >= b.setback[0] or h % 24 < b.setback[1]):
            sp -= b.setback[2]
        heating = t_air < sp - b.hysteresis or (heating and t_air < sp + b.hysteresis)
        failed = b.fail_at is not None and h >= b.fail_at and not (
            b.repair_at is not None and h >= b.repair_at)
        p = power * (b.fail_power if failed else 1.0) if heating else 0.0
        if b.defrost_every_min and m % b.defrost_every_min < b.defrost_min:
            p = -0.3 * power  # defrost: the coil draws heat from the room
        hour = h % 24
        sun = b.sun * math.sin(math.pi * (hour - 8) / 8) if 8 < hour < 16 else 0.0
        k_out = k_ao * b.door_wide if b.door and b.door[0] <= h < b.door[1] else k_ao
        d_air = (p + 0.6 * sun + k_out * (outside - t_air) + k_am * (t_mass - t_air)) / c_air
        d_mass = (0.4 * sun + k_mo * (outside - t_mass) + k_am * (t_air - t_mass)) / c_mass
        t_air += d_air / 60.0
        t_mass += d_mass / 60.0
        t = START + m * MINUTE
        b.air.append((t, t_air))
        if m % b.cadence_min == 0 and not (b.gap and b.gap[0] <= h < b.gap[1]):
            value = round(round((t_air + rng.gauss(0.0, b.noise)) / b.step) * b.step, 4)
            indoor.append(Reading("attic", t, value))
        if m % 10 == 0:
            outdoor.append(Reading("yard", t, round(outside + rng.gauss(0.0, 0.2), 1)))
    return indoor, outdoor


def first_at_or_below(b: Building, level: float, after_h: float) -> int | None:
    """When the true air first reaches `level` after `after_h` hours (epoch ms)."""
    for t, v in b.air:
        if t >= START + after_h * HOUR and v <= level:
            return t
    return None
