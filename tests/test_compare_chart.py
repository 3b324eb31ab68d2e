"""Drawing statistics and /compare (pure): buckets of hours, axes per unit, literal names."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.chart import bucket, hour_buckets, render_statistics_png
from bot.compare import Line, draw_compare, render_compare_png, split_compare_args, too_many_units
from storage.models import HourStats, Reading, Sensor

HOUR = 3_600_000
NOW = 1_767_600_000_000
ZONE = ZoneInfo("Europe/Helsinki")


def hours(count: int) -> list[HourStats]:
    return [HourStats(NOW - (count - i) * HOUR, 1 + i % 3, i % 10 - 5.0, i % 10 + 5.0,
                      float(i % 10), NOW - (count - i) * HOUR, NOW - (count - i) * HOUR)
            for i in range(count)]


def test_a_year_of_hours_is_merged_into_days_weighing_means_by_readings():
    year = hours(8760)

    merged = hour_buckets(year)

    assert len(merged.means) == 366  # NOW is mid-day: the first and last days are partial
    assert merged.mins.min() == -5.0 and merged.maxs.max() == 14.0
    day = [h for h in year if h.hour // 86_400_000 == year[100].hour // 86_400_000]
    assert len(day) == 24
    assert merged.means[year[100].hour // 86_400_000 - year[0].hour // 86_400_000] == \
        pytest.approx(sum(h.mean * h.n for h in day) / sum(h.n for h in day))
    assert len(hour_buckets(year, columns=100).means) == 92  # four days a bucket


def test_few_hours_are_drawn_one_point_each_at_their_middle():
    few = hours(5)

    assert hour_buckets(few).times_ms.tolist() == [h.hour + HOUR // 2 for h in few]
    assert render_statistics_png(few, title="attic", unit="°C", zone=ZONE).startswith(b"\x89PNG")


def line(sensor_id: str, unit: str | None, name: str | None = None) -> Line:
    readings = [Reading(sensor_id, NOW - i * 60_000, i / 7) for i in range(100)]
    return Line(Sensor(sensor_id, name, unit), bucket(readings), 1.0, 0.0, 14.1)


@pytest.mark.parametrize("name", ["$x$", r"$\undefinedmacro$", "costs $5 or $6"])
def test_names_are_drawn_literally(name):
    lines = [line("a", "°C", name), line("b", "%")]
    figure = draw_compare(lines, title=name, zone=ZONE, window=(NOW - 100 * 60_000, NOW))

    texts = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert texts[0].startswith(f"{name} · last 1 °C")
    assert figure.axes[0].get_title() == name
    assert [a.get_ylabel() for a in figure.axes] == ["°C", "%"]  # two units, two axes
    assert render_compare_png(lines, title=name, zone=ZONE,
                              window=(NOW - 100 * 60_000, NOW)).startswith(b"\x89PNG")


def test_one_unit_shares_one_axis_and_the_png_is_real():
    png = render_compare_png([line(s, "°C") for s in "abcde"], title="five", zone=ZONE,
                             window=(NOW - 100 * 60_000, NOW))

    assert png.startswith(b"\x89PNG")


def test_compare_arguments_are_sensors_then_an_optional_range():
    sensors = [Sensor("attic"), Sensor("living", "Living room"), Sensor("7d")]

    assert split_compare_args(["attic", "Living", "room", "7d"], sensors) == (
        ["attic", "Living room", "7d"], "24h")
    assert split_compare_args(["attic", "Living room", "1y"], sensors) == (
        ["attic", "Living room"], "1y")
    assert split_compare_args(["attic", "nope", "12w"], sensors) == (["attic", "nope"], "12w")


def test_more_than_two_units_are_refused_in_a_sentence():
    assert too_many_units([Sensor("a", unit="°C"), Sensor("b", unit="°C"),
                           Sensor("c", unit="%")]) is None
    assert too_many_units([Sensor("a", unit="°C"), Sensor("b"), Sensor("c", unit="%")]) == (
        "These sensors have 3 units (°C, no unit, %); a chart has room for two, one axis "
        "each. Compare sensors of one or two units, e.g. /compare attic cellar 7d.")


def test_the_legend_sits_below_the_plot_and_never_covers_a_line():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    lines = [line(s, "°C") for s in "abcd"] + [line("e", "%", "Living room humidity")]
    figure = draw_compare(lines, title="five", zone=ZONE, window=(NOW - 100 * 60_000, NOW))
    renderer = FigureCanvasAgg(figure).get_renderer()
    plot = figure.axes[0].get_window_extent(renderer)
    labels = figure.axes[0].xaxis.get_tightbbox(renderer)  # the time axis's labels

    legend = figure.axes[0].get_legend().get_window_extent(renderer)
    assert legend.y1 < labels.y0 < plot.y0
    assert legend.y0 >= 0 and plot.height > 0.75 * 600  # the plot keeps its size


def test_a_sensor_with_one_point_in_the_range_shows_as_a_dot():
    """A sensor that began reporting within the last hour has one hour of a 7-day range."""
    new = Line(Sensor("cellar", None, "°C"), hour_buckets(hours(1)), 4.0, 4.0, 4.0)
    figure = draw_compare([line("attic", "°C"), new], title="t", zone=ZONE,
                          window=(NOW - 7 * 24 * HOUR, NOW))

    markers = [plotted.get_marker() for plotted in figure.axes[0].get_lines()]
    assert markers[0] in ("None", "", None) and markers[1] == "o"
