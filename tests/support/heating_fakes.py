"""A tiny deterministic stand-in for the heating watch, for the plumbing around it (storage,
cycle, messages, buttons), and a local fake of Open-Meteo's forecast server.

The fake watch: learned at once (usual level 8 °C, τ 30 h); below 5 °C it asks for three hours
of history, then fires with a fixed prediction (0 °C in 11 h, 8–15 h) built on the outside
data it was given; back at 7.5 °C it recovers. It records what it was handed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from alerts.heating import (
    HeatingEvent,
    HeatingMemory,
    HeatingModel,
    HeatingPhase,
    HeatingStep,
    Outside,
    Prediction,
)
from storage.models import Reading

HOUR_MS = 3_600_000
RECORDED = Path(__file__).resolve().parent.parent / "alerts" / "data" / \
    "open-meteo-helsinki.json"
FAILS_BELOW = 5.0
BACK_AT = 7.5
NO_OUTSIDE = Outside()


def learned(now_ms: int) -> HeatingModel:
    return HeatingModel(now_ms, 8.0, 0.5, 30.0, 20.0, 45.0, 14.0, 3)


def prediction_for(outside: Outside, now_ms: int) -> Prediction:
    if outside.forecast:
        figure, source = min(v for _, v in outside.forecast), "forecast"
    elif outside.measured:
        figure, source = outside.measured[-1].value, "sensor"
    else:
        return Prediction(now_ms + 11 * HOUR_MS, now_ms + 8 * HOUR_MS, now_ms + 15 * HOUR_MS,
                          -0.7, None, None)
    return Prediction(now_ms + 11 * HOUR_MS, now_ms + 8 * HOUR_MS, now_ms + 15 * HOUR_MS, -0.7,
                      figure, source)  # type: ignore[arg-type]


@dataclass
class FakeWatch:
    histories: list[Sequence[Reading]] = field(default_factory=list)
    outsides: list[Outside] = field(default_factory=list)
    calls: int = 0

    def __call__(self, memory: HeatingMemory, latest: Reading | None, now_ms: int,
                 history: Sequence[Reading] | None = None,
                 outside: Outside = NO_OUTSIDE) -> HeatingStep:
        self.calls += 1
        if latest is None:
            return HeatingStep(memory)
        if memory.model is None:
            memory = replace(memory, model=learned(now_ms), phase=HeatingPhase.WATCHING)
        if memory.phase is HeatingPhase.FIRING:
            if latest.value >= BACK_AT:
                back = HeatingEvent("heating_back", latest.timestamp, latest.value, 8.0,
                                    since=memory.since, lowest=memory.lowest)
                return HeatingStep(replace(memory, phase=HeatingPhase.WATCHING, since=None,
                                           lowest=None), (back,))
            lowest = min(memory.lowest or latest.value, latest.value)
            return HeatingStep(replace(memory, lowest=lowest))
        if latest.value >= FAILS_BELOW or memory.relearn_from is not None:
            return HeatingStep(memory)
        if history is None:
            return HeatingStep(memory, needs=(now_ms - 3 * HOUR_MS, now_ms))
        self.histories.append(history)
        self.outsides.append(outside)
        since = history[0].timestamp if history else latest.timestamp
        event = HeatingEvent("heating_failed", latest.timestamp, latest.value, 8.0,
                             prediction_for(outside, now_ms), since=since)
        return HeatingStep(replace(memory, phase=HeatingPhase.FIRING, since=since,
                                   lowest=latest.value), (event,))


def fake_turned_down(memory: HeatingMemory, now_ms: int) -> HeatingMemory:
    return replace(memory, phase=HeatingPhase.WATCHING, since=None, lowest=None,
                   relearn_from=now_ms)


def fake_predict(memory: HeatingMemory, recent: Sequence[Reading], now_ms: int,
                 outside: Outside = NO_OUTSIDE) -> Prediction:
    return prediction_for(outside, now_ms)


def fake_curve(memory: HeatingMemory, recent: Sequence[Reading], now_ms: int, until_ms: int,
               outside: Outside = NO_OUTSIDE) -> list[tuple[int, float, float, float]]:
    """Straight lines that reach 0 °C as the fake prediction says: in 11 h (8–15 h)."""
    start = recent[-1].value if recent else 5.0
    return [(now_ms + h * HOUR_MS, start * (1 - h / 11), start * (1 - h / 8),
             start * (1 - h / 15)) for h in range(0, (until_ms - now_ms) // HOUR_MS + 1)]


def use_fake_watch(monkeypatch: Any) -> FakeWatch:
    """The fake in place of the real heating watch, wherever the code reaches for it."""
    import alerts.heating

    watch = FakeWatch()
    monkeypatch.setattr(alerts.heating, "evaluate", watch)
    monkeypatch.setattr(alerts.heating, "turned_down", fake_turned_down)
    monkeypatch.setattr(alerts.heating, "predict", fake_predict)
    monkeypatch.setattr(alerts.heating, "curve", fake_curve)
    return watch


class FakeForecastServer:
    """Open-Meteo on 127.0.0.1: answers /v1/forecast with the recorded response, counts the
    requests, and can be told to answer with errors first."""

    def __init__(self, body: bytes | None = None) -> None:
        self.body = body if body is not None else RECORDED.read_bytes()
        self.requests: list[str] = []
        self.errors: list[tuple[int, dict[str, str]]] = []  # answered before the body
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                if server.errors:
                    status, headers = server.errors.pop(0)
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORDED.read_text(encoding="utf-8"))
    return data
