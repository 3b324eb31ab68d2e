"""Serverless benchmarks (issue 11). Run: `.venv/bin/python benchmarks/lambdas.py`.

- cold start of each Lambda handler: a fresh interpreter imports sensorbot.lambdas and handles
  its first event (against dynalite and the Bot API emulator); targets 1 s (API, alerts) and
  1.5 s (bot);
- the package sizes of dist/*.zip (`make package` builds them);
- on dynalite, the capacity units a reading costs through the API handler, and the read units
  per rule of a scheduled alert cycle, where a cold Lambda cannot keep the rulebook;
- the monthly AWS bill those units make for 10, 100 and 1,000 sensors at a reading a minute
  (docs/aws.md), next to ranchdata's for the same load.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts import heating  # noqa: E402
from alerts.cycle import RuleBook, run_cycle  # noqa: E402
from alerts.heating import HeatingMemory  # noqa: E402
from alerts.heating_rule import dump_memory, load_memory  # noqa: E402
from alerts.rules import HEATING_SPEC, freeze_preset  # noqa: E402
from core.config import Settings  # noqa: E402
from core.tokens import issue_token  # noqa: E402
from ingest.http.app import create_app  # noqa: E402
from sensorbot.demo.emulator import BotApiEmulator  # noqa: E402
from sensorbot.lambdas import build_handler  # noqa: E402
from storage.dynamodb import DynamoDBStore  # noqa: E402
from storage.dynamodb.client import build_client  # noqa: E402
from storage.models import (  # noqa: E402
    AlertRule,
    AlertState,
    ChatLink,
    OutsideSettings,
    Reading,
    User,
)
from tests.support.dynalite import find_dynalite, start_dynalite  # noqa: E402

EVENTS = ROOT / "tests" / "events"
RUNS = 5
TARGETS = {"api": 1.0, "alerts": 1.0, "bot": 1.5, "chart": 1.5}  # chart: the bot's, /history
CHAT = 101
MINUTES_A_DAY = 24 * 60
MINUTES_A_MONTH = 30 * MINUTES_A_DAY

# Prices: AWS list prices for us-east-1 as of 2025-01 (DynamoDB on-demand after the
# 2024-11-01 cut); eu-north-1 is within about 10 %. Free tiers are left out.
PRICE = {
    "wru": 0.625 / 1e6, "rru": 0.125 / 1e6,          # DynamoDB on-demand, per request unit
    "storage_gb": 0.25, "pitr_gb": 0.20,             # DynamoDB per GB-month
    "lambda_request": 0.20 / 1e6,                    # Lambda, per invocation
    "gb_s_arm": 0.0000133334, "gb_s_x86": 0.0000166667,
    "rest_api_request": 3.50 / 1e6,                  # API Gateway REST API (ranchdata)
}
API_MEMORY_GB, ALERTS_MEMORY_GB = 0.5, 0.5  # deploy/template.yaml
LAMBDA_FULL_CORE_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, proportionally less below
DYNAMODB_CALL_MS = 6.0  # a DynamoDB round trip inside a region, assumed
STORED_ITEM_BYTES = 100 + 90  # DynamoDB's 100 bytes of overhead + a reading's attributes


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def readings_event(token: str, sensor: str, value: float) -> dict[str, Any]:
    call = event("function_url_readings")
    call["headers"]["authorization"] = f"Bearer {token}"
    call["body"] = json.dumps({"readings": [{"sensor": sensor, "value": value}]})
    return call


def webhook_event(text: str, secret: str) -> dict[str, Any]:
    call = event("telegram_webhook")
    update = json.loads(call["body"])
    update["message"]["text"] = text
    update["message"]["entities"][0]["length"] = len(text.split()[0])
    call["body"] = json.dumps(update)
    call["headers"]["x-telegram-bot-api-secret-token"] = secret
    return call


# -- cold starts ------------------------------------------------------------------------------

COLD = """
import json, sys, time
start, cpu = time.perf_counter(), time.process_time()
from sensorbot import lambdas
imported = time.perf_counter()
handler = getattr(lambdas, sys.argv[1])
response = handler(json.loads(sys.stdin.read()), None)
done = time.perf_counter()
status = response.get("statusCode", 200)
print(json.dumps({"import": imported - start, "first": done - imported, "status": status,
                  "cpu": time.process_time() - cpu}))
