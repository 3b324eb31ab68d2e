"""Set 5: the heating watch on set 4's simulator with its options on and its spreads widened,
until the issue's three calibration figures hold at once. Run:
`.venv/bin/python benchmarks/heating_set5.py [--quick] [--seed N]`.

The figures, the baselines and the report are set 4's (`heating_set4.py`): the naive detector
(usual low − 1 °C for 30 min) should warn falsely about 4.5 times per 180 days, the quickest
threshold-and-hold detector with no false warning should have a median delay of about 1.4 h,
and the slope ETA should be off by about half the time left. Only the houses were adjusted,
never the watch.

What set 5 changes from set 4's houses (the rest is set 4's):
- lighter buildings (τ 10–45 h rather than 15–55 h; wooden cabins cool fast), more
  air-coupled (a smaller share of the capacity in the air, a weaker link from the air to the
  mass), so a failure shows sooner and a door bites deeper;
- emitters that lag (fan heaters minutes, water radiators up to 20 minutes, floors up to an
  hour), so a thermostat overshoots and undershoots its band, and a failed radiator still
  warms a while;
- doors and windows left open for half an hour (30–40 min, wide open) every 3–20 days in
  homes and cellars, and caretakers who leave a cabin's door open as long; heat pumps whose
  defrosts draw more from the air;
- cabins set up while at frost guard (no visit the first weekend);
- noisier sensors every 5–10 minutes;
- failures at a random minute (set 4 puts 40 % of those at cabins with visits into a visit),
  and fewer partial failures.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.heating_set4 import BenchSet, main
from benchmarks.heating_set4_sim import Spread

SPREAD = Spread(
    tau_h=(10.0, 45.0), air_share=(0.02, 0.08), air_mass=(3.0, 10.0), air_loss=(0.3, 0.7),
    emitter_lag_h=(0.03, 0.3), floor_lag_h=(0.5, 1.2), defrost_draw=(0.0, 0.15),
    first_visit_week=1, visit_failures=0.0,
    left_open_per_day=(0.05, 0.3), left_open_min=(30, 40), left_open_leak=(3.0, 7.0),
    checks_per_day=(0.05, 0.4), check_min=(30, 40), check_leak=(3.0, 7.0),
    cellar_left_open_per_day=(0.05, 0.3), cellar_door_min=(3, 15), cellar_door_leak=(1.5, 4.0),
    cadences=(5, 5, 5, 10, 10), noise=(0.02, 0.2),
)
SET5 = BenchSet(name="set 5", spread=SPREAD, first_seed=500_000, counts=(108, 12, 160),
                quick=(36, 4, 53), description=__doc__.splitlines()[0] if __doc__ else None)

if __name__ == "__main__":
    main(SET5)
