"""A real MQTT broker on a free loopback port: mosquitto when installed, else amqtt (PyPI).

amqtt keeps a session's QoS 1 messages only for clients that give a username (it forgets
anonymous sessions), so every client here gives one. amqtt 0.12 does not resend a message it
delivered but got no PUBACK for when the client reconnects (it drops it after 5 s), so tests of
that redelivery need mosquitto.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.dynalite import free_port

USERNAME, PASSWORD = "sensorbot", "test"


def broker_kind() -> str:
    """`TEST_MQTT_BROKER=amqtt|mosquitto` chooses; otherwise mosquitto if installed."""
    chosen = os.environ.get("TEST_MQTT_BROKER")
    if chosen:
        return chosen
    return "mosquitto" if mosquitto_binary() else "amqtt"


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).is_file()),
        None)


@dataclass
class Broker:
    kind: str
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    mosquitto_options: str = ""  # more lines of mosquitto.conf
    amqtt_listeners: str = ""  # more listeners of amqtt.yaml (indented under `listeners:`)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> Broker:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / "broker.log").open("ab")
        self.process = subprocess.Popen(self._command(), stdout=log, stderr=log,
                                        cwd=self.folder)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited at start: see {self.folder}/broker.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.kind} did not listen on port {self.port} in {timeout} s")

    def _command(self) -> list[str]:
        if self.kind == "mosquitto":
            config = self.folder / "mosquitto.conf"
            config.write_text(
                f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                f"user {getpass.getuser()}\n"  # as root it would switch to "mosquitto"
                f"persistence true\npersistence_location {self.folder}/\n"
                f"max_queued_messages 200000\n{self.mosquitto_options}", encoding="utf-8")
            return [str(mosquitto_binary()), "-c", str(config)]
        config = self.folder / "amqtt.yaml"
        config.write_text(
            "listeners:\n  default:\n    type: tcp\n"
            f"    bind: 127.0.0.1:{self.port}\n{self.amqtt_listeners}"
            "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
            "    allow_anonymous: false\n", encoding="utf-8")
        return [str(Path(sys.executable).parent / "amqtt"), "-c", str(config)]

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


class Publisher:
    """A device: publishes QoS 1 messages and waits for the broker to take them."""

    def __init__(self, broker: Broker) -> None:
        self.client = paho.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"device-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set(USERNAME, PASSWORD)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def publish(self, topic: str, payload: str | bytes, qos: int = 1, *,
                retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(timeout=10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
