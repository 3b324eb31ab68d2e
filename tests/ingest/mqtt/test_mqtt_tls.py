"""mqtts:// to a home broker whose certificate comes from its own CA (mosquitto), client
certificates, and MQTT over WebSocket, ws:// and wss:// (amqtt: this mosquitto build has no
WebSocket listener)."""

from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from ingest.mqtt import link as mqtt_link
from ingest.mqtt.link import Timings
from tests.ingest.mqtt.broker import Broker, Publisher, broker_kind
from tests.support.devices import mqtt_settings, stored, wait_connected, wait_for
from tests.support.dynalite import free_port
from tests.support.tls import home_ca

ROOT = Path(__file__).resolve().parents[3]
mosquitto = pytest.mark.skipif(broker_kind() != "mosquitto",
                               reason="the TLS listener is configured for mosquitto")
QUICK = Timings(reconnect_min=0.05, reconnect_max=0.1)
ATTIC = {"topic": "home/+", "user": "cottage", "sensor": "{1}", "format": "number"}


def tls_broker(folder: Path, options: str = "", **ca: object
               ) -> tuple[Broker, int, dict[str, Path]]:
    """mosquitto with a plain listener and a TLS one (its port), certified by a home CA."""
    files = home_ca(folder, **ca)  # type: ignore[arg-type]
    tls_port = free_port()
    broker = Broker("mosquitto", folder / "broker", mosquitto_options=(
        f"listener {tls_port} 127.0.0.1\ncafile {files['ca']}\ncertfile {files['cert']}\n"
        f"keyfile {files['key']}\n{options}")).start()
    return broker, tls_port, files


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def connections_on(broker: Broker, port: int) -> int:
    """How many connections mosquitto has had on `port` (its log says each)."""
    log = (broker.folder / "broker.log").read_text(encoding="utf-8", errors="replace")
    return log.count(f"on port {port}.")


def stores_over(broker: Broker, settings, store, start_ingest) -> None:
    ingest = start_ingest(settings, store)
    wait_connected(ingest)
    publisher = Publisher(broker)  # the device on the plain listener
    publisher.publish("home/attic", "2.5")
    assert wait_for(lambda: stored(store)) == {"attic": [2.5]}
    publisher.close()


@mosquitto
def test_it_stores_over_tls_from_a_broker_certified_by_its_own_ca(tmp_path, store,
                                                                 start_ingest):
    broker, tls_port, files = tls_broker(tmp_path)
    try:
        settings = mqtt_settings(broker, ATTIC).model_copy(update={
            "url": f"mqtts://127.0.0.1:{tls_port}", "ca_file": str(files["ca"])})
        stores_over(broker, settings, store, start_ingest)
    finally:
        broker.stop()


@mosquitto
def test_it_presents_a_client_certificate_to_a_broker_that_requires_one(tmp_path, store,
                                                                       start_ingest, caplog):
    caplog.set_level(logging.WARNING, logger="sensorbot.mqtt")
    broker, tls_port, files = tls_broker(tmp_path, "require_certificate true\n")
    try:
        settings = mqtt_settings(broker, ATTIC).model_copy(update={
            "url": f"mqtts://127.0.0.1:{tls_port}", "ca_file": str(files["ca"])})
        start_ingest(settings, store, QUICK)  # without one: refused, and told what to set
        assert "[mqtt] cert_file" in wait_for(lambda: outage_lines(caplog))[0]

        stores_over(broker, settings.model_copy(update={
            "cert_file": str(files["client_cert"]), "key_file": str(files["client_key"])}),
            store, start_ingest)
    finally:
        broker.stop()


