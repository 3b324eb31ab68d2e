"""The heating watch: says the heating has stopped, hours before the pipes are cold, and when
the sensor will reach 0 °C. Pure: `now` is passed in, no I/O, no clock.

How it works:
- Silent for the first MIN_DAYS of readings. Then, at most daily (`learn.py`), it reads 14 days
  of history: each day's lower quartile is what the heating held that day (sunny afternoons and
  visits only raise a day), the median day is the usual `level`; how far a day's lowest 3 % go
  below it is the sensor's own daily life (thermostat band, defrost dips), the `band`.
- τ, the building's unheated cooling time, comes from the falls in that history (runs of
  15-minute means that only fall: evenings after sun, visits ending, long off-cycles), as the
  slope of ln(T − outside), blended with the prior 30 h (15–55 h) by how many hours back it.
- Each cycle (`watch.py`) looks at the latest reading only while it is at the usual level. Below
  `level − band − 0.3 °C` for 45 min it reads 3 h of history: it fires if the readings are still
  at their lowest (a door or defrost recovers by then) and falling at least 0.3 of the rate an
  unheated building falls towards the outside (a heater that barely keeps up sags slower).
- It fires once, then only tracks the lowest reading; back at `level − band` it says so once.
- The ETA (`eta.py`) steps T' = (outside − T)/τ through the forecast (or the outdoor sensor
  held), the range from τ's range and ±1.5 °C outside; without outside data the indoor fall
  and τ give where it is heading (T + rate·τ).
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
from alerts.heating.watch import curve, evaluate, predict, replay, turned_down

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
    "turned_down",
]
