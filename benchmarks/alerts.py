"""Alert benchmarks (issue 5). Run: `.venv/bin/python benchmarks/alerts.py`.

- one steady cycle (nothing to send) over 1,000 sensors with a rule each, on SQLite;
- the same with 1,000 heating watches that have learned their sensors (issue 19);
- on dynalite, read units consumed per rule per steady cycle;
- with `sensorbot run` at a 1 s check interval: from a reading being stored (the API's 200) to
  the alert arriving at the Bot API emulator.
"""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.cycle import Cycle, RuleBook  # noqa: E402
from alerts.heating import HeatingMemory, HeatingModel, HeatingPhase  # noqa: E402
from alerts.heating_rule import dump_memory  # noqa: E402
from core.tokens import issue_token  # noqa: E402
from sensorbot.demo.emulator import BotApiEmulator  # noqa: E402
from storage.models import (  # noqa: E402
    AlertRule,
    AlertState,
    ChatLink,
    Reading,
    RuleKind,
    RuleSpec,
    User,
)
from storage.sqlite import SQLiteStore  # noqa: E402
from tests.support.dynalite import find_dynalite, free_port, start_dynalite  # noqa: E402

SENSORS = 1000


class Silent:
    sent = 0

    async def send(self, chat_id: int, text: str, *, buttons: list, silent: bool) -> None:
        self.sent += 1


def populate(store: Any, now_ms: int) -> None:
    readings = [Reading(f"s{i:04d}", now_ms - 60_000, 10.0) for i in range(SENSORS)]
    for i in range(0, SENSORS, 500):
        store.write_readings("bench", readings[i:i + 500], now_ms=now_ms)
    for i in range(SENSORS):
        store.put_alert_rule(AlertRule("bench", f"r{i:04d}", f"s{i:04d}",
                                       RuleSpec(RuleKind.BELOW, 3.0, for_s=600), now_ms))
    store.put_chat_link(ChatLink(1, "bench", now_ms))


def learned_watch(now_ms: int) -> AlertState:
    """A heating watch that has learned its sensor: a steady cycle has nothing to learn."""
    model = HeatingModel(now_ms, 10.0, 0.4, 30.0, 18.0, 50.0, 14.0, 5)
    memory = HeatingMemory(HeatingPhase.WATCHING, model, first_seen=now_ms - 20 * 86_400_000)
    if "last_at" in {f.name for f in fields(HeatingMemory)}:
        memory = replace(memory, last_at=now_ms - 60_000)  # type: ignore[call-arg]
    return AlertState(heating=dump_memory(memory))


def populate_heating(store: Any, now_ms: int) -> None:
    readings = [Reading(f"h{i:04d}", now_ms - 60_000, 10.0) for i in range(SENSORS)]
    for i in range(0, SENSORS, 500):
        store.write_readings("heat", readings[i:i + 500], now_ms=now_ms)
    for i in range(SENSORS):
        store.put_alert_rule(AlertRule("heat", f"r{i:04d}", f"h{i:04d}",
                                       RuleSpec(RuleKind.HEATING), now_ms, learned_watch(now_ms)))
    store.put_chat_link(ChatLink(1, "heat", now_ms))


def steady_cycle(store: Any, now_ms: int, rulebook: RuleBook | None = None) -> float:
    notifier = Silent()
    asyncio.run(Cycle(store, notifier, now_ms, rulebook=rulebook or RuleBook()).run())
    times = []
    for n in range(5):  # without a rulebook: every cycle lists the rules from storage
        start = time.perf_counter()
        summary = asyncio.run(Cycle(store, notifier, now_ms + n,
                                    rulebook=rulebook or RuleBook()).run())
        times.append(time.perf_counter() - start)
        assert summary.transitions == 0 and notifier.sent == 0 and summary.failed == 0
    return statistics.median(times)


