"""The process that runs the alert cycle compiles the hourly statistics: AlertsFunction's app
after each cycle, and `sensorbot run`'s job beside the alert job."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from core.config import Settings
from sensorbot.runner import statistics_job
from sensorbot.scheduled import ScheduledAlerts
from storage.base import HOUR_MS
from storage.models import Reading, User
from storage.rollup import Rollup, summarize_hours
from storage.sqlite import SQLiteStore
from tests.support.common import NOW_MS


def store_with_readings(tmp_path) -> tuple[SQLiteStore, list[Reading]]:
    store = SQLiteStore(tmp_path / "s.db")
    store.add_user(User("u1", "u1", NOW_MS))
    readings = [Reading("attic", NOW_MS - 3 * HOUR_MS + i * 300_000, i / 4) for i in range(36)]
    store.write_readings("u1", readings, now_ms=NOW_MS)
    return store, readings


def test_alerts_function_compiles_the_finished_hours_after_its_cycle(tmp_path, emulator):
    store, readings = store_with_readings(tmp_path)
    settings = Settings(telegram={"token": emulator.token, "base_url": emulator.base_url})
    app = ScheduledAlerts.build(settings, store)
    try:
        app.run_once(NOW_MS + 60_000)
    finally:
        app.close()

    assert store.read_statistics("u1", "attic", 0, NOW_MS, now_ms=NOW_MS) == \
        summarize_hours(readings)


def test_the_run_job_compiles_them_off_the_event_loop(tmp_path):
    store, readings = store_with_readings(tmp_path)
    context = SimpleNamespace(services=SimpleNamespace(clock_ms=lambda: NOW_MS + 60_000))

    asyncio.run(statistics_job(Rollup(store))(context))

    assert store.read_statistics("u1", "attic", 0, NOW_MS, now_ms=NOW_MS) == \
        summarize_hours(readings)


def test_a_failing_store_is_logged_and_the_job_goes_on(tmp_path, caplog):
    store, _ = store_with_readings(tmp_path)
    store.close()
    context = SimpleNamespace(services=SimpleNamespace(clock_ms=lambda: NOW_MS))

    asyncio.run(statistics_job(Rollup(store))(context))

    assert "compiling the hourly statistics failed" in caplog.text


def test_alerts_check_compiles_them_after_its_cycle(tmp_path, emulator, monkeypatch):
    from sensorbot import cli

    store, readings = store_with_readings(tmp_path)
    store.close()
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\ntoken = "{emulator.token}"\nbase_url = "{emulator.base_url}"'
                      '\n[storage]\nsqlite_path = "s.db"\n', encoding="utf-8")
    monkeypatch.setattr(cli, "now_ms", lambda: NOW_MS + 60_000)

    assert cli.main(["alerts", "check", "--config", str(config)]) == 0

    store = SQLiteStore(tmp_path / "s.db")
    assert store.read_statistics("u1", "attic", 0, NOW_MS, now_ms=NOW_MS) == \
        summarize_hours(readings)
    store.close()
