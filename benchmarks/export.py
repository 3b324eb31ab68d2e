"""/export benchmark (issue 9). Run: `.venv/bin/python benchmarks/export.py`.

`sensorbot run` (bot and HTTP API on one event loop, SQLite) is started against the local Bot
API emulator with 1.5 M readings of one sensor over 30 days. A client process posts one
reading at a time to the API throughout; `/export dense 30d` is sent while it does. Measured:
the API's write latency (p50, p99, max) while the export runs, compared with the same
client's latency while the bot is idle, and the process's peak RSS (VmHWM) and RSS after.

Baseline, measured in the same run: the old code path (the whole range read into one list,
the CSV built in memory on the event loop, one upload), swapped in for /export.
"""

from __future__ import annotations

import http.client
import io
import json
import multiprocessing
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.tokens import issue_token  # noqa: E402
from sensorbot.demo.emulator import BotApiEmulator  # noqa: E402
from storage.models import ChatLink, Reading, User  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402
from tests.support.dynalite import free_port  # noqa: E402

CHAT = 4242
READINGS = 1_500_000
SPAN_MS = 30 * 86_400_000
POST_INTERVAL_S = 0.02
IDLE_S = 3.0


# -- the old code path, as it was before issue 9 ---------------------------------------------

async def old_export_command(update, context) -> None:  # type: ignore[no-untyped-def]
    """/export as it was: read_range into one list, to_csv on the event loop, one upload."""
    import csv
    from datetime import datetime

    from telegram import InputFile

    from bot.chat import chat_link, find_sensor
    from core.formatting import parse_range

    link = await chat_link(update, context)
    services = context.services
    sensors = await services.run(services.store.list_sensors, link.user_id)
    sensor = find_sensor(sensors, context.args[0])
    zone = services.zone(link)
    window = parse_range(context.args[1], now_ms=services.clock_ms(), zone=zone)
    readings = await services.run(services.store.read_range, link.user_id, sensor.sensor_id,
                                  window.start_ms, window.end_ms, now_ms=services.clock_ms())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp_ms", "local_time", "value"])
    for r in readings:
        local = datetime.fromtimestamp(r.timestamp / 1000, zone).isoformat(timespec="seconds")
        writer.writerow([r.timestamp, local, repr(r.value)])
    await update.effective_message.reply_document(
        InputFile(out.getvalue().encode(), filename="dense_30d.csv"), do_quote=False,
        caption=f"{sensor.display_name} · {window.label} · {len(readings):,} readings")


def child(variant: str, config: str) -> None:
    """`sensorbot run`, with the old /export swapped in for the baseline."""
    import bot.app
    from sensorbot.cli import main

    if variant == "old":
        bot.app.COMMANDS[:] = [(names, old_export_command if names == "export" else handler)
                               for names, handler in bot.app.COMMANDS]
    raise SystemExit(main(["run", "--config", config]))


# -- the load and the measurement --------------------------------------------------------------