"""


def cold_start(handler: str, call: dict[str, Any], environment: dict[str, str]) -> dict[str, Any]:
    # As Lambda sets it: the module's import then does the function's imports (init phase).
    lambda_env = {"_HANDLER": f"sensorbot.lambdas.{handler}"}
    result = subprocess.run([sys.executable, "-c", COLD, handler], input=json.dumps(call),
                            capture_output=True, text=True, cwd=ROOT, check=True,
                            env={**os.environ, **environment, **lambda_env})
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def cold_starts(endpoint: str, emulator: BotApiEmulator) -> dict[str, list[dict[str, Any]]]:
    now = int(time.time() * 1000)
    store, environment = deployment(endpoint, emulator)
    write, _ = issue_token(store, "home", "write", now_ms=now)
    store.write_readings("home", [Reading(f"s{i}", now - m * 60_000, 10.0 + i)
                                  for i in range(10) for m in range(30)], now_ms=now)
    for i in range(10):  # a home: ten sensors with the freeze preset
        for n, spec in enumerate(freeze_preset(3.0)):
            store.put_alert_rule(AlertRule("home", f"r{i}{n}", f"s{i}", spec, now))
    store.put_chat_link(ChatLink(CHAT, "home", now))
    secret = environment["SENSORBOT_TELEGRAM__WEBHOOK_SECRET"]
    calls = {"api": ("api_handler", readings_event(write, "s1", 11.5)),
             "alerts": ("alerts_handler", event("eventbridge_scheduled")),
             "bot": ("bot_handler", webhook_event("/latest", secret)),
             "chart": ("bot_handler", webhook_event("/history s1", secret))}
    found: dict[str, list[dict[str, Any]]] = {}
    for name, (handler, call) in calls.items():
        for _ in range(RUNS):
            # as on Lambda, matplotlib finds no font cache: it builds one in /tmp
            with tempfile.TemporaryDirectory() as folder:
                fresh = {**environment, "MPLCONFIGDIR": folder}
                found.setdefault(name, []).append(cold_start(handler, call, fresh))
    return found


def fresh_store(client: Any) -> DynamoDBStore:
    """A store on tables of its own, created on dynalite."""
    suffix = uuid.uuid4().hex[:8]
    store = DynamoDBStore(client=client, measurements_table=f"m-{suffix}",
                          meta_table=f"meta-{suffix}")
    store.init()
    return store


def deployment(endpoint: str, emulator: BotApiEmulator) -> tuple[DynamoDBStore, dict[str, str]]:
    store = fresh_store(build_client("eu-north-1", endpoint))
    store.add_user(User("home", "Home", int(time.time() * 1000)))
    environment = {
        "SENSORBOT_STORAGE__BACKEND": "dynamodb",
        "SENSORBOT_STORAGE__DYNAMODB__ENDPOINT_URL": endpoint,
        "SENSORBOT_STORAGE__DYNAMODB__MEASUREMENTS_TABLE": store.measurements_table,
        "SENSORBOT_STORAGE__DYNAMODB__META_TABLE": store.meta_table,
        "SENSORBOT_TELEGRAM__BASE_URL": emulator.base_url,
        "SENSORBOT_TELEGRAM__WEBHOOK_SECRET": "bench-secret",
        "TELEGRAM_BOT_TOKEN": emulator.token,
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "eu-north-1", "NO_PROXY": "127.0.0.1,localhost",
    }
    return store, environment


# -- capacity on dynalite ---------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.now


def api_units(endpoint: str) -> dict[str, float]:
    """Per reading posted alone (as ranchdata's gateway did): its sensor's own token, or one
    token a whole gateway shares; one post a minute each, through the API handler."""
    client = build_client("eu-north-1", endpoint)
    found = {}
    for shared in (False, True):
        store = fresh_store(client)
        clock = Clock()
        store.add_user(User("home", "Home", clock.now))
        sensors = 20
        tokens = [issue_token(store, "home", "write", now_ms=clock.now)[0]
                  for _ in range(1 if shared else sensors)]
        handler = build_handler(create_app(Settings(api={"max_readings_per_minute": 0}),
                                           store=store, clock_ms=clock))
        handler(readings_event(tokens[0], "s0", 1.0), None)  # warm, sensors registered
        for i in range(1, sensors):
            handler(readings_event(tokens[i % len(tokens)], f"s{i}", 1.0), None)
        reads, writes = store.capacity.read_units, store.capacity.write_units
        cpu = time.process_time()
        posts = 0
        for _ in range(5):
            clock.now += 60_000
            for i in range(sensors):
                response = handler(readings_event(tokens[i % len(tokens)], f"s{i}", 2.0), None)
                assert response["statusCode"] == 200, response
                posts += 1
        key = "shared" if shared else "own"
        found[f"rru_{key}"] = (store.capacity.read_units - reads) / posts
        found[f"wru_{key}"] = (store.capacity.write_units - writes) / posts
        found[f"cpu_ms_{key}"] = (time.process_time() - cpu) * 1000 / posts
    return found


class Silent:
    async def send(self, notice: Any) -> None:
        raise AssertionError("a steady cycle sends nothing")


def cycle_units(endpoint: str, sensors: int = 500) -> dict[str, float]:
    """Read units of one steady cycle: every sensor with the freeze preset (below, stale and
    the heating watch)."""
    now = int(time.time() * 1000)
    store = fresh_store(build_client("eu-north-1", endpoint))
    readings = [Reading(f"s{i:04d}", now - 60_000, 10.0) for i in range(sensors)]
    for start in range(0, sensors, 500):
        store.write_readings("home", readings[start:start + 500], now_ms=now)
    for i in range(sensors):
        for n, spec in enumerate(freeze_preset(3.0)):
            store.put_alert_rule(AlertRule("home", f"r{i:04d}{n}", f"s{i:04d}", spec, now))
    rules = len(freeze_preset(3.0)) * sensors
    asyncio.run(run_cycle(store, Silent(), now))  # settle into the steady state

    def measure(rulebook: RuleBook) -> tuple[float, float]:
        before, cpu = store.capacity.read_units, time.process_time()
        asyncio.run(run_cycle(store, Silent(), now + 1, rulebook=rulebook))
        return store.capacity.read_units - before, time.process_time() - cpu

    cold, cold_cpu = measure(RuleBook())  # what AlertsFunction does every cycle
    kept = RuleBook()
    measure(kept)
    warm, _ = measure(kept)  # what `sensorbot run` does between rule changes
    before = store.capacity.read_units
    store.list_alert_rules()
    listing = store.capacity.read_units - before
    return {"rules": rules, "sensors": sensors, "cold": cold, "warm": warm, "listing": listing,
            "cpu_s": cold_cpu}


def relearn_units(endpoint: str, days: int = heating.LEARN_DAYS) -> dict[str, float]:
    """What a heating watch's daily relearning costs: read units and CPU of the cycle that reads
    `days` of one-minute readings of its sensor and of the user's outdoor sensor, and of the
    steady cycle after it."""
    now = int(time.time() * 1000)
    store = fresh_store(build_client("eu-north-1", endpoint))
    minutes = days * MINUTES_A_DAY
    for sensor, base in (("attic", 8.0), ("garden", -5.0)):
        readings = [Reading(sensor, now - (minutes - m) * 60_000,
                            base + 0.3 * ((m // 20) % 2) - 0.1 * ((m // 700) % 3))
                    for m in range(minutes)]
        for start in range(0, minutes, 500):
            store.write_readings("home", readings[start:start + 500], now_ms=now)
    store.put_outside_settings(OutsideSettings("home", outdoor_sensor="garden"))
    first_seen = HeatingMemory(first_seen=now - minutes * 60_000)
    store.put_alert_rule(AlertRule("home", "watch", "attic", HEATING_SPEC, now,
                                   AlertState(heating=dump_memory(first_seen))))

    def measure(at: int) -> tuple[float, float]:
        before, cpu = store.capacity.read_units, time.process_time()
        asyncio.run(run_cycle(store, Silent(), at))
        return store.capacity.read_units - before, time.process_time() - cpu

    learning, learning_cpu = measure(now)
    steady, _ = measure(now + 60_000)
    rule = store.get_alert_rule("home", "watch")
    learned = rule is not None and load_memory(rule.state.heating).model is not None
    return {"readings": 2 * minutes, "rru": learning - steady, "cpu_s": learning_cpu,
            "steady": steady, "learned": float(learned)}


# -- the bill ---------------------------------------------------------------------------------

def lambda_ms(cpu_ms: float, calls: float, memory_gb: float) -> float:
    """Billed duration: CPU scaled to the function's share of a core, plus round trips."""
    return cpu_ms * LAMBDA_FULL_CORE_MB / (memory_gb * 1024) + calls * DYNAMODB_CALL_MS


def monthly_bill(sensors: int, api: dict[str, float], cycle: dict[str, float],
                 relearn: dict[str, float]) -> dict[str, float]:
    readings = sensors * MINUTES_A_MONTH
    cycles = MINUTES_A_MONTH
    api_seconds = lambda_ms(api["cpu_ms_own"], 3, API_MEMORY_GB) / 1000  # get, write, touch
    cycle_rru = cycle["cold"] / cycle["sensors"] * sensors  # scales with watched sensors
    cycle_seconds = (lambda_ms(cycle["cpu_s"] * 1000 / cycle["sensors"] * sensors,
                               sensors / 16 + 1, ALERTS_MEMORY_GB) / 1000)
    # each heating watch relearns once a day: its reads, and the alerts Lambda's time for them
    relearns = sensors * 30
    relearn_seconds = lambda_ms(relearn["cpu_s"] * 1000, relearn["rru"] / 8 + 2,
                                ALERTS_MEMORY_GB) / 1000
    heating_bill = relearns * (relearn["rru"] * PRICE["rru"]
                               + relearn_seconds * ALERTS_MEMORY_GB * PRICE["gb_s_arm"])
    stored_gb = readings * 3 * STORED_ITEM_BYTES / 1e9  # 90 days of readings
    bill = {
        "api_lambda": readings * (PRICE["lambda_request"]
                                  + api_seconds * API_MEMORY_GB * PRICE["gb_s_arm"]),
        "alerts_lambda": cycles * (PRICE["lambda_request"]
                                   + cycle_seconds * ALERTS_MEMORY_GB * PRICE["gb_s_arm"])
        + relearns * relearn_seconds * ALERTS_MEMORY_GB * PRICE["gb_s_arm"],
        "writes": readings * api["wru_own"] * PRICE["wru"],
        "reads": (readings * api["rru_own"] + cycles * cycle_rru
                  + relearns * relearn["rru"]) * PRICE["rru"],
        "storage": stored_gb * (PRICE["storage_gb"] + PRICE["pitr_gb"]),
    }
    bill["total"] = sum(bill.values())
    bill["heating"] = heating_bill  # of the total: the watches' daily relearning
    # a gateway's sensors sharing one token: its last-use write is once a minute in all
    bill["total_shared"] = bill["total"] - readings * (api["wru_own"] - api["wru_shared"]) \
        * PRICE["wru"]
    return bill


def ranchdata_bill(sensors: int) -> dict[str, float]:
    """ranchdata (serverless.yml): a REST API, a Node.js Lambda at Serverless's default
    1,024 MB on x86_64 (assumed 30 ms billed), one PutItem per reading, 28 days kept."""
    readings = sensors * MINUTES_A_MONTH
    bill = {
        "api_gateway": readings * PRICE["rest_api_request"],
        "lambda": readings * (PRICE["lambda_request"] + 0.030 * 1.0 * PRICE["gb_s_x86"]),
        "writes": readings * PRICE["wru"],
        "storage": readings * 28 / 30 * STORED_ITEM_BYTES / 1e9 * PRICE["storage_gb"],
    }
    bill["total"] = sum(bill.values())
    return bill


# -- report -----------------------------------------------------------------------------------

def package_sizes() -> list[str]:
    lines = []
    for name in ("api", "alerts", "bot"):
        path = ROOT / "dist" / f"{name}.zip"
        lines.append(f"  dist/{name}.zip: {path.stat().st_size / 2**20:.1f} MiB" if path.exists()
                     else f"  dist/{name}.zip: not built (run `make package`)")
    return lines


def main() -> None:
    binary = find_dynalite()
    if binary is None:
        sys.exit("dynalite is not installed (make test installs it into .tools/)")
    server = start_dynalite(binary)
    try:
        with BotApiEmulator() as emulator:
            starts = cold_starts(server.endpoint, emulator)
        api = api_units(server.endpoint)
        cycle = cycle_units(server.endpoint)
        relearn = relearn_units(server.endpoint)
    finally:
        server.stop()

    print(f"Cold start = import sensorbot.lambdas + the first event, fresh interpreter, median "
          f"of {RUNS} (local CPU, dynalite and the emulator on loopback):")
    for name, runs in starts.items():
        imported = statistics.median(r["import"] for r in runs)
        first = statistics.median(r["first"] for r in runs)
        total = statistics.median(r["import"] + r["first"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        statuses = {r["status"] for r in runs}
        print(f"  {name:6s} {total:.2f} s (import {imported:.2f} s + first event {first:.2f} s;"
              f" CPU {cpu:.2f} s)   target <= {TARGETS[name]:.1f} s, ratio "
              f"{total / TARGETS[name]:.2f}   status {sorted(statuses)}")
    load = os.getloadavg()[0]
    print(f"  (load average {load:.1f} on {os.cpu_count()} CPUs while measuring: wall times on "
          "a shared machine run long; CPU time is the steadier figure)")
    print("Packages:")
    print("\n".join(package_sizes()))
    print("API, per reading posted alone (dynalite's ConsumedCapacity):")
    print(f"  own token per sensor: {api['wru_own']:.2f} WRU + {api['rru_own']:.2f} RRU, "
          f"CPU {api['cpu_ms_own']:.1f} ms warm")
    print(f"  one shared token:     {api['wru_shared']:.2f} WRU + {api['rru_shared']:.2f} RRU, "
          f"CPU {api['cpu_ms_shared']:.1f} ms warm")
    print(f"Alert cycle, {cycle['sensors']:.0f} sensors x freeze preset = {cycle['rules']:.0f} "
          f"rules, read units:")
    print(f"  as AlertsFunction runs it (rules reloaded every cycle): {cycle['cold']:.1f} RRU = "
          f"{cycle['cold'] / cycle['rules']:.3f} per rule   (target <= 0.5; ratio "
          f"{cycle['cold'] / cycle['rules'] / 0.5:.2f})")
    print(f"  with the rulebook kept (sensorbot run): {cycle['warm']:.1f} RRU = "
          f"{cycle['warm'] / cycle['rules']:.3f} per rule; listing the rules alone "
          f"{cycle['listing']:.1f} RRU; CPU of a cold-rulebook cycle {cycle['cpu_s']:.2f} s")
    print(f"Heating watch, one daily relearning ({relearn['readings']:,.0f} one-minute readings "
          f"of its sensor and the outdoor sensor): {relearn['rru']:.1f} RRU, CPU "
          f"{relearn['cpu_s']:.2f} s; the steady cycle after it {relearn['steady']:.1f} RRU"
          f"{'' if relearn['learned'] else '   (NOT LEARNED: the figure is wrong)'}")
    print("Monthly bill, one reading a minute per sensor, a cycle a minute, 90 days kept, "
          "USD (us-east-1 list prices 2025-01, no free tier):")
    print("  | sensors | API Lambda | alerts Lambda | DynamoDB writes | DynamoDB reads | "
          "storage + PITR | total | of it, heating watches relearning | total, one token shared | "
          "ranchdata (of it API Gateway) |")
    for sensors in (10, 100, 1000):
        bill, ranch = monthly_bill(sensors, api, cycle, relearn), ranchdata_bill(sensors)
        print(f"  | {sensors:,} | {bill['api_lambda']:.2f} | {bill['alerts_lambda']:.2f} | "
              f"{bill['writes']:.2f} | {bill['reads']:.2f} | {bill['storage']:.2f} | "
              f"**{bill['total']:.2f}** | {bill['heating']:.2f} | {bill['total_shared']:.2f} | "
              f"{ranch['total']:.2f} ({ranch['api_gateway']:.2f}) |")
    per_sensor = cycle["cold"] / cycle["sensors"] * MINUTES_A_MONTH * PRICE["rru"]
    print(f"  an alert cycle a minute: ${per_sensor:.4f} a month in reads per watched sensor")


if __name__ == "__main__":
    main()
