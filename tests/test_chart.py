"""Chart bucketing (pure) and the PNG it draws."""

from __future__ import annotations

import gc
from zoneinfo import ZoneInfo

import pytest

from bot.chart import (
    Threshold,
    bucket,
    caption,
    draw,
    png_of,
    render_png,
    summarize,
    threshold_lines,
)
from storage.models import AlertRule, Reading, RuleKind, RuleSpec

NOW = 1_767_600_000_000


def minutes(count: int) -> list[Reading]:
    return [Reading("attic", NOW - (count - i) * 60_000, (i % 100) / 10 - 3) for i in range(count)]


def test_few_readings_are_drawn_as_they_are():
    readings = minutes(50)

    buckets = bucket(readings, columns=100)

    assert list(buckets.means) == [r.value for r in readings]


def test_many_readings_become_one_envelope_column_a_pixel():
    readings = minutes(43_200)

    buckets = bucket(readings, columns=1000)

    assert len(buckets.means) == 1000
    assert min(buckets.mins) == min(r.value for r in readings)
    assert max(buckets.maxs) == max(r.value for r in readings)
    assert all(lo <= mean <= hi for lo, mean, hi in zip(buckets.mins, buckets.means,
                                                        buckets.maxs, strict=True))
    assert list(buckets.times_ms) == sorted(buckets.times_ms)


def test_the_caption_carries_min_max_mean_last():
    text = caption("Attic", "°C", summarize([Reading("a", 1, -1.5), Reading("a", 2, 3.5)]),
                   "last 24 h")

    assert text == "Attic · last 24 h\nmin −1.5 °C · max 3.5 °C · mean 1 °C · last 3.5 °C\n" \
                   "2 readings"


def test_it_draws_a_valid_png_of_sensible_size():
    png = render_png(minutes(43_200), title="Attic", unit="°C", zone=ZoneInfo("Europe/Helsinki"))

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert 10_000 < len(png) < 500_000
    assert png[16:24] == (1200).to_bytes(4, "big") + (600).to_bytes(4, "big")  # IHDR size


HELSINKI = ZoneInfo("Europe/Helsinki")
WEEK_MS = 7 * 86_400_000


def test_it_shows_the_requested_window_not_just_the_data_span():
    import matplotlib.dates as mdates

    window = (NOW - WEEK_MS, NOW)
    figure = draw(minutes(600), title="Attic", unit="°C", zone=HELSINKI, window=window)

    left, right = figure.axes[0].get_xlim()
    assert mdates.num2date(left).timestamp() * 1000 == pytest.approx(window[0], abs=1000)
    assert mdates.num2date(right).timestamp() * 1000 == pytest.approx(window[1], abs=1000)


def test_it_draws_a_line_for_each_threshold_with_a_legend():
    thresholds = [Threshold(3.0, "alert below 3 °C"), Threshold(25.0, "alert above 25 °C")]

    figure = draw(minutes(43_200), title="Attic", unit="°C", zone=HELSINKI,
                  thresholds=thresholds)

    axes = figure.axes[0]
    levels = [line.get_ydata()[0] for line in axes.get_lines() if line.get_linestyle() == "--"]
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert levels == [3.0, 25.0]
    assert labels == ["min–max", "mean", "alert below 3 °C", "alert above 25 °C"]


def test_it_takes_thresholds_from_the_sensors_threshold_rules_only():
    rules = [AlertRule("alice", "r1", "attic", RuleSpec(RuleKind.BELOW, 3), NOW),
             AlertRule("alice", "r2", "attic", RuleSpec(RuleKind.STALE, stale_s=3600), NOW),
             AlertRule("alice", "r3", "cellar", RuleSpec(RuleKind.ABOVE, 9), NOW),
             AlertRule("alice", "r4", "attic", RuleSpec(RuleKind.ABOVE, 30.5), NOW)]

    lines = threshold_lines(rules, "attic", "°C")

    assert lines == [Threshold(3.0, "alert below 3 °C"), Threshold(30.5, "alert above 30.5 °C")]


@pytest.mark.parametrize("name", ["$$", r"$\undefinedmacro$", "costs $5 or $6", "a_b^c $x"])
def test_it_draws_names_and_units_literally(name):
    png = render_png(minutes(100), title=f"{name} · last 24 h", unit=name, zone=HELSINKI,
                     thresholds=[Threshold(1.0, f"alert below 1 {name}")])

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    figure = draw(minutes(100), title=name, unit=name, zone=HELSINKI)
    assert figure.axes[0].get_title() == name


def test_a_drawn_chart_leaves_no_axes_for_the_collector():
    from matplotlib.axes import Axes

    readings = [Reading("attic", 1_800_000_000_000 + i * 60_000, i % 9) for i in range(2000)]
    gc.disable()  # only png_of's own release may free the chart's axes and artists
    try:
        render_png(readings, title="attic", unit="°C", zone=ZoneInfo("UTC"))
        axes = [o for o in gc.get_objects() if isinstance(o, Axes)]
    finally:
        gc.enable()

    assert axes == []


def test_a_drawn_chart_lets_go_of_its_pixels_at_once():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    readings = [Reading("attic", 1_800_000_000_000 + i * 60_000, i % 9) for i in range(2000)]
    gc.disable()  # the canvas must be freed by reference counting, not by a later collection
    try:
        png_of(draw(readings, title="attic", unit="°C", zone=ZoneInfo("UTC")))
        canvases = [o for o in gc.get_objects() if isinstance(o, FigureCanvasAgg)]
    finally:
        gc.enable()

    assert canvases == []


def test_charts_are_drawn_on_one_thread():
    import asyncio
    import threading

    from bot.context import BotServices

    services = BotServices(store=None, settings=None)  # type: ignore[arg-type]

    async def twice() -> set[str]:
        names = await asyncio.gather(*(services.draw(lambda: threading.current_thread().name)
                                       for _ in range(4)))
        return set(names)

    assert asyncio.run(twice()) == {"charts_0"}


def test_a_heating_prediction_is_drawn_dashed_with_its_range_after_now():
    from zoneinfo import ZoneInfo

    from bot.chart import draw
    from storage.models import Reading

    now = 1_800_000_000_000
    readings = [Reading("attic", now - (60 - m) * 60_000, 8.0 - m / 30) for m in range(61)]
    course = [(now + h * 3_600_000, 6.0 - 0.6 * h, 6.0 - 0.9 * h, 6.0 - 0.4 * h)
              for h in range(13)]

    figure = draw(readings, title="Attic", unit="°C", zone=ZoneInfo("UTC"),
                  window=(now - 86_400_000, now), prediction=course)

    axes = figure.axes[0]
    [expected] = [line for line in axes.get_lines()
                  if line.get_label() == "expected without heating"]
    assert expected.get_linestyle() == "--"
    assert len(axes.collections) == 1  # the range band
    assert axes.get_xlim()[1] > axes.get_xlim()[0] + 1.4  # the window reaches past now


def test_a_sensors_first_reading_is_drawn_as_a_dot_not_an_empty_chart():
    """A line needs two points: the one reading a new sensor has would leave the chart blank."""
    one = draw([Reading("attic", NOW, 21.5)], title="attic", unit="°C", zone=ZoneInfo("UTC"),
               window=(NOW - 86_400_000, NOW))
    many = draw(minutes(50), title="attic", unit="°C", zone=ZoneInfo("UTC"))

    [dot] = one.axes[0].get_lines()
    [line] = many.axes[0].get_lines()
    assert dot.get_marker() == "o" and list(dot.get_ydata()) == [21.5]
    assert line.get_marker() in ("None", "", None)
