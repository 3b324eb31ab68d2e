"""An independent simulator of buildings for the heating watch (issue 19), written without
reading `heating_sim.py`: a second opinion on how the detector generalises.

A house is given as an engineer would measure it, not as a textbook RC: its heat-loss
coefficient (W/K), its heater's power (W), and its heat capacity (J/K) split over three
nodes: the air (with what warms with it), the interior mass (furniture, inner walls,
floors) and the envelope (outer walls, roof), which sits between the inside and the outside.
Part of the loss is infiltration straight from the air to outside; a cellar also leaks to
the ground. Each node is stepped implicitly (one minute), so any split is stable.

Everything random comes from one `random.Random(seed)`: a seed is a building and its weather.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

MIN_S = 60
DAY_MIN = 1440


@dataclass(frozen=True, slots=True)
class House:
    """One building, its heater, its thermostat and its occupants' habits."""

    kind: str  # "cabin" (frost guard, visits), "house" (lived in), "cellar" (ground-coupled)
    ua: float  # heat-loss coefficient, W/K
    tau_h: float  # capacity over loss: the unheated time constant it was built for
    air_share: float  # of the capacity, in the air node
    interior_share: float
    infiltration: float  # share of `ua` straight from the air to outside
    envelope_ratio: float  # envelope-to-outside conductance over the envelope's share of `ua`
    coupling: float  # air-to-interior conductance, in units of `ua`
    ground_share: float  # cellar: extra conductance to the ground, in units of `ua`
    ground_c: float  # the ground's temperature
    power: float  # heater power, W
    margin: float  # power over what 20 °C at −15 °C outside needs
    heat_to_air: float  # the heater's share into the air (the rest warms the interior)
    band: float  # thermostat hysteresis, °C
    min_cycle_min: int  # the heater's shortest on or off spell
    heat_pump: bool
    setpoint: float  # the usual (frost-guard, cellar, or day) setpoint
    visit_setpoint: float  # cabin visits
    setback: float  # house: night setback, °C (0: none)
    window_area: float  # sun gain per W/m² of irradiance, m²
    doors_per_day: float

    def describe(self) -> str:
        hp = " heat pump" if self.heat_pump else ""
        sb = f" setback {self.setback:.1f}" if self.setback else ""
        return (f"{self.kind}{hp} UA={self.ua:.0f}W/K tau={self.tau_h:.0f}h "
                f"P={self.power:.0f}W (x{self.margin:.2f} of coldest need) sp={self.setpoint:.1f}"
                f"{sb} band={self.band:.2f}")


@dataclass(slots=True)
class Trace:
    """The simulated truth, one value a minute."""

    air: list[float] = field(default_factory=list)
    outside: list[float] = field(default_factory=list)
    heat: list[float] = field(default_factory=list)  # the heater's share of full power, 0–1
    wanted: list[bool] = field(default_factory=list)  # the thermostat calls for heat
    door: list[bool] = field(default_factory=list)
    visit: list[bool] = field(default_factory=list)
    defrost: list[bool] = field(default_factory=list)
    sun: list[float] = field(default_factory=list)  # W into the house


def pump_share(outside: float) -> float:
    """A heat pump's output at this outside temperature, as a share of its rated power."""
    return max(0.6, min(1.1, 0.9 + 0.012 * outside))


