"""The outside temperature ahead, from Open-Meteo's free forecast, for the heating watch.

Only locations users set with /location are ever asked for: without one nothing leaves the
machine. Each location is fetched at most once an hour (kept in this process: in `sensorbot
run` for as long as it runs, in AWS for as long as a warm Lambda lives). A fetch is retried
politely (twice, with backoff, waiting out a 429's Retry-After); one that still fails is one
WARNING line, and the watch goes on with what it has.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger("sensorbot.forecast")

OPEN_METEO = "https://api.open-meteo.com"
HOUR_MS = 3_600_000
FETCH_EVERY_MS = HOUR_MS
RETRIES = 2
BACKOFF_S = 1.0
MAX_WAIT_S = 30.0  # a longer Retry-After is the next hour's business
Points = tuple[tuple[int, float], ...]


class ForecastError(Exception):
    """The forecast could not be had; the message says why, for the log."""


def parse_open_meteo(data: Mapping[str, Any]) -> Points:
    """Hourly `(epoch ms, °C)` points, ascending, from Open-Meteo's JSON (`hourly.time` as
    unix seconds or as ISO times in UTC); hours without a value are left out."""
    hourly = data.get("hourly")
    if not isinstance(hourly, Mapping):
        raise ForecastError("the answer has no hourly forecast")
    times, values = hourly.get("time"), hourly.get("temperature_2m")
    if not isinstance(times, list) or not isinstance(values, list) or len(times) != len(values):
        raise ForecastError("the answer's hourly time and temperature_2m do not match")
    points = [(_epoch_ms(t), float(v)) for t, v in zip(times, values, strict=True)
              if isinstance(v, int | float) and not isinstance(v, bool)]
    return tuple(sorted(points))


def _epoch_ms(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1000)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ForecastError(f"the answer has a time {value[:40]!r}") from None
        return int(moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() * 1000)
    raise ForecastError(f"the answer has a time {value!r}")


@dataclass
class OpenMeteo:
    """The HTTP half: one GET a location, with polite retries. `client` is injectable."""

    base_url: str = ""
    timeout_s: float = 10.0
    client: httpx.Client | None = None
    sleep: Callable[[float], None] = time.sleep

    def url(self, latitude: float, longitude: float) -> str:
        base = (self.base_url or OPEN_METEO).rstrip("/")
        return (f"{base}/v1/forecast?latitude={latitude:.4f}&longitude={longitude:.4f}"
                "&hourly=temperature_2m&forecast_days=2&timezone=UTC&timeformat=unixtime")

    def fetch(self, latitude: float, longitude: float) -> Points:
        if self.client is None:
            self.client = httpx.Client(timeout=self.timeout_s,
                                       headers={"User-Agent": "sensorbot heating watch"})
        problem = "no attempt"
        for attempt in range(RETRIES + 1):
            try:
                response = self.client.get(self.url(latitude, longitude))
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"
                wait = BACKOFF_S * 2 ** attempt
            else:
                if response.status_code == 200:
                    return _points(response)
                problem = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    break  # our request is wrong: asking again will not help
                wait = _retry_after(response) or BACKOFF_S * 2 ** attempt
            if attempt < RETRIES:
                self.sleep(min(wait, MAX_WAIT_S))
        raise ForecastError(problem)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _points(response: httpx.Response) -> Points:
    try:
        data = response.json()
    except ValueError:
        raise ForecastError("the answer is not JSON") from None
    if not isinstance(data, Mapping):
        raise ForecastError("the answer is not a JSON object")
    return parse_open_meteo(data)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


@dataclass
class Forecasts:
    """The forecast at a location, fetched at most once per FETCH_EVERY_MS (a failure too
    waits that long, so a dead server is one WARNING an hour, not one a cycle)."""

    source: OpenMeteo | None  # None: forecasts are off
    _kept: dict[tuple[float, float], tuple[int, Points]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, location: tuple[float, float] | None, now_ms: int) -> Points:
        """The forecast points after `now_ms` (empty when off, unset or unavailable)."""
        if self.source is None or location is None:
            return ()
        key = (round(location[0], 2), round(location[1], 2))  # about a kilometre
        with self._lock:
            fetched_at, points = self._kept.get(key, (None, ()))
            if fetched_at is None or now_ms - fetched_at >= FETCH_EVERY_MS:
                points = self._fetch(key, points)
                self._kept[key] = (now_ms, points)
        return tuple(p for p in points if p[0] > now_ms - HOUR_MS)

    def _fetch(self, key: tuple[float, float], known: Points) -> Points:
        assert self.source is not None
        try:
            return self.source.fetch(*key)
        except ForecastError as error:
            log.warning("no weather forecast for %.2f, %.2f (%s); the heating watch goes on "
                        "with what it has", key[0], key[1], error)
            return known

    def close(self) -> None:
        if self.source is not None:
            self.source.close()


def forecasts_from(provider: str, base_url: str, timeout_s: float) -> Forecasts:
    """The process's forecasts, as configured in [forecast]."""
    if provider == "off":
        return Forecasts(None)
    return Forecasts(OpenMeteo(base_url, timeout_s))
