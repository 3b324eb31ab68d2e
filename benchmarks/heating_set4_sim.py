"""Set 4's buildings: a harsher simulator for the heating watch, calibrated to the issue's own
figures for its hidden houses (see `heating_set4.py`).

Physics: two nodes, the air (what the sensor sees, with what warms with it) and the building
mass, each losing heat to the outside; a cellar's mass also sits on the ground. The total loss
is 1 (a power P holds P kelvin above the outside), so capacities are in hours and the unheated
time constant is capacity over loss. Each minute is stepped with backward Euler on both nodes
at once (a 2×2 solve), stable for any split of the capacity.

Life on top: a thermostat with a band and finite power (a weak heater sags in a cold snap while
still working); heat pumps lose power in the cold and stop for defrosts that draw heat from the
air; sun on clear days; doors, airing and doors left open; frost-guard cabins with weekend and
midweek visits (arriving and leaving at any hour, the door open while unloading), caretaker
checks; homes with irregular night setbacks and office-hours setbacks; weather fronts that
wander, daily swings and cold snaps. The heating fails fully or partly, at any hour, in a visit
or not. The sensor has an offset, noise, a 0.1/0.0625/0.5 °C step, a 1–15 min cadence, jitter
and gaps; the outside is an outdoor sensor, a noisy hourly forecast, or unknown.

Everything random comes from one `random.Random(seed)`; `Spread` holds how widely it varies.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace

from storage.models import Reading

MIN_MS = 60_000
HOUR_MS = 3_600_000
DAY_MIN = 1440
START_MS = 1_798_761_600_000  # 2027-01-01 00:00 UTC, a Friday
DT_H = 1.0 / 60.0  # one simulated minute


@dataclass(frozen=True)
class Spread:
    """How widely the buildings, their life and their sensors vary."""

    tau_h: tuple[float, float] = (15.0, 55.0)
    air_share: tuple[float, float] = (0.03, 0.12)  # of the capacity, in the air node
    air_mass: tuple[float, float] = (4.0, 14.0)  # air↔mass conductance, in units of the loss
    air_loss: tuple[float, float] = (0.25, 0.65)  # the loss's share straight from the air
    margin: tuple[float, float] = (1.15, 2.4)  # heater power over the need at the coldest hour
    band: tuple[float, float] = (0.15, 0.5)  # thermostat hysteresis, ± °C
    guard: tuple[float, float] = (5.0, 12.0)  # a cabin's frost-guard setpoint
    home: tuple[float, float] = (18.5, 22.0)
    outside_mean: tuple[float, float] = (-26.0, -6.0)
    front_sd: tuple[float, float] = (2.0, 7.0)
    diurnal: tuple[float, float] = (1.0, 6.0)
    cold_snap: float = 0.5  # chance of a cold snap in a run
    sun_peak: tuple[float, float] = (0.0, 16.0)  # kelvin-equivalent gain at noon, clear day
    clear_days: tuple[float, float] = (0.15, 0.6)
    # a door multiplies the air's loss to the outside by `…_leak` for its minutes
    doors_per_day: tuple[float, float] = (0.5, 4.0)  # homes and visits: in and out, 1–8 min
    door_leak: tuple[float, float] = (1.5, 4.0)
    open_long_per_day: tuple[float, float] = (1.0, 3.0)  # a door left open a while
    open_long_min: tuple[int, int] = (15, 30)
    open_long_leak: tuple[float, float] = (2.5, 5.0)
    left_open_per_day: tuple[float, float] = (0.02, 0.1)  # now and then a door left open
    left_open_min: tuple[int, int] = (25, 45)
    left_open_leak: tuple[float, float] = (2.5, 5.0)
    airing_per_day: tuple[float, float] = (0.0, 2.0)  # windows wide in the morning
    airing_min: tuple[int, int] = (5, 15)
    airing_leak: tuple[float, float] = (2.0, 6.0)
    visits_per_week: tuple[float, float] = (0.0, 1.2)
    checks_per_day: tuple[float, float] = (0.0, 0.3)  # a caretaker looks in, door open a while
    deeper_nights: tuple[float, float] = (0.0, 0.0)  # homes: a night turned down further
    deeper_by: tuple[float, float] = (0.7, 1.2)
    setback_jitter: float = 0.07  # a night's depth varies by this share, its hours by ±0.5 h
    defrost_draw: tuple[float, float] = (0.0, 0.08)  # of the pump's power, from the air
    noise: tuple[float, float] = (0.02, 0.15)
    cadences: tuple[int, ...] = (1, 2, 5, 5, 5, 10, 10, 15)
    steps: tuple[float, ...] = (0.1, 0.1, 0.0625, 0.0625, 0.5)
    gaps: tuple[int, int] = (0, 4)
    # Options later sets turn on; their defaults are set 4 exactly (no extra random draws).
    emitter_lag_h: tuple[float, float] | None = None  # fan heaters … water radiators
    floor_lag_h: tuple[float, float] = (0.7, 1.5)  # floor heating, when emitters lag
    visit_failures: float = 0.4  # the share of failures at cabins with visits put in one
    first_visit_week: int = 0  # 1: the sensor was set up while the cabin sat at frost guard
    check_min: tuple[int, int] = (15, 30)  # a caretaker's check at a cabin, the door open
    check_leak: tuple[float, float] = (2.5, 5.0)
    cellar_door_min: tuple[int, int] = (3, 25)
    cellar_door_leak: tuple[float, float] = (1.3, 3.0)
    cellar_left_open_per_day: tuple[float, float] | None = None  # with left_open_min/leak


@dataclass(frozen=True)
class Building:
    """The physics of one building and its heater, in units of its total loss."""

    kind: str  # "cabin" (frost guard, visits), "home" (lived in), "cellar" (ground-coupled)
    tau_h: float  # capacity over loss: the unheated time constant
    c_air: float
    c_mass: float
    k_air_out: float
    k_mass_out: float
    k_air_mass: float
    k_ground: float  # mass↔ground (cellars), and the ground's temperature
    ground: float
    power: float  # full heater power (kelvin held above the outside)
    margin: float  # that power over the need at the run's coldest hour (below 1: it sags)
    heat_to_air: float  # the heater's share into the air (floor heating warms the mass)
    band: float
    heat_pump: bool
    defrost_draw: float
    sun_to_air: float
    lag_h: float = 0.0  # the emitter's lag: radiators and floors warm up and cool down slowly


@dataclass
class Trace:
    """The simulated truth, one value a minute, and what was going on."""

    air: list[float] = field(default_factory=list)
    outside: list[float] = field(default_factory=list)
    setpoint: list[float] = field(default_factory=list)
    door: list[bool] = field(default_factory=list)
    sun: list[float] = field(default_factory=list)
    defrost: list[bool] = field(default_factory=list)
    full_out: list[bool] = field(default_factory=list)  # the heater ran flat out
    visit: list[bool] = field(default_factory=list)


@dataclass
class Run:
    """One simulated run: the building, its sensors, the truth and the failure."""

    seed: int
    mode: str  # "normal", "failure", "partial"
    building: Building
    trace: Trace
    indoor: list[Reading]
    outdoor: list[Reading]  # the outdoor sensor's readings (empty: none)
    forecast_error: float  # the forecast's error growth (°C per day); < 0: no forecast
    forecast_seed: int
    offset: float
    step: float
    cadence: int
    gaps: list[tuple[int, int]]  # sensor gaps (start minute, end minute)
    fail_at: int | None = None  # minute the heating failed
    fail_share: float = 0.0  # the power left after the failure (0: none)
    home_setback: float = 0.0

    @property
    def outside_source(self) -> str:
        if self.outdoor:
            return "sensor"
        return "forecast" if self.forecast_error >= 0 else "none"

    def truth(self, m: int) -> float:
        """The noise-free sensor at minute `m`."""
        return self.trace.air[m] + self.offset

    def first_at_or_below(self, level: float, after: int) -> int | None:
        for m in range(after, len(self.trace.air)):
            if self.trace.air[m] + self.offset <= level:
                return m
        return None


def log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def make_building(rng: random.Random, s: Spread, kind: str, top: float, coldest: float
                  ) -> Building:
    """A building whose heater holds `top` at the run's `coldest` outside with its margin."""
    tau = log_uniform(rng, *s.tau_h)
    share = rng.uniform(*s.air_share)
    k_air_out = rng.uniform(*s.air_loss)
    k_ground, ground = 0.0, 0.0
    if kind == "cellar":  # half its loss through the ground, which stays mild
        k_ground = rng.uniform(0.3, 0.8)
        ground = rng.uniform(4.0, 9.0)
    k_mass_out = 1.0 - k_air_out
    loss = 1.0 + k_ground
    heat_pump = kind != "cellar" and rng.random() < 0.3
    need = max(2.0, top - coldest - k_ground * (ground - coldest) / loss)
    margin = log_uniform(rng, *s.margin)
    power = need * margin * loss
    if heat_pump:
        power /= pump_share(coldest)  # rated so that its cold-weather output has the margin
    b = Building(
        kind=kind, tau_h=tau, c_air=tau * loss * share, c_mass=tau * loss * (1 - share),
        k_air_out=k_air_out, k_mass_out=k_mass_out, k_air_mass=rng.uniform(*s.air_mass),
        k_ground=k_ground, ground=ground, power=power, margin=margin,
        heat_to_air=rng.uniform(0.3, 0.6) if rng.random() < 0.15 else rng.uniform(0.8, 1.0),
        band=rng.uniform(*s.band), heat_pump=heat_pump,
        defrost_draw=rng.uniform(*s.defrost_draw), sun_to_air=rng.uniform(0.3, 0.7))
    if s.emitter_lag_h is None:
        return b
    floor = b.heat_to_air < 0.7  # floor heating puts most of its heat into the mass
    return replace(b, lag_h=rng.uniform(*(s.floor_lag_h if floor else s.emitter_lag_h)))


