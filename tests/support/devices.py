"""Test helpers shared by modules and fixtures; the fixtures live in tests/ingest/mqtt/conftest.py.

A real broker, a real SQLite store, and the subscriber running on its own event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from core.config import MqttSettings, MqttSubscription
from ingest.mqtt.link import BrokerLink, Timings
from ingest.mqtt.subscriber import MqttIngest
from storage.models import Reading
from tests.ingest.mqtt.broker import PASSWORD, USERNAME, Broker


def mqtt_settings(broker: Broker, *subscriptions: dict[str, Any],
                  client_id: str | None = None) -> MqttSettings:
    """A subscriber of `broker`, with its state file in the broker's test folder."""
    client_id = client_id or f"sensorbot-{uuid.uuid4().hex[:8]}"
    return MqttSettings(
        enabled=True, url=broker.url, username=USERNAME, password=PASSWORD,
        client_id=client_id, state_file=broker.folder.parent / f"{client_id}.state.db",
        subscriptions=[MqttSubscription(**s) for s in subscriptions])


def number_subscription(prefix: str) -> dict[str, Any]:
    """`<prefix>/<sensor>` carrying one number, for the cottage."""
    return {"topic": f"{prefix}/+", "user": "cottage", "sensor": "{1}", "format": "number"}


class RunningIngest:
    """MqttIngest.run on an event loop of its own thread, as `sensorbot run` runs it."""

    def __init__(self, settings: MqttSettings, store: Any, *,
                 ingest: MqttIngest | None = None, timings: Timings | None = None) -> None:
        self.ingest = ingest or MqttIngest(settings, store, timings=timings)  # given: run again
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self.error: BaseException | None = None
        self._thread.start()

    def _main(self) -> None:
        try:
            self._loop.run_until_complete(self.ingest.run(self._stop))
        except BaseException as exc:
            self.error = exc
        finally:
            self._loop.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=20)
        assert not self._thread.is_alive(), "the subscriber did not stop"
        assert self.error is None, self.error


def stored(store: Any, user: str = "cottage") -> dict[str, list[float]]:
    """Every value of the user, per sensor, oldest first."""
    found: dict[str, list[Reading]] = {}
    for sensor in store.list_sensors(user):
        found[sensor.sensor_id] = store.read_range(user, sensor.sensor_id, 0, 2**53,
                                                   now_ms=int(time.time() * 1000))
    return {sensor: [r.value for r in readings] for sensor, readings in found.items() if readings}


def wait_for(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {condition.__doc__ or condition}")


def wait_connected(ingest: RunningIngest) -> None:
    """Until the subscriber holds a connection with its subscriptions made."""
    wait_for(lambda: ingest.ingest.connected.is_set())



def link_of(ingest: RunningIngest) -> BrokerLink:
    """The subscriber's connection to the broker, once its run has made it."""
    return wait_for(lambda: ingest.ingest.link)
