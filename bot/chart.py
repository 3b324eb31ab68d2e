"""History charts: a line, and a min/max envelope when there are more readings than pixels;
ranges past 48 h are drawn from hourly statistics, a mean line in the min–max band.

matplotlib is imported on the first chart only: it costs ~45 MB that an idle bot should not pay.
"""

from __future__ import annotations

import ctypes
import gc
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from core.formatting import format_value, plural
from storage.models import AlertRule, HourStats, Reading, RuleKind

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

WIDTH_PX, HEIGHT_PX, DPI = 1200, 600, 100
THRESHOLD_COLORS = ("tab:red", "tab:orange", "tab:purple")
Course = Sequence[tuple[int, float, float, float]]  # (epoch ms, expected, low, high)
PLOT_WIDTH_PX = 1100  # the axes' share of the width (0.915): one bucket a pixel column


HALF_HOUR_MS = 1_800_000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Summary:
    minimum: float
    maximum: float
    mean: float
    last: float | None  # None when only statistics were read
    count: int


def summarize(readings: list[Reading]) -> Summary:
    values = [r.value for r in readings]
    return Summary(min(values), max(values), fmean(values), values[-1], len(values))


def summarize_statistics(hours: list[HourStats], last: Reading | None) -> Summary:
    count = sum(h.n for h in hours)
    return Summary(min(h.minimum for h in hours), max(h.maximum for h in hours),
                   sum(h.mean * h.n for h in hours) / count, last.value if last else None, count)


@dataclass(frozen=True)
class Buckets:
    """Per pixel column: the mean time, and the min, max and mean value."""

    times_ms: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray
    means: np.ndarray


def bucket(readings: list[Reading], columns: int = PLOT_WIDTH_PX) -> Buckets:
    """Readings grouped into at most `columns` equal time slices (empty slices dropped)."""
    import numpy as np

    times = np.fromiter((r.timestamp for r in readings), dtype=np.int64, count=len(readings))
    values = np.fromiter((r.value for r in readings), dtype=np.float64, count=len(readings))
    if len(readings) <= columns:
        return Buckets(times, values, values, values)
    span = max(1, int(times[-1] - times[0]))
    slots = np.minimum((times - times[0]) * columns // span, columns - 1)
    starts = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]])
    counts = np.diff(np.r_[starts, len(times)])
    return Buckets(
        np.add.reduceat(times, starts) // counts,
        np.minimum.reduceat(values, starts),
        np.maximum.reduceat(values, starts),
        np.add.reduceat(values, starts) / counts,
    )


