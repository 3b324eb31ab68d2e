"""MQTT ingest benchmark. Run: `.venv/bin/python benchmarks/mqtt.py` (about 5 minutes).

Through a real broker (mosquitto when installed, else amqtt) into SQLite, with devices
publishing Zigbee2MQTT-like messages (no time of their own: stamped on arrival) from another
process, spread over 20 devices:

1. sustained: 1,000 messages/s for 60 s to the subscriber (MqttIngest on a loop of its own
   thread, as `sensorbot run` runs it); message -> stored latency p50 / p99, from the
   publisher's clock at publish to the end of the write holding it (goal: p99 <= 50 ms);
2. across a `kill -9` of `sensorbot api` and a restart of the broker, both in the middle of a
   flood at 1,000 messages/s: messages lost and stored twice (goal: 0 and 0);
3. RSS of `sensorbot api` before and after 60 s at 1,000 messages/s (goal: growth <= 10 MB);
4. the ceiling, for information: messages stored per second draining a backlog the broker
   kept while the subscriber was away.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from array import array
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import MqttSettings, MqttSubscription  # noqa: E402
from ingest.mqtt.subscriber import MqttIngest  # noqa: E402
from storage.models import Reading, User  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402
from tests.ingest.mqtt.broker import PASSWORD, USERNAME, Broker, broker_kind  # noqa: E402
from tests.support.dynalite import free_port  # noqa: E402

RATE = 1000  # messages a second
SUSTAINED_S = 60
FLOOD = 30_000  # messages of the kill -9 run
BACKLOG = 50_000
DEVICES = 20


def publish(port: int, count: int, per_second: float, qos: int, client_id: str) -> None:
    """The devices (in a process of their own): `count` messages carrying their send time and
    a sequence number; `per_second` paces them (0: as fast as the broker takes them). In a
    persistent session at QoS 1, paho sends again what a broker restart interrupted. (At QoS
    2, what paho published while mosquitto 2.0.11 restarted never reached a subscriber, a
    plain paho one included.)"""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=False)
    client.username_pw_set(USERNAME, PASSWORD)
    client.max_inflight_messages_set(20)  # mosquitto's own limit: it drops what is beyond
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(1, 1)
    acknowledged = [0]
    client.on_publish = lambda *_: acknowledged.__setitem__(0, acknowledged[0] + 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    began = time.perf_counter()
    for i in range(count):
        if per_second:
            time.sleep(max(0.0, began + i / per_second - time.perf_counter()))
        payload = json.dumps({"sent": time.time() * 1000, "seq": i})
        client.publish(f"zigbee2mqtt/dev{i % DEVICES}", payload, qos=qos)
        while i - acknowledged[0] >= 5000:  # packet ids are 16 bits: never 65,535 in flight
            time.sleep(0.01)
    deadline = time.monotonic() + 600
    while acknowledged[0] < count and time.monotonic() < deadline:
        time.sleep(0.01)
    if acknowledged[0] < count:
        print(f"the broker took {acknowledged[0]:,} of {count:,}", file=sys.stderr)
    client.disconnect()
    client.loop_stop()


def start_publisher(port: int, count: int, per_second: float = 0, qos: int = 1
                    ) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--publish", str(port), str(count),
                             str(per_second), str(qos), f"bench-pub-{uuid.uuid4().hex[:6]}"])


def subscriptions() -> list[MqttSubscription]:
    return [MqttSubscription(topic="zigbee2mqtt/+", user="bench", sensor="{1}")]


class TimedStore:
    """The real store; notes when each message's write returned (its `sent` reading)."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.latencies_ms = array("d")
        self.readings = 0

    def write_readings(self, user_id: str, readings: list[Reading], *, now_ms: int) -> int:
        written = self._store.write_readings(user_id, readings, now_ms=now_ms)
        done = time.time() * 1000
        self.latencies_ms.extend(done - r.value for r in readings if r.sensor.endswith("/sent"))
        self.readings += written
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class Subscriber:
    """MqttIngest on its own event loop and thread, as `sensorbot run` runs it."""

    def __init__(self, broker: Broker, store: Any, folder: Path) -> None:
        settings = MqttSettings(enabled=True, url=broker.url, username=USERNAME,
                                password=PASSWORD, client_id="bench-sub",
                                state_file=folder / "bench-sub.db",
                                subscriptions=subscriptions())
        self.ingest = MqttIngest(settings, store)
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(
            target=lambda: self._loop.run_until_complete(self.ingest.run(self._stop)))
        self._thread.start()
        wait_until(self.ingest.connected.is_set, 30)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()


