"""MQTT ingest benchmark (issue 12). Run: `.venv/bin/python benchmarks/mqtt.py [MESSAGES]`.

Through a real broker (mosquitto when installed, else amqtt) into SQLite:
1. messages stored per second by the subscriber (MqttIngest on a loop of its own thread, as
   `sensorbot run` runs it), draining what the devices (another process) published at QoS 1
   while it was away; its ratio to the storage layer's batched write rate
   (SQLiteStore.write_readings, batches of 1000) measured in the same run (target >= 0.3).
   Twice: messages of one reading with their own timestamp, and Zigbee2MQTT's five fields
   stamped on arrival;
2. message -> stored latency p50 / p99 (publisher's clock at publish to the end of the write
   holding it);
3. paho-mqtt (the client used before) draining the same queue, acknowledging on arrival and
   storing nothing, for reference;
4. RSS of `sensorbot run` with the subscriber on: idle, and after the same messages.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import MqttSettings, MqttSubscription  # noqa: E402
from ingest.mqtt.subscriber import MqttIngest  # noqa: E402
from storage.models import Reading, User  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402
from tests.devices.broker import PASSWORD, USERNAME, Broker, broker_kind  # noqa: E402
from tests.support.dynalite import free_port  # noqa: E402

MESSAGES = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
BATCH = 1000


def store_rate(folder: Path, count: int) -> float:
    """Readings/s of SQLiteStore.write_readings in batches of 1000 (as benchmarks/storage.py)."""
    now = int(time.time() * 1000)
    rows = [Reading(f"sensor-{i % 10}", now - count + i, 20.0) for i in range(count)]
    store = SQLiteStore(folder / "rate.db")
    start = time.perf_counter()
    for i in range(0, count, BATCH):
        store.write_readings("u1", rows[i:i + BATCH], now_ms=now)
    elapsed = time.perf_counter() - start
    store.close()
    return count / elapsed


class TimedStore:
    """The real store; notes when each reading's write returned."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.latencies_ms: list[float] = []
        self.last_stored = 0.0

    def write_readings(self, user_id: str, readings: list[Reading], *, now_ms: int) -> int:
        written = self._store.write_readings(user_id, readings, now_ms=now_ms)
        done = time.time() * 1000
        self.latencies_ms += [done - r.value for r in readings]
        self.last_stored = time.perf_counter()
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


ZIGBEE = '{{"battery":97,"humidity":{humidity},"linkquality":120,"temperature":{temperature},' \
    '"voltage":2995}}'