def hour_buckets(hours: list[HourStats], columns: int = PLOT_WIDTH_PX) -> Buckets:
    """Hours (ascending) at their middle. More hours than columns are merged into whole days
    (UTC; several a bucket when even days outnumber the columns), so a day's swing widens the
    min–max band instead of zigzagging the mean: the lowest minimum, the highest maximum,
    the mean weighed by readings, at the readings' mean time."""
    import numpy as np

    times = np.fromiter((h.hour + HALF_HOUR_MS for h in hours), dtype=np.int64, count=len(hours))
    mins, maxs, means, counts = (np.fromiter((getattr(h, name) for h in hours),
                                             dtype=np.float64, count=len(hours))
                                 for name in ("minimum", "maximum", "mean", "n"))
    if len(hours) <= columns:
        return Buckets(times, mins, maxs, means)
    days = -(-int(times[-1] - times[0]) // DAY_MS // columns) or 1
    slots = times // (days * DAY_MS)
    starts = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]])
    weights = np.add.reduceat(counts, starts)
    return Buckets((np.add.reduceat(times * counts, starts) // weights).astype(np.int64),
                   np.minimum.reduceat(mins, starts), np.maximum.reduceat(maxs, starts),
                   np.add.reduceat(means * counts, starts) / weights)


def caption(name: str, unit: str | None, summary: Summary, label: str) -> str:
    shown = [f"{word} {format_value(value, unit)}" for word, value in (
        ("min", summary.minimum), ("max", summary.maximum), ("mean", summary.mean),
        ("last", summary.last)) if value is not None]
    return f"{name} · {label}\n" + " · ".join(shown) + f"\n{plural(summary.count, 'reading')}"


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str  # "alert below 3 °C"


def threshold_lines(rules: list[AlertRule], sensor_id: str, unit: str | None) -> list[Threshold]:
    """The thresholds of the sensor's below/above rules, one line each."""
    found: dict[tuple[str, float], Threshold] = {}
    for rule in rules:
        spec = rule.spec
        if rule.sensor == sensor_id and spec.kind is not RuleKind.STALE and \
                spec.threshold is not None:
            found[(spec.kind, spec.threshold)] = Threshold(
                spec.threshold, f"alert {spec.kind} {format_value(spec.threshold, unit)}")
    return sorted(found.values(), key=lambda t: t.value)


def literal(text: str) -> str:
    """Text matplotlib draws as it is: a `$` would start mathtext (`$\\undefined$` breaks it)."""
    return text.replace("$", r"\$")


def render_png(readings: list[Reading], *, title: str, unit: str | None, zone: ZoneInfo,
               window: tuple[int, int] | None = None,
               thresholds: Sequence[Threshold] = (), prediction: Course = ()) -> bytes:
    """A PNG of the readings in the chat's local time, over `window` (epoch ms) when given,
    with a dashed line per alert threshold and, after now, the heating watch's prediction
    (dashed, with its range); `readings` ascending and non-empty."""
    figure = draw(readings, title=title, unit=unit, zone=zone, window=window,
                  thresholds=thresholds, prediction=prediction)
    return png_of(figure)


def render_statistics_png(hours: list[HourStats], *, title: str, unit: str | None,
                          zone: ZoneInfo, window: tuple[int, int] | None = None,
                          thresholds: Sequence[Threshold] = ()) -> bytes:
    """A PNG of hourly statistics: the mean line in the min–max band; `hours` non-empty."""
    return png_of(draw_buckets(hour_buckets(hours), enveloped=True, title=title, unit=unit,
                               zone=zone, window=window, thresholds=thresholds))


def png_of(figure: Figure) -> bytes:
    """The figure as a 256-colour PNG: a chart has few colours, and the palette makes the file
    a third the size (a 30-day chart ~70 KB) in half the encoding time of RGBA. The figure is
    cleared afterwards and its memory released."""
    try:
        return palette_png(figure)
    finally:
        _release(figure)


def palette_png(figure: Figure) -> bytes:
    """Drawn on an Agg canvas and encoded from its pixels where they lie: savefig would copy
    the 2.9 MB of them twice on their way, and take longer than the drawing."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = canvas.buffer_rgba()
    image = Image.frombuffer("RGBA", (pixels.shape[1], pixels.shape[0]), pixels, "raw", "RGBA",
                             0, 1)
    output = io.BytesIO()
    image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(
        output, format="png", compress_level=1)
    return output.getvalue()


def _release(figure: Figure) -> None:
    """Free a drawn figure's canvas, axes and artists now. A figure is a web of reference
    cycles: left to the cycle collector, several charts' worth piled up (+35 MB after 8
    charts). Then give the freed heap back to the system."""
    from matplotlib.backend_bases import FigureCanvasBase

    FigureCanvasBase(figure)  # the figure lets go of the Agg canvas, and it of its pixels
    figure.clear()
    gc.collect()
    _trim_heap()


def _trim_heap() -> None:
    # The process's own symbols include the C library's; malloc_trim is glibc's (Linux).
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def draw(readings: list[Reading], *, title: str, unit: str | None, zone: ZoneInfo,
         window: tuple[int, int] | None = None, thresholds: Sequence[Threshold] = (),
         prediction: Course = ()) -> Figure:
    """The chart as a matplotlib Figure. Names and units are drawn literally, never as
    mathtext."""
    buckets = bucket(readings)
    return draw_buckets(buckets, enveloped=len(readings) > len(buckets.means), title=title,
                        unit=unit, zone=zone, window=window, thresholds=thresholds,
                        prediction=prediction)


def new_figure(zone: ZoneInfo) -> tuple[Figure, Callable[[Iterable[int]], Any]]:
    """An empty chart-sized Figure, and a function from epoch ms to its x coordinates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    def x_of(times_ms: Iterable[int]) -> Any:
        return mdates.date2num([datetime.fromtimestamp(ms / 1000, zone) for ms in times_ms])

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    # Fixed margins: tight_layout would cost more than the drawing itself.
    figure.subplots_adjust(left=0.07, right=0.985, top=0.93, bottom=0.1)
    return figure, x_of


def time_axis(axes: Any, zone: ZoneInfo, x_of: Callable[[Iterable[int]], Any],
              window: tuple[int, int] | None) -> None:
    """Local-time ticks, over `window` when given."""
    import matplotlib.dates as mdates

    if window is not None:
        axes.set_xlim(*x_of(window))
    locator = mdates.AutoDateLocator(tz=zone)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))
    axes.grid(True, alpha=0.3)


def lone_marker(times: Sequence[Any]) -> str | None:
    """A dot for a series of one point (a sensor's first reading, a sensor begun within the
    range's last hour), which a line alone would leave invisible; else no marker."""
    return "o" if len(times) == 1 else None


def draw_buckets(buckets: Buckets, *, enveloped: bool, title: str, unit: str | None,
                 zone: ZoneInfo, window: tuple[int, int] | None = None,
                 thresholds: Sequence[Threshold] = (), prediction: Course = ()) -> Figure:
    figure, x_of = new_figure(zone)
    times = x_of(buckets.times_ms.tolist())
    axes = figure.add_subplot()
    if enveloped:
        axes.fill_between(times, buckets.mins, buckets.maxs, color="tab:blue", alpha=0.25,
                          linewidth=0, label="min–max")
    axes.plot(times, buckets.means, color="tab:blue", linewidth=1.4,
              marker=lone_marker(times), label="mean" if enveloped else "reading")
    for number, threshold in enumerate(thresholds):
        axes.axhline(threshold.value, color=THRESHOLD_COLORS[number % len(THRESHOLD_COLORS)],
                     linestyle="--", linewidth=1.1, label=literal(threshold.label))
    if prediction:
        ahead = x_of([point[0] for point in prediction])
        axes.fill_between(ahead, [p[2] for p in prediction], [p[3] for p in prediction],
                          color="tab:red", alpha=0.15, linewidth=0, label="likely range")
        axes.plot(ahead, [p[1] for p in prediction], color="tab:red", linestyle="--",
                  linewidth=1.4, label="expected without heating")
        if window is not None:  # the window reaches as far as the prediction
            window = (window[0], max(window[1], prediction[-1][0]))
    time_axis(axes, zone, x_of, window)
    axes.set_title(title, parse_math=False)
    axes.set_ylabel(unit or "value", parse_math=False)
    if thresholds or enveloped or prediction:
        axes.legend(loc="best", fontsize="small", framealpha=0.8)
    return figure
