"""Bot benchmarks (issue 4). Run: `.venv/bin/python benchmarks/bot.py`.

`sensorbot run` (bot and HTTP API) is started as a user would start it, against the local
Bot API emulator:
- /history <sensor> 30d over 43,200 one-minute readings on SQLite: from the update being
  served by getUpdates to the photo arriving at the emulator (first chart, then warm), and
  the render alone;
- idle RSS after start-up, before any chart, and the time from start to the first getUpdates.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.chart import render_png  # noqa: E402
from sensorbot.demo.emulator import BotApiEmulator  # noqa: E402
from storage.models import ChatLink, Reading, User  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402
from tests.support.dynalite import free_port  # noqa: E402

CHAT = 4242
READINGS = 43_200
WARM_RUNS = 7


def prepare(folder: Path, now_ms: int) -> list[Reading]:
    store = SQLiteStore(folder / "bench.db")
    store.add_user(User("cottage", "Cottage", now_ms))
    readings = [Reading("attic", now_ms - (READINGS - i) * 60_000, 3 + (i % 600) / 100)
                for i in range(READINGS)]
    for i in range(0, READINGS, 5000):
        store.write_readings("cottage", readings[i:i + 5000], now_ms=now_ms)
    store.put_chat_link(ChatLink(CHAT, "cottage", now_ms))
    store.close()
    return readings


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def history_latency(emulator: BotApiEmulator) -> float:
    start = len(emulator.calls)
    sent = emulator.send_text(CHAT, "/history attic 30d")
    photo = emulator.wait_for(lambda c: c.method == "sendPhoto", after=start, timeout=60)
    return photo.at - emulator.served_at[sent["update_id"]]


def main() -> None:
    now_ms = time.time_ns() // 1_000_000
    with tempfile.TemporaryDirectory() as name, BotApiEmulator() as emulator:
        folder = Path(name)
        readings = prepare(folder, now_ms)
        config = folder / "config.toml"
        config.write_text(f'[telegram]\ntoken = "{emulator.token}"\nbase_url = '
                          f'"{emulator.base_url}"\n[storage]\nsqlite_path = "bench.db"\n'
                          f"[api]\nport = {free_port()}\n", encoding="utf-8")
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "sensorbot", "run", "--config",
                                    str(config)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=60)
            while emulator.first_poll_at is None:
                time.sleep(0.005)
            to_first_poll = emulator.first_poll_at - started
            time.sleep(1.0)
            idle_rss = rss_mb(process.pid)
            first = history_latency(emulator)
            warm = [history_latency(emulator) for _ in range(WARM_RUNS)]
            after_charts_rss = rss_mb(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    zone = ZoneInfo("Europe/Helsinki")
    render_png(readings[:100], title="warm-up", unit="°C", zone=zone)
    renders = []
    for _ in range(WARM_RUNS):
        start = time.perf_counter()
        render_png(readings, title="Attic · last 30 days", unit="°C", zone=zone)
        renders.append(time.perf_counter() - start)
    print(f"/history attic 30d, {READINGS:,} one-minute readings, SQLite:")
    print(f"  update served → photo at the emulator: first {first:.3f} s, "
          f"warm median {statistics.median(warm):.3f} s   (target <= 0.5 s)")
    print(f"  render alone (bucketing + matplotlib + PNG): median "
          f"{statistics.median(renders):.3f} s")
    print(f"sensorbot run: start → first getUpdates {to_first_poll:.2f} s   (target <= 2 s)")
    print(f"  idle RSS after start-up {idle_rss:.0f} MB   (target <= 100 MB; 68-71 before "
          f"running without docstrings); after {WARM_RUNS + 1} charts {after_charts_rss:.0f} MB"
          "   (target <= 110 MB; 115-117 before running without docstrings)")


if __name__ == "__main__":
    main()
