"""Draws the images of docs/history.md with the bot's own chart code, from made-up sensors.

Run: `.venv/bin/python docs/images/generate.py` (writes history-year.png and compare.png here).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from bot.chart import Threshold, bucket, hour_buckets, render_statistics_png  # noqa: E402
from bot.compare import Line, render_compare_png  # noqa: E402
from storage.base import DAY_MS, HOUR_MS  # noqa: E402
from storage.models import HourStats, Reading, Sensor  # noqa: E402
from storage.rollup import summarize_hours  # noqa: E402

ZONE = ZoneInfo("Europe/Helsinki")
END = 1_798_761_600_000  # 2027-01-01 00:00 UTC


def temperature(ms: int, *, mean: float, season: float, day: float) -> float:
    """A year's swing (coldest in late January) and a day's (warmest mid-afternoon)."""
    year = 2 * math.pi * ((ms / DAY_MS - 25) % 365) / 365
    hour = 2 * math.pi * ((ms / HOUR_MS - 14) % 24) / 24
    wobble = math.sin(ms / 7_000_000) * 0.4 + math.sin(ms / 2_900_000) * 0.2
    return round(mean - season * math.cos(year) + day * math.cos(hour) + wobble, 2)


def readings(sensor: str, start: int, end: int, **shape: float) -> list[Reading]:
    return [Reading(sensor, ms, temperature(ms, **shape)) for ms in range(start, end, 300_000)]


def year_chart() -> None:
    start = END - 365 * DAY_MS
    hours: list[HourStats] = summarize_hours(readings("attic", start, END, mean=6, season=11,
                                                      day=3))
    png = render_statistics_png(hours, title="Attic · last 1 year (Europe/Helsinki)", unit="°C",
                                zone=ZONE, window=(start, END),
                                thresholds=[Threshold(3.0, "alert below 3 °C")])
    (HERE / "history-year.png").write_bytes(png)


def compare_chart() -> None:
    start = END - 30 * DAY_MS
    shapes = {"Attic": (6, 11, 3), "Cellar": (5, 4, 0.3), "Living room": (21, 1, 1)}
    lines = []
    for name, (mean, season, day) in shapes.items():
        found = readings(name, start, END, mean=mean, season=season, day=day)
        hours = summarize_hours(found)
        lines.append(Line(Sensor(name.lower(), name, "°C"), hour_buckets(hours),
                          found[-1].value, min(h.minimum for h in hours),
                          max(h.maximum for h in hours)))
    humidity = [Reading("rh", ms, round(55 + 15 * math.sin(ms / 40_000_000), 1))
                for ms in range(start, END, 300_000)]
    values = [r.value for r in humidity]
    lines.append(Line(Sensor("rh", "Cellar humidity", "%"), bucket(humidity), values[-1],
                      min(values), max(values)))
    png = render_compare_png(lines, zone=ZONE, window=(start, END),
                             title="Attic · Cellar · Living room · Cellar humidity · last 30 "
                                   "days (Europe/Helsinki)")
    (HERE / "compare.png").write_bytes(png)


if __name__ == "__main__":
    year_chart()
    compare_chart()
