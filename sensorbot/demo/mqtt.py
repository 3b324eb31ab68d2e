"""The demo's MQTT side: an embedded broker and a simulated Zigbee sensor publishing to it.

Importing this module needs amqtt (a dev dependency); `sensorbot.demo` imports it lazily and
runs without the MQTT device when it is missing. The broker and the sensor share one event loop
in their own thread, so the demo's terminal keeps Ctrl-C (the signal reaches the main thread
only) and its stop can end both in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout

from amqtt.broker import Broker
from amqtt.client import MQTTClient
from amqtt.errors import BrokerError, ClientError

TOPIC_FILTER = "zigbee2mqtt/+"
DEVICE = "cellar"  # Zigbee2MQTT's friendly name: it publishes to zigbee2mqtt/cellar
# A username keeps a client's QoS 1 session in amqtt; the broker accepts any password.
SUBSCRIBER_LOGIN = ("sensorbot", "demo")
DEVICE_LOGIN = ("zigbee2mqtt", "demo")
# amqtt logs every connection at INFO and ordinary disconnects as warnings: the terminal is
# a chat, so only its errors may show.
QUIET_LOGGERS = ("amqtt", "transitions")


def zigbee_payload(temperature: float) -> bytes:
    """What Zigbee2MQTT publishes for an Aqara temperature and humidity sensor."""
    return json.dumps({
        "battery": 97, "humidity": round(71.5 + random.gauss(0, 0.3), 1), "linkquality": 120,
        "temperature": temperature, "voltage": 2995}).encode()


class MqttCorner:
    """The broker on a loopback port and the cellar's sensor publishing every `period_s`.

    `start()` returns once the broker listens; the sensor publishes its first message as soon
    as someone subscribes to its topic, then one each period, at QoS 1.
    """

    def __init__(self, port: int, period_s: float, temperature: Callable[[], float]) -> None:
        self.port, self.period_s, self.temperature = port, period_s, temperature
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="demo-mqtt",
                                       daemon=True)
        self.broker: Broker | None = None
        self.sensor: asyncio.Task[None] | None = None
        self.stopping = asyncio.Event()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10) -> MqttCorner:
        """Raises BrokerError when the broker cannot listen."""
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        self.thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout)
        except BaseException:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
            raise
        return self

    async def _start(self) -> None:
        self.broker = Broker({
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {
                "allow_anonymous": False}}})
        await self.broker.start()
        self.sensor = asyncio.create_task(self._publish())

    async def _publish(self) -> None:
        await self._until_subscribed()
        client = MQTTClient(client_id="zigbee2mqtt-demo", config={"auto_reconnect": False})
        user, password = DEVICE_LOGIN
        await client.connect(f"mqtt://{user}:{password}@127.0.0.1:{self.port}")
        try:
            while not self.stopping.is_set():
                await client.publish(f"zigbee2mqtt/{DEVICE}",
                                     zigbee_payload(self.temperature()), qos=1)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.period_s)
        finally:
            with contextlib.suppress(ClientError, OSError):
                await client.disconnect()

    async def _until_subscribed(self) -> None:
        """A QoS 1 message published before anyone subscribed would be dropped."""
        while not self.stopping.is_set() and self.broker is not None and \
                TOPIC_FILTER not in self.broker.subscriptions:
            await asyncio.sleep(0.1)

    def stop(self, timeout: float = 2) -> None:
        """The sensor disconnects, then the broker closes; within `timeout` seconds."""
        with contextlib.suppress(FutureTimeout, BrokerError):
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)
        if not self.thread.is_alive():
            self.loop.close()

    async def _stop(self) -> None:
        self.stopping.set()
        if self.sensor is not None:
            with contextlib.suppress(TimeoutError, ClientError, OSError):
                await asyncio.wait_for(self.sensor, 1)
        if self.broker is not None:
            await self.broker.shutdown()
