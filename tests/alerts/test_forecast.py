"""The forecast client against a local fake of Open-Meteo with a recorded answer."""

from __future__ import annotations

import logging

import pytest

from alerts.forecast import (
    FETCH_EVERY_MS,
    ForecastError,
    Forecasts,
    OpenMeteo,
    forecasts_from,
    parse_open_meteo,
)
from tests.support.common import NOW_MS
from tests.support.heating_fakes import FakeForecastServer, recorded

HELSINKI = (60.1699, 24.9384)


@pytest.fixture
def server():
    server = FakeForecastServer()
    yield server
    server.close()


def no_sleep(seconds: float) -> None:
    pass


def test_it_reads_the_hourly_temperatures_of_a_recorded_answer():
    points = parse_open_meteo(recorded())

    assert len(points) == 48
    assert points[8] == (NOW_MS, -11.4)  # 2027-01-15 08:00 UTC
    assert min(v for _, v in points) == -15.5


def test_it_reads_iso_times_as_utc_and_skips_hours_without_a_value():
    data = {"hourly": {"time": ["2027-01-15T08:00", "2027-01-15T09:00"],
                       "temperature_2m": [-3.5, None]}}
    assert parse_open_meteo(data) == ((NOW_MS, -3.5),)
    with pytest.raises(ForecastError):
        parse_open_meteo({"error": True, "reason": "Latitude must be in range"})


def test_it_asks_for_the_location_once_an_hour(server):
    forecasts = Forecasts(OpenMeteo(server.base_url, sleep=no_sleep))

    first = forecasts.at(HELSINKI, NOW_MS)
    forecasts.at(HELSINKI, NOW_MS + 60_000)
    forecasts.at(HELSINKI, NOW_MS + FETCH_EVERY_MS - 1)
    forecasts.at(HELSINKI, NOW_MS + FETCH_EVERY_MS)

    assert len(server.requests) == 2
    assert server.requests[0] == ("/v1/forecast?latitude=60.1700&longitude=24.9400"
                                  "&hourly=temperature_2m&forecast_days=2&timezone=UTC"
                                  "&timeformat=unixtime")
    assert first[0][0] > NOW_MS - 3_600_000 and len(first) == 40  # from the past hour on


def test_no_location_means_no_request(server):
    forecasts = forecasts_from("open-meteo", server.base_url, 5.0)

    assert forecasts.at(None, NOW_MS) == ()
    assert server.requests == []


def test_forecasts_off_means_no_request(server):
    forecasts = forecasts_from("off", server.base_url, 5.0)

    assert forecasts.at(HELSINKI, NOW_MS) == ()
    assert server.requests == []


def test_it_waits_out_a_429_and_retries(server):
    waits: list[float] = []
    server.errors = [(429, {"Retry-After": "3"}), (503, {})]
    forecasts = Forecasts(OpenMeteo(server.base_url, sleep=waits.append))

    points = forecasts.at(HELSINKI, NOW_MS)

    assert len(points) == 40
    assert len(server.requests) == 3
    assert waits == [3.0, 2.0]  # Retry-After, then the backoff


def test_a_failure_is_one_warning_and_the_watch_goes_on(server, caplog):
    server.errors = [(500, {})] * 3 + [(500, {})] * 3
    forecasts = Forecasts(OpenMeteo(server.base_url, sleep=no_sleep))

    with caplog.at_level(logging.WARNING, logger="sensorbot.forecast"):
        assert forecasts.at(HELSINKI, NOW_MS) == ()
        assert forecasts.at(HELSINKI, NOW_MS + 60_000) == ()  # not asked again this hour

    assert len(server.requests) == 3  # the first try and two retries
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "HTTP 500" in caplog.records[0].getMessage()


def test_a_refused_request_is_not_retried_and_the_old_forecast_is_kept(server):
    forecasts = Forecasts(OpenMeteo(server.base_url, sleep=no_sleep))
    kept = forecasts.at(HELSINKI, NOW_MS)
    server.errors = [(400, {})]

    later = forecasts.at(HELSINKI, NOW_MS + FETCH_EVERY_MS)

    assert len(server.requests) == 2
    assert later == tuple(p for p in kept if p[0] > NOW_MS)


def test_a_server_that_is_down_is_a_warning_too(caplog):
    forecasts = Forecasts(OpenMeteo("http://127.0.0.1:9", sleep=no_sleep, timeout_s=2))

    with caplog.at_level(logging.WARNING, logger="sensorbot.forecast"):
        assert forecasts.at(HELSINKI, NOW_MS) == ()

    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1
