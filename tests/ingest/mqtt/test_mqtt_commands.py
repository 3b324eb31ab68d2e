"""`sensorbot api` and `sensorbot run` with [mqtt]: the real processes, a real broker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
import uuid
from pathlib import Path

import pytest

from core.config import ConfigError, load_settings
from sensorbot.cli import main
from storage.sqlite import SQLiteStore
from tests.ingest.mqtt.broker import PASSWORD, USERNAME, Broker, Publisher, broker_kind
from tests.support.devices import stored, wait_for
from tests.support.dynalite import free_port
from tests.support.waiting import STARTUP_S


def write_config(folder: Path, broker_url: str, user: str, topic: str, extra: str = "") -> Path:
    config = folder / "config.toml"
    config.write_text(f"""{extra}
[storage]
sqlite_path = "sensorbot.db"

[api]
port = {free_port()}

[mqtt]
enabled = true
url = "{broker_url}"
username = "{USERNAME}"
password = "{PASSWORD}"
client_id = "sensorbot-{uuid.uuid4().hex[:8]}"

[[mqtt.subscriptions]]
topic = "{topic}"
user = "{user}"
sensor = "{{1}}"
format = "number"
""", encoding="utf-8")
    return config


@pytest.mark.parametrize("command", ["api", "run"])
def test_it_refuses_to_start_with_a_subscription_for_an_unknown_user(tmp_path, capsys, command):
    config = write_config(tmp_path, "mqtt://127.0.0.1:1", "ghost", "a/+",
                          extra='[telegram]\ntoken = "123:abc"\nbase_url = "http://127.0.0.1:1"')

    assert main([command, "--config", str(config)]) == 2

    err = capsys.readouterr().err
    assert "names user 'ghost', who does not exist" in err
    assert "sensorbot users add" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_it_refuses_a_bad_mqtt_section_in_one_paragraph(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[mqtt]\nurl = "tcp://broker"\n[[mqtt.subscriptions]]\ntopic = "a/#/b"\n'
                      'user = "u"\nsensor = "{1}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(str(config))
    message = str(caught.value)
    assert "'mqtt.url'" in message and "mqtts://" in message
    assert "'mqtt.subscriptions.0.topic'" in message and "SENSORBOT_MQTT__" in message


@pytest.mark.parametrize(("lines", "said"), [
    ('url = "mqtts://broker"\npassword = "s3cret"', "'mqtt.password': Value error, is set but "
                                                    "username is empty"),
    ('url = "mqtts://broker"\nca_file = "missing.pem"', "'mqtt.ca_file': Value error, cannot "
                                                       "be read as PEM certificates"),
    ('url = "mqtts://broker"\nca_file = "{not_pem}"', "cannot be read as PEM certificates"),
    ('url = "mqtt://broker"\nca_file = "{not_pem}"', "is for TLS (mqtts:// or wss://), but url is "
                                                    "'mqtt://broker'"),
    ('url = "ws://broker"\ncert_file = "{not_pem}"', "'mqtt.cert_file': Value error, is for TLS"),
    ('url = "mqtts://broker"\nkey_file = "{not_pem}"', "key_file is set but cert_file is empty"),
    ('url = "mqtts://broker"\ncert_file = "{not_pem}"', "do not make a client certificate"),
    ('url = "mqtts://broker"\ncert_file = "nowhere.pem"', "cert_file or key_file cannot be read"),
    ('url = "mqtt://broker/mqtt"', "has a path ('/mqtt'), which only ws:// and wss:// take"),
    ('url = "http://broker"', "or over WebSocket ws://HOST[:PORT][/PATH]"),
    ('client_id = "' + "é" * 40_000 + '"', "'mqtt.client_id': Value error, is longer than MQTT "
                                          "allows (65,535 bytes of UTF-8)"),
])
def test_it_finds_a_broken_tls_or_login_setting_at_start(tmp_path, lines, said):
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("this is not a certificate\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text("[mqtt]\n" + lines.format(not_pem=not_pem) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(str(config))
    assert said in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_it_refuses_to_start_with_a_key_that_is_not_the_certificates(tmp_path, capsys):
    from tests.support.tls import home_ca

    files = home_ca(tmp_path)
    config = write_config(tmp_path, "mqtts://127.0.0.1:1", "cottage", "a/+")
    text = config.read_text(encoding="utf-8").replace("[[mqtt.subscriptions]]", (
        f'cert_file = "{files["client_cert"]}"\nkey_file = "{files["key"]}"\n\n'
        "[[mqtt.subscriptions]]"))
    config.write_text(text, encoding="utf-8")

    assert main(["api", "--config", str(config)]) == 2

    err = capsys.readouterr().err
    assert "cert_file and key_file do not make a client certificate" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_it_refuses_to_start_with_a_state_file_it_cannot_open(tmp_path, capsys):
    (tmp_path / "taken").write_text("a file, not a folder", encoding="utf-8")
    config = write_config(tmp_path, "mqtt://127.0.0.1:1", "cottage", "a/+")
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[[mqtt.subscriptions]]", 'state_file = "taken/mqtt.db"\n\n[[mqtt.subscriptions]]'),
        encoding="utf-8")
    assert main(["users", "add", "Cottage", "--id", "cottage", "--config", str(config)]) == 0
    capsys.readouterr()

    assert main(["api", "--config", str(config)]) == 2

    err = capsys.readouterr().err
    assert "[mqtt] state_file" in err and "cannot be opened" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_it_blames_a_bad_ca_file_on_the_variable_that_set_it(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('[mqtt]\nurl = "mqtts://broker"\n', encoding="utf-8")
    monkeypatch.setenv("SENSORBOT_MQTT__CA_FILE", str(tmp_path / "nowhere.pem"))
    with pytest.raises(ConfigError) as caught:
        load_settings(str(config))
    assert str(caught.value).startswith("Configuration error in the environment: "
                                        "SENSORBOT_MQTT__CA_FILE: 'mqtt.ca_file'")


def test_it_finds_a_relative_ca_file_next_to_the_config_file(tmp_path, monkeypatch):
    from tests.support.tls import home_ca

    folder = tmp_path / "etc"
    folder.mkdir()
    home_ca(folder)
    (folder / "config.toml").write_text('[mqtt]\nurl = "mqtts://broker"\nca_file = "ca.pem"\n',
                                        encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not the config file's folder

    settings = load_settings(str(folder / "config.toml"))

    assert settings.mqtt.ca_file == str(folder / "ca.pem")


def test_it_reads_subscriptions_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SENSORBOT_MQTT__ENABLED", "true")
    monkeypatch.setenv("SENSORBOT_MQTT__SUBSCRIPTIONS",
                       '[{"topic": "zigbee2mqtt/+", "user": "cottage", "sensor": "{1}"}]')
    settings = load_settings(None, cwd=tmp_path, environ={})
    assert settings.mqtt.enabled
    assert settings.mqtt.subscriptions[0].format == "json"


def api_folder(tmp_path: Path, broker: Broker, topic: str) -> tuple[Path, SQLiteStore, Path]:
    """A config subscribing the user cottage (created) to `topic`, its store and a log file."""
    config = write_config(tmp_path, broker.url, "cottage", topic)
    assert main(["users", "add", "Cottage", "--id", "cottage", "--config", str(config)]) == 0
    return config, SQLiteStore(tmp_path / "sensorbot.db"), tmp_path / "sensorbot.log"


class Process:
    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "sensorbot", "api",
                                             "--config", str(config)],
                                            stdout=out, stderr=out)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        os.kill(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout=30)


def test_sensorbot_api_stores_what_was_published_while_it_was_down(tmp_path):
    broker = Broker(broker_kind(), tmp_path / "broker").start()
    try:
        config, store, log = api_folder(tmp_path, broker, "dev/+")
        publisher = Publisher(broker)
        first = Process(config, log)
        try:
            wait_for(lambda: "subscribed to 'dev/+'" in first.output(), timeout=STARTUP_S)
            publisher.publish("dev/attic", "1.5")
            wait_for(lambda: stored(store))
        finally:
            assert first.stop() == 0
        for value in ("2.5", "3.5", "4.5"):  # QoS 1, while sensorbot is down
            publisher.publish("dev/attic", value)

        second = Process(config, log)
        try:
            assert wait_for(lambda: len(stored(store)["attic"]) == 4 and stored(store)) == {
                "attic": [1.5, 2.5, 3.5, 4.5]}
        finally:
            assert second.stop() == 0
        publisher.close()
        assert "Traceback" not in log.read_text(encoding="utf-8")
    finally:
        broker.stop()


@pytest.mark.skipif(broker_kind() != "mosquitto",
                    reason="amqtt 0.12 does not resend unacknowledged messages on reconnect")
def test_a_kill_9_mid_flood_loses_nothing_and_stores_nothing_twice(tmp_path):
    broker = Broker(broker_kind(), tmp_path / "broker").start()
    try:
        config, store, log = api_folder(tmp_path, broker, "flood/+")
        first = Process(config, log)
        wait_for(lambda: "subscribed to 'flood/+'" in first.output(), timeout=STARTUP_S)
        publisher = Publisher(broker)

        def flood() -> None:
            sent = [publisher.client.publish(f"flood/s{value % 10}", str(value), qos=1)
                    for value in range(3000)]
            for message in sent:
                message.wait_for_publish(timeout=60)

        devices = threading.Thread(target=flood)
        devices.start()
        wait_for(lambda: len(stored(store)) == 10 and sum(map(len, stored(store).values()))
                 >= 1000)
        first.process.kill()  # SIGKILL, at times between storing and acknowledging (the
        # deterministic case is in test_mqtt_stored_once.py)
        first.process.wait()
        second = Process(config, log)
        try:
            devices.join(60)

            def values() -> list[float]:
                return [v for found in stored(store).values() for v in found]

            wait_for(lambda: len(set(values())) == 3000, timeout=60)
        finally:
            assert second.stop() == 0
        assert sorted(values()) == list(range(3000))
        publisher.close()
    finally:
        broker.stop()


def closing_port() -> tuple[int, list[int]]:
    """A port that closes each connection at once, as a broker that is not up yet; the list
    grows by one a connection."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def accept() -> None:
        while True:
            connection, _ = server.accept()
            connection.close()
            accepted.append(1)

    threading.Thread(target=accept, daemon=True).start()
    return server.getsockname()[1], accepted