def make_house(rng: random.Random, kind: str, coldest: float) -> House:
    """A building whose heater is sized for its run's coldest hour with `margin` (below 1:
    on the coldest nights it runs flat out and the house drifts down, heating working)."""
    ua = math.exp(rng.uniform(math.log(40), math.log(400)))
    tau_h = math.exp(rng.uniform(math.log(12), math.log(70)))
    margin = rng.uniform(0.85, 1.05) if rng.random() < 0.3 else rng.uniform(1.05, 2.0)
    heat_pump = kind != "cellar" and rng.random() < 0.35
    if kind == "cabin":
        setpoint, visit_sp, setback = rng.uniform(5, 10), rng.uniform(18, 22), 0.0
    elif kind == "house":
        setpoint, visit_sp = rng.uniform(19, 22), 0.0
        setback = rng.choice([0.0, 0.0, rng.uniform(1, 4)])
    else:
        setpoint, visit_sp, setback = rng.uniform(5, 12), 0.0, 0.0
    return House(
        kind=kind, ua=ua, tau_h=tau_h,
        air_share=rng.uniform(0.04, 0.12), interior_share=rng.uniform(0.3, 0.6),
        infiltration=rng.uniform(0.12, 0.35), envelope_ratio=rng.uniform(1.05, 1.6),
        coupling=rng.uniform(8.0, 30.0),
        ground_share=rng.uniform(0.4, 1.5) if kind == "cellar" else 0.0,
        ground_c=rng.uniform(4, 9),
        power=ua * (max(setpoint, visit_sp) - coldest) * margin
        / (pump_share(coldest) if heat_pump else 1.0),
        margin=margin,
        heat_to_air=rng.uniform(0.6, 1.0), band=rng.uniform(0.2, 1.5),
        min_cycle_min=rng.randint(2, 12), heat_pump=heat_pump,
        setpoint=setpoint, visit_setpoint=visit_sp, setback=setback,
        window_area=0.0 if kind == "cellar" else rng.uniform(0.5, 6.0),
        doors_per_day={"cabin": 0.6, "house": 0.6, "cellar": 0.15}[kind] * rng.uniform(0.3, 2),
    )


def weather(rng: random.Random, minutes: int) -> list[float]:
    """Diurnal cycle + an AR(1) front process + a cold snap or two, within −30..+8 °C."""
    mean = rng.uniform(-14, 2)
    amp = rng.uniform(1, 6)
    hours = minutes // 60 + 2
    fronts, x = [], rng.gauss(0, 3)
    for _ in range(hours):
        x = 0.97 * x + rng.gauss(0, 0.9)
        fronts.append(x)
    snap = [0.0] * hours
    for _ in range(rng.choice([0, 1, 1, 2])):
        start, length = rng.randrange(hours), rng.randint(24, 96)
        depth = rng.uniform(6, 16)
        for h in range(start, min(hours, start + length)):
            ramp = min(1.0, (h - start) / 12, (start + length - h) / 12)
            snap[h] = min(snap[h], -depth * ramp)
    out = []
    for m in range(minutes):
        h, frac = divmod(m, 60)
        base = fronts[h] + (fronts[h + 1] - fronts[h]) * frac / 60 + snap[h]
        diurnal = -amp * math.cos(2 * math.pi * ((m % DAY_MIN) / DAY_MIN - 1 / 24 * 3))
        out.append(max(-30.0, min(8.0, mean + base + diurnal)))
    return out


