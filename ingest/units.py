"""Units set on a sensor the first time a device reports it, never over the user's choice."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from ingest.payloads import DeviceReading
from storage.base import Store
from storage.errors import StorageError

log = logging.getLogger("sensorbot.devices")


class FirstSight:
    """Remembers which sensors this process has looked at, so a reading costs no extra
    storage call once its sensor has been seen."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def note(self, user_id: str, found: Iterable[DeviceReading], *, now_ms: int) -> None:
        """Give each new sensor with a known unit that unit, if it has none yet."""
        units = {d.reading.sensor: d.unit for d in found if d.unit}
        with self._lock:
            new = {s: u for s, u in units.items() if (user_id, s) not in self._seen}
        for sensor, unit in new.items():
            try:
                current = self._store.get_sensor(user_id, sensor)
                if current is not None and current.unit is None:
                    self._store.update_sensor(user_id, sensor, now_ms=now_ms, unit=unit)
            except StorageError as exc:  # bookkeeping: the readings are stored; retry next time
                log.warning("could not set the unit of %s: %s", sensor, exc)
                continue
            with self._lock:
                self._seen.add((user_id, sensor))