def poster(port: int, token: str, pipe: Connection) -> None:
    """POST one reading every POST_INTERVAL_S until told to stop; send back (at, seconds)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    timings: list[tuple[float, float]] = []
    while not pipe.poll():
        body = json.dumps({"readings": [{"sensor": "probe", "value": 1.0}]})
        start = time.monotonic()
        connection.request("POST", "/api/v3/readings", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        timings.append((start, time.monotonic() - start))
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}")
        time.sleep(POST_INTERVAL_S)
    pipe.send(timings)


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def prepare(path: Path, now_ms: int) -> str:
    store = SQLiteStore(path)
    store.add_user(User("cottage", "Cottage", now_ms))
    token, _ = issue_token(store, "cottage", "write", now_ms=now_ms)
    step = SPAN_MS // READINGS
    start = now_ms - READINGS * step
    for first in range(0, READINGS, 50_000):
        store.write_readings("cottage", [
            Reading("dense", start + i * step, round(5 + (i % 5000) / 1000, 3))
            for i in range(first, min(READINGS, first + 50_000))], now_ms=now_ms)
    store.put_chat_link(ChatLink(CHAT, "cottage", now_ms))
    store.close()
    return token


@dataclass
class Result:
    idle: list[float]
    during: list[float]
    export_s: float
    peak_mb: float
    before_mb: float
    after_mb: float
    uploaded_mb: float
    documents: int
    slowest: list[tuple[float, float]]  # (seconds into the export, latency s)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(variant: str, folder: Path, db: Path, token: str) -> Result:
    with BotApiEmulator() as emulator:
        port = free_port()
        config = folder / f"{variant}.toml"
        config.write_text(f'[telegram]\ntoken = "{emulator.token}"\nbase_url = '
                          f'"{emulator.base_url}"\n[storage]\nsqlite_path = "{db}"\n'
                          f"[api]\nport = {port}\nmax_readings_per_minute = 0\n"
                          f"[alerts]\ncheck_interval_seconds = 3600\n", encoding="utf-8")
        process = subprocess.Popen([sys.executable, __file__, "--child", variant, str(config)],
                                   cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=60)
            time.sleep(1.0)
            mine, theirs = multiprocessing.Pipe()
            client = multiprocessing.Process(target=poster, args=(port, token, theirs))
            client.start()
            time.sleep(IDLE_S)
            before_kb = status_kb(process.pid, "VmRSS")
            calls = len(emulator.calls)
            asked = time.monotonic()
            emulator.send_text(CHAT, "/export dense 30d")
            first = emulator.wait_for(lambda c: c.method in {"sendDocument", "sendMessage"}
                                      and c.chat_id == CHAT, after=calls, timeout=600)
            parts = int(first.text.rsplit(" of ", 1)[1]) if " part 1 of " in first.text else 1
            documents = [c for c in emulator.calls[calls:] if c.method == "sendDocument"]
            while len(documents) < parts:
                time.sleep(0.05)
                documents = [c for c in emulator.calls[calls:] if c.method == "sendDocument"]
            done = documents[-1].at
            time.sleep(1.0)
            mine.send("stop")
            timings = mine.recv()
            client.join()
            after_kb, peak_kb = status_kb(process.pid, "VmRSS"), status_kb(process.pid, "VmHWM")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    if first.method != "sendDocument":
        raise SystemExit(f"{variant}: /export answered {first.text!r}")
    return Result(
        idle=[s for at, s in timings if at < asked],
        during=[s for at, s in timings if asked <= at <= done],
        export_s=done - asked, peak_mb=peak_kb / 1024, before_mb=before_kb / 1024,
        after_mb=after_kb / 1024,
        uploaded_mb=sum(len(c.files["document"][1]) for c in documents) / 2**20,
        documents=len(documents),
        slowest=sorted(((at - asked, s) for at, s in timings if asked <= at <= done),
                       key=lambda pair: -pair[1])[:5])


def report(name: str, result: Result) -> None:
    during = result.during or [0.0]
    print(f"  {name}: export {result.export_s:.1f} s, {result.documents} document(s) "
          f"{result.uploaded_mb:.1f} MB")
    print(f"    API POST latency while idle  p50 {statistics.median(result.idle) * 1e3:7.1f} ms"
          f"  p99 {percentile(result.idle, 0.99) * 1e3:7.1f} ms")
    print(f"    during the export ({len(during)} posts) p50 "
          f"{statistics.median(during) * 1e3:7.1f} ms  p99 {percentile(during, 0.99) * 1e3:7.1f}"
          f" ms  max {max(during) * 1e3:7.1f} ms")
    print(f"    RSS before {result.before_mb:.0f} MB, peak {result.peak_mb:.0f} MB, "
          f"after {result.after_mb:.0f} MB")
    print("    slowest posts (s into the export: ms): " + ", ".join(
        f"{at:.1f}: {s * 1e3:.0f}" for at, s in result.slowest))


def main() -> None:
    now_ms = time.time_ns() // 1_000_000
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        started = time.monotonic()
        token = prepare(folder / "export.db", now_ms)
        print(f"/export dense 30d over {READINGS:,} readings, SQLite, while a client posts "
              f"one reading every {POST_INTERVAL_S * 1e3:.0f} ms (prepared in "
              f"{time.monotonic() - started:.0f} s):")
        old = measure("old", folder, folder / "export.db", token)
        report("before (old code path: one list, CSV on the event loop)", old)
        new = measure("new", folder, folder / "export.db", token)
        report("after (pages in a worker thread, gzip, parts under 45 MB)", new)
    print(f"  ratio after/before: API p99 during the export "
          f"{percentile(new.during, 0.99) / percentile(old.during, 0.99):.2f}, peak RSS "
          f"{new.peak_mb / old.peak_mb:.2f}, upload {new.uploaded_mb / old.uploaded_mb:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3])
    else:
        main()
