"""Files that hold secrets are created readable by their owner only (issue 9)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensorbot.cli import main
from storage.models import Reading, User
from storage.sqlite import SQLiteStore


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what a Raspberry Pi's user has: new files 0644 by default
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_and_shm_are_owner_only(tmp_path):
    path = tmp_path / "new.db"
    store = SQLiteStore(path)
    store.add_user(User("u", "U", 1))
    store.write_readings("u", [Reading("attic", 1, 2.0)], now_ms=1)

    modes = {p.name: mode(p) for p in tmp_path.iterdir()}
    store.close()

    assert modes == {"new.db": 0o600, "new.db-wal": 0o600, "new.db-shm": 0o600}


def test_the_mqtt_subscribers_state_file_is_owner_only(tmp_path):
    from ingest.mqtt.memory import DeliveryMemory

    memory = DeliveryMemory(tmp_path / "mqtt.db", "broker:1883 sensorbot")
    memory.remember({1: (b"d" * 16, 5)}, {"zigbee2mqtt/cellar": b"d" * 16})

    modes = {p.name: mode(p) for p in tmp_path.iterdir()}
    memory.close()

    assert modes == {"mqtt.db": 0o600, "mqtt.db-wal": 0o600, "mqtt.db-shm": 0o600}


def test_sensorbot_init_creates_an_owner_only_database(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text('[storage]\nsqlite_path = "data.db"\n', encoding="utf-8")

    assert main(["--config", str(config), "init"]) == 0

    assert mode(tmp_path / "data.db") == 0o600


def test_an_existing_database_keeps_its_mode(tmp_path):
    path = tmp_path / "old.db"
    SQLiteStore(path).close()
    path.chmod(0o640)

    SQLiteStore(path).close()

    assert mode(path) == 0o640


@pytest.mark.parametrize(("file_mode", "warned"), [(0o644, True), (0o600, False)])
def test_a_bot_command_warns_when_others_can_read_the_config(tmp_path, emulator, caplog,
                                                             file_mode, warned):
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\ntoken = "{emulator.token}"\nbase_url = "{emulator.base_url}"'
                      '\n[storage]\nsqlite_path = "s.db"\n', encoding="utf-8")
    config.chmod(file_mode)
    SQLiteStore(tmp_path / "s.db").close()  # `sensorbot init` ran

    status = main(["alerts", "check", "--config", str(config)])  # in process: the log is the point

    assert status == 0, caplog.text
    assert (f"chmod 600 {config}" in caplog.text) is warned
