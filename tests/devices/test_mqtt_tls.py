"""mqtts:// to a home broker whose certificate comes from its own CA (mosquitto only)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.devices.broker import Broker, Publisher, broker_kind
from tests.support.devices import mqtt_settings, stored, wait_connected, wait_for
from tests.support.dynalite import free_port
from tests.support.tls import home_ca

pytestmark = pytest.mark.skipif(broker_kind() != "mosquitto",
                                reason="the TLS listener is configured for mosquitto")


def tls_broker(folder: Path) -> tuple[Broker, int, dict[str, Path]]:
    """mosquitto with a plain listener and a TLS one (its port), certified by a home CA."""
    files = home_ca(folder)
    tls_port = free_port()
    broker = Broker("mosquitto", folder / "broker", mosquitto_options=(
        f"listener {tls_port} 127.0.0.1\ncafile {files['ca']}\ncertfile {files['cert']}\n"
        f"keyfile {files['key']}\n")).start()
    return broker, tls_port, files


def test_it_stores_over_tls_from_a_broker_certified_by_its_own_ca(tmp_path, store,
                                                                 start_ingest):
    broker, tls_port, files = tls_broker(tmp_path)
    try:
        settings = mqtt_settings(broker, {"topic": "home/+", "user": "cottage",
                                          "sensor": "{1}", "format": "number"})
        settings = settings.model_copy(update={"url": f"mqtts://127.0.0.1:{tls_port}",
                                               "ca_file": str(files["ca"])})
        ingest = start_ingest(settings, store)
        wait_connected(ingest)
        publisher = Publisher(broker)  # the device on the plain listener
        publisher.publish("home/attic", "2.5")

        assert wait_for(lambda: stored(store)) == {"attic": [2.5]}
        publisher.close()
    finally:
        broker.stop()


@pytest.mark.parametrize(("scheme", "said"), [
    ("mqtts", "its certificate is not trusted"),  # the home CA is not the system's
    ("mqtt", "the url must be mqtts://"),  # plain MQTT to the TLS listener
])
def test_it_says_what_to_change_when_tls_does_not_fit(tmp_path, store, start_ingest, caplog,
                                                      scheme, said):
    caplog.set_level(logging.WARNING, logger="sensorbot.mqtt")
    broker, tls_port, _ = tls_broker(tmp_path)
    try:
        settings = mqtt_settings(broker, {"topic": "home/+", "user": "cottage",
                                          "sensor": "{1}", "format": "number"})
        start_ingest(settings.model_copy(update={"url": f"{scheme}://127.0.0.1:{tls_port}"}),
                     store)

        line = wait_for(lambda: [r.getMessage() for r in caplog.records
                                 if "reconnecting" in r.getMessage()])[0]
        assert said in line
        assert ("ca_file" in line) == (scheme == "mqtts")
    finally:
        broker.stop()
