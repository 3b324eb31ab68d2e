"""`sensorbot sensors delete`: which sensors, deleting them a few at a time, and the tally."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from alerts.actions import forget_sensor
from storage.base import DeletionProgress, SensorDeletion, Store

PARALLEL_SENSORS = 4
EXAMPLE = "e.g. sensorbot sensors delete summer-cottage attic, or --prefix zigbee2mqtt/"


def chosen_sensors(store: Store, user_id: str, sensor: str | None, prefix: str | None
                   ) -> list[str]:
    """The one sensor named, or every sensor whose id starts with `prefix`. ValueError for a
    bad choice, LookupError when none matches."""
    if (sensor is None) == (prefix is None):
        raise ValueError(f"give a sensor or --prefix, not both nor neither ({EXAMPLE})")
    if sensor is not None:
        if store.get_sensor(user_id, sensor) is None:
            raise LookupError(f"user {user_id!r} has no sensor {sensor!r}")
        return [sensor]
    if not prefix:
        raise ValueError(f"--prefix needs at least one character ({EXAMPLE})")
    found = [s.sensor_id for s in store.list_sensors(user_id) if s.sensor_id.startswith(prefix)]
    if not found:
        raise LookupError(f"user {user_id!r} has no sensor whose id starts with {prefix!r}")
    return found


@dataclass
class Tally:
    """What the deletions have done so far, across the sensors deleted at once."""

    deleted: list[SensorDeletion] = field(default_factory=list)
    running: dict[str, DeletionProgress] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def readings(self) -> int:
        return sum(d.readings for d in self.deleted) + \
            sum(p.readings for p in self.running.values())

    def units(self) -> tuple[float, float]:
        done = [(d.read_units, d.write_units) for d in self.deleted] + \
            [(p.read_units, p.write_units) for p in self.running.values()]
        return sum(r for r, _ in done), sum(w for _, w in done)

    def progress_line(self, total: int) -> str:
        read, write = self.units()
        return (f"deleted {len(self.deleted):,} of {total:,} sensors, {self.readings():,} "
                f"readings; {read:,.1f} read units, {write:,.1f} write units")

    def summary(self) -> str:
        read, write = self.units()
        rules = sum(d.rules for d in self.deleted)
        return (f"deleted {len(self.deleted):,} sensor(s) with {self.readings():,} readings and "
                f"{rules:,} alert rule(s); consumed {read:,.1f} read and {write:,.1f} write "
                "units (0 on SQLite)")


def forget_all(store: Store, user_id: str, sensors: list[str], *,
               progress: Callable[[Tally], None]) -> Tally:
    """Delete each sensor with its rules and readings, a few at once."""
    tally = Tally()

    def forget(sensor: str) -> None:
        def step(now: DeletionProgress) -> None:
            with tally.lock:
                tally.running[sensor] = now
                progress(tally)

        done = forget_sensor(store, user_id, sensor, progress=step)
        with tally.lock:
            tally.running.pop(sensor, None)
            tally.deleted.append(done)
            progress(tally)

    with ThreadPoolExecutor(PARALLEL_SENSORS, thread_name_prefix="forget") as pool:
        list(pool.map(forget, sensors))
    tally.deleted.sort(key=lambda d: d.sensor)
    return tally