def pump_share(outside: float) -> float:
    """A heat pump's output at this outside temperature, as a share of its rated power."""
    return max(0.45, min(1.0, 0.85 + 0.02 * outside))


def advance(b: Building, t_air: float, t_mass: float, outside: float, to_air: float,
            to_mass: float, air_leak: float) -> tuple[float, float]:
    """One minute of both nodes by backward Euler: heat `to_air`/`to_mass` (kelvin-equivalent),
    the air's link to the outside multiplied by `air_leak` (a door)."""
    ca, cm = b.c_air / DT_H, b.c_mass / DT_H
    k_ao = b.k_air_out * air_leak
    a11, a12 = ca + k_ao + b.k_air_mass, -b.k_air_mass
    a21, a22 = -b.k_air_mass, cm + b.k_mass_out + b.k_air_mass + b.k_ground
    r1 = ca * t_air + to_air + k_ao * outside
    r2 = cm * t_mass + to_mass + b.k_mass_out * outside + b.k_ground * b.ground
    det = a11 * a22 - a12 * a21
    return (r1 * a22 - a12 * r2) / det, (a11 * r2 - a21 * r1) / det


def door_leak(leak: float, inside_minus_outside: float) -> float:
    """A door's multiplier on the air's loss, for this difference to the outside: in bitter
    cold people keep doors open more narrowly and shortly, so the draught's heat loss stays
    about what it is at 25 K."""
    if leak <= 1.0:
        return leak
    return 1.0 + (leak - 1.0) * min(1.5, 25.0 / max(5.0, inside_minus_outside))


