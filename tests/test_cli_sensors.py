"""`sensorbot sensors delete USER SENSOR|--prefix P`, on SQLite and on dynalite."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from sensorbot.cli import main
from storage.models import AlertRule, Reading, RuleKind, RuleSpec
from tests.support.common import NOW_MS


@pytest.fixture(params=["sqlite", "dynalite"])
def deployed(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Any]:
    """A config file and the store it names, holding sensors of two users."""
    config = tmp_path / "config.toml"
    if request.param == "sqlite":
        from storage.sqlite import SQLiteStore

        config.write_text('[storage]\nsqlite_path = "cli.db"\n', encoding="utf-8")
        store: Any = SQLiteStore(tmp_path / "cli.db")
    else:
        from storage.dynamodb import DynamoDBStore

        dynalite = request.getfixturevalue("dynalite")
        suffix = uuid.uuid4().hex[:8]
        store = DynamoDBStore(client=request.getfixturevalue("dynalite_client"),
                              measurements_table=f"cli-m-{suffix}", meta_table=f"cli-{suffix}")
        store.init()
        config.write_text(
            f'[storage]\nbackend = "dynamodb"\n[storage.dynamodb]\nendpoint_url = '
            f'"{dynalite.endpoint}"\nmeasurements_table = "{store.measurements_table}"\n'
            f'meta_table = "{store.meta_table}"\n', encoding="utf-8")
    now = NOW_MS
    for sensor, count in (("z2m/a", 60), ("z2m/b", 3), ("attic", 2)):
        store.write_readings("u1", [Reading(sensor, now - i, 1.0) for i in range(count)],
                             now_ms=now)
    store.write_readings("u2", [Reading("z2m/a", now, 1.0)], now_ms=now)
    store.put_alert_rule(AlertRule("u1", "r1", "z2m/a", RuleSpec(RuleKind.BELOW, 3.0), now))
    yield config, store
    store.close()


def run(config: Path, *args: str) -> int:
    return main([*args, "--config", str(config)])


def test_it_deletes_one_sensor_with_its_rules_and_readings(deployed, capsys):
    config, store = deployed

    assert run(config, "sensors", "delete", "u1", "z2m/a") == 0

    out, err = capsys.readouterr()
    assert out == "z2m/a\t60\t1\n"
    assert "deleted 1 sensor(s) with 60 readings and 1 alert rule(s)" in err
    # Not a terminal: the progress is whole lines, ending with the final count.
    assert "\r" not in err
    assert err.splitlines()[-2].startswith("deleted 1 of 1 sensors, 60 readings; ")
    assert "write units" in err
    assert [s.sensor_id for s in store.list_sensors("u1")] == ["attic", "z2m/b"]
    assert store.list_alert_rules("u1") == []
    assert [s.sensor_id for s in store.list_sensors("u2")] == ["z2m/a"]


def test_it_deletes_every_sensor_with_a_prefix(deployed, capsys):
    config, store = deployed

    assert run(config, "sensors", "delete", "u1", "--prefix", "z2m/") == 0

    assert capsys.readouterr().out == "z2m/a\t60\t1\nz2m/b\t3\t0\n"
    assert [s.sensor_id for s in store.list_sensors("u1")] == ["attic"]


@pytest.mark.parametrize(("args", "status", "message"), [
    (["u1"], 1, "give a sensor or --prefix"),
    (["u1", "attic", "--prefix", "z"], 1, "give a sensor or --prefix"),
    (["u1", "--prefix", ""], 1, "at least one character (e.g. sensorbot sensors delete "
                                 "summer-cottage attic"),
    (["u1", "--prefix", "nothing/"], 1, "no sensor whose id starts with 'nothing/'"),
    (["u1", "ghost"], 1, "has no sensor 'ghost'"),
])
def test_it_says_what_was_wrong_and_deletes_nothing(deployed, capsys, args, status, message):
    config, store = deployed

    assert run(config, "sensors", "delete", *args) == status

    assert message in capsys.readouterr().err
    assert len(store.list_sensors("u1")) == 3