def publish(port: int, count: int, topic: str, per_second: float) -> None:
    """The devices: `count` QoS 1 messages, each carrying its send time and its own timestamp
    (Zigbee2MQTT's fields instead on a topic under zigbee2mqtt/); `per_second` paces them
    (0: as fast as the broker takes them)."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}")
    client.username_pw_set(USERNAME, PASSWORD)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    base = int(time.time() * 1000) - 600_000
    began = time.perf_counter()
    info = None
    for i in range(count):
        if per_second:
            time.sleep(max(0.0, began + i / per_second - time.perf_counter()))
        payload = ZIGBEE.format(humidity=40 + i % 7, temperature=4 + i % 13 / 10) \
            if topic.startswith("zigbee2mqtt/") else \
            json.dumps({"sent": time.time() * 1000, "timestamp": base + i})
        info = client.publish(topic, payload, qos=1)
        if i % 5000 == 4999:  # packet ids are 16 bits: never more than 65535 unacknowledged
            info.wait_for_publish(timeout=600)
    if info is not None:
        info.wait_for_publish(timeout=600)
    client.disconnect()
    client.loop_stop()


def run_publisher(port: int, count: int, topic: str, per_second: float = 0) -> None:
    subprocess.run([sys.executable, __file__, "--publish", str(port), str(count), topic,
                    str(per_second)], check=True)


class Subscriber:
    """MqttIngest on its own event loop and thread, storing through a TimedStore."""

    def __init__(self, broker: Broker, store: TimedStore) -> None:
        settings = MqttSettings(
            enabled=True, url=broker.url, username=USERNAME, password=PASSWORD,
            client_id="bench-sub", subscriptions=[
                MqttSubscription(topic="bench/+", user="bench", sensor="{1}"),
                MqttSubscription(topic="zigbee2mqtt/+", user="bench", sensor="{1}")])
        self.ingest = MqttIngest(settings, store)  # type: ignore[arg-type]
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(
            target=lambda: self._loop.run_until_complete(self.ingest.run(self._stop)))
        self._thread.start()
        while not self.ingest.connected.is_set():
            time.sleep(0.02)

    def wait_stored(self, count: int, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        while self.ingest.stored_messages < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()


def drain(broker: Broker, timed: TimedStore, topic: str) -> tuple[float, Subscriber]:
    """MESSAGES queued in the broker while the subscriber was away, drained on its return:
    messages stored per second, and the subscriber, still running."""
    run_publisher(broker.port, MESSAGES, topic)
    start = time.perf_counter()
    subscriber = Subscriber(broker, timed)
    subscriber.wait_stored(MESSAGES)
    return MESSAGES / (timed.last_stored - start), subscriber


def subscriber_runs(broker: Broker, folder: Path
                    ) -> tuple[float, float, list[float], int, int]:
    """Throughput with each payload; latency at a steady 500 messages/s for 10 s."""
    store = SQLiteStore(folder / "mqtt.db")
    store.add_user(User("bench", "Bench", 0))
    timed = TimedStore(store)
    Subscriber(broker, timed).stop()  # the persistent session now exists
    rate, subscriber = drain(broker, timed, "bench/a")
    subscriber.stop()
    zigbee_rate, subscriber = drain(broker, timed, "zigbee2mqtt/cellar")
    timed.latencies_ms.clear()
    run_publisher(broker.port, 5000, "bench/b", per_second=500)
    subscriber.wait_stored(MESSAGES + 5000, timeout=60)
    subscriber.stop()
    now = int(time.time() * 1000)
    rows = len(store.read_range("bench", "a/sent", 0, 2**53, now_ms=now))
    zigbee_rows = len(store.read_range("bench", "cellar/temperature", 0, 2**53, now_ms=now))
    store.close()
    return rate, zigbee_rate, timed.latencies_ms, rows, zigbee_rows


def bare_paho_rate(broker: Broker) -> float:
    """The client library's own ceiling: paho acknowledging each message as it arrives, storing
    nothing, draining the same queue."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    received, done = [0], threading.Event()

    def client() -> paho.Client:
        made = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare",
                           clean_session=False, manual_ack=True)
        made.username_pw_set(USERNAME, PASSWORD)
        made.on_connect = lambda c, *_: c.subscribe("bare/+", 1)
        return made

    def on_message(c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        c.ack(message.mid, message.qos)
        received[0] += 1
        if received[0] == MESSAGES:
            done.set()

    first = client()
    first.on_subscribe = lambda *_: done.set()
    first.connect("127.0.0.1", broker.port)
    first.loop_start()
    done.wait(30)
    done.clear()
    first.disconnect()
    first.loop_stop()
    run_publisher(broker.port, MESSAGES, "bare/a")
    second = client()
    second.on_message = on_message
    start = time.perf_counter()
    second.connect("127.0.0.1", broker.port)
    second.loop_start()
    done.wait(900)
    elapsed = time.perf_counter() - start
    second.disconnect()
    second.loop_stop()
    return MESSAGES / elapsed


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run_rss(broker: Broker, folder: Path) -> tuple[int, int, int]:
    """RSS of `sensorbot run` (the bot polling the local Bot API emulator, the HTTP API, the
    alert scheduler) with [mqtt] on: idle, then after MESSAGES messages."""
    from sensorbot.demo.emulator import BotApiEmulator

    emulator = BotApiEmulator().start()
    config = folder / "config.toml"
    config.write_text(f"""[telegram]
token = "{emulator.token}"
base_url = "{emulator.base_url}"
[storage]
sqlite_path = "run.db"
[api]
port = {free_port()}
[mqtt]
enabled = true
url = "{broker.url}"
username = "{USERNAME}"
password = "{PASSWORD}"
client_id = "bench-run"
[[mqtt.subscriptions]]
topic = "run/+"
user = "bench"
sensor = "{{1}}"
""", encoding="utf-8")
    store = SQLiteStore(folder / "run.db")
    store.add_user(User("bench", "Bench", 0))
    command = [sys.executable, "-m", "sensorbot", "run", "--config", str(config)]
    log = (folder / "run.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)

    def stored() -> int:
        return len(store.read_range("bench", "a/sent", 0, 2**53,
                                    now_ms=int(time.time() * 1000)))

    try:
        while "subscribed to" not in (folder / "run.log").read_text():
            time.sleep(0.1)
        time.sleep(2)
        idle = rss_kib(process.pid)
        run_publisher(broker.port, MESSAGES, "run/a")
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and stored() < MESSAGES:
            time.sleep(0.5)
        return idle, rss_kib(process.pid), stored()
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        store.close()
        emulator.stop()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    kind = broker_kind()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        broker = Broker(kind, folder / "broker").start()
        try:
            rate = store_rate(folder, MESSAGES)
            mqtt_rate, zigbee_rate, latencies, rows, zigbee_rows = subscriber_runs(broker, folder)
            bare_rate = bare_paho_rate(broker)
            idle, busy, run_rows = run_rss(broker, folder)
        finally:
            broker.stop()
    print(f"MQTT ingest through {kind}, {MESSAGES:,} QoS 1 messages a run, SQLite:")
    print(f"  store batched writes/s       {rate:12,.0f}   (write_readings, batches of {BATCH})")
    print("  one reading with its own timestamp a message:")
    print(f"    stored                     {rows:>12,} of {MESSAGES:,}")
    print(f"    messages stored/s          {mqtt_rate:12,.0f}   (draining the broker's queue)")
    print(f"    ratio MQTT/store           {mqtt_rate / rate:12.2f}   (target >= 0.3)")
    print("  Zigbee2MQTT, five fields stamped on arrival a message:")
    print(f"    stored                     {zigbee_rows:>12,} of {MESSAGES:,}")
    print(f"    messages stored/s          {zigbee_rate:12,.0f}   "
          f"({zigbee_rate * 5:,.0f} readings/s)")
    print(f"    ratio MQTT/store           {zigbee_rate / rate:12.2f}   (readings: "
          f"{zigbee_rate * 5 / rate:.2f})")
    print(f"  paho-mqtt, ack on arrival    {bare_rate:12,.0f}   (the client used before, storing"
          f" nothing; ours is {mqtt_rate / bare_rate:.1f}x)")
    print("  latency message->stored at 500 messages/s:")
    print(f"    p50                        {percentile(latencies, 0.5):9.1f} ms")
    print(f"    p99                        {percentile(latencies, 0.99):9.1f} ms")
    print(f"`sensorbot run` with the subscriber on ({run_rows:,} of {MESSAGES:,} stored):")
    print(f"  RSS idle                     {idle / 1024:9.1f} MiB")
    print(f"  RSS after {MESSAGES:,} messages   {busy / 1024:9.1f} MiB")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--publish":
        publish(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    else:
        main()