def slow_tau_h(b: Building) -> float:
    """The unheated building's slow time constant (the smaller eigenvalue of its two nodes)."""
    a = (b.k_air_out + b.k_air_mass) / b.c_air
    d = (b.k_mass_out + b.k_air_mass + b.k_ground) / b.c_mass
    bc = (b.k_air_mass / b.c_air) * (b.k_air_mass / b.c_mass)
    slow = (a + d) / 2 - math.sqrt(((a - d) / 2) ** 2 + bc)
    return 1.0 / slow


# -- the weather -------------------------------------------------------------------------------

def weather(rng: random.Random, s: Spread, minutes: int) -> list[float]:
    """Outdoor °C a minute: a wandering front (mean-reverting), a daily swing that is larger
    on clear nights, and now and then a cold snap of 6–15 K for one to four days."""
    mean = rng.uniform(*s.outside_mean)
    sd = rng.uniform(*s.front_sd)
    amp = rng.uniform(*s.diurnal)
    a = math.exp(-DT_H / rng.uniform(18.0, 90.0))
    b = sd * math.sqrt(1 - a * a)
    front = rng.gauss(0.0, sd)
    snaps: list[tuple[int, int, float, int]] = []
    if rng.random() < s.cold_snap:
        for _ in range(rng.randint(1, 2)):
            start = rng.randint(0, minutes)
            snaps.append((start, rng.randint(DAY_MIN, 4 * DAY_MIN), rng.uniform(6.0, 15.0),
                          rng.randint(6 * 60, 18 * 60)))
    out: list[float] = []
    day_amp = amp
    for m in range(minutes):
        if m % DAY_MIN == 0:
            day_amp = amp * rng.uniform(0.3, 1.4)
        front = a * front + b * rng.gauss(0.0, 1.0)
        hour = (m / 60.0) % 24.0
        t = mean + front - day_amp * math.cos(2 * math.pi * (hour - 4.0) / 24.0)
        for start, length, depth, ramp in snaps:
            if start <= m < start + length + ramp:
                into, left = m - start, start + length + ramp - m
                t -= depth * min(1.0, into / ramp, left / ramp)
        out.append(max(-34.0, min(10.0, t)))
    return out


