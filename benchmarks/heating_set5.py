"""Set 5: the heating watch on set 4's simulator with its options on and its spreads widened,
until the issue's three calibration figures hold at once. Run:
`.venv/bin/python benchmarks/heating_set5.py [--quick] [--seed N]`.

The figures, the baselines and the report are set 4's (`heating_set4.py`): the naive detector
(usual low − 1 °C for 30 min) should warn falsely about 4.5 times per 180 days, the quickest
threshold-and-hold detector with no false warning should have a median delay of about 1.4 h,
and the slope ETA should be off by about half the time left. Only the houses were adjusted,
never the watch.

What set 5 adds to set 4's houses:
- emitters that lag (fan heaters minutes, water radiators up to half an hour, floors an hour
  or more), so a thermostat overshoots and undershoots its band, most after a visit or a
  setback;
- lighter, more air-coupled buildings (a smaller share of the capacity in the air, a weaker
  link from the air to the mass), so a failure shows sooner and a door bites deeper;
- cabins set up while at frost guard (no visit in the first week), caretakers and cellar
  doors left open longer, homes whose nights are now and then turned down further;
- noisier sensors every 5–10 minutes, heat pumps whose defrosts draw more from the air;
- failures at a random hour more often than set 4's (fewer put in a visit, fewer partial).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.heating_set4 import BenchSet, main
from benchmarks.heating_set4_sim import Spread

SPREAD = Spread(
    emitter_lag_h=(0.03, 0.3), floor_lag_h=(0.5, 1.2), first_visit_week=1,
    visit_failures=0.15, check_min=(25, 45), cellar_left_open_per_day=(0.02, 0.1),
    cellar_door_min=(3, 15), cellar_door_leak=(1.5, 4.0), left_open_per_day=(0.05, 0.25),
    air_loss=(0.3, 0.75), air_mass=(2.0, 10.0), air_share=(0.02, 0.08),
    deeper_nights=(0.0, 0.15), deeper_by=(0.7, 1.5), cadences=(5, 5, 5, 10, 10),
    noise=(0.02, 0.2), defrost_draw=(0.0, 0.15),
)
SET5 = BenchSet(name="set 5", spread=SPREAD, first_seed=500_000, counts=(100, 20, 160),
                quick=(33, 7, 53), description=__doc__.splitlines()[0] if __doc__ else None)

if __name__ == "__main__":
    main(SET5)
