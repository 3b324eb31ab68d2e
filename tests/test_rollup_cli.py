"""`sensorbot rollup`: compiles the hourly statistics now; `--rebuild` from the readings kept."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from sensorbot import cli
from sensorbot.cli import main
from sensorbot.migrate import Migration, summary
from storage.base import DAY_MS, HOUR_MS
from storage.models import Reading, User
from storage.rollup import summarize_hours
from storage.sqlite import SQLiteStore
from tests.support.common import NOW_MS
from tests.support.migrate import TOKENS

MINUTE = 60_000


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cli, "now_ms", lambda: NOW_MS + MINUTE)
    path = tmp_path / "config.toml"
    path.write_text('[storage]\nsqlite_path = "cli.db"\n', encoding="utf-8")
    return path


def fill(config: Path, days: int) -> list[Reading]:
    store = SQLiteStore(config.parent / "cli.db")
    store.add_user(User("u1", "u1", NOW_MS))
    readings = [Reading("attic", NOW_MS - days * DAY_MS + i * 5 * MINUTE, i % 9)
                for i in range(days * 288)]
    store.write_readings("u1", readings, now_ms=NOW_MS)
    store.close()
    return readings


def stored(config: Path) -> list:
    store = SQLiteStore(config.parent / "cli.db")
    try:
        return store.read_statistics("u1", "attic", 0, NOW_MS, now_ms=NOW_MS)
    finally:
        store.close()


def test_rollup_compiles_the_last_two_days_and_rebuild_all_the_readings(config, capsys):
    readings = fill(config, 10)

    assert main(["rollup", "--config", str(config)]) == 0
    assert len(stored(config)) == 48
    assert main(["rollup", "--rebuild", "--config", str(config)]) == 0

    assert stored(config) == summarize_hours(readings)
    assert "1 sensor(s), 240 hour(s) written from 2,880 reading(s)" in capsys.readouterr().out


def test_rollup_since_a_day_recompiles_from_that_day(config, capsys):
    fill(config, 10)

    assert main(["rollup", "--since", "2027-01-13", "--config", str(config)]) == 0

    assert stored(config)[0].hour == NOW_MS - 2 * DAY_MS - 8 * HOUR_MS  # 2027-01-13 00:00 UTC


def test_rollup_refuses_a_date_it_cannot_read(config, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["rollup", "--since", "13.1.2027", "--config", str(config)])

    assert exit_.value.code == 2
    assert "is not a date; e.g. 2026-01-01" in capsys.readouterr().err


def test_migrate_says_to_rebuild_the_statistics():
    assert "sensorbot rollup --rebuild" in summary(Migration(dry_run=False), elapsed_s=1)[-1]


def test_a_migrated_ranchdata_table_gets_its_statistics(ranch, dynalite, monkeypatch, capsys):
    monkeypatch.setattr(cli, "now_ms", lambda: NOW_MS + HOUR_MS)
    table = f"statistics-{uuid.uuid4().hex[:10]}"
    config = ranch["config"]
    config.write_text(config.read_text(encoding="utf-8") + f'statistics_table = "{table}"\n',
                      encoding="utf-8")
    for command in (["init", "--create-tables"], ["migrate", "--tokens", TOKENS],
                    ["rollup", "--rebuild"]):
        assert main([*command, "--config", str(config)]) == 0

    store = ranch["store"]
    store.statistics_table = table
    hours = store.read_statistics("23", "attic", 0, NOW_MS, now_ms=NOW_MS)
    assert [(h.n, h.minimum, h.maximum) for h in hours] == [(30, pytest.approx(1.5), 4.4)]
    assert "read and" in capsys.readouterr().out
