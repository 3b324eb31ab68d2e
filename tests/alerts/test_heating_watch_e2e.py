"""The heating watch itself through the alert cycle, on SQLite: a cottage kept at its
thermostat's level for two weeks, with an outdoor sensor and a local fake of the forecast
server. When its heating fails, one warning with the time to 0 °C; when it is back, one
recovery. A house whose heating works (sun, a door left open) hears nothing."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from alerts import actions
from alerts.cycle import Cycle, RuleBook
from alerts.delivery import Notice
from alerts.forecast import Forecasts, OpenMeteo
from storage.models import ChatLink, OutsideSettings, Reading, RuleKind, TransitionKind
from storage.sqlite import SQLiteStore
from tests.support.common import NOW_MS
from tests.support.heating_fakes import FakeForecastServer

MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
STEP = 5 * MIN
LEVEL = 8.0


def outdoor(ms: int) -> float:
    return -12.0 + 4.0 * math.sin(2 * math.pi * ((ms % DAY) / HOUR - 9) / 24)


def heated(ms: int) -> float:
    """A thermostat's saw-tooth around 8 °C and, every other day, a sunny afternoon."""
    phase = (ms % (80 * MIN)) / (80 * MIN)
    hour = (ms % DAY) / HOUR
    sun = 1.8 * math.sin(math.pi * (hour - 11) / 6) if (ms // DAY) % 2 and 11 <= hour < 17 \
        else 0.0
    return LEVEL + 0.3 * (1 - 2 * abs(2 * phase - 1)) + sun


class Cottage:
    """Heated, except between `off` and `on`, when it cools towards the outside (τ 25 h); a
    door open from `door` cools the air fast for 30 minutes, then the heating recovers it."""

    def __init__(self, *, off: int | None = None, on: int | None = None,
                 door: int | None = None, seed: int = 7) -> None:
        self.off, self.on, self.door = off, on, door
        self.noise = random.Random(seed)
        self.value = heated(0)

    def step(self, ms: int) -> float:
        target = heated(ms)
        if self.off is not None and self.off <= ms < (self.on or 2**62):
            outside = outdoor(ms)
            self.value = outside + (self.value - outside) * math.exp(-STEP / (25 * HOUR))
        elif self.door is not None and self.door <= ms < self.door + 30 * MIN:
            self.value -= 0.5
        else:  # the heating catches up within the hour
            self.value += (target - self.value) * min(1.0, STEP / (40 * MIN))
        return round(self.value + self.noise.gauss(0, 0.03), 2)


class Notices:
    def __init__(self) -> None:
        self.sent: list[Notice] = []

    async def send(self, notice: Notice) -> None:
        self.sent.append(notice)


@pytest.fixture
def server() -> Iterator[FakeForecastServer]:
    server = FakeForecastServer()
    yield server
    server.close()


def world(tmp_path: Any, cottage: Cottage, start: int) -> SQLiteStore:
    """Two weeks of history before `start`, the freeze preset, an outdoor sensor, a location."""
    store = SQLiteStore(tmp_path / "cottage.db")
    times = range(start - 14 * DAY, start, STEP)
    store.write_readings("u1", [Reading("attic", t, cottage.step(t)) for t in times],
                         now_ms=start)
    store.write_readings("u1", [Reading("garden", t, round(outdoor(t), 1)) for t in times],
                         now_ms=start)
    store.put_chat_link(ChatLink(1, "u1", start, quiet_hours="00:00-23:59"))
    store.put_outside_settings(OutsideSettings("u1", "garden", 60.17, 24.94))
    actions.set_freeze(store, "u1", "attic", 3.0, now_ms=start)
    return store


def live(store: SQLiteStore, cottage: Cottage, start: int, end: int, forecasts: Forecasts,
         until: Callable[[list[Notice]], bool] = lambda sent: False) -> list[Notice]:
    """A reading every 5 minutes and a cycle after each, as `sensorbot run` would."""
    notices, book = Notices(), RuleBook()
    for t in range(start, end, STEP):
        store.write_readings("u1", [Reading("attic", t, cottage.step(t)),
                                    Reading("garden", t, round(outdoor(t), 1))], now_ms=t)
        asyncio.run(Cycle(store, notices, t + 30_000, rulebook=book,
                          forecasts=forecasts).run())
        if until(notices.sent):
            break
    return [n for n in notices.sent if n.rule.spec.kind is RuleKind.HEATING]


def test_a_failure_warns_once_hours_before_the_cold_and_recovers_once(tmp_path, server):
    failed, restored = NOW_MS + 2 * HOUR, NOW_MS + 8 * HOUR
    cottage = Cottage(off=failed, on=restored)
    store = world(tmp_path, cottage, NOW_MS)
    forecasts = Forecasts(OpenMeteo(server.base_url))

    sent = live(store, cottage, NOW_MS, NOW_MS + 12 * HOUR, forecasts)

    kinds = [n.entry.kind for n in sent]
    assert kinds == [TransitionKind.FIRED, TransitionKind.RESOLVED], kinds
    warning, back = sent
    assert warning.silent is False  # quiet hours all day: it rings
    assert warning.entry.reading_ts - failed <= 3 * HOUR
    outlook = warning.entry.outlook
    assert outlook is not None and outlook.level is not None and 7 <= outlook.level <= 9
    assert outlook.eta_ms is not None and outlook.eta_ms > warning.entry.at + 4 * HOUR
    assert outlook.eta_low_ms <= outlook.eta_ms <= outlook.eta_high_ms
    assert outlook.outside_source in ("sensor", "forecast") and outlook.outside < 0
    assert back.entry.extreme < warning.entry.value
    assert 1 <= len(server.requests) <= 12  # at most one an hour


def test_a_house_whose_heating_works_hears_nothing(tmp_path, server):
    cottage = Cottage(door=NOW_MS + 14 * HOUR)  # the door stands open 30 min, one evening
    store = world(tmp_path, cottage, NOW_MS)
    forecasts = Forecasts(OpenMeteo(server.base_url))

    sent = live(store, cottage, NOW_MS, NOW_MS + 2 * DAY, forecasts)

    assert sent == []
    [watch] = [r for r in store.list_alert_rules("u1") if r.spec.kind is RuleKind.HEATING]
    assert watch.state.heating is not None and '"phase":"watching"' in watch.state.heating