def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def bench_store(folder: Path, name: str) -> SQLiteStore:
    store = SQLiteStore(folder / name)
    store.add_user(User("bench", "Bench", 0))
    return store


def sequence_numbers(store: SQLiteStore) -> list[float]:
    now = int(time.time() * 1000)
    return [r.value for device in range(DEVICES)
            for r in store.read_range("bench", f"dev{device}/seq", 0, 2**62, now_ms=now)]


def sustained(broker: Broker, folder: Path) -> tuple[list[float], int, float]:
    """RATE messages/s for SUSTAINED_S: latencies, messages stored, seconds it took."""
    timed = TimedStore(bench_store(folder, "sustained.db"))
    subscriber = Subscriber(broker, timed, folder)
    count = RATE * SUSTAINED_S
    began = time.perf_counter()
    start_publisher(broker.port, count, RATE).wait()
    wait_until(lambda: len(timed.latencies_ms) >= count, 60)
    elapsed = time.perf_counter() - began
    subscriber.stop()
    return list(timed.latencies_ms), len(timed.latencies_ms), elapsed


def ceiling(broker: Broker, folder: Path) -> float:
    """Messages stored per second draining BACKLOG messages kept while the subscriber was
    away."""
    store = TimedStore(bench_store(folder, "ceiling.db"))
    Subscriber(broker, store, folder).stop()  # the session exists: the broker keeps messages
    start_publisher(broker.port, BACKLOG).wait()
    began = time.perf_counter()
    subscriber = Subscriber(broker, store, folder)
    wait_until(lambda: subscriber.ingest.stored_messages >= BACKLOG, 600)
    elapsed = time.perf_counter() - began
    subscriber.stop()
    return BACKLOG / elapsed


