"""Chart bucketing (pure) and the PNG it draws."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.chart import bucket, caption, render_png, summarize
from storage.models import Reading

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

    assert text == "Attic · last 24 h\nmin -1.5 °C · max 3.5 °C · mean 1 °C · last 3.5 °C\n" \
                   "2 readings"


def test_it_draws_a_valid_png_of_sensible_size():
    png = render_png(minutes(43_200), title="Attic", unit="°C", zone=ZoneInfo("Europe/Helsinki"))

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert 10_000 < len(png) < 500_000
    assert png[16:24] == (1200).to_bytes(4, "big") + (600).to_bytes(4, "big")  # IHDR size
