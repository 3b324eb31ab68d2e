"""What /sensors shows (pure): each sensor once, a device's sensors together under its id.

A device's readings arrive as `<device>/<reading>` (`ruuvi/D8:BF:48:C1:DA:4B/battery`), so a
list of a few tags or Shelly and Tasmota devices would otherwise be a wall of long ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.formatting import format_ago, format_value
from storage.models import Reading, Sensor


def sensor_lines(sensors: Sequence[Sensor], latest: Mapping[str, Reading],
                 states: Mapping[str, Sequence[str]], now_ms: int) -> list[str]:
    """One entry per sensor; sensors sharing a device (two or more) under its id, by reading."""
    devices: dict[str, list[Sensor]] = {}
    for sensor in sensors:
        devices.setdefault(device_of(sensor.sensor_id), []).append(sensor)
    lines, shown = [], set()
    for sensor in sensors:
        device = device_of(sensor.sensor_id)
        members = devices[device] if device else []
        if len(members) < 2:
            lines.append(f"{label(sensor, sensor.sensor_id)}\n  "
                         f"{status(sensor, latest, states, now_ms)}")
        elif device not in shown:
            shown.add(device)
            lines.append(device + "".join(
                f"\n  {label(member, member.sensor_id[len(device) + 1:])}: "
                f"{status(member, latest, states, now_ms)}" for member in members))
    return lines


def device_of(sensor_id: str) -> str:
    """`ruuvi/D8:BF:48:C1:DA:4B` of `ruuvi/D8:BF:48:C1:DA:4B/battery`; "" for a plain id."""
    return sensor_id.rpartition("/")[0]


def label(sensor: Sensor, short_id: str) -> str:
    """`Attic (attic)` for a named sensor, the id alone for one that has no name of its own."""
    if sensor.name and sensor.name != sensor.sensor_id:
        return f"{sensor.name} ({short_id})"
    return short_id


def status(sensor: Sensor, latest: Mapping[str, Reading], states: Mapping[str, Sequence[str]],
           now_ms: int) -> str:
    last = latest.get(sensor.sensor_id)
    seen = (f"{format_value(last.value, sensor.unit)} · last seen "
            f"{format_ago(last.timestamp, now_ms)}") if last else "no recent readings"
    alert = states.get(sensor.sensor_id)
    return seen + (f" · alerts: {', '.join(alert)}" if alert else "")