class SensorbotApi:
    """`sensorbot api` with [mqtt] on, in a process of its own."""

    def __init__(self, broker: Broker, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "config.toml"
        self.config.write_text(f"""[storage]
sqlite_path = "api.db"
[api]
port = {free_port()}
[mqtt]
enabled = true
url = "{broker.url}"
username = "{USERNAME}"
password = "{PASSWORD}"
client_id = "bench-api"
[[mqtt.subscriptions]]
topic = "zigbee2mqtt/+"
user = "bench"
sensor = "{{1}}"
""", encoding="utf-8")
        self.store = bench_store(folder, "api.db")
        self.log = folder / "api.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        before = self._log_text().count("subscribed to")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sensorbot", "api", "--config", str(self.config)],
                cwd=ROOT, stdout=out, stderr=out)
        wait_until(lambda: self._log_text().count("subscribed to") > before, 60)

    def _log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() \
            else ""

    def rss_mib(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


def across_kill_and_restart(broker: Broker, folder: Path) -> tuple[int, int, int]:
    """FLOOD messages at RATE; `kill -9` of sensorbot after 8 s (started again 1 s later), the
    broker restarted after 18 s. Returns (messages published, lost, stored twice)."""
    api = SensorbotApi(broker, folder)
    api.start()
    publisher = start_publisher(broker.port, FLOOD, RATE)
    time.sleep(8)
    api.kill()
    time.sleep(1)
    api.start()
    time.sleep(9)
    broker.stop()
    time.sleep(1)
    restart(broker)
    publisher.wait()
    wait_until(lambda: len(set(sequence_numbers(api.store))) >= FLOOD, 120)
    time.sleep(2)  # anything stored twice would be now
    api.stop()
    values = sequence_numbers(api.store)
    missing = sorted(set(range(FLOOD)) - {int(v) for v in values})
    if missing:
        print("missing:", ranges(missing), file=sys.stderr)
    return FLOOD, FLOOD - len(set(values)), len(values) - len(set(values))


def ranges(numbers: list[int]) -> str:
    """1,2,3,7 -> '1-3, 7'."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and spans[-1][1] == number - 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans[:20])


def restart(broker: Broker) -> None:
    """Start the broker again (its port may take a moment to be free)."""
    for attempt in range(5):
        try:
            broker.start()
            return
        except RuntimeError:
            log = (broker.folder / "broker.log").read_text(errors="replace")
            print(f"broker restart {attempt + 1} failed:", log[-600:], file=sys.stderr)
            time.sleep(1)
    raise RuntimeError("the broker did not start again")


def rss_growth(broker: Broker, folder: Path) -> tuple[float, float, int]:
    """RSS of `sensorbot api` before and after SUSTAINED_S at RATE, and messages stored."""
    api = SensorbotApi(broker, folder)
    api.start()
    time.sleep(2)
    before = api.rss_mib()
    count = RATE * SUSTAINED_S
    start_publisher(broker.port, count, RATE).wait()
    wait_until(lambda: len(sequence_numbers(api.store)) >= count, 60)
    after = api.rss_mib()
    api.stop()
    return before, after, len(sequence_numbers(api.store))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> None:
    kind = broker_kind()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        broker = Broker(kind, folder / "broker").start()
        try:
            latencies, stored, took = sustained(broker, folder)
            (folder / "kill").mkdir()
            published, lost, twice = across_kill_and_restart(broker, folder / "kill")
            (folder / "rss").mkdir()
            before, after, rss_stored = rss_growth(broker, folder / "rss")
            top = ceiling(broker, folder)
        finally:
            broker.stop()
    p99 = percentile(latencies, 0.99)
    print(f"MQTT ingest through {kind} into SQLite, messages of 2 readings from {DEVICES} "
          "devices, stamped on arrival:")
    print(f"  sustained {RATE:,}/s for {SUSTAINED_S} s: {stored:,} of {RATE * SUSTAINED_S:,} "
          f"stored in {took:.1f} s")
    print(f"    message->stored p50        {percentile(latencies, 0.5):9.1f} ms")
    print(f"    message->stored p99        {p99:9.1f} ms   (goal <= 50 ms: "
          f"{'met' if p99 <= 50 else 'MISSED'})")
    print(f"  kill -9 of sensorbot and a broker restart mid-flood ({published:,} messages at "
          f"{RATE:,}/s):")
    print(f"    lost                       {lost:9,}      (goal 0)")
    print(f"    stored twice               {twice:9,}      (goal 0)")
    print(f"  `sensorbot api`, {RATE * SUSTAINED_S:,} messages in {SUSTAINED_S} s "
          f"({rss_stored:,} stored):")
    print(f"    RSS before / after         {before:6.1f} / {after:.1f} MiB")
    print(f"    RSS growth                 {after - before:9.1f} MiB (goal <= 10 MB = 9.5 MiB:"
          f" {'met' if (after - before) * 2**20 <= 10e6 else 'MISSED'})")
    print(f"  ceiling, draining {BACKLOG:,} kept while away: {top:,.0f} messages/s "
          "(information only)")


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--publish":
        publish(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]),
                sys.argv[6])
    else:
        if "--quick" in sys.argv:  # a trial of the script itself, not the figures
            SUSTAINED_S, BACKLOG, FLOOD = 5, 5000, 22_000
        main()
