"""Long-term history benchmarks (issue 16). Run: `.venv/bin/python benchmarks/history.py`.

Each figure is printed with its goal, and with the path it replaces measured in the same run:
- the read units of a 30-day chart on dynalite: hourly statistics against every reading;
- what compiling the statistics costs on dynalite, per reading, at a reading every 5 minutes;
- `sensorbot run` against the Bot API emulator, on SQLite: /history 30d and 1y, and /compare
  of five sensors over 30 days, from the update being served to the photo arriving (warm);
  the render of each alone, and the 30-day chart drawn from every reading as before.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.chart import render_png, render_statistics_png  # noqa: E402
from bot.compare import read_line, render_compare_png  # noqa: E402
from core.formatting import parse_range  # noqa: E402
from sensorbot.demo.emulator import BotApiEmulator  # noqa: E402
from storage.base import DAY_MS, HOUR_MS  # noqa: E402
from storage.dynamodb import DynamoDBStore  # noqa: E402
from storage.models import ChatLink, HourStats, Reading, User  # noqa: E402
from storage.rollup import Rollup, hourly_history, rebuild  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402
from tests.support.dynalite import find_dynalite, free_port, start_dynalite  # noqa: E402

CHAT = 4242
MONTH = 43_200  # a reading a minute for 30 days
WARM_RUNS = 7
COMPARED = ("attic", "cellar", "sauna", "garage", "shed")
ZONE = ZoneInfo("Europe/Helsinki")


def minutes(sensor: str, now_ms: int, count: int = MONTH, offset: float = 0) -> list[Reading]:
    return [Reading(sensor, now_ms - (count - i) * 60_000, offset + 3 + (i % 600) / 100)
            for i in range(count)]


def old_hours(now_ms: int, offset: float) -> list[HourStats]:
    """The 335 days of hours before the 30 days of readings (their readings long expired)."""
    first = now_ms - now_ms % HOUR_MS - 365 * DAY_MS
    return [HourStats(first + i * HOUR_MS, 60, offset + (i % 48) / 4 - 2,
                      offset + (i % 48) / 4 + 2, offset + (i % 48) / 4, first + i * HOUR_MS,
                      first + i * HOUR_MS + 59 * 60_000) for i in range(335 * 24)]


def median_of(runs: int, action: Callable[[], object],
              clock: Callable[[], float] = time.process_time) -> float:
    """The median CPU time (the machine may be shared: wall time would count the others)."""
    times = []
    for _ in range(runs):
        start = clock()
        action()
        times.append(clock() - start)
    return statistics.median(times)


# -- DynamoDB: read and write units --------------------------------------------------------

def dynamodb_units(endpoint: str) -> None:
    now = 1_800_000_000_000
    store = DynamoDBStore(endpoint_url=endpoint, measurements_table="bench-m",
                          meta_table="bench-meta", statistics_table="bench-stats")
    store.init()
    store.add_user(User("cottage", "Cottage", now))
    readings = minutes("attic", now)
    for i in range(0, MONTH, 1000):
        store.write_readings("cottage", readings[i:i + 1000], now_ms=now)
    rebuild(store, since_ms=0, now_ms=now)
    window = parse_range("30d", now_ms=now, zone=ZONE)
    meter = store.capacity

    def units(read: Callable[[], object]) -> float:
        before = meter.read_units
        read()
        return meter.read_units - before

    raw = units(lambda: store.read_range("cottage", "attic", window.start_ms, window.end_ms,
                                         now_ms=now))
    hourly = units(lambda: hourly_history(store, "cottage", "attic", window.start_ms,
                                          window.end_ms, now_ms=now))
    print(f"30-day chart on dynalite, {MONTH:,} one-minute readings:")
    print(f"  hourly statistics {hourly:.1f} read units   (goal <= 20); every reading "
          f"{raw:.1f} (ratio {hourly / raw:.3f})")
    compile_cost(store, now)


def compile_cost(store: DynamoDBStore, now: int, sensors: int = 20, hours: int = 24) -> None:
    """A day at a reading every 5 minutes: the cycle runs every minute; what the compile
    spends per reading, measured apart from the writes of the readings themselves."""
    start = now - now % HOUR_MS + 10 * DAY_MS
    store.add_user(User("five", "Five minutes", start))
    for number in range(sensors):
        store.update_sensor("five", f"five-{number}", now_ms=start)
    rollup, meter = Rollup(store), store.capacity
    rollup.run(start)  # the sensors' first look back (48 h, empty): not the steady cost
    spent = {"read": 0.0, "write": 0.0}
    written, hourly_runs = 0, []
    for hour in range(hours):
        base = start + hour * HOUR_MS
        batch = [Reading(f"five-{n}", base + m * 300_000, 20 + m / 10)
                 for n in range(sensors) for m in range(12)]
        store.write_readings("five", batch, now_ms=base)
        written += len(batch)
        for minute in range(0, 60, 10):  # cycles; only an hour's first does any work
            read, write = meter.read_units, meter.write_units
            started = time.perf_counter()
            rollup.run(base + HOUR_MS + minute * 60_000)
            if minute == 0:
                hourly_runs.append(time.perf_counter() - started)
            spent["read"] += meter.read_units - read
            spent["write"] += meter.write_units - write
    print(f"compiling at a reading every 5 minutes ({sensors} sensors x {hours} h, "
          f"{written:,} readings):")
    print(f"  {spent['write'] / written:.3f} write units per reading   (goal <= 0.1); "
          f"{spent['read'] / written:.3f} read units per reading; against the reading's own "
          "write of 1 unit")
    print(f"  an hour's first cycle compiles the {sensors} sensors in "
          f"{statistics.median(hourly_runs):.3f} s (median, wall; {Rollup(store).workers} at a "
          "time); the other cycles read nothing")


# -- SQLite: update -> photo -------------------------------------------------------------------

def prepare(folder: Path, now_ms: int) -> None:
    store = SQLiteStore(folder / "bench.db")
    store.add_user(User("cottage", "Cottage", now_ms))
    for number, sensor in enumerate(COMPARED):
        readings = minutes(sensor, now_ms, offset=number * 2)
        for i in range(0, MONTH, 5000):
            store.write_readings("cottage", readings[i:i + 5000], now_ms=now_ms)
        store.write_statistics("cottage", sensor, old_hours(now_ms, number * 2), now_ms=now_ms)
    store.update_sensor("cottage", "attic", unit="°C", now_ms=now_ms)
    # Before: a 30-day chart read and drew every reading. The same work, in a range that
    # still does: 43,200 readings within 48 h.
    dense = [Reading("dense", now_ms - (MONTH - i) * 4_000, 3 + (i % 600) / 100)
             for i in range(MONTH)]
    store.write_readings("cottage", dense, now_ms=now_ms)
    rebuild(store, since_ms=0, now_ms=now_ms)
    store.put_chat_link(ChatLink(CHAT, "cottage", now_ms))
    store.close()


def latency(emulator: BotApiEmulator, text: str) -> float:
    start = len(emulator.calls)
    sent = emulator.send_text(CHAT, text)
    photo = emulator.wait_for(lambda c: c.method == "sendPhoto", after=start, timeout=60)
    return photo.at - emulator.served_at[sent["update_id"]]


def cpu_s(pid: int) -> float:
    """The process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def chats(folder: Path) -> tuple[dict[str, list[float]], dict[str, float]]:
    with BotApiEmulator() as emulator:
        config = folder / "config.toml"
        config.write_text(f'[telegram]\ntoken = "{emulator.token}"\nbase_url = '
                          f'"{emulator.base_url}"\n[storage]\nsqlite_path = "bench.db"\n'
                          f"[api]\nport = {free_port()}\n", encoding="utf-8")
        process = subprocess.Popen([sys.executable, "-m", "sensorbot", "run", "--config",
                                    str(config)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=60)
            time.sleep(2.0)  # the first statistics run at start-up
            found, cpu = {}, {}
            for text in ("/history dense 48h", "/history attic 30d", "/history attic 1y",
                         "/compare " + " ".join(COMPARED) + " 30d"):
                latency(emulator, text)  # the first: imports and font caches
                before = cpu_s(process.pid)
                found[text] = [latency(emulator, text) for _ in range(WARM_RUNS)]
                cpu[text] = (cpu_s(process.pid) - before) / WARM_RUNS
            return found, cpu
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def renders(folder: Path, now_ms: int) -> None:
    store = SQLiteStore(folder / "bench.db")
    window = parse_range("30d", now_ms=now_ms, zone=ZONE)
    span = (window.start_ms, window.end_ms)
    year = parse_range("1y", now_ms=now_ms, zone=ZONE)

    def hourly(start: int) -> list[HourStats]:
        return hourly_history(store, "cottage", "attic", start, now_ms, now_ms=now_ms).hours

    def raw() -> None:
        readings = store.read_range("cottage", "attic", *span, now_ms=now_ms)
        render_png(readings, title="attic", unit="°C", zone=ZONE, window=span)

    def compare() -> None:
        lines = [read_line(store, "cottage", sensor, window, now_ms=now_ms)
                 for sensor in store.list_sensors("cottage") if sensor.sensor_id in COMPARED]
        render_compare_png([line for line in lines if line], title="five", zone=ZONE,
                           window=span)

    raw()
    before = median_of(WARM_RUNS, raw)
    after = median_of(WARM_RUNS, lambda: render_statistics_png(
        hourly(window.start_ms), title="attic", unit="°C", zone=ZONE, window=span))
    a_year = median_of(WARM_RUNS, lambda: render_statistics_png(
        hourly(year.start_ms), title="attic", unit="°C", zone=ZONE,
        window=(year.start_ms, year.end_ms)))
    five = median_of(WARM_RUNS, compare)
    print("  read + render alone, median CPU time: 30 d from statistics "
          f"{after:.3f} s, from every reading (before) {before:.3f} s (ratio {after / before:.2f})"
          f"; 1 y {a_year:.3f} s; /compare 5 x 30 d {five:.3f} s")
    store.close()


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def main() -> None:
    binary = find_dynalite()
    if binary is None:
        print("dynalite is not installed (make test installs it into .tools/)")
    else:
        server = start_dynalite(binary)
        try:
            dynamodb_units(server.endpoint)
        finally:
            server.stop()
    now_ms = time.time_ns() // 1_000_000
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        prepare(folder, now_ms)
        found, cpu = chats(folder)
        print(f"sensorbot run on SQLite, {len(COMPARED)} sensors x {MONTH:,} one-minute readings "
              "and a year of statistics; update served -> photo at the emulator, warm median "
              f"(wall time, {load()}):")
        goals = {"/history attic 30d": 0.15, "/history attic 1y": 0.3}
        before = statistics.median(found.pop("/history dense 48h"))
        for text, times in found.items():
            goal = goals.get(text)
            print(f"  {text}: {statistics.median(times):.3f} s, the bot's CPU "
                  f"{cpu[text]:.3f} s" + (f"   (goal <= {goal} s)" if goal else ""))
        print(f"  before, a chart of {MONTH:,} readings (/history dense 48h): {before:.3f} s, "
              f"CPU {cpu['/history dense 48h']:.3f} s; 30 d now / before: "
              f"{statistics.median(found['/history attic 30d']) / before:.2f} (CPU "
              f"{cpu['/history attic 30d'] / cpu['/history dense 48h']:.2f})")
        renders(folder, now_ms)
        print("  /compare goal: render <= 0.2 s")


if __name__ == "__main__":
    main()