def dynalite_units(now_ms: int) -> tuple[float, float] | None:
    from storage.dynamodb import DynamoDBStore
    from storage.dynamodb.client import build_client

    binary = find_dynalite()
    if binary is None:
        print("dynalite: not installed (make test installs it); skipped")
        return None
    server = start_dynalite(binary)
    try:
        store = DynamoDBStore(client=build_client("eu-north-1", server.endpoint))
        store.init()
        populate(store, now_ms)
        rulebook = RuleBook()  # as `sensorbot run` keeps it between cycles
        asyncio.run(Cycle(store, Silent(), now_ms, rulebook=rulebook).run())
        before = store.capacity.read_units
        asyncio.run(Cycle(store, Silent(), now_ms + 1, rulebook=rulebook).run())
        total = store.capacity.read_units - before
        store.latest_readings([("bench", f"s{i:04d}") for i in range(SENSORS)], now_ms=now_ms)
        return total / SENSORS, (store.capacity.read_units - before - total) / SENSORS
    finally:
        server.stop()


def post(api: str, token: str, value: float) -> None:
    url, body = f"{api}/api/v2/sensor/attic/measurement", json.dumps({"value": value}).encode()
    request = urllib.request.Request(url, body, {"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        response.read()


def alert_latency(folder: Path) -> list[float]:
    now = time.time_ns() // 1_000_000
    store = SQLiteStore(folder / "latency.db")
    store.add_user(User("cottage", "Cottage", now))
    token, _ = issue_token(store, "cottage", "write", now_ms=now)
    store.write_readings("cottage", [Reading("attic", now - 60_000, 10.0)], now_ms=now)
    store.put_alert_rule(AlertRule("cottage", "r1", "attic", RuleSpec(RuleKind.BELOW, 3.0), now))
    store.put_chat_link(ChatLink(1, "cottage", now))
    store.close()
    port = free_port()
    latencies = []
    with BotApiEmulator() as emulator:
        config = folder / "config.toml"
        config.write_text(f'[telegram]\ntoken = "{emulator.token}"\nbase_url = '
                          f'"{emulator.base_url}"\n[storage]\nsqlite_path = "latency.db"\n'
                          f"[api]\nport = {port}\n[alerts]\ncheck_interval_seconds = 1\n",
                          encoding="utf-8")
        process = subprocess.Popen([sys.executable, "-m", "sensorbot", "run", "--config",
                                    str(config)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=60)
            api = f"http://127.0.0.1:{port}"
            for _ in range(5):
                start_index = len(emulator.calls)
                post(api, token, 1.0)
                stored = time.monotonic()
                alert = emulator.wait_for(lambda c: c.method == "sendMessage"
                                          and c.text.startswith("❄"), after=start_index)
                latencies.append(alert.at - stored)
                mark = len(emulator.calls)
                post(api, token, 9.0)
                emulator.wait_for(lambda c: c.method == "sendMessage"
                                  and c.text.startswith("✅"), after=mark)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    return latencies


def main() -> None:
    now_ms = time.time_ns() // 1_000_000
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        store = SQLiteStore(folder / "cycle.db")
        populate(store, now_ms)
        cycle_s = steady_cycle(store, now_ms)
        heating_store = SQLiteStore(folder / "heating.db")
        populate_heating(heating_store, now_ms)
        heating_s = steady_cycle(heating_store, now_ms)
        heating_kept_s = steady_cycle(heating_store, now_ms, RuleBook())
        latencies = alert_latency(folder)
    units = dynalite_units(now_ms)
    print(f"SQLite, one steady cycle over {SENSORS:,} sensors with a rule each: "
          f"{cycle_s * 1000:.0f} ms   (target <= 250 ms)")
    print(f"SQLite, one steady cycle over {SENSORS:,} learned heating watches: "
          f"{heating_kept_s * 1000:.0f} ms with the rules kept between cycles (as in "
          f"`sensorbot run`), {heating_s * 1000:.0f} ms listing them every cycle   "
          f"(target <= 100 ms; ratio to the threshold rules' cycle "
          f"{heating_s / cycle_s:.2f})")
    if units:
        per_rule, latest_only = units
        print(f"dynalite, read units per rule per steady cycle (rules kept between cycles, as "
              f"in `sensorbot run`): {per_rule:.3f}   (target <= 0.5; latest-reading lookups "
              f"alone {latest_only:.3f}; a cycle that reloads the rules adds about 0.024)")
    print(f"reading stored → alert at the emulator, 1 s interval: median "
          f"{statistics.median(latencies):.2f} s, max {max(latencies):.2f} s   (target <= 2 s)")


if __name__ == "__main__":
    main()