# -- the life in the building -----------------------------------------------------------------

def _intervals(rng: random.Random, per_day: float, lo: int, hi: int, minutes: int,
               hours: tuple[int, int] = (6, 23)) -> list[tuple[int, int]]:
    """Random (start, end) minutes, `per_day` on average, starting within `hours`."""
    out: list[tuple[int, int]] = []
    m = 0
    while per_day > 0:
        m += int(rng.expovariate(per_day / DAY_MIN)) + 1
        if m >= minutes:
            return out
        if hours[0] * 60 <= m % DAY_MIN < hours[1] * 60:
            out.append((m, m + rng.randint(lo, hi)))
    return out


def _cabin_visits(rng: random.Random, s: Spread, days: int) -> list[tuple[int, int]]:
    """Weekend and midweek visits, arriving and leaving at any reasonable hour (night too)."""
    rate = rng.uniform(*s.visits_per_week)
    visits: list[tuple[int, int]] = []
    for week in range(days // 7 + 1):
        # a weekend: Friday (day 0 of the run) evening on
        if rng.random() < min(0.9, rate) and week >= s.first_visit_week:
            start = (week * 7) * DAY_MIN + rng.randint(15 * 60, 23 * 60)
            end = (week * 7 + 2) * DAY_MIN + rng.randint(10 * 60, 26 * 60)
            visits.append((start, end))
        if rng.random() < rate * 0.3:  # a midweek stay of one to three nights
            first = (week * 7 + rng.randint(3, 5)) * DAY_MIN + rng.randint(10 * 60, 20 * 60)
            visits.append((first, first + rng.randint(1, 3) * DAY_MIN + rng.randint(-300, 300)))
    visits.sort()
    merged: list[tuple[int, int]] = []
    for v in visits:
        if merged and v[0] <= merged[-1][1] + 6 * 60:
            continue
        merged.append(v)
    return merged


@dataclass
class Life:
    """The thermostat's setpoint and the doors, minute by minute."""

    setpoint: list[float]
    leak: list[float]  # the air's link to the outside, multiplied (1: closed)
    visit: list[bool]
    top: float  # the highest setpoint (sizes the heater)
    setback: float = 0.0


def _open(leak: list[float], spans: list[tuple[int, int]], lo: float, hi: float,
          rng: random.Random) -> None:
    for a, b in spans:
        mult = rng.uniform(lo, hi)
        for m in range(max(0, a), min(b, len(leak))):
            leak[m] = max(leak[m], mult)


def cabin_life(rng: random.Random, s: Spread, days: int) -> Life:
    minutes = days * DAY_MIN
    guard = rng.uniform(*s.guard)
    warm = rng.uniform(18.0, 22.0)
    setpoint = [guard] * minutes
    visit = [False] * minutes
    leak = [1.0] * minutes
    visits = _cabin_visits(rng, s, days)
    for a, b in visits:
        for m in range(max(0, a), min(b, minutes)):
            setpoint[m] = warm
            visit[m] = True
        # unloading on arrival and packing up: the door open a while
        _open(leak, [(a, a + rng.randint(5, 30)), (b - rng.randint(5, 30), b)], 1.5, 4.0, rng)
        inside = [(m, e) for m, e in _intervals(rng, rng.uniform(*s.doors_per_day), 1, 10,
                                                  minutes) if a <= m < b]
        _open(leak, inside, 1.5, 4.0, rng)
    checks = _intervals(rng, rng.uniform(*s.checks_per_day), *s.check_min, minutes, (9, 17))
    _open(leak, [c for c in checks if not visit[c[0]]], *s.check_leak, rng)
    return Life(setpoint, leak, visit, warm)


def home_life(rng: random.Random, s: Spread, days: int) -> Life:
    minutes = days * DAY_MIN
    day = rng.uniform(*s.home)
    night = rng.uniform(1.0, 5.0) if rng.random() < 0.55 else 0.0
    office = rng.uniform(1.0, 3.0) if rng.random() < 0.25 else 0.0
    bed, rise = rng.uniform(21.0, 23.5), rng.uniform(5.0, 7.5)
    deeper = rng.uniform(*s.deeper_nights)
    setpoint = [day] * minutes
    for d in range(days + 1):
        # irregular: the timer's hours move and the depth is turned by hand now and then
        depth = night * rng.uniform(1 - s.setback_jitter, 1 + s.setback_jitter)
        if rng.random() < deeper:  # turned down a little more tonight (or at all)
            depth += rng.uniform(*s.deeper_by)
        a = int((d * 24 + bed + rng.uniform(-0.5, 0.5)) * 60)
        b = int(((d + 1) * 24 + rise + rng.uniform(-0.5, 0.5)) * 60)
        for m in range(max(0, a), min(b, minutes)):
            setpoint[m] = day - depth
        if office and d % 7 not in (1, 2):  # the run starts on a Friday
            for m in range(d * DAY_MIN + 8 * 60, min(minutes, d * DAY_MIN + 16 * 60)):
                setpoint[m] = day - office
    leak = [1.0] * minutes
    _open(leak, _intervals(rng, rng.uniform(*s.doors_per_day), 1, 8, minutes), *s.door_leak,
          rng)
    _open(leak, _intervals(rng, rng.uniform(*s.open_long_per_day), *s.open_long_min, minutes),
          *s.open_long_leak, rng)
    _open(leak, _intervals(rng, rng.uniform(*s.left_open_per_day), *s.left_open_min, minutes),
          *s.left_open_leak, rng)
    _open(leak, _intervals(rng, rng.uniform(*s.airing_per_day), *s.airing_min, minutes,
                           (7, 11)), *s.airing_leak, rng)
    return Life(setpoint, leak, [False] * minutes, day, max(night * 1.3, office))


def cellar_life(rng: random.Random, s: Spread, days: int) -> Life:
    minutes = days * DAY_MIN
    guard = rng.uniform(5.0, 10.0)
    leak = [1.0] * minutes
    _open(leak, _intervals(rng, rng.uniform(0.1, 1.0), *s.cellar_door_min, minutes, (7, 21)),
          *s.cellar_door_leak, rng)
    if s.cellar_left_open_per_day is not None:
        _open(leak, _intervals(rng, rng.uniform(*s.cellar_left_open_per_day), *s.left_open_min,
                               minutes, (7, 21)), *s.left_open_leak, rng)
    return Life([guard] * minutes, leak, [False] * minutes, guard)


def _sun(rng: random.Random, s: Spread, days: int) -> list[float]:
    """The sun's gain a minute: clear days strong, cloudy ones faint; a short winter day."""
    peak = rng.uniform(*s.sun_peak)
    clear = rng.uniform(*s.clear_days)
    noon = rng.uniform(10.5, 13.5)
    half = rng.uniform(3.0, 5.0)
    out: list[float] = []
    for _ in range(days):
        f = rng.uniform(0.6, 1.0) if rng.random() < clear else rng.uniform(0.0, 0.2)
        for m in range(DAY_MIN):
            x = (m / 60.0 - noon) / half
            out.append(peak * f * math.cos(x * math.pi / 2) if -1 < x < 1 else 0.0)
    return out


# -- one run ---------------------------------------------------------------------------------

def simulate(seed: int, mode: str, s: Spread = Spread(), days: int = 21) -> Run:
    """Simulate one building for `days`; `mode` is "normal", "failure" or "partial"."""
    rng = random.Random(seed)
    minutes = days * DAY_MIN
    kind = rng.choices(("cabin", "home", "cellar"), (0.45, 0.4, 0.15))[0]
    out = weather(rng, s, minutes)
    life = {"cabin": cabin_life, "home": home_life, "cellar": cellar_life}[kind](rng, s, days)
    b = make_building(rng, s, kind, life.top, min(out))
    sun = _sun(rng, s, days)
    fail_at: int | None = None
    share = 0.0
    if mode != "normal":
        share = 0.0 if mode == "failure" else rng.uniform(0.1, 0.45)
        lo, hi = 4 * DAY_MIN, max(5, days - 4) * DAY_MIN
        in_visit = [m for m in range(lo, hi, 7) if life.visit[m]]
        # a failure during a visit looks like the owners leaving until the usual level
        in_a_visit = bool(in_visit) and rng.random() < s.visit_failures
        fail_at = rng.choice(in_visit) if in_a_visit else rng.randrange(lo, hi)
    trace = run_physics(rng, b, life, out, sun, fail_at, share)
    run = Run(seed=seed, mode=mode, building=b, trace=trace, indoor=[], outdoor=[],
              forecast_error=-1.0, forecast_seed=rng.randrange(1 << 30), offset=0.0, step=0.1,
              cadence=5, gaps=[], fail_at=fail_at, fail_share=share, home_setback=life.setback)
    _read(rng, s, run)
    source = rng.choices(("sensor", "forecast", "none"), (0.5, 0.3, 0.2))[0]
    if source == "sensor":
        run.outdoor = outdoor_readings(rng, out)
    elif source == "forecast":
        run.forecast_error = rng.uniform(0.5, 2.5)
    return run


def run_physics(rng: random.Random, b: Building, life: Life, out: list[float],
                 sun: list[float], fail_at: int | None, share: float) -> Trace:
    tr = Trace(outside=out, setpoint=life.setpoint, sun=sun, visit=life.visit)
    sp0 = life.setpoint[0]
    t_air = sp0
    # the mass where it would settle with the air held at the setpoint
    t_mass = ((b.k_mass_out * out[0] + b.k_air_mass * sp0 + b.k_ground * b.ground)
              / (b.k_mass_out + b.k_air_mass + b.k_ground))
    heating = True
    emitted = 0.0  # what lagging emitters give off now (kelvin-equivalent)
    defrost_left, run_left = 0, rng.randint(30, 90)
    for m in range(len(out)):
        sp = life.setpoint[m]
        if t_air < sp - b.band:
            heating = True
        elif t_air > sp + b.band:
            heating = False
        cap = b.power * (pump_share(out[m]) if b.heat_pump else 1.0)
        if fail_at is not None and m >= fail_at:
            cap *= share
        p = cap if heating else 0.0
        defrosting = False
        if b.heat_pump and p > 0 and out[m] < 6.0:
            if defrost_left > 0:
                defrost_left -= 1
                defrosting = True
                p = -b.defrost_draw * b.power  # the fan stops, the coil draws from the air
            else:
                run_left -= 1
                if run_left <= 0:
                    defrost_left = rng.randint(4, 12)
                    run_left = rng.randint(30, 90) if out[m] < -2 else rng.randint(60, 150)
        if b.lag_h > 0:  # the emitter follows the heater with its lag; a defrost does not
            emitted += (max(p, 0.0) - emitted) * (1.0 - math.exp(-DT_H / b.lag_h))
            to_air, to_mass = emitted * b.heat_to_air + min(p, 0.0), emitted * (1 - b.heat_to_air)
        else:
            to_air = p * b.heat_to_air if p > 0 else p
            to_mass = p * (1 - b.heat_to_air) if p > 0 else 0.0
        t_air, t_mass = advance(b, t_air, t_mass, out[m], to_air + b.sun_to_air * sun[m],
                                to_mass + (1 - b.sun_to_air) * sun[m], door_leak(life.leak[m],
                                                                          t_air - out[m]))
        tr.air.append(t_air)
        tr.door.append(life.leak[m] > 1.0)
        tr.defrost.append(defrosting)
        tr.full_out.append(heating and p > 0 and not defrosting)
    return tr


# -- the sensors -----------------------------------------------------------------------------

def _read(rng: random.Random, s: Spread, run: Run) -> None:
    """The indoor sensor: offset, noise, step, cadence with jitter, dropped readings, gaps."""
    air = run.trace.air
    run.offset = rng.gauss(0.0, 0.3)
    noise = rng.uniform(*s.noise)
    run.step = rng.choice(s.steps)
    run.cadence = rng.choice(s.cadences)
    gaps = []
    for _ in range(rng.randint(*s.gaps)):
        g = rng.randrange(len(air))
        gaps.append((g, g + rng.randint(20, 12 * 60)))
    if rng.random() < 0.1:  # a battery or a gateway out for a day or more, once it has learned
        g = rng.randrange(4 * DAY_MIN, len(air))
        gaps.append((g, g + rng.randint(DAY_MIN, 2 * DAY_MIN)))
    run.gaps = sorted(gaps)
    drop = rng.uniform(0.0, 0.05)
    jitter = max(1, run.cadence * 60 // 5)
    readings: list[Reading] = []
    for m in range(0, len(air), run.cadence):
        if any(a <= m < b for a, b in gaps) or rng.random() < drop:
            continue
        value = round((air[m] + run.offset + rng.gauss(0.0, noise)) / run.step) * run.step
        t = START_MS + m * MIN_MS + rng.randint(0, jitter) * 1000
        readings.append(Reading("indoor", t, round(value, 4)))
    run.indoor = readings


def outdoor_readings(rng: random.Random, out: list[float]) -> list[Reading]:
    """An outdoor sensor: noisy, 5–15 min, with a gap now and then."""
    cadence = rng.choice((5, 10, 15))
    noise = rng.uniform(0.1, 0.5)
    gaps = []
    for _ in range(rng.randint(0, 3)):
        g = rng.randrange(len(out))
        gaps.append((g, g + rng.randint(60, 10 * 60)))
    readings: list[Reading] = []
    for m in range(0, len(out), cadence):
        if any(a <= m < b for a, b in gaps):
            continue
        readings.append(Reading("outdoor", START_MS + m * MIN_MS,
                                round(out[m] + rng.gauss(0.0, noise), 1)))
    return readings


def forecast(run: Run, now_ms: int, hours: int = 72) -> tuple[tuple[int, float], ...]:
    """The forecast issued this hour: hourly points from an hour ago, their error a random
    walk that grows with the lead time (`forecast_error` °C a day), plus the issue's bias."""
    if run.forecast_error < 0:
        return ()
    issued = now_ms // HOUR_MS
    rng = random.Random(run.forecast_seed * 1_000_003 + issued)
    out = run.trace.outside
    err = rng.gauss(0.0, 0.8)
    step = run.forecast_error / math.sqrt(24.0)
    points: list[tuple[int, float]] = []
    for h in range(-1, hours):
        t = (issued + h) * HOUR_MS
        m = (t - START_MS) // MIN_MS
        if m < 0:
            continue
        if m >= len(out):
            break
        if h > 0:
            err += rng.gauss(0.0, step)
        points.append((t, round(out[m] + err, 1)))
    return tuple(points)
