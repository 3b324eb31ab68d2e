"""Set 6's houses, written from physics and the issue alone (not from the other simulators).

Each house is three heat stores, stepped minute by minute: the air (light: it falls fast
when the heat stops), the building's mass (heavy: it sets the slow τ, 15–55 h for most), and
the heater's emitter (a fan heater's minutes, a radiator's water, an oil-filled panel, a floor
slab's hours). The air loses heat to the outside directly (infiltration, raised by the wind,
and by doors and windows), the mass through the walls (a little less under snow on the
roof) and, for some, to the ground. The sun comes in through the windows in clear weather,
people, cooking and wood stoves add heat.

The heater is one of: a boiler with a modulating PI burner (which cycles once the demand is
below its lowest flame), an on/off boiler with a hysteresis thermostat and minimum run and
rest times, electric panels with bimetal thermostats, an inverter heat pump whose power
sinks in the cold (and defrosts), an electric floor whose slab lags for hours. Its power is
a margin (mostly 1.3–3, some weak) over the loss in the run's coldest hour.

The weather wanders (a slow random walk), fronts come through (a cold front drops 8–16 °C
within hours, a thaw lifts it), clear spells bring cold nights, sunny days and calm (cold air
pools in valleys: the forecast, regional, misses it), cloudy ones wind. The sensor sits on an
inside wall, an outside wall, near a window (draughts, direct sun), near the heater, or low;
it lags, has an offset, noise and a step (0.0625, 0.1 or 0.5 °C, some truncating), reports
every 1–15 minutes (some only on a change, with a heartbeat), and has gaps.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

START_MS = 1_764_547_200_000  # 2025-12-01 00:00 UTC, a Monday
MIN_MS = 60_000
HOUR_MIN = 60
DAY_MIN = 1440
RUN_DAYS = 21
DT_H = 1.0 / 60.0
KINDS = ("home", "log cabin", "timber cabin", "shed")


@dataclass(frozen=True)
class Spread:
    """The ranges houses are drawn from: the calibration's knobs (never the watch's)."""

    kind_weights: tuple[float, float, float, float] = (0.4, 0.22, 0.26, 0.12)
    tau_h: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "home": (18.0, 50.0), "drafty home": (12.0, 26.0), "log cabin": (25.0, 50.0),
        "timber cabin": (10.0, 24.0), "shed": (8.0, 16.0)})
    drafty_share: float = 0.3  # homes and cabins whose infiltration the wind drives hard
    weak_share: float = 0.12  # heaters only just sized for the run's coldest hour
    weak_margin: tuple[float, float] = (1.0, 1.25)
    margin: tuple[float, float] = (1.3, 3.0)
    base_out: tuple[float, float] = (-22.0, -4.0)  # the run's mean outside (°C)
    fronts_per_day: float = 0.18
    cold_front_drop: tuple[float, float] = (8.0, 16.0)
    tilted_per_day: tuple[float, float] = (0.0, 0.06)  # a window left tilted for hours
    tilted_h: tuple[float, float] = (1.0, 3.0)
    tilted_leak: tuple[float, float] = (0.1, 0.3)  # extra loss, × the house's loss
    door_open_per_day: tuple[float, float] = (0.12, 0.5)  # a door left open 22–32 min
    door_open_min: tuple[int, int] = (22, 32)
    door_leak: tuple[float, float] = (1.0, 2.5)
    partial_power: tuple[float, float] = (0.1, 0.55)
    visit_failures: float = 0.12  # the share of cabin failures put into a visit
    frost_guard: tuple[float, float] = (6.0, 11.0)  # an unvisited cabin's, a shed's setpoint
    setbacks: tuple[float, float, float] = (0.55, 0.35, 0.1)  # homes: none, night, and day
    setback_depth: tuple[float, float] = (1.5, 4.0)
    air_mass_link: tuple[float, float] = (3.0, 10.0)  # × UA
    noise: tuple[float, float] = (0.02, 0.12)


# -- weather ---------------------------------------------------------------------------------

@dataclass
class Weather:
    """Hourly: the regional temperature (what a forecast aims at), the local one (cold air
    pools in the house's hollow on clear calm nights), the wind (m/s), clear sky (0–1),
    snow on the roof, and the sun's height (sin of its altitude)."""

    regional: list[float]
    local: list[float]
    wind: list[float]
    clear: list[float]
    snow: list[bool]
    sun_up: list[float]
    fronts: list[tuple[int, float]]  # (hour, jump °C)


def make_weather(rng: random.Random, spread: Spread, hours: int, latitude: float,
                 tz_h: float, pooling: float) -> Weather:
    base = rng.uniform(*spread.base_out)
    # fronts: the regime's target steps, each passing in a few hours
    fronts: list[tuple[int, float]] = []
    h = rng.uniform(0, 48)
    level = base + rng.uniform(-3, 3)
    levels: list[tuple[float, float, float, float]] = []  # (start h, end h, from, to)
    while h < hours:
        if level > base + 4 or (level > base - 6 and rng.random() < 0.55):
            jump = -rng.uniform(*spread.cold_front_drop)
            span = rng.uniform(3, 12)
        else:
            jump = rng.uniform(5, 12)
            span = rng.uniform(8, 20)
        # a thaw tops out a little above 0 °C, a cold spell some 10 °C below the usual
        new = max(base - rng.uniform(7.0, 11.0), min(level + jump, 2.0 + rng.uniform(0, 4)))
        fronts.append((int(h), new - level))
        levels.append((h, h + span, level, new))
        level = new
        h += span + rng.expovariate(spread.fronts_per_day / 24)
    regime = []
    for k in range(hours):
        value = base
        for start, end, a, b in levels:
            if k < start:
                break
            value = b if k >= end else a + (b - a) * 0.5 * (1 - math.cos(math.pi * (k - start)
                                                                          / (end - start)))
        regime.append(value)
    if not levels:
        regime = [base] * hours
    # a slow wander, clear and cloudy spells, wind
    wander, clear_state = 0.0, rng.random() < 0.4
    regional, local, wind, clear, snow, sun_up = [], [], [], [], [], []
    w = rng.uniform(2, 6)
    roof_snow, thaw_h = rng.random() < 0.5, 0.0
    decl = math.radians(-22.5)
    lat = math.radians(latitude)
    front_hours = [fh for fh, _ in fronts]
    for k in range(hours):
        wander += -wander / 30.0 + rng.gauss(0, 0.35)
        near_front = any(abs(k - fh) < 8 for fh in front_hours)
        cold_after = any(0 <= k - fh < 36 and j < 0 for fh, j in fronts)
        if near_front:
            clear_state = False
        elif rng.random() < (1 / 30 if clear_state else 1 / 36):
            clear_state = not clear_state
        if cold_after and rng.random() < 0.05:
            clear_state = True
        sky = (0.85 + 0.15 * rng.random()) if clear_state else 0.15 * rng.random()
        solar_h = (k % 24) + tz_h - 12.0  # hours from local solar noon
        sin_alt = (math.sin(lat) * math.sin(decl)
                   + math.cos(lat) * math.cos(decl) * math.cos(math.radians(15 * solar_h)))
        sun_up.append(max(0.0, sin_alt))
        # the day's swing: large in clear weather (coldest near sunrise), small under cloud
        swing = (1.0 + 4.0 * sky) * math.cos(math.radians(15 * (solar_h - 2.5)))
        w += (4.0 - w) / 10.0 + rng.gauss(0, 0.9) + (1.5 if near_front else 0.0)
        w = max(0.0, min(w, 18.0))
        wind_now = max(0.0, w - 2.0 * sky)
        t_reg = regime[k] + wander + swing * 0.5
        night = sin_alt <= 0.02
        calm = max(0.0, 1.0 - wind_now / 4.0)
        t_loc = t_reg - pooling * sky * calm * (1.0 if night else 0.3)
        if t_reg < 0.5 and near_front and rng.random() < 0.3:
            roof_snow = True
        thaw_h = thaw_h + 1 if t_reg > 1.0 else max(0.0, thaw_h - 0.5)
        if thaw_h > 10:
            roof_snow = False
        regional.append(t_reg)
        local.append(t_loc)
        wind.append(wind_now)
        clear.append(sky)
        snow.append(roof_snow)
    return Weather(regional, local, wind, clear, snow, sun_up, fronts)


def per_minute(hourly: list[float], minutes: int) -> list[float]:
    """Hourly values, linearly between hours."""
    out = []
    last = len(hourly) - 1
    for m in range(minutes):
        k, f = divmod(m, 60)
        a = hourly[min(k, last)]
        b = hourly[min(k + 1, last)]
        out.append(a + (b - a) * f / 60.0)
    return out


# -- the building ----------------------------------------------------------------------------

@dataclass
class Building:
    """A house: capacities (loss-coefficient × hours: the building's total loss UA is 1),
    conductances (× UA), its heater and what drives it."""

    kind: str
    drafty: bool
    tau_h: float  # the slow τ, unheated, still air
    c_air: float
    c_mass: float
    h_am: float  # air ↔ mass
    h_ao: float  # air ↔ outside, calm
    h_mo: float  # mass ↔ outside
    h_g: float  # mass ↔ ground
    t_ground: float
    wind_k: float  # the air's loss rises by this share per m/s of wind
    heater: str  # "boiler PI", "boiler on/off", "panels", "heat pump", "floor"
    p_max: float  # × UA·K
    margin: float
    emitter_h: float  # the emitter's time constant at full power (h)
    k_e: float
    n_e: float
    c_e: float
    conv: float  # share of the emitter's heat to the air (the rest warms the mass)
    hyst: float  # the thermostat's band (°C, total)
    min_on: int  # minutes
    min_off: int
    stat_lag_min: float  # the thermostat's own sensor lag
    min_mod: float  # a modulating heater's lowest output (share of p_max)
    sun_share: float  # sun through the windows at its strongest, × UA·K / 6
    pooling: float  # °C colder than the region on clear calm nights

    def describe(self) -> str:
        return (f"{self.kind}{' drafty' if self.drafty else ''} τ {self.tau_h:.0f} h, air "
                f"{self.c_air / (self.c_air + self.c_mass):.0%} of the capacity, "
                f"{self.heater} ×{self.margin:.2f}, emitter {self.emitter_h * 60:.0f} min, "
                f"band {self.hyst:.1f} °C, sun {self.sun_share:.2f}, wind +{self.wind_k:.0%}/m/s"
                + (f", ground {self.h_g:.2f}" if self.h_g else ""))


def slow_tau(c_air: float, c_mass: float, h_am: float, h_ao: float, h_mo: float,
             h_g: float) -> float:
    """The slower of the two-node building's time constants (h)."""
    a = -(h_am + h_ao) / c_air
    b = h_am / c_air
    c = h_am / c_mass
    d = -(h_am + h_mo + h_g) / c_mass
    tr, det = a + d, a * d - b * c
    disc = math.sqrt(max(0.0, tr * tr / 4 - det))
    slow = tr / 2 + disc  # the eigenvalue nearer zero
    return -1.0 / slow


def make_building(rng: random.Random, spread: Spread, kind: str, design_out: float,
                  setpoint_max: float) -> Building:
    drafty = kind != "shed" and rng.random() < spread.drafty_share
    tau_key = "drafty home" if kind == "home" and drafty else kind
    lo, hi = spread.tau_h[tau_key]
    if kind in ("log cabin", "timber cabin") and drafty:
        hi = lo + 0.6 * (hi - lo)
    tau = rng.uniform(lo, hi)
    air = {"home": (0.02, 0.05), "log cabin": (0.015, 0.035), "timber cabin": (0.04, 0.09),
           "shed": (0.06, 0.12)}[kind]
    air_share = rng.uniform(*air)
    h_ao = rng.uniform(0.35, 0.6) if drafty else rng.uniform(0.15, 0.4)
    h_g = rng.uniform(0.03, 0.12) if kind == "home" and rng.random() < 0.5 else 0.0
    h_mo = 1.0 - h_ao - h_g
    h_am = rng.uniform(*spread.air_mass_link)
    raw = slow_tau(air_share, 1 - air_share, h_am, h_ao, h_mo, h_g)
    scale = tau / raw
    c_air, c_mass = air_share * scale, (1 - air_share) * scale
    heater = {"home": ["boiler PI", "boiler on/off", "heat pump", "panels"] * 2 + ["floor"],
              "log cabin": ["panels", "heat pump", "panels", "heat pump", "floor",
                            "boiler on/off"],
              "timber cabin": ["panels", "heat pump", "panels"],
              "shed": ["panels"]}[kind]
    kind_of_heater = rng.choice(heater)
    weak = rng.random() < spread.weak_share
    margin = rng.uniform(*spread.weak_margin) if weak else rng.uniform(*spread.margin)
    p_max = margin * (setpoint_max - design_out)
    if kind_of_heater == "heat pump":
        p_max /= cap_of_heat_pump(design_out)
    emitter_h, n_e, d_t, conv = {
        "boiler PI": (rng.uniform(0.15, 0.4), 1.3, 45.0, 0.7),
        "boiler on/off": (rng.uniform(0.15, 0.4), 1.3, 50.0, 0.7),
        "panels": (rng.choice([rng.uniform(0.03, 0.08), rng.uniform(0.25, 0.5)]), 1.0, 60.0,
                   0.8),
        "heat pump": (rng.uniform(0.02, 0.05), 1.0, 25.0, 0.95),
        "floor": (rng.uniform(1.5, 3.5), 1.1, 12.0, 0.5),
    }[kind_of_heater]
    k_e = p_max / d_t ** n_e
    c_e = emitter_h * p_max / d_t
    hyst = {"boiler on/off": rng.uniform(0.4, 1.0), "panels": rng.uniform(0.6, 1.6),
            "floor": rng.uniform(0.3, 0.6)}.get(kind_of_heater, 0.4)
    min_on = rng.randint(4, 10) if kind_of_heater in ("boiler on/off", "boiler PI") else 1
    min_off = rng.randint(5, 15) if kind_of_heater in ("boiler on/off", "boiler PI") else 1
    sun = {"home": (0.1, 1.0), "log cabin": (0.05, 0.6), "timber cabin": (0.1, 1.4),
           "shed": (0.0, 0.3)}[kind]
    return Building(
        kind=kind, drafty=drafty, tau_h=tau, c_air=c_air, c_mass=c_mass, h_am=h_am,
        h_ao=h_ao, h_mo=h_mo, h_g=h_g, t_ground=rng.uniform(3.0, 7.0),
        wind_k=rng.uniform(0.03, 0.08) if drafty else rng.uniform(0.005, 0.02),
        heater=kind_of_heater, p_max=p_max, margin=margin, emitter_h=emitter_h, k_e=k_e,
        n_e=n_e, c_e=c_e, conv=conv, hyst=hyst, min_on=min_on, min_off=min_off,
        stat_lag_min=rng.uniform(2.0, 10.0), min_mod=rng.uniform(0.2, 0.35),
        sun_share=rng.uniform(*sun),
        pooling=rng.uniform(2.0, 6.0) if kind != "home" and rng.random() < 0.5 else
        rng.uniform(0.0, 1.5))


def cap_of_heat_pump(t_out: float) -> float:
    """An inverter heat pump's greatest output, as a share of its rating, at this outside."""
    return max(0.45, min(1.15, 1.0 + 0.025 * (t_out - 7.0)))


# -- the people --------------------------------------------------------------------------------

@dataclass
class Life:
    """Per minute: the thermostat's setpoint, extra air exchange with the outside (× UA) and
    how much of it is near the sensor, heat from people, cooking and stoves (× UA·K), and
    whether someone is there (a visit at a cabin)."""

    setpoint: list[float]
    vent: list[float]
    vent_near: list[float]
    gains: list[float]
    visit: list[bool]
    frost_guard: float | None  # a cabin's unvisited setpoint
    setback: str  # "none", "night", "night and day", "frost guard"
    events: list[tuple[int, int, str]]  # (start, end minute, what): doors, windows, visits


def local_hour(m: int, tz_h: float) -> float:
    return ((m / 60.0) + tz_h) % 24.0


def make_life(rng: random.Random, spread: Spread, b: Building, minutes: int, tz_h: float,
              near_window: bool) -> Life:
    days = minutes // DAY_MIN
    setpoint = [0.0] * minutes
    vent = [0.0] * minutes
    near = [0.0] * minutes
    gains = [0.0] * minutes
    visit = [False] * minutes
    events: list[tuple[int, int, str]] = []
    tz_min = int(tz_h * 60)

    def at(day: int, hour: float) -> int:
        return max(0, min(minutes, day * DAY_MIN + round(hour * 60) - tz_min))

    def open_span(start: int, end: int, leak: float, what: str, close_to_sensor: float
                  ) -> None:
        for m in range(max(0, start), min(minutes, end)):
            vent[m] += leak
            near[m] = max(near[m], close_to_sensor)
        if end > start:
            events.append((start, end, what))

    frost: float | None = None
    setback = "none"
    if b.kind == "home":
        sp = rng.uniform(19.0, 22.5)
        setback = rng.choices(["none", "night", "night and day"], spread.setbacks)[0]
        if b.heater == "floor":
            setback = "none"  # a slab hours behind its thermostat is not set back
        night_sp = sp - rng.uniform(*spread.setback_depth)
        night_from, night_to = rng.uniform(21.5, 23.5), rng.uniform(5.0, 6.8)
        airing = rng.random() < 0.45
        for m in range(minutes):
            hour = local_hour(m, tz_h)
            weekday = ((m + tz_min) // DAY_MIN) % 7 < 5
            value = sp
            if setback != "none" and (hour >= night_from or hour < night_to):
                value = night_sp
            if setback == "night and day" and weekday and 8.0 <= hour < 16.0:
                value = night_sp + 1.0
            setpoint[m] = value
        for d in range(days + 1):
            for m in range(at(d, 17.0), at(d, 19.0)):
                gains[m] += 1.2  # cooking
            for m in range(at(d, 7.0), at(d, 23.0)):
                gains[m] += 0.6  # people, appliances
            if airing:
                for hour in (7.2, 21.5):
                    s = at(d, hour + rng.uniform(-0.4, 0.4))
                    open_span(s, s + rng.randint(3, 10), rng.uniform(2.0, 5.0), "airing",
                              0.5 if near_window else 0.0)
            for _ in range(rng.randint(2, 8)):  # the entrance door
                s = at(d, rng.uniform(7.0, 22.0))
                open_span(s, s + rng.randint(1, 3), rng.uniform(1.0, 3.0), "door", 0.0)
    else:
        frost = rng.uniform(*spread.frost_guard)
        frost = max(frost, 5.5 + b.hyst / 2)  # the band's low end stays above 5 °C
        setpoint = [frost] * minutes
        setback = "frost guard"
        if b.kind != "shed":
            every = rng.choice([1, 1, 2, 3, 4])
            preheat_h = rng.choice([0.0, 0.0, rng.uniform(4.0, 24.0)])
            warm = rng.uniform(18.0, 22.0)
            stove = rng.uniform(8.0, 25.0) if rng.random() < 0.6 else 0.0
            first_week = rng.randrange(0, 2)
            holiday_week = rng.randrange(1, 3) if rng.random() < 0.2 else None
            for week in range(days // 7 + 1):
                if (week < first_week or (week - first_week) % every) and week != holiday_week:
                    continue
                if week == holiday_week:
                    arrive = at(week * 7 - 2, rng.uniform(12.0, 18.0))
                    leave = at(week * 7 + 4, rng.uniform(10.0, 16.0))
                else:
                    arrive = at(week * 7 + 4, rng.uniform(16.0, 22.0))
                    leave = at(week * 7 + 6, rng.uniform(12.0, 18.0))
                if arrive >= minutes or leave <= arrive:
                    continue
                events.append((arrive, leave, "visit"))
                for m in range(max(0, arrive - int(preheat_h * 60)), min(leave, minutes)):
                    setpoint[m] = warm
                for m in range(arrive, min(leave, minutes)):
                    visit[m] = True
                    gains[m] += 0.8
                for d in range(arrive // DAY_MIN, leave // DAY_MIN + 1):
                    if stove:  # a wood stove in the evening, its stone slow to cool
                        fire = at(d, rng.uniform(16.0, 19.0))
                        burn = rng.randint(180, 360)
                        for m in range(max(fire, arrive), min(minutes, leave + 600,
                                                              fire + burn + 600)):
                            k = m - fire
                            heat = stove if k < burn else stove * math.exp(-(k - burn) / 150)
                            gains[m] += heat * 0.5
                    for _ in range(rng.randint(4, 12)):
                        s = rng.randrange(arrive, max(arrive + 1, leave))
                        if visit[min(s, minutes - 1)] and (s - tz_min) % DAY_MIN > 0:
                            open_span(s, s + rng.randint(1, 4), rng.uniform(1.5, 4.0),
                                      "door", 0.3 if near_window else 0.0)
                if rng.random() < 0.1:  # a window left tilted when they left
                    open_span(leave, leave + int(rng.uniform(24, 96) * 60),
                              rng.uniform(0.1, 0.3), "window left tilted",
                              0.8 if near_window else 0.0)
        checks = rng.uniform(0.0, 0.12)
        for d in range(days):
            if rng.random() < checks:  # a caretaker looks in: the door open as they come
                s = at(d, rng.uniform(9.0, 16.0))  # and go, their warmth while they stay
                stay = rng.randint(15, 60)
                open_span(s, s + rng.randint(1, 4), rng.uniform(2.0, 5.0), "caretaker", 0.2)
                open_span(s + stay, s + stay + rng.randint(1, 4), rng.uniform(2.0, 5.0),
                          "caretaker", 0.2)
                for m in range(s, min(minutes, s + stay)):
                    gains[m] += 0.3
    # forgotten windows and doors: in a home any day, in a cabin only while someone is there
    rate = rng.uniform(*spread.tilted_per_day)
    for d in range(days):
        s = at(d, rng.uniform(6.0, 23.0))
        if rng.random() < rate and (b.kind == "home" or visit[min(s, minutes - 1)]):
            open_span(s, s + int(rng.uniform(*spread.tilted_h) * 60),
                      rng.uniform(*spread.tilted_leak), "window left tilted",
                      0.5 if near_window else 0.0)
    rate = rng.uniform(*spread.door_open_per_day)
    for d in range(days):
        s = at(d, rng.uniform(7.0, 20.0))
        if rng.random() < rate and (b.kind == "home" or visit[min(s, minutes - 1)]):
            open_span(s, s + rng.randint(*spread.door_open_min), rng.uniform(*spread.door_leak),
                      "door left open", 0.3)
    events.sort()
    return Life(setpoint, vent, near, gains, visit, frost, setback, events)


# -- the physics -----------------------------------------------------------------------------

@dataclass
class Trace:
    """Per minute: the air, the mass, the emitter, the local outside, the sun's gain, the
    heater's output (share of its full power) and whether it ran flat out, defrosting."""

    air: list[float]
    mass: list[float]
    emitter: list[float]
    outside: list[float]
    sun: list[float]
    output: list[float]
    flat_out: list[bool]
    defrost: list[bool]


def run_physics(rng: random.Random, b: Building, life: Life, weather: Weather,
                minutes: int, fail_at: int | None, fail_power: float) -> Trace:
    out = per_minute(weather.local, minutes)
    wind = per_minute(weather.wind, minutes)
    sky = per_minute(weather.clear, minutes)
    sun_up = per_minute(weather.sun_up, minutes)
    sp0 = life.setpoint[0]
    t_air = sp0 + 0.2
    t_mass = (b.h_am * t_air + b.h_mo * out[0] + b.h_g * b.t_ground) / (b.h_am + b.h_mo + b.h_g)
    t_e = t_air + 5.0
    stat = t_air
    on, since_switch, integ = True, 999, 0.3
    defrost_left, run_since_defrost = 0, 0
    air_l, mass_l, em_l, sun_l, out_l, flat_l, df_l = [], [], [], [], [], [], []
    exp = math.exp
    stat_k = 1.0 - exp(-1.0 / b.stat_lag_min)
    cache: dict[tuple[int, int], tuple[float, float]] = {}
    for m in range(minutes):
        t_out = out[m]
        sp = life.setpoint[m]
        k_hour = m // 60
        snow = weather.snow[min(k_hour, len(weather.snow) - 1)]
        # the heater's control
        stat += (t_air - stat) * stat_k
        since_switch += 1
        cap = cap_of_heat_pump(t_out) if b.heater == "heat pump" else 1.0
        if b.heater in ("boiler PI", "heat pump"):
            err = sp - stat
            integ = max(0.0, min(1.0, integ + err * 0.02 * DT_H * 60 / 6))
            u = max(0.0, min(1.0, 0.5 * err + integ))
            if u < b.min_mod:  # below the lowest flame: it cycles
                if on and (stat > sp + 0.25 and since_switch >= b.min_on):
                    on, since_switch = False, 0
                elif not on and stat < sp - 0.25 and since_switch >= b.min_off:
                    on, since_switch = True, 0
                u = b.min_mod if on else 0.0
            else:
                if not on:
                    on, since_switch = True, 0
        else:
            half = b.hyst / 2
            if on and stat > sp + half and since_switch >= b.min_on:
                on, since_switch = False, 0
            elif not on and stat < sp - half and since_switch >= b.min_off:
                on, since_switch = True, 0
            u = 1.0 if on else 0.0
        flat = u >= 0.999 and stat < sp - 0.3
        defrosting = False
        if b.heater == "heat pump":
            if defrost_left > 0:
                defrost_left -= 1
                defrosting = True
            elif u > 0 and -10.0 < t_out < 4.0:
                run_since_defrost += 1
                if run_since_defrost > 60 + (m * 7919) % 40:
                    defrost_left, run_since_defrost = rng.randint(5, 10), 0
        power = u * cap * b.p_max
        if defrosting:
            power = -0.15 * b.p_max * cap  # the coil takes heat from the air a while
        if fail_at is not None and m >= fail_at:
            power = min(power, fail_power * cap * b.p_max) if fail_power > 0 else 0.0
        # the emitter
        d_e = t_e - t_air
        g_e = b.k_e * max(abs(d_e), 0.5) ** (b.n_e - 1.0)
        if power < 0:
            q_e = power
            t_e = t_air
        else:
            eq = t_air + power / g_e
            t_e = eq + (t_e - eq) * exp(-g_e * DT_H / b.c_e)
            q_e = g_e * (t_e - t_air)
        # the sun through the windows (×UA·K), strongest when clear and high
        s = sun_up[m]
        sun = (b.sun_share * 6.0 * (s ** 0.4) * exp(-0.2 / max(s, 0.02)) * (0.12 + 0.88 * sky[m])
               if s > 0 else 0.0)
        q_air = b.conv * q_e + 0.3 * sun + life.gains[m]
        q_mass = (1 - b.conv) * q_e + 0.7 * sun
        h_ao = b.h_ao * (1.0 + b.wind_k * wind[m]) + life.vent[m]
        h_mo = b.h_mo * (0.9 if snow else 1.0)
        key = (int(h_ao * 200), 1 if snow else 0)
        if key not in cache:
            cache[key] = (exp(-(b.h_am + h_ao) * DT_H / b.c_air),
                          exp(-(b.h_am + h_mo + b.h_g) * DT_H / b.c_mass))
        fa, fm = cache[key]
        eq_a = (b.h_am * t_mass + h_ao * t_out + q_air) / (b.h_am + h_ao)
        t_air_new = eq_a + (t_air - eq_a) * fa
        eq_m = (b.h_am * t_air + h_mo * t_out + b.h_g * b.t_ground + q_mass) / (
            b.h_am + h_mo + b.h_g)
        t_mass = eq_m + (t_mass - eq_m) * fm
        t_air = t_air_new
        air_l.append(t_air)
        mass_l.append(t_mass)
        em_l.append(max(0.0, q_e) / b.p_max)
        sun_l.append(sun)
        out_l.append(t_out)
        flat_l.append(flat)
        df_l.append(defrosting)
    return Trace(air_l, mass_l, em_l, out_l, sun_l, em_l, flat_l, df_l)


# -- the sensor ------------------------------------------------------------------------------

@dataclass
class Sensor:
    spot: str  # "inside wall", "outside wall", "near a window", "near the heater", "low"
    offset: float
    noise: float
    step: float
    truncates: bool
    cadence_min: float
    on_change: float  # report on a change this big (0: on a clock)
    heartbeat_min: int
    lag_min: float
    wall_k: float  # an outside wall's or window's pull towards the outside
    sun_k: float  # direct sun on it (°C at the sun's strongest)
    sun_hour: float  # hours from solar noon it faces
    gaps: list[tuple[int, int]]

    def describe(self) -> str:
        how = (f"on a change of {self.on_change:g} °C (heartbeat {self.heartbeat_min} min)"
               if self.on_change else f"every {self.cadence_min:g} min")
        return (f"sensor {self.spot}, step {self.step:g}{' truncating' if self.truncates else ''}"
                f", noise {self.noise:.2f}, offset {self.offset:+.1f}, {how}, lag "
                f"{self.lag_min:.0f} min, {len(self.gaps)} gaps "
                f"({sum(b - a for a, b in self.gaps) / 60:.1f} h)")


def make_sensor(rng: random.Random, spread: Spread, minutes: int) -> Sensor:
    spot = rng.choices(["inside wall", "outside wall", "near a window", "near the heater",
                        "low"], [0.35, 0.2, 0.2, 0.12, 0.13])[0]
    step = rng.choices([0.0625, 0.1, 0.5], [0.4, 0.45, 0.15])[0]
    on_change = rng.choice([0.1, 0.2, 0.3]) if step < 0.5 and rng.random() < 0.1 else 0.0
    cadence = float(rng.choice([5, 5, 5, 6, 10, 10, 10])) if rng.random() < 0.85 else float(
        rng.choice([1, 2, 15]))
    gaps = []
    for _ in range(rng.choice([0, 1, 1, 2, 3, 4])):
        start = rng.randrange(0, minutes)
        length = int(rng.choice([rng.uniform(20, 90), rng.uniform(60, 300),
                                 rng.uniform(180, 720)]))
        gaps.append((start, min(minutes, start + length)))
    if rng.random() < 0.03:
        start = rng.randrange(DAY_MIN, minutes - DAY_MIN)
        gaps.append((start, start + rng.randrange(12 * 60, 30 * 60)))
    gaps.sort()
    return Sensor(
        spot=spot, offset=max(-1.2, min(1.2, rng.gauss(0, 0.5))),
        noise=rng.uniform(*spread.noise) * (2 if step == 0.5 else 1), step=step,
        truncates=rng.random() < 0.1, cadence_min=cadence, on_change=on_change,
        heartbeat_min=rng.choice([30, 60]), lag_min=rng.uniform(2.0, 10.0),
        wall_k={"outside wall": rng.uniform(0.01, 0.04), "near a window":
                rng.uniform(0.03, 0.08)}.get(spot, 0.0),
        sun_k=rng.uniform(1.0, 6.0) if spot == "near a window" and rng.random() < 0.6 else 0.0,
        sun_hour=rng.choice([-3.0, 0.0, 3.0]), gaps=gaps)


def sensor_truth(sensor: Sensor, b: Building, life: Life, trace: Trace, tz_h: float
                 ) -> list[float]:
    """What the sensor would read without noise and step: the air where it sits (an outside
    wall's or a window's pull, a draught from an open window near it, the sun on it, the
    heater's warmth beside it, the colder air low down while the heater stirs the room),
    through its own lag, plus its offset."""
    out: list[float] = []
    k = 1.0 - math.exp(-1.0 / sensor.lag_min)
    value = trace.air[0]
    for m, air in enumerate(trace.air):
        t_out = trace.outside[m]
        here = 0.85 * air + 0.15 * trace.mass[m] if sensor.spot != "near the heater" else air
        here -= sensor.wall_k * (air - t_out)
        if life.vent_near[m]:
            here -= 0.08 * life.vent_near[m] * (air - t_out)
        if sensor.spot == "near the heater":
            here += 2.5 * trace.output[m]
        if sensor.spot == "low":
            here -= 0.4 + 1.2 * trace.output[m]
        if sensor.sun_k and trace.sun[m] > 0:
            solar_h = (m / 60.0 + tz_h) % 24 - 12.0
            here += sensor.sun_k * min(1.0, trace.sun[m] / max(b.sun_share * 3.0, 0.1)) * \
                math.exp(-((solar_h - sensor.sun_hour) / 1.5) ** 2)
        value += (here - value) * k
        out.append(value + sensor.offset)
    return out


def read(rng: random.Random, sensor: Sensor, truth: list[float], name: str = "indoor"
         ) -> list[tuple[int, float]]:
    """The readings: (epoch ms, value) at the sensor's cadence (jittered) or on a change,
    outside its gaps, noisy and stepped."""
    out: list[tuple[int, float]] = []
    gaps = sensor.gaps
    gi = 0

    def quantise(v: float) -> float:
        q = v / sensor.step
        return round((math.floor(q) if sensor.truncates else round(q)) * sensor.step, 4)

    minutes = len(truth)
    if sensor.on_change:
        last_v, last_m = None, -10**9
        for m in range(minutes):
            while gi < len(gaps) and gaps[gi][1] <= m:
                gi += 1
            if gi < len(gaps) and gaps[gi][0] <= m < gaps[gi][1]:
                continue
            v = truth[m] + rng.gauss(0, sensor.noise * 0.5)
            if m - last_m < 5:
                continue
            if (last_v is None or abs(v - last_v) >= sensor.on_change
                    or m - last_m >= sensor.heartbeat_min):
                last_v, last_m = v, m
                out.append((START_MS + m * MIN_MS + rng.randrange(0, 20_000), quantise(v)))
        return out
    t = rng.uniform(0, sensor.cadence_min)
    while t < minutes:
        m = int(t)
        while gi < len(gaps) and gaps[gi][1] <= m:
            gi += 1
        if not (gi < len(gaps) and gaps[gi][0] <= m < gaps[gi][1]):
            v = truth[m] + rng.gauss(0, sensor.noise)
            out.append((START_MS + int(t * MIN_MS), quantise(v)))
        t += sensor.cadence_min * rng.uniform(0.97, 1.03) + (rng.uniform(0, 1.0) if rng.random()
                                                              < 0.05 else 0.0)
    return out


# -- a run -----------------------------------------------------------------------------------

@dataclass
class Run:
    seed: int
    mode: str  # "normal", "failure", "partial"
    building: Building
    life: Life
    sensor: Sensor
    weather: Weather
    trace: Trace
    truth: list[float]  # the noise-free sensor, one a minute
    indoor: list[tuple[int, float]]
    outdoor: list[tuple[int, float]]  # the outdoor sensor's readings (outside == "sensor")
    outside_source: str  # "sensor", "forecast", "none"
    forecast_bias: list[float]  # per forecast issue (every 6 h): its error's own drift
    fail_at: int | None
    fail_power: float
    tz_h: float
    latitude: float

    def first_at_or_below(self, limit: float, after: int) -> int | None:
        for m in range(after, len(self.truth)):
            if self.truth[m] <= limit:
                return m
        return None

    def forecast(self, now_ms: int) -> tuple[tuple[int, float], ...]:
        """The forecast the cycle would have at `now_ms`: hourly points from the hour
        before to the end of tomorrow (UTC), issued at the last 6-hourly model run, aimed at
        the regional temperature (it knows no hollow), its error growing with the lead."""
        now_min = (now_ms - START_MS) // MIN_MS
        issue = max(0, (now_min // 360) * 360 - 240) // 360  # available 4 h after its run
        issued_h = issue * 6
        first_h = now_min // 60 - 1
        last_h = (now_min // DAY_MIN + 2) * 24
        reg = self.weather.regional
        bias = self.forecast_bias
        points = []
        for h in range(first_h, last_h):
            if h < 0 or h >= len(reg):
                continue
            lead = max(0, h - issued_h)
            b0 = bias[issue % len(bias)]
            b1 = bias[(issue * 7 + h) % len(bias)]
            error = b0 * (0.5 + lead / 24.0) + 0.4 * b1 * min(1.0, lead / 12.0)
            points.append((START_MS + h * 3_600_000, round(reg[h] + error, 1)))
        return tuple(points)


def simulate(seed: int, mode: str, spread: Spread = Spread(), days: int = RUN_DAYS) -> Run:
    rng = random.Random(seed * 7_777 + 6)
    minutes = days * DAY_MIN
    hours = days * 24 + 72
    kind = rng.choices(KINDS, spread.kind_weights)[0]
    latitude = rng.uniform(50.0, 66.0)
    tz_h = rng.choice([0.0, 1.0, 1.0, 2.0, 2.0, 3.0])
    pooling = rng.uniform(2.0, 6.0) if kind != "home" and rng.random() < 0.5 else rng.uniform(
        0.0, 1.2)
    weather = make_weather(rng, spread, hours, latitude, tz_h, pooling)
    design_out = min(weather.local[:minutes // 60])
    setpoint_max = 21.0 if kind == "home" else 11.0
    b = make_building(rng, spread, kind, design_out, setpoint_max)
    b.pooling = pooling
    sensor = make_sensor(rng, spread, minutes)
    life = make_life(rng, spread, b, minutes, tz_h, sensor.spot == "near a window")
    # the home's thermostat setpoint was known only now: size the heater for it
    sp_max = max(life.setpoint)
    scale = (sp_max - design_out) / (setpoint_max - design_out)
    b.p_max *= scale
    b.k_e *= scale
    b.c_e *= scale
    fail_at: int | None = None
    fail_power = 0.0
    if mode != "normal":
        hi = min(15 * DAY_MIN, minutes - DAY_MIN)
        lo = min(4 * DAY_MIN, hi - 1)
        fail_at = rng.randrange(lo, hi)
        for _ in range(12):  # in a visit (or the day and a half after, still warm from it)
            if not any(life.visit[max(0, fail_at - 36 * 60):fail_at + 1]):  # only as often
                break  # as `visit_failures` says
            fail_at = rng.randrange(lo, hi)
        if kind in ("log cabin", "timber cabin") and rng.random() < spread.visit_failures:
            inside = [m for m in range(lo, hi, 30) if life.visit[m]]
            if inside:
                fail_at = rng.choice(inside) + rng.randrange(30)
        if mode == "partial":
            fail_power = rng.uniform(*spread.partial_power)
    trace = run_physics(rng, b, life, weather, minutes, fail_at, fail_power)
    truth = sensor_truth(sensor, b, life, trace, tz_h)
    indoor = read(rng, sensor, truth)
    source = rng.choices(["sensor", "forecast", "none"], [0.4, 0.35, 0.25])[0]
    outdoor: list[tuple[int, float]] = []
    if source == "sensor":
        sunny = rng.random() < 0.25  # a badly placed outdoor sensor: the sun on it
        warm = rng.uniform(0.0, 1.5)  # on the house's wall: its leaking warmth
        off = rng.gauss(0, 0.5)
        out_truth = []
        for m in range(minutes):
            v = trace.outside[m] + warm + off
            if sunny:
                v += 4.0 * trace.sun[m] / max(b.sun_share * 3.0, 0.1)
            out_truth.append(v)
        out_sensor = Sensor("outdoor", 0.0, 0.1, 0.1, False, 10.0, 0.0, 60, 10.0, 0.0, 0.0,
                            0.0, [g for g in make_sensor(rng, spread, minutes).gaps])
        outdoor = read(rng, out_sensor, out_truth)
    bias = [rng.gauss(0, 1.2) for _ in range(97)]
    return Run(seed, mode, b, life, sensor, weather, trace, truth, indoor, outdoor, source,
               bias, fail_at, fail_power, tz_h, latitude)
