"""/sensors: each id once, a device's sensors together under the device's id."""

from __future__ import annotations

from bot.sensor_list import sensor_lines
from storage.models import Reading, Sensor

NOW = 1_800_000_000_000
TAG = "ruuvi/D8:BF:48:C1:DA:4B"


def reading(sensor: str, value: float) -> Reading:
    return Reading(sensor, NOW - 60_000, value)


def test_a_sensor_without_a_name_shows_its_id_once_and_a_named_one_both():
    sensors = [Sensor("attic", "Attic", "°C"), Sensor("sauna")]
    latest = {"attic": reading("attic", 2.5), "sauna": reading("sauna", 71.5)}

    lines = sensor_lines(sensors, latest, {"attic": ["firing"]}, NOW)

    assert lines == ["Attic (attic)\n  2.5 °C · last seen 1 min ago · alerts: firing",
                     "sauna\n  71.5 · last seen 1 min ago"]


def test_a_devices_sensors_come_together_under_its_id():
    sensors = [Sensor("attic", "Attic", "°C"), Sensor(f"{TAG}/battery", unit="V"),
               Sensor(f"{TAG}/humidity", unit="%"), Sensor(f"{TAG}/temperature", "Loft", "°C"),
               Sensor("garage/temperature", unit="°C")]
    latest = {s.sensor_id: reading(s.sensor_id, 2.0) for s in sensors}

    lines = sensor_lines(sensors, latest, {}, NOW)

    assert lines == [
        "Attic (attic)\n  2 °C · last seen 1 min ago",
        f"{TAG}\n  battery: 2 V · last seen 1 min ago\n  humidity: 2% · last seen 1 min ago\n"
        "  Loft (temperature): 2 °C · last seen 1 min ago",
        "garage/temperature\n  2 °C · last seen 1 min ago"]  # alone: no group of one
    assert "\n".join(lines).count(TAG) == 1
