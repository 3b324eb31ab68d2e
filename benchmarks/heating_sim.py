"""Simulated buildings for the heating-watch benchmark: physics, not curve shapes.

Each building has two nodes, the air (what the sensor sees) and the building mass. Heat flows
air↔mass, air↔outside, mass↔outside; the heater warms the air under a thermostat with a band
(hysteresis); the sun warms air and mass on some days; doors open now and then (the air's
link to the outside multiplies for 10–40 min; homes air their rooms, 5–20 min); frost-guard
cabins get weekend visits (8 → 20 °C and back); homes sit near 20 °C, some with a night
setback; heat pumps dip for defrost. The weather wanders: a daily cycle on top of fronts (a
mean-reverting random walk).

Units: the building's total loss is 1 (power per kelvin), so a heater power P holds P kelvin
above the outside and the capacities are in hours (τ = total capacity / total loss).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from storage.models import Reading

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
START_MS = 1_800_000_000_000 - (1_800_000_000_000 % DAY_MS)  # a midnight, UTC
STEP_H = 1.0 / 60.0  # one simulated minute


@dataclass(frozen=True)
class Ranges:
    """How widely the buildings vary; a second set uses different ranges it was never tuned on."""

    tau_h: tuple[float, float] = (12.0, 60.0)
    air_share: tuple[float, float] = (0.04, 0.2)  # the air's share of the capacity
    air_mass: tuple[float, float] = (4.0, 20.0)  # air↔mass conductance / the loss outside
    air_loss_share: tuple[float, float] = (0.3, 0.7)  # the share of the loss through the air
    power_margin: tuple[float, float] = (0.75, 2.2)  # heater power / need at the coldest hour
    hysteresis: tuple[float, float] = (0.2, 1.0)
    guard_setpoint: tuple[float, float] = (5.0, 12.0)
    home_setpoint: tuple[float, float] = (18.5, 21.5)
    outside_mean: tuple[float, float] = (-14.0, -1.0)
    front_sd: tuple[float, float] = (3.0, 7.0)
    diurnal: tuple[float, float] = (1.0, 5.0)
    sun_peak: tuple[float, float] = (0.0, 14.0)  # kelvin-equivalent gain at noon on a clear day
    noise: tuple[float, float] = (0.02, 0.1)  # the indoor sensor's noise, one sigma
    cadences: tuple[int, ...] = (5, 5, 10)  # minutes between readings
    defrost_draw: float = 0.1  # a defrost draws this share of the heat pump's power from the air


SECOND_RANGES = Ranges(
    tau_h=(10.0, 70.0), air_share=(0.03, 0.25), air_mass=(3.0, 25.0),
    air_loss_share=(0.25, 0.75), power_margin=(0.85, 2.5), hysteresis=(0.15, 1.2),
    guard_setpoint=(4.0, 14.0), home_setpoint=(17.0, 22.0), outside_mean=(-18.0, 1.0),
    front_sd=(2.0, 8.0), diurnal=(0.5, 6.0), sun_peak=(0.0, 18.0),
)


@dataclass
class House:
    """One simulated building and what happened to it."""

    name: str
    kind: str  # "cabin" (frost guard, weekend visits) or "home"
    tau_h: float
    indoor: list[Reading]
    outdoor: list[Reading]  # the outdoor sensor's readings (empty: no outdoor sensor)
    failure_ms: int | None = None  # the heating's power went to 0
    at_3_ms: int | None = None  # the air first at 3 °C after the failure
    at_0_ms: int | None = None  # the air first at 0 °C after the failure
    needed_ms: int | None = None  # first time after the failure the thermostat asked for heat
    in_visit: bool = False  # the failure came while the cabin was warm for a visit
    air: list[tuple[int, float]] = field(default_factory=list)  # the true air, every 10 min


def _weather(rng: random.Random, r: Ranges, minutes: int) -> list[float]:
    """Outdoor temperature per minute: fronts (mean-reverting walk) plus a daily cycle."""
    mean = rng.uniform(*r.outside_mean)
    sd = rng.uniform(*r.front_sd)
    amp = rng.uniform(*r.diurnal)
    corr_h = rng.uniform(24.0, 96.0)
    front = rng.gauss(0.0, sd)
    out: list[float] = []
    a = math.exp(-STEP_H / corr_h)
    b = sd * math.sqrt(1 - a * a)
    day_amp = amp
    for m in range(minutes):
        if m % 1440 == 0:
            day_amp = amp * rng.uniform(0.4, 1.3)  # cloudy nights are milder
        front = a * front + b * rng.gauss(0.0, 1.0)
        hour = (m / 60.0) % 24.0
        daily = -day_amp * math.cos(2 * math.pi * (hour - 3.0) / 24.0)  # coldest 03:00, warm 15:00
        out.append(max(-28.0, min(8.0, mean + front + daily)))
    return out


def _events(rng: random.Random, days: int, per_day: float, lo_min: int, hi_min: int,
            minutes: int) -> list[tuple[int, int]]:
    """Random (start minute, end minute) intervals at `per_day` on average."""
    events: list[tuple[int, int]] = []
    m = 0
    while per_day > 0:
        m += int(rng.expovariate(per_day / 1440.0))
        if m >= minutes:
            break
        if 7 * 60 <= m % 1440 < 22 * 60:  # people open doors by day
            events.append((m, m + rng.randint(lo_min, hi_min)))
    return events


def simulate(seed: int, kind: str, fail: bool, ranges: Ranges = Ranges(), days: int = 21,
             outdoor_sensor: bool = True) -> House:
    """Simulate one building for `days` and return what its sensors recorded."""
    rng = random.Random(seed)
    r = ranges
    minutes = days * 1440
    weather = _weather(rng, r, minutes)
    tau = math.exp(rng.uniform(math.log(r.tau_h[0]), math.log(r.tau_h[1])))
    air_share = rng.uniform(*r.air_share)
    c_air, c_mass = tau * air_share, tau * (1 - air_share)
    k_air_out = rng.uniform(*r.air_loss_share)
    k_mass_out = 1.0 - k_air_out
    k_air_mass = rng.uniform(*r.air_mass)  # inner surfaces pass heat far better than the shell
    hyst = rng.uniform(*r.hysteresis)
    heat_pump = rng.random() < 0.35
    sun_peak = rng.uniform(*r.sun_peak)
    sunny = [rng.random() < 0.4 for _ in range(days + 1)]
    sun_day = [rng.uniform(0.6, 1.0) if s else rng.uniform(0.0, 0.25) for s in sunny]

    # The setpoint, minute by minute: cabins at frost guard with weekend visits, homes near 20.
    if kind == "cabin":
        guard = rng.uniform(*r.guard_setpoint)
        setpoint = [guard] * minutes
        visit_p = rng.uniform(0.0, 0.7)
        for week in range(days // 7 + 1):
            if rng.random() >= visit_p:
                continue
            start = (week * 7 + 4) * 1440 + rng.randint(17 * 60, 21 * 60)  # Friday evening
            end = (week * 7 + 6) * 1440 + rng.randint(13 * 60, 19 * 60)  # Sunday afternoon
            for m in range(max(0, start), min(minutes, end)):
                setpoint[m] = 20.0
        doors = _events(rng, days, 0.15, 10, 40, minutes)
        doors += [d for d in _events(rng, days, 3.0, 1, 15, minutes) if setpoint[d[0]] > 15]
        peak = 20.0
    else:
        day_sp = rng.uniform(*r.home_setpoint)
        setback = rng.uniform(2.0, 4.0) if rng.random() < 0.5 else 0.0
        setpoint = []
        for m in range(minutes):
            hour = (m // 60) % 24
            setpoint.append(day_sp - setback if hour >= 22 or hour < 6 else day_sp)
        doors = _events(rng, days, rng.uniform(0.5, 3.0), 10, 40, minutes)
        doors += _events(rng, days, rng.uniform(0.0, 1.0), 5, 20, minutes)  # airing: windows wide
        peak = day_sp
    coldest = min(weather)
    power = max(3.0, (peak - coldest) * rng.uniform(*r.power_margin))

    fail_m = rng.randint(int(3.5 * 1440), 16 * 1440) if fail else None
    door_at = [False] * minutes
    door_gain = [0.0] * minutes
    for a, b in doors:
        mult = rng.uniform(0.5, 6.0) if b - a > 20 else rng.uniform(3.0, 12.0)
        for m in range(a, min(b, minutes)):
            door_at[m] = True
            door_gain[m] = mult
    # start near equilibrium at the first setpoint
    t_air = setpoint[0]
    t_mass = setpoint[0] - (setpoint[0] - weather[0]) * k_mass_out / (k_mass_out + k_air_mass)
    heating = True
    defrost_left = 0
    next_defrost = rng.randint(40, 120)
    air: list[float] = []
    needed_m: int | None = None
    for m in range(minutes):
        out = weather[m]
        sp = setpoint[m]
        if t_air < sp - hyst:
            heating = True
        elif t_air > sp + hyst:
            heating = False
        failed = fail_m is not None and m >= fail_m
        if failed and needed_m is None and heating:
            needed_m = m
        p = power if heating and not failed else 0.0
        if heat_pump and p > 0 and out < 4.0:
            next_defrost -= 1
            if next_defrost <= 0:
                defrost_left = rng.randint(4, 10)
                next_defrost = rng.randint(45, 150)
        if defrost_left > 0:
            defrost_left -= 1
            p = -r.defrost_draw * power if not failed else 0.0  # the fan stops, the coil draws
        hour = (m / 60.0) % 24.0
        sun = 0.0
        if 8.0 < hour < 16.0:
            sun = sun_peak * sun_day[m // 1440] * math.sin(math.pi * (hour - 8.0) / 8.0)
        k_out = k_air_out * (1.0 + door_gain[m]) if door_at[m] else k_air_out
        d_air = (p + 0.6 * sun + k_out * (out - t_air)
                 + k_air_mass * (t_mass - t_air)) / c_air
        d_mass = (0.4 * sun + k_mass_out * (out - t_mass) + k_air_mass * (t_air - t_mass)) / c_mass
        t_air += d_air * STEP_H
        t_mass += d_mass * STEP_H
        air.append(t_air)

    house = House(name=f"{kind}-{seed}", kind=kind, tau_h=tau, indoor=[], outdoor=[])
    house.indoor = _sensor(rng, air, f"{kind}-{seed}", r)
    if outdoor_sensor:
        house.outdoor = _outdoor_sensor(rng, weather, f"{kind}-{seed}-out")
    house.air = [(START_MS + m * 60_000, air[m]) for m in range(0, minutes, 10)]
    if fail_m is not None:
        house.failure_ms = START_MS + fail_m * 60_000
        house.needed_ms = START_MS + needed_m * 60_000 if needed_m is not None else None
        house.in_visit = setpoint[fail_m] > 15.0 and kind == "cabin"
        house.at_3_ms = _first_below(air, fail_m, 3.0)
        house.at_0_ms = _first_below(air, fail_m, 0.0)
    return house


def _first_below(air: list[float], start: int, level: float) -> int | None:
    """The first minute from `start` the air is at or below `level`, as epoch ms."""
    for m in range(start, len(air)):
        if air[m] <= level:
            return START_MS + m * 60_000
    return None


def _sensor(rng: random.Random, air: list[float], sensor: str, r: Ranges) -> list[Reading]:
    """The indoor sensor: offset, noise, quantisation, a 5–10 min cadence and gaps."""
    offset = rng.gauss(0.0, 0.2)
    noise = rng.uniform(*r.noise)
    step = rng.choice((0.1, 0.0625))
    cadence = rng.choice(r.cadences)
    gaps = [(g, g + rng.randint(60, 8 * 60)) for g in
            (rng.randint(0, len(air)) for _ in range(rng.randint(0, 3)))]
    out: list[Reading] = []
    for m in range(0, len(air), cadence):
        if any(a <= m < b for a, b in gaps):
            continue
        jitter = rng.randint(-20, 20) * 1000
        value = round((air[m] + offset + rng.gauss(0.0, noise)) / step) * step
        out.append(Reading(sensor, START_MS + m * 60_000 + jitter, round(value, 4)))
    return out


def _outdoor_sensor(rng: random.Random, weather: list[float], sensor: str) -> list[Reading]:
    """The outdoor sensor: noisy, every 10 min, with a gap now and then."""
    gaps = [(g, g + rng.randint(60, 6 * 60)) for g in
            (rng.randint(0, len(weather)) for _ in range(rng.randint(0, 2)))]
    out: list[Reading] = []
    for m in range(0, len(weather), 10):
        if any(a <= m < b for a, b in gaps):
            continue
        out.append(Reading(sensor, START_MS + m * 60_000, round(weather[m] + rng.gauss(0, 0.3), 1)))
    return out
