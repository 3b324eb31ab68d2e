"""`sensorbot migrate` end to end on dynalite, on a table filled the way ranchdata filled it."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from alerts.cycle import run_cycle
from alerts.rules import freeze_preset
from bot.chart import render_png
from core.config import Settings
from core.tokens import hash_token
from ingest.http.app import create_app
from sensorbot.cli import main
from sensorbot.migrate import MigrationInputError, parse_old_bot_users
from storage.base import DAY_MS
from storage.models import AlertRule, ChatLink
from tests.support.common import NOW_MS
from tests.support.migrate import (
    EXPECTED_23,
    MINUTE,
    READ,
    TOKENS,
    WRITE,
    Recorder,
    migrate,
    ranch_put,
    sensors_of,
)


def test_a_dry_run_says_what_it_would_do_and_writes_nothing(ranch, capsys):
    assert migrate(ranch, "--dry-run") == 0

    out = capsys.readouterr().out
    store = ranch["store"]
    assert "dry run: nothing was written" in out
    assert "tokens: 3 would be imported" in out
    assert "sensors: 10 found, 10 would be registered" in out
    assert "chats: 2 would be linked" in out
    assert store.list_users() == [] and store.list_tokens() == []
    assert sensors_of(store, "23") == set() and store.get_chat_link(1001) is None


def test_it_registers_every_old_sensor_links_old_chats_and_reports_the_rest(ranch, capsys):
    assert migrate(ranch) == 0

    captured = capsys.readouterr()
    store = ranch["store"]
    assert sensors_of(store, "23") == EXPECTED_23
    assert sensors_of(store, "my ranch") == {"cellar"} and sensors_of(store, "7") == {"barn"}
    assert {u.user_id for u in store.list_users()} == {"23", "my ranch", "7"}
    assert (store.get_chat_link(1001).user_id, store.get_chat_link(1003).user_id) == (
        "23", "my ranch")
    assert store.get_chat_link(1002) is None and store.get_chat_link(1004) is None
    assert store.token_by_hash(hash_token("dead-lowercase-token")) is None
    assert "entry 2 (chat 1002): its key matches no token" in captured.err
    assert "entry 4 (chat 1004): its key is a write token" in captured.err
    assert "entry 3 (R:****:my ranch) is a weak token" in captured.err
    assert "entry 4 (w:****:23) starts with 'w'" in captured.err
    assert "scanned 41 items" in captured.out and "read units consumed" in captured.out
    # Not a terminal: the progress comes as whole lines, the last one always.
    assert "\r" not in captured.err
    assert any(line.startswith("scanned 41 items, 10 sensors")
               for line in captured.err.splitlines())


def test_a_second_run_changes_nothing_and_says_so(ranch, capsys):
    assert migrate(ranch) == 0
    store = ranch["store"]
    before = (store.list_tokens(), store.list_users(), store.list_sensors("23"),
              store.chat_links_for_user("23"))
    capsys.readouterr()

    assert migrate(ranch) == 0

    out = capsys.readouterr().out
    assert "tokens: 0 imported, 3 already here" in out
    assert "sensors: 10 found, 0 registered, 10 already registered" in out
    assert "chats: 0 linked, 2 already linked" in out
    assert (store.list_tokens(), store.list_users(), store.list_sensors("23"),
            store.chat_links_for_user("23")) == before


def test_it_registers_a_sensor_the_old_lambda_wrote_since_the_last_run(ranch, dynalite_client,
                                                                        capsys):
    assert migrate(ranch) == 0
    ranch["store"].update_sensor("23", "attic", name="Attic", unit="°C", now_ms=NOW_MS)
    ranch_put(dynalite_client, ranch["store"].measurements_table, "23", "new one", {"value": 1})

    assert migrate(ranch) == 0

    assert "sensors: 11 found, 1 registered" in capsys.readouterr().out
    assert sensors_of(ranch["store"], "23") == EXPECTED_23 | {"new one"}
    assert ranch["store"].get_sensor("23", "attic").name == "Attic"


def test_after_migrating_every_old_sensor_reads_and_old_tokens_work_as_before(ranch):
    assert migrate(ranch) == 0
    store = ranch["store"]
    app = create_app(Settings(), store=store, clock_ms=lambda: NOW_MS)
    client = TestClient(app, raise_server_exceptions=False)
    read = {"Authorization": f"Bearer {READ}"}

    listed = client.get("/api/v3/sensors", headers=read)

    assert listed.status_code == 200
    assert {item["sensor"] for item in listed.json()} == EXPECTED_23
    last = {item["sensor"]: item["last_value"] for item in listed.json()}
    assert (last["telldus"], last["gateway/battery"], last["python"]) == (5.25, None, 2.5)
    for sensor in EXPECTED_23:
        path = quote(sensor, safe="")
        series = client.get(f"/api/v2/sensor/{path}/series?start=0&end={NOW_MS}", headers=read)
        readings = client.get(f"/api/v3/sensors/{path}/readings?start=0", headers=read)
        assert (series.status_code, readings.status_code) == (200, 200), sensor
    python = client.get("/api/v2/sensor/python/series?start=0", headers=read).json()
    assert python[0]["id"] == f"23#python_{NOW_MS - 4 * MINUTE}.456"  # as ranchdata's GET
    assert python[0]["measurement_time"] == "2027-01-15T07:56:00.000Z"
    write = client.post(f"/api/v1/sensor/attic/measurement?apikey={WRITE}",
                        content=b'{"value": 1}')
    assert write.status_code == 200
    assert client.post("/api/v2/sensor/attic/measurement", headers=read,
                       json={"value": 1}).status_code == 403
    dead = {"Authorization": "Bearer dead-lowercase-token"}
    assert client.get("/api/v3/sensors", headers=dead).status_code == 401


def test_an_alert_cycle_and_charts_over_the_old_sensors_never_fail(ranch):
    assert migrate(ranch) == 0
    store = ranch["store"]
    for number, sensor in enumerate(sorted(EXPECTED_23)):
        for index, spec in enumerate(freeze_preset(3.0)):
            store.put_alert_rule(AlertRule("23", f"r{number}-{index}", sensor, spec,
                                           NOW_MS - DAY_MS))
    notifier = Recorder()

    summary = asyncio.run(run_cycle(store, notifier, NOW_MS + 11 * MINUTE))

    assert (summary.rules, summary.failed) == (3 * len(EXPECTED_23), 0)
    rules = {rule.rule_id: rule for rule in store.list_alert_rules("23")}
    fired = {(sensor, rules[rule_id].spec.kind.value) for _, sensor, rule_id in notifier.sent}
    assert fired == {("attic", "below"), ("gateway/battery", "stale")}  # 1.5 °C; no number
    for sensor in EXPECTED_23 - {"gateway/battery"}:
        readings = store.read_range("23", sensor, 0, NOW_MS, now_ms=NOW_MS)
        assert render_png(readings, title=sensor, unit=None, zone=ZoneInfo("UTC"))


def test_it_refuses_a_users_json_the_old_bot_did_not_write():
    assert parse_old_bot_users('[[1, "k"], ["2", "k2"]]')[1].chat_id == 2
    for bad in ('{"1": "k"}', '[[1]]', '[["me", "k"]]', "[[1, 2]]", "not json"):
        with pytest.raises(MigrationInputError, match=r"e\.g\. \[\["):
            parse_old_bot_users(bad)


def test_on_sqlite_it_imports_tokens_and_links_chats_with_nothing_to_scan(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nsqlite_path = "{tmp_path / "s.db"}"\n', encoding="utf-8")
    users_json = tmp_path / "users.json"
    users_json.write_text(json.dumps([[1001, READ]]), encoding="utf-8")

    assert main(["migrate", "--config", str(config), "--tokens", TOKENS,
                 "--telegram-users", str(users_json)]) == 0

    captured = capsys.readouterr()
    out = captured.out
    assert "nothing to scan on SQLite" in out and "chats: 1 linked" in out
    assert "Run sensorbot with the OLD bot's token" in captured.err  # else alerts get 403
    from storage.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "s.db")
    assert store.get_chat_link(1001).user_id == "23"
    assert store.token_by_hash(hash_token(WRITE)).scope == "write"
    store.close()


def test_a_chat_that_once_unlinked_is_linked_and_keeps_its_zone(ranch):
    ranch["store"].put_chat_link(ChatLink(1001, "", NOW_MS, False, "Europe/Helsinki"))

    assert migrate(ranch) == 0

    link = ranch["store"].get_chat_link(1001)
    assert (link.user_id, link.active, link.timezone) == ("23", True, "Europe/Helsinki")