@mosquitto
@pytest.mark.parametrize(("scheme", "said"), [
    ("mqtts", "its certificate is not trusted"),  # the home CA is not the system's
    ("mqtt", "the url must be mqtts://"),  # plain MQTT to the TLS listener
])
def test_it_says_once_what_to_change_when_tls_does_not_fit(tmp_path, store, start_ingest,
                                                           caplog, scheme, said):
    caplog.set_level(logging.INFO, logger="sensorbot.mqtt")
    broker, tls_port, _ = tls_broker(tmp_path)
    try:
        settings = mqtt_settings(broker, ATTIC)
        start_ingest(settings.model_copy(update={"url": f"{scheme}://127.0.0.1:{tls_port}"}),
                     store, QUICK)
        wait_for(lambda: connections_on(broker, tls_port) >= 4)  # one line per outage


        [line] = outage_lines(caplog)
        assert said in line
        assert ("ca_file" in line) == (scheme == "mqtts")
    finally:
        broker.stop()


@mosquitto
def test_a_certificate_for_another_name_is_said_so_not_blamed_on_the_ca(tmp_path, store,
                                                                        start_ingest, caplog):
    caplog.set_level(logging.WARNING, logger="sensorbot.mqtt")
    broker, tls_port, files = tls_broker(tmp_path, server_name="broker.example")
    try:
        settings = mqtt_settings(broker, ATTIC).model_copy(update={
            "url": f"mqtts://127.0.0.1:{tls_port}", "ca_file": str(files["ca"])})
        start_ingest(settings, store)

        line = wait_for(lambda: outage_lines(caplog))[0]
        assert "its certificate is not issued for '127.0.0.1'" in line
        assert "ca_file" not in line
    finally:
        broker.stop()


@mosquitto
def test_a_home_ca_refused_by_strict_verification_is_named_as_the_cause(
        tmp_path, store, start_ingest, caplog, monkeypatch):
    """Python 3.13 verifies strictly (VERIFY_X509_STRICT); so does this test on any Python."""
    caplog.set_level(logging.WARNING, logger="sensorbot.mqtt")
    real = mqtt_link.tls_context

    def strict(settings):
        context = real(settings)
        context.verify_flags |= ssl.VERIFY_X509_STRICT
        return context

    monkeypatch.setattr(mqtt_link, "tls_context", strict)
    broker, tls_port, files = tls_broker(tmp_path, strict=False)  # no key identifiers
    try:
        settings = mqtt_settings(broker, ATTIC).model_copy(update={
            "url": f"mqtts://127.0.0.1:{tls_port}", "ca_file": str(files["ca"])})
        start_ingest(settings, store)

        line = wait_for(lambda: outage_lines(caplog))[0]
        assert "fails strict verification" in line and "Key Identifier" in line
        assert "Python 3.13" in line
        assert "set [mqtt] ca_file" not in line
    finally:
        broker.stop()


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_it_stores_over_websocket(tmp_path, store, start_ingest, scheme):
    files = home_ca(tmp_path)
    ws_port = free_port()
    tls = (f"    ssl: on\n    certfile: {files['cert']}\n    keyfile: {files['key']}\n"
           if scheme == "wss" else "")
    broker = Broker("amqtt", tmp_path / "broker", amqtt_listeners=(
        f"  websocket:\n    type: ws\n    bind: 127.0.0.1:{ws_port}\n{tls}")).start()
    try:
        settings = mqtt_settings(broker, ATTIC).model_copy(update={
            "url": f"{scheme}://127.0.0.1:{ws_port}/mqtt",
            "ca_file": str(files["ca"]) if scheme == "wss" else ""})
        stores_over(broker, settings, store, start_ingest)
    finally:
        broker.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_the_documented_home_ca_passes_strict_verification(tmp_path):
    """docs/devices.md's OpenSSL recipe, run as written."""
    page = (ROOT / "docs" / "devices.md").read_text(encoding="utf-8")
    recipe = page.split("e.g. with OpenSSL:\n\n```sh\n", 1)[1].split("```", 1)[0]
    subprocess.run(["bash", "-c", recipe], cwd=tmp_path, check=True, capture_output=True)

    checked = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", "ca.pem",
                              "server.pem"], cwd=tmp_path, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
