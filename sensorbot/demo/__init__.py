"""`sensorbot demo`: the whole product on this machine, chatting in the terminal.

A fresh SQLite file, the HTTP API on localhost, a demo user with tokens, a simulated cottage
(its sensors post through the real HTTP API), the bot polling the local Bot API emulator, and
you typing into the chat. No Telegram account needed. The cottage has two weeks of history at
its thermostat's level, an outdoor sensor, and the freeze protection with its heating watch on
the attic; its heating has just failed, so the heating warning reaches the chat within a few
minutes, hours before the pipes are cold. With amqtt installed (the demo extra), also an MQTT
broker and a Zigbee sensor in the cellar publishing to it, which the bot's subscriber stores
by configuration alone (docs/devices.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import math
import os
import random
import shlex
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.actions import set_freeze
from alerts.heating_rule import dump_memory
from alerts.outside import set_outdoor_sensor
from alerts.state import update_rule_state
from core.config import Settings
from core.tokens import issue_token
from sensorbot.demo.emulator import BotApiEmulator, Call
from sensorbot.demo.watch import watched, when_it_warns
from sensorbot.runner import serve
from storage.models import ChatLink, Reading, RuleKind, User
from storage.sqlite import SQLiteStore

if TYPE_CHECKING:
    from sensorbot.demo.mqtt import MqttCorner

DEMO_CHAT = 4242
# The id `sensorbot users add "Summer cottage"` makes, so the docs' commands work in the demo.
DEMO_USER = "summer-cottage"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# name, the thermostat's level, the building's cooling rate per hour (1/τ) unheated
SENSORS = {"attic": ("Attic", 8.0, 0.045), "living-room": ("Living room", 16.0, 0.03)}
HISTORY_DAYS = 14  # backfilled, so the heating watch has learned the cottage
HISTORY_STEP_MS = 5 * 60_000
WARNING_AFTER_START_MS = 60_000  # when the heating warning is to reach the chat
DRY_RUNS = 8
EARLY_ENOUGH_MS = 30 * 60_000  # a failure the watch would have caught this long before start
THERMOSTAT_BAND = 0.3  # °C either side of the level
THERMOSTAT_CYCLE_MS = 90 * 60_000
OUTDOOR_SENSOR = "outdoor"
# The cellar's Zigbee sensor (over MQTT): half underground, it cools slowly.
CELLAR = ("Cellar", 8.0, 0.012)
# Its readings as the Zigbee2MQTT recipe names them, and the names they are given.
CELLAR_NAMES = {"cellar/temperature": "Cellar", "cellar/humidity": "Cellar humidity",
                "cellar/battery": "Cellar battery"}
OUTDOOR = -9.0
SENSOR_PERIOD_S = 10
NO_AMQTT = ("(No MQTT device in this demo: it needs amqtt, which `make demo` installs with the "
            "demo extra — pip install -e '.[demo]'.)\n")


def outdoor(ms: int) -> float:
    """A frosty spell: −11 °C on average, coldest before dawn."""
    hour = (ms % DAY_MS) / HOUR_MS
    return -11.0 + 4.0 * math.sin(2 * math.pi * (hour - 9) / 24)


def heated(sensor: str, ms: int) -> float:
    """The thermostat's saw-tooth around its level, and the sun on some afternoons."""
    _, level, _ = SENSORS[sensor]
    phase = (ms % THERMOSTAT_CYCLE_MS) / THERMOSTAT_CYCLE_MS
    hour = (ms % DAY_MS) / HOUR_MS
    sunny = (ms // DAY_MS) % 3 == 0 and 11 <= hour < 17
    sun = 1.5 * math.sin(math.pi * (hour - 11) / 6) if sunny else 0.0
    return level + THERMOSTAT_BAND * (1 - 2 * abs(2 * phase - 1)) + sun


def noise(sensor: str, ms: int, spread: float) -> float:
    """The sensor's noise at that moment: the same in a dry run as in the demo itself."""
    return random.Random(f"{sensor}@{ms}").gauss(0, spread)


def temperature(sensor: str, ms: int, failed_at_ms: int) -> float:
    """Heated until the failure; then Newton's cooling towards the frost outside."""
    if ms < failed_at_ms:
        value = heated(sensor, ms)
    else:
        _, _, rate = SENSORS[sensor]
        start, outside = heated(sensor, failed_at_ms), outdoor(ms)
        value = outside + (start - outside) * math.exp(-rate * (ms - failed_at_ms) / HOUR_MS)
    return round(value + noise(sensor, ms, 0.03), 2)


def cooled(spec: tuple[str, float, float], hours_since_failure: float) -> float:
    """Newton's cooling towards the frost outside, with a little sensor noise."""
    _, warm, rate = spec
    value = OUTDOOR + (warm - OUTDOOR) * math.exp(-rate * max(0.0, hours_since_failure))
    return round(value + random.gauss(0, 0.05), 2)


def failed_before_start(now: int) -> int:
    """How long before the start the heating stopped, so that the watch warns within a
    minute or two of the start: dry runs of the same cottage through the same watch say when
    it would warn, and the failure moves until that is soon after the start, or shortly before
    it (the watch then warns at its first cycle)."""
    back, tried = 90 * 60_000, []
    for _ in range(DRY_RUNS):
        warned = dry_run(now, now - back)
        ahead = warned - now if warned is not None else 2 * HOUR_MS
        tried.append((back, ahead))
        if -EARLY_ENOUGH_MS <= ahead <= WARNING_AFTER_START_MS:
            return back
        back = max(0, back + ahead - WARNING_AFTER_START_MS)
    # none within the minute: the soonest of those within three (a live warning 3 minutes
    # late, which the readings' own noise can make later still, is no longer taken at once)
    soon = [(ahead, b) for b, ahead in tried
            if -EARLY_ENOUGH_MS <= ahead <= 3 * WARNING_AFTER_START_MS]
    if soon:
        return min(soon)[1]
    early = [b for b, ahead in tried if ahead < -EARLY_ENOUGH_MS]
    return min(early) if early else max(b for b, _ in tried) + HOUR_MS


def dry_run(now: int, failed_at: int) -> int | None:
    """When the watch would warn if the heating failed at `failed_at`."""
    cottage = Cottage("", "", failed_at)
    indoor = cottage.history("attic", now - HISTORY_DAYS * DAY_MS, now + 6 * HOUR_MS)
    outside = cottage.history(OUTDOOR_SENSOR, now - HISTORY_DAYS * DAY_MS, now + 6 * HOUR_MS)
    return when_it_warns(indoor, outside)


def post_json(url: str, body: dict[str, Any], token: str) -> None:
    """POST to the demo's own API on localhost."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, json.dumps(body).encode(), headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        response.read()


class Cottage:
    """The simulated sensors: two weeks of history first, then a reading every few
    seconds."""

    def __init__(self, api: str, token: str, failed_at_ms: int) -> None:
        self.api, self.token, self.failed_at_ms = api, token, failed_at_ms
        self.stopped = threading.Event()

    def value(self, sensor: str, ms: int) -> float:
        if sensor == OUTDOOR_SENSOR:
            return round(outdoor(ms) + noise(sensor, ms, 0.1), 1)
        return temperature(sensor, ms, self.failed_at_ms)

    def history(self, sensor: str, start_ms: int, end_ms: int,
                step_ms: int = HISTORY_STEP_MS) -> list[Reading]:
        first = start_ms - start_ms % step_ms
        return [Reading(sensor, ts, self.value(sensor, ts)) for ts in range(first, end_ms, step_ms)]

    def backfill(self, store: SQLiteStore, now_ms: int) -> list[Reading]:
        """The two weeks before the demo, as stored then; returns them."""
        start = now_ms - HISTORY_DAYS * DAY_MS
        history = [r for sensor in [*SENSORS, OUTDOOR_SENSOR]
                   for r in self.history(sensor, start, now_ms)]
        for i in range(0, len(history), 5000):
            store.write_readings(DEMO_USER, history[i:i + 5000], now_ms=now_ms)
        return history

    def run(self) -> None:
        """A round at once, then one every period: the backfill ends up to 5 min before the
        start, and the first /latest should not show that as the sensors' last word."""
        while True:
            now = time.time_ns() // 1_000_000
            for sensor in [*SENSORS, OUTDOOR_SENSOR]:
                with contextlib.suppress(OSError):  # stopping: the next round tries again
                    post_json(f"{self.api}/api/v2/sensor/{sensor}/measurement",
                              {"value": self.value(sensor, now)}, self.token)
            if self.stopped.wait(SENSOR_PERIOD_S):
                return


PROMPT = "you> "


class Terminal:
    """Prints what the bot sends to the demo chat; saves photos and documents to files."""

    def __init__(self, folder: Path, out: TextIO) -> None:
        self.folder, self.out = folder, out
        # Every keyboard stays pressable, and every button keeps its number while its message
        # keeps it: message id → {number: (the message, the button)}. New buttons continue
        # the count.
        self.keyboards: dict[int, dict[int, tuple[Call, dict[str, Any]]]] = {}
        self.next_number = 1
        self.saved = 0
        self.prompting = False  # the `you> ` prompt is on screen, waiting for a line

    def show(self, call: Call) -> None:
        if call.chat_id == DEMO_CHAT and call.method == "editMessageReplyMarkup":
            if call.buttons:
                self.number_buttons(call)
            else:
                self.keyboards.pop(_message_id(call), None)
            return
        if call.chat_id != DEMO_CHAT or call.method not in {"sendMessage", "sendPhoto",
                                                            "sendDocument", "editMessageText"}:
            return
        lines = [call.text] if call.text else []
        for kind in ("photo", "document"):
            if kind in call.files:
                name, content = call.files[kind]
                self.saved += 1
                path = self.folder / (f"chart-{self.saved}.png" if kind == "photo"
                                      else f"{self.saved}-{name}")
                path.write_bytes(content)
                lines.insert(0, f"[{kind} saved to {path}]")
        if call.method == "editMessageText" and not call.buttons:
            self.keyboards.pop(_message_id(call), None)
        if call.buttons:
            numbers = self.number_buttons(call)
            lines += [f"  [{n}] {button['text']}"
                      for n, button in zip(numbers, call.buttons, strict=True)]
            lines.append("  (type a number to press that button)")
        text = "\n".join("bot> " + line for line in "\n".join(lines).split("\n")) + "\n"
        # Something that arrives on its own (an alert) starts a new line, then gives the
        # prompt back.
        self.out.write(f"\n{text}{PROMPT}" if self.prompting else text)
        self.out.flush()


    def number_buttons(self, call: Call) -> list[int]:
        """Number this message's buttons. A button an edited message still has keeps its
        number (the warning's Chart 24h stays 4 after Acknowledge); a new one gets the next."""
        message_id = _message_id(call)
        kept: dict[str, list[int]] = {}
        for number, (_, button) in self.keyboards.get(message_id, {}).items():
            kept.setdefault(str(button["text"]), []).append(number)
        numbers = []
        for button in call.buttons:
            same = kept.get(str(button["text"]))
            if same:
                numbers.append(same.pop(0))
            else:
                numbers.append(self.next_number)
                self.next_number += 1
        self.keyboards[message_id] = dict(zip(numbers, ((call, b) for b in call.buttons),
                                              strict=True))
        return numbers

    def button(self, number: int) -> tuple[Call, str] | None:
        """The message and the callback data of the button with this number, if any."""
        for buttons in self.keyboards.values():
            if number in buttons:
                call, button = buttons[number]
                return call, str(button["callback_data"])
        return None


def _message_id(call: Call) -> int:
    """The message a call sent or edited."""
    if "message_id" in call.params:
        return int(call.params["message_id"])
    return int(call.result["message_id"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_demo(stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sensorbot-demo-"))
    now = time.time_ns() // 1_000_000
    failed_at = now - failed_before_start(now)
    mqtt = start_mqtt_corner(failed_at, out)
    emulator = BotApiEmulator(username="sensorbot_demo_bot").start()
    settings = demo_settings(emulator, folder, mqtt)
    store = SQLiteStore(settings.storage.sqlite_path)
    write, read = prepare_cottage(store, now, with_cellar=mqtt is not None)
    cottage = Cottage(f"http://127.0.0.1:{settings.api.port}", write, failed_at)
    # The history and the rules are in place before the bot's first alert cycle.
    watch_the_attic(store, cottage.backfill(store, now), now)
    terminal = Terminal(folder, out)
    emulator.on_call(terminal.show)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    bot = threading.Thread(target=loop.run_until_complete, args=(serve(settings, store, stop),),
                           daemon=True)
    bot.start()
    try:
        wait_for_api(cottage.api)
        threading.Thread(target=cottage.run, daemon=True).start()
        if mqtt is not None:
            wait_for_reading(store, "cellar/temperature")
        out.write(banner(folder, cottage.api, read, mqtt_banner(mqtt),
                         zone=settings.alerts.timezone))
        chat(emulator, terminal, stdin, out)
    except KeyboardInterrupt:
        out.write("\n")
    finally:
        cottage.stopped.set()
        loop.call_soon_threadsafe(stop.set)
        bot.join(timeout=20)
        if mqtt is not None:  # after the subscriber left, so that it sees no broker outage
            mqtt.stop()
        emulator.stop()
        out.write(f"Bye. The demo's files stay in {folder}\n")


def demo_settings(emulator: BotApiEmulator, folder: Path, mqtt: MqttCorner | None) -> Settings:
    sections: dict[str, Any] = {
        "telegram": {"token": emulator.token, "base_url": emulator.base_url,
                     "admins": [DEMO_CHAT]},
        "storage": {"sqlite_path": folder / "demo.db"},
        "api": {"port": free_port()},
        "alerts": {"check_interval_seconds": 5, "timezone": machine_zone()}}
    if mqtt is not None:
        from sensorbot.demo.mqtt import SUBSCRIBER_LOGIN, TOPIC_FILTER

        # The Zigbee2MQTT recipe of docs/devices.md, word for word.
        sections["mqtt"] = {
            "enabled": True, "url": mqtt.url, "username": SUBSCRIBER_LOGIN[0],
            "password": SUBSCRIBER_LOGIN[1], "client_id": "sensorbot-demo",
            "state_file": folder / "mqtt-state.db",
            "subscriptions": [{"topic": TOPIC_FILTER, "user": DEMO_USER, "sensor": "{1}",
                               "format": "json",
                               "fields": ["temperature", "humidity", "pressure", "battery"]}]}
    return Settings.model_validate(sections)


def prepare_cottage(store: SQLiteStore, now: int, *, with_cellar: bool) -> tuple[str, str]:
    """The demo user, its chat link and named sensors; returns a write and a read token."""
    store.add_user(User(DEMO_USER, "Summer cottage", now))
    write, _ = issue_token(store, DEMO_USER, "write", label="simulated sensor", now_ms=now)
    read, _ = issue_token(store, DEMO_USER, "read", label="demo banner", now_ms=now)
    for sensor, (name, _, _) in SENSORS.items():
        store.update_sensor(DEMO_USER, sensor, name=name, unit="°C", now_ms=now)
    store.update_sensor(DEMO_USER, OUTDOOR_SENSOR, name="Outdoor", unit="°C", now_ms=now)
    # No unit: the MQTT subscriber sets it when it first sees the sensor, as for any device.
    for sensor, name in CELLAR_NAMES.items() if with_cellar else ():
        store.update_sensor(DEMO_USER, sensor, name=name, now_ms=now)
    store.put_chat_link(ChatLink(DEMO_CHAT, DEMO_USER, now))
    return write, read


def watch_the_attic(store: SQLiteStore, history: list[Reading], now: int) -> None:
    """What the owner set up two weeks ago: /outdoor outdoor and /freeze attic, whose
    heating watch has seen every reading since."""
    set_outdoor_sensor(store, DEMO_USER, OUTDOOR_SENSOR)
    rules, _ = set_freeze(store, DEMO_USER, "attic", 3.0, now_ms=now)
    watch = next(rule for rule in rules if rule.spec.kind is RuleKind.HEATING)
    indoor = [r for r in history if r.sensor == "attic"]
    outside = [r for r in history if r.sensor == OUTDOOR_SENSOR]
    seen = dump_memory(watched(indoor, outside))
    stored = store.get_alert_rule(DEMO_USER, watch.rule_id)
    if stored is not None:
        update_rule_state(store, stored, lambda state: replace(state, heating=seen))


def start_mqtt_corner(failed_at_ms: int, out: TextIO) -> MqttCorner | None:
    """The broker and the cellar's sensor; None, said in one line, without amqtt."""
    try:
        demo_mqtt = importlib.import_module("sensorbot.demo.mqtt")
    except ImportError as error:
        if not (error.name or "").startswith("amqtt"):
            raise
        out.write(NO_AMQTT)
        return None

    def cellar() -> float:
        return cooled(CELLAR, (time.time() * 1000 - failed_at_ms) / HOUR_MS)

    corner: MqttCorner = demo_mqtt.MqttCorner(free_port(), SENSOR_PERIOD_S, cellar)
    try:
        return corner.start()
    except demo_mqtt.BrokerError as error:
        out.write(f"(No MQTT device in this demo: its broker did not start: {error})\n")
        return None


def wait_for_reading(store: SQLiteStore, sensor: str, timeout: float = 30) -> None:
    """So that the first /latest already shows it (a loaded machine can take seconds to start
    the broker and the subscriber); a later reading only shows later."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and store.latest_reading(
            DEMO_USER, sensor, now_ms=time.time_ns() // 1_000_000) is None:
        time.sleep(0.1)


def wait_for_api(api: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{api}/healthz", timeout=2):  # noqa: S310
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def machine_zone() -> str:
    """This machine's time zone by its IANA name: TZ, else what /etc/localtime links to
    (…/zoneinfo/Europe/Helsinki); UTC when neither names a zone."""
    name = os.environ.get("TZ", "").removeprefix(":")
    if not name:
        with contextlib.suppress(OSError):
            name = os.readlink("/etc/localtime").partition("zoneinfo/")[2]
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return "UTC" if name in UTC_ALIASES else name


UTC_ALIASES = frozenset({"Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu",
                         "Zulu"})


def banner(folder: Path, api: str, read_token: str, mqtt_lines: str = "", *,
           zone: str = "UTC") -> str:
    return (
        "sensorbot demo — a summer cottage, watched for two weeks, whose heating has just "
        "failed.\n"
        "This terminal is a Telegram chat already linked to it (and you are an admin).\n"
        f"Times are shown in {zone}, this machine's zone (/tz sets the chat's).\n"
        "The attic has freeze protection with its heating watch, and an outdoor sensor: the\n"
        "heating warning arrives here within a few minutes, hours before the pipes are cold.\n"
        "Try: /latest   /sensors   /alerts   /history attic   /export attic 6h   /help\n"
        f"The HTTP API is at {api} while the demo runs; from another terminal:\n"
        f'  curl -H "X-API-Key: {read_token}" {api}/api/v3/sensors\n{mqtt_lines}'
        f"Charts and files are saved under {folder}. Ctrl-D or Ctrl-C leaves.\n\n")


def mqtt_banner(mqtt: MqttCorner | None) -> str:
    if mqtt is None:
        return ""
    return (
        f"The cellar's Zigbee sensor publishes to the demo's MQTT broker at {mqtt.url},\n"
        "which the bot reads by configuration alone (docs/devices.md, Zigbee2MQTT).\n"
        "Publish as another device, and /latest shows garage/temperature:\n"
        f"  {publish_command(mqtt.port)}\n")


def publish_command(port: int) -> str:
    """mosquitto_pub when installed; otherwise amqtt's own, from this Python's environment."""
    topic, message = "zigbee2mqtt/garage", '{"temperature":1.5}'
    amqtt_pub = Path(sys.executable).parent / "amqtt_pub"
    if shutil.which("mosquitto_pub") or not amqtt_pub.exists():
        return (f"mosquitto_pub -h 127.0.0.1 -p {port} -u demo -P demo -t {topic} "
                f"-m {shlex.quote(message)}")
    return (f"{shlex.quote(str(amqtt_pub))} --url mqtt://demo:demo@127.0.0.1:{port} "
            f"-t {topic} -m {shlex.quote(message)}")


def chat(emulator: BotApiEmulator, terminal: Terminal, stdin: TextIO, out: TextIO, *,
         no_answer: str = "(no answer from the bot)") -> None:
    """Read lines until end of input; after each, wait until the bot has answered."""
    while True:
        out.write(PROMPT)
        out.flush()
        terminal.prompting = True
        line = stdin.readline()
        terminal.prompting = False
        if not line:
            out.write("\n")
            return
        text = line.strip()
        if not text:
            continue
        start = len(emulator.calls)
        pressable = terminal.button(int(text)) if text.isdigit() else None
        if text.isdigit() and pressable is None:  # Telegram has no way to type a press
            out.write(f"(there is no button {text} now: type a number shown in [ ] under a "
                      "message)\n")
            continue
        if pressable is not None:
            emulator.press(*pressable, user_id=DEMO_CHAT, first_name="You")
        else:
            emulator.send_text(DEMO_CHAT, text, user_id=DEMO_CHAT, first_name="You")
        try:
            emulator.wait_for(lambda c: c.chat_id == DEMO_CHAT and c.method in {
                "sendMessage", "sendPhoto", "sendDocument", "editMessageText"}, after=start,
                timeout=30)
            time.sleep(0.3)  # let a multi-message answer finish printing
        except TimeoutError:
            out.write(no_answer + "\n")