def solar(rng: random.Random, minutes: int, day_of_year: int) -> list[float]:
    """Irradiance through a vertical window, W/m²: a low winter sun, clear or cloudy days."""
    out = []
    for d in range(minutes // DAY_MIN + 1):
        doy = day_of_year + d
        season = 0.5 + 0.5 * math.cos(2 * math.pi * (doy - 172) / 365)  # 0 midsummer .. 1
        day_len = 24 * (0.5 - 0.22 * season)  # ~7 h in deep winter
        peak = 500 * (1 - 0.5 * season) * (1.0 if rng.random() < 0.35 else rng.uniform(0.05, 0.5))
        for m in range(DAY_MIN):
            h = m / 60 - 12.5
            x = math.cos(math.pi * h / day_len) if abs(h) < day_len / 2 else 0.0
            out.append(peak * x)
    return out[:minutes]


def schedule(rng: random.Random, house: House, minutes: int,
             start_weekday: int) -> tuple[list[float], list[bool]]:
    """The setpoint each minute and whether people are in (cabin visits)."""
    sp = [house.setpoint] * minutes
    visit = [house.kind == "house"] * minutes
    days = minutes // DAY_MIN
    if house.kind == "house" and house.setback:
        off, on = rng.uniform(21.5, 23.5), rng.uniform(5.5, 7.5)
        for m in range(minutes):
            hod = (m % DAY_MIN) / 60
            if hod >= off or hod < on:
                sp[m] = house.setpoint - house.setback
    if house.kind == "cabin":
        spans = []
        holiday = rng.random() < 0.3
        hol_day = rng.randrange(5, max(6, days - 7)) if holiday else -1
        for d in range(days):
            if (start_weekday + d) % 7 == 4 and rng.random() < 0.65:  # a Friday
                spans.append((d * DAY_MIN + rng.randint(16 * 60, 22 * 60),
                              (d + 2) * DAY_MIN + rng.randint(13 * 60, 19 * 60)))
        if holiday:
            spans.append((hol_day * DAY_MIN + rng.randint(10 * 60, 18 * 60),
                          (hol_day + rng.randint(6, 9)) * DAY_MIN + rng.randint(10 * 60, 16 * 60)))
        for a, b in spans:
            for m in range(a, min(b, minutes)):
                sp[m], visit[m] = house.visit_setpoint, True
    return sp, visit


def doors(rng: random.Random, house: House, visit: list[bool], minutes: int) -> list[float]:
    """Extra air-to-outside conductance (W/K) from doors and windows left open 5–45 min."""
    out = [0.0] * minutes
    rate = house.doors_per_day / DAY_MIN
    m = 0
    while m < minutes:
        m += int(rng.expovariate(rate))
        if m >= minutes:
            break
        if house.kind == "cabin" and not visit[m] and rng.random() < 0.8:
            continue  # nobody there to open it
        length = rng.randint(5, 45)
        g = min(350.0, house.ua * rng.uniform(0.5, 3.0))  # an open door: 0.05–0.3 m³/s
        for k in range(m, min(minutes, m + length)):
            out[k] = g
        m += length
    return out


def simulate(rng: random.Random, house: House, t_out: list[float], day_of_year: int,
             start_weekday: int, pick_failure: Callable[[list[bool]], int | None],
             fail_power: float) -> tuple[Trace, int | None]:
    """Step the three nodes a minute at a time; the heater gives `fail_power` of its power
    from the minute `pick_failure` chooses (given who is in when) on (0: off)."""
    minutes = len(t_out)
    sun = solar(rng, minutes, day_of_year)
    sp, visit = schedule(rng, house, minutes, start_weekday)
    fail_at = pick_failure(visit)
    door = doors(rng, house, visit, minutes)
    h_ao = house.ua * house.infiltration
    ua_env = house.ua - h_ao
    h_eo = ua_env * house.envelope_ratio
    h_ae = ua_env * house.envelope_ratio / (house.envelope_ratio - 1)  # series gives ua_env
    h_ai = house.ua * house.coupling
    h_g = house.ua * house.ground_share
    c_total = house.tau_h * 3600 * house.ua
    shares = (house.air_share, house.interior_share,
              1 - house.air_share - house.interior_share)
    # scale the capacities so the slow, unheated decay has the house's τ
    slow = slow_tau_h([c_total * x for x in shares], (h_ao + h_g, h_ai, h_ae, h_eo))
    ca, ci, ce = (c_total * x * house.tau_h / slow for x in shares)
    start = sp[0] - 0.3
    ta, ti = start, start
    te = (start * h_ae + t_out[0] * h_eo) / (h_ae + h_eo)
    on, spell, defrost_left, next_defrost = False, 0, 0, rng.randint(30, 90)
    trace = Trace()
    for m in range(minutes):
        to = t_out[m]
        spell += 1
        if spell >= house.min_cycle_min:
            if on and ta > sp[m] + house.band / 2:
                on, spell = False, 0
            elif not on and ta < sp[m] - house.band / 2:
                on, spell = True, 0
        power = house.power
        if house.heat_pump:
            power *= pump_share(to)  # less at cold outside
        frac = fail_power if fail_at is not None and m >= fail_at else 1.0
        q_heat = power * frac if on else 0.0
        defrosting = False
        if house.heat_pump and on and frac > 0 and to < 5:
            next_defrost -= 1
            if next_defrost <= 0 and defrost_left == 0:
                defrost_left = rng.randint(4, 12)
                next_defrost = rng.randint(35, 100)
            if defrost_left:
                defrost_left -= 1
                defrosting = True
                q_heat = -0.15 * power  # reverse cycle: it draws from the indoor coil
        q_sun = house.window_area * sun[m]
        q_int = (rng.uniform(150, 450) if visit[m] else 0.0) if house.kind != "cellar" else 0.0
        ha = h_ao + door[m]
        q_air = q_heat * house.heat_to_air + 0.5 * q_sun + q_int
        q_in = q_heat * (1 - house.heat_to_air) + 0.5 * q_sun
        # Gauss–Seidel implicit steps: stable whatever the capacities.
        ka, ki, ke = ca / MIN_S, ci / MIN_S, ce / MIN_S
        ta = (ka * ta + h_ai * ti + h_ae * te + ha * to + h_g * house.ground_c + q_air) / (
            ka + h_ai + h_ae + ha + h_g)
        ti = (ki * ti + h_ai * ta + q_in) / (ki + h_ai)
        te = (ke * te + h_ae * ta + h_eo * to) / (ke + h_ae + h_eo)
        trace.air.append(ta)
        trace.outside.append(to)
        trace.heat.append(q_heat / house.power if on else 0.0)
        trace.wanted.append(on)
        trace.door.append(door[m] > 0)
        trace.visit.append(visit[m])
        trace.defrost.append(defrosting)
        trace.sun.append(q_sun)
    return trace, fail_at


def slow_tau_h(caps: list[float], h: tuple[float, float, float, float]) -> float:
    """The network's slowest decay time (h): all nodes start 1 K above a 0 °C outside, and
    the late decay rate is read off ten-minute implicit steps."""
    ca, ci, ce = caps
    h_out, h_ai, h_ae, h_eo = h
    ta = ti = te = 1.0
    dt = 600.0
    history = []
    for _ in range(24 * 6 * 40):
        ta = (ca / dt * ta + h_ai * ti + h_ae * te) / (ca / dt + h_ai + h_ae + h_out)
        ti = (ci / dt * ti + h_ai * ta) / (ci / dt + h_ai)
        te = (ce / dt * te + h_ae * ta) / (ce / dt + h_ae + h_eo)
        history.append(ta)
        if ta < 1e-6:
            break
    n = len(history)
    a, b = history[n // 2], history[-1]
    return (n - 1 - n // 2) * dt / 3600 / math.log(a / b)


@dataclass(frozen=True, slots=True)
class Sensor:
    offset: float
    noise: float
    step: float  # quantisation
    cadence_min: float
    gaps_per_day: float
    duplicates: float  # share of readings sent twice

    def describe(self) -> str:
        return (f"sensor off={self.offset:+.2f} noise={self.noise:.2f} q={self.step:g} "
                f"every {self.cadence_min:.1f} min")


def make_sensor(rng: random.Random, outdoor: bool = False) -> Sensor:
    return Sensor(
        offset=rng.uniform(-0.5, 0.5), noise=rng.uniform(0.02, 0.15) * (2 if outdoor else 1),
        step=rng.choice([0.1, 0.1, 0.0625, 0.01, 0.5] if not outdoor else [0.1, 0.5]),
        cadence_min=rng.choice([1, 2, 5, 5, 5, 10, 10, 15]) * rng.uniform(0.9, 1.1),
        gaps_per_day=rng.uniform(0, 1.0), duplicates=rng.choice([0.0, 0.0, 0.01]),
    )


def read(rng: random.Random, sensor: Sensor, truth: list[float],
         t0_ms: int) -> list[tuple[int, float]]:
    """What the sensor sends: offset, noise, quantised, jittered cadence, gaps, duplicates."""
    out: list[tuple[int, float]] = []
    minutes = len(truth)
    gap_rate = sensor.gaps_per_day / DAY_MIN
    next_gap = rng.expovariate(gap_rate) if gap_rate else math.inf
    t = rng.uniform(0, sensor.cadence_min)
    while t < minutes - 1:
        if t >= next_gap:
            t += min(360.0, math.exp(rng.uniform(math.log(5), math.log(360))))
            next_gap = t + rng.expovariate(gap_rate)
            continue
        i = int(t)
        v = truth[i] + (truth[i + 1] - truth[i]) * (t - i)
        v = v + sensor.offset + rng.gauss(0, sensor.noise)
        v = round(round(v / sensor.step) * sensor.step, 4)
        ts = t0_ms + int(t * 60_000)
        out.append((ts, v))
        if rng.random() < sensor.duplicates:
            out.append((ts, v))
        t += sensor.cadence_min * rng.uniform(0.8, 1.2)
    return out
