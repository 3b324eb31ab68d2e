"""The heating watch: says the heating has stopped, hours before the pipes are cold, and when
the sensor will reach 0 °C. Pure: `now` is passed in, no I/O, no clock.

How it works:
- Silent for the first MIN_DAYS. Then at most daily (`learn.py`) it reads 14 days: each day's
  lower quartile is what the heating held (sun and visits only raise a day); the median day
  is the usual `level` — of the days 3 °C below it when there are two of them, or a quarter of
  the days (a holiday or a first days' visit at a frost-guard cabin made the warm ones). Each
  day's lowest 30-minute hold (doors and defrost dips are shorter) below it, the
  second-deepest day, is the `band` of the sensor's own life (thermostat, setback).
  The sensor's noise and its step (a 0.5 °C sensor hops a whole step) widen the checks' tolerances.
- τ, the unheated cooling time, comes from the falls in that history (evenings, visits ending,
  setbacks, long off-cycles): mean distance to the outside over the slope of each fall from
  where it leaves its top, past its first 30 % (the air's quick drop), weighed by hours and
  depth (under 3 °C, off-cycles with warm radiators read slow), the lower part of them (sunny
  evenings fall slower), blended with the prior 30 h (15–55 h) by the weight behind it;
  the falls counted (what the ETA trusts it by) are those weighing an hour of a deep fall.
  Deep falls alone (each worth two hours of one, read to where they first reach their bottom
  and weighed by the depth of the part fitted) give `deep_tau_h`, the building's own τ.
- A cycle looks only at the latest reading while it is at the usual level. Below
  `level − band − 0.3 °C` for 15 min it reads 3 h of history and fires when the fall has lasted
  50 min (a door of 45 min or a defrost recovers by then) — timed from its last sudden step (a
  door opened in a house already sagging), or from the first reading after the last one at
  the level (a door opened in the gap between them) — never rose on the way, is still at its
  lowest, and falls at least 0.3 of the unheated rate towards the outside (a weak heater sags
  slower; the outside is the outdoor sensor's, else the forecast's nearest hour); below 4.5 °C
  it waits 10 and 25 min instead, refusing falls 4× faster than unheated (a door), and 15 min
  instead of 25 when the fall is one of the thermostat's off-cycles that never ended
  (`cycles.py`: past the lowest its off-cycles in the history turned at, and no quicker than
  their quick ones — per kelvin above the outside when it is known — to get there).
- It fires once, then only tracks the lowest reading; back at `level − band` it says so once.
- The ETA (`eta.py`) steps T' = (outside − T)/τ through the forecast (or the outdoor sensor
  held); τ blends the learned one with the fall's own (read as a two-node knee when it can be,
  then the learned τ weighs at most 20 %; a fall still in the air's quick drop leans on the
  learned τ), leaning early — or `deep_tau_h` at 80 %, not leaning, unless the fall shows a
  τ past twice it (a heater partly working); the range is τ × e^±0.45 and ±1.5 °C outside.
  Without outside data: 1.1–6 × the straight line of the fall.
"""

from __future__ import annotations

from alerts.heating.model import (
    DAY_MS,
    HOUR_MS,
    LEARN_DAYS,
    MIN_DAYS,
    RELEARN_MS,
    HeatingEvent,
    HeatingMemory,
    HeatingModel,
    HeatingPhase,
    HeatingStep,
    Outside,
    Prediction,
)
from alerts.heating.watch import curve, evaluate, predict, replay, replay_steps, turned_down

__all__ = [
    "DAY_MS",
    "HOUR_MS",
    "LEARN_DAYS",
    "MIN_DAYS",
    "RELEARN_MS",
    "HeatingEvent",
    "HeatingMemory",
    "HeatingModel",
    "HeatingPhase",
    "HeatingStep",
    "Outside",
    "Prediction",
    "curve",
    "evaluate",
    "predict",
    "replay",
    "replay_steps",
    "turned_down",
]