def test_it_never_waits_for_the_broker_to_start_serving_http(tmp_path):
    """A broker that is not serving does not keep the API from answering."""
    broker_port, attempts = closing_port()
    config = write_config(tmp_path, f"mqtt://127.0.0.1:{broker_port}", "cottage", "dev/+")
    assert main(["users", "add", "Cottage", "--id", "cottage", "--config", str(config)]) == 0
    port = load_settings(str(config)).api.port
    process = Process(config, tmp_path / "api.log")
    try:
        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for(healthy, timeout=STARTUP_S)
        wait_for(lambda: "reconnecting with backoff" in process.output(), timeout=30)
        wait_for(lambda: len(attempts) >= 3)  # at 0, 1 and 3 s: one outage
        assert process.output().count("reconnecting with backoff") == 1
    finally:
        assert process.stop() == 0


def test_sensorbot_run_subscribes_beside_the_bot_and_stops_cleanly(tmp_path):
    from sensorbot.demo.emulator import BotApiEmulator

    broker = Broker(broker_kind(), tmp_path / "broker").start()
    try:
        with BotApiEmulator() as emulator:
            config = write_config(tmp_path, broker.url, "cottage", "run/+", extra=(
                f'[telegram]\ntoken = "{emulator.token}"\nbase_url = "{emulator.base_url}"'))
            assert main(["users", "add", "C", "--id", "cottage", "--config", str(config)]) == 0
            log = tmp_path / "run.log"
            with log.open("ab") as out:
                process = subprocess.Popen([sys.executable, "-m", "sensorbot", "run",
                                            "--config", str(config)],
                                           stdout=out, stderr=out)
            try:
                wait_for(lambda: "subscribed to 'run/+'" in log.read_text(encoding="utf-8"),
                         timeout=30)
                publisher = Publisher(broker)
                publisher.publish("run/cellar", "6")
                publisher.close()
                store = SQLiteStore(tmp_path / "sensorbot.db")
                assert wait_for(lambda: stored(store)) == {"cellar": [6]}
            finally:
                os.kill(process.pid, signal.SIGTERM)
                assert process.wait(timeout=30) == 0
        assert "Traceback" not in log.read_text(encoding="utf-8")
    finally:
        broker.stop()


def test_it_takes_mqtts_for_tls_on_port_8883_unless_told():
    from core.config import MqttSettings

    secure = MqttSettings(url="mqtts://broker.example")
    assert (secure.tls, secure.host, secure.port) == (True, "broker.example", 8883)
    plain = MqttSettings(url="mqtt://192.168.1.5")
    assert (plain.tls, plain.port) == (False, 1883)
    assert MqttSettings(url="mqtts://b:8884").port == 8884


def test_it_takes_mqtt_over_websocket_with_its_path():
    from core.config import MqttSettings

    secure = MqttSettings(url="wss://broker.example/ws")
    assert (secure.tls, secure.websockets, secure.port, secure.path) == (True, True, 443, "/ws")
    plain = MqttSettings(url="ws://192.168.1.5:9001")
    assert (plain.tls, plain.websockets, plain.port, plain.path) == (False, True, 9001, "/mqtt")
