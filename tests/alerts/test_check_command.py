"""`sensorbot alerts check`: one cycle from cron (or a scheduled Lambda), then exit."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from core.config import Settings
from sensorbot.cli import main
from sensorbot.demo.emulator import BotApiEmulator
from sensorbot.scheduled import ScheduledAlerts
from storage.models import AlertRule, ChatLink, Reading, RuleKind, RuleSpec
from storage.sqlite import SQLiteStore


def attic_below_3(path: Path, value: float, now: int) -> SQLiteStore:
    """A store whose attic alerts below 3 °C to chat 77, with one reading of `value`."""
    store = SQLiteStore(path)
    store.put_alert_rule(AlertRule("u1", "r1", "attic", RuleSpec(RuleKind.BELOW, 3), now))
    store.put_chat_link(ChatLink(77, "u1", now))
    store.write_readings("u1", [Reading("attic", now - 1000, value)], now_ms=now)
    return store


def test_alerts_check_delivers_once_and_a_second_run_repeats_nothing(tmp_path, emulator,
                                                                    capsys):
    now = time.time_ns() // 1_000_000
    attic_below_3(tmp_path / "cron.db", 1.5, now).close()
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\ntoken = "{emulator.token}"\nbase_url = "{emulator.base_url}"'
                      '\n[storage]\nsqlite_path = "cron.db"\n', encoding="utf-8")
    command = ["alerts", "check", "--config", str(config)]

    # In process (the next test runs the command as cron does): the cycle is the point here.
    first_status, first = main(command), capsys.readouterr()
    second_status, second = main(command), capsys.readouterr()

    alerts = [c for c in emulator.calls if c.method == "sendMessage" and c.chat_id == 77]
    assert (first_status, second_status) == (0, 0), first.err
    assert "1 new transition, 1 message delivered" in first.out
    assert "0 new transitions, 0 messages delivered" in second.out
    assert len(alerts) == 1
    assert alerts[0].text.startswith("❄️ Alert: attic is 1.5")


def test_a_refused_token_or_no_telegram_is_one_sentence_without_the_token(tmp_path, emulator):
    config = tmp_path / "config.toml"
    command = [sys.executable, "-m", "sensorbot", "alerts", "check", "--config", str(config)]

    SQLiteStore(tmp_path / "cron.db").close()  # `sensorbot init` ran

    def run(base_url: str) -> subprocess.CompletedProcess[str]:
        config.write_text(f'[telegram]\ntoken = "123456:NotTheBotsToken"\nbase_url = '
                          f'"{base_url}"\n[storage]\nsqlite_path = "cron.db"\n',
                          encoding="utf-8")
        config.chmod(0o600)  # else a warning that others can read it comes first
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    refused = run(emulator.base_url)  # the emulator answers 401 to any other token

    assert refused.returncode == 2
    assert refused.stderr.startswith("Telegram refused the bot token.")
    assert "Traceback" not in refused.stderr
    assert "NotTheBotsToken" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def check(tmp_path, base_url: str, token: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\ntoken = "{token}"\nbase_url = "{base_url}"\n'
                      '[storage]\nsqlite_path = "cron.db"\n', encoding="utf-8")
    config.chmod(0o600)
    return subprocess.run([sys.executable, "-m", "sensorbot", "alerts", "check", "--config",
                           str(config)], capture_output=True, text=True, timeout=60)


def test_telegram_out_of_reach_with_nothing_to_send_does_not_fail_the_check(tmp_path):
    now = time.time_ns() // 1_000_000
    store = attic_below_3(tmp_path / "cron.db", 12.5, now)
    store.close()

    result = check(tmp_path, "http://127.0.0.1:9", "123456:NotTheBotsToken")

    assert result.returncode == 0, result.stderr
    assert "1 rule, 0 new transitions, 0 messages delivered, 0 failed" in result.stdout


def test_telegram_out_of_reach_with_an_alert_fails_and_keeps_it_for_the_next_check(
        tmp_path, emulator):
    now = time.time_ns() // 1_000_000
    store = attic_below_3(tmp_path / "cron.db", 1.5, now)

    unreachable = check(tmp_path, "http://127.0.0.1:9", emulator.token)

    assert unreachable.returncode == 1
    last = unreachable.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot reach Telegram (")
    assert "1 failed, kept for the next check" in last
    assert "Traceback" not in unreachable.stderr and emulator.token not in unreachable.stderr
    assert len(store.get_alert_rule("u1", "r1").state.outbox) == 1

    reached = check(tmp_path, emulator.base_url, emulator.token)

    assert reached.returncode == 0, reached.stderr
    assert "0 new transitions, 1 message delivered, 0 failed" in reached.stdout
    alerts = [c for c in emulator.calls if c.method == "sendMessage" and c.chat_id == 77]
    assert [a.text.split(" is ")[0] for a in alerts] == ["❄️ Alert: attic"]
    assert store.get_alert_rule("u1", "r1").state.outbox == ()


def test_the_alerts_function_starts_without_telegram_and_keeps_what_it_cannot_send(tmp_path):
    now = time.time_ns() // 1_000_000
    store = attic_below_3(tmp_path / "lambda.db", 1.5, now)
    settings = Settings(telegram={"token": "123456:abc", "base_url": "http://127.0.0.1:9"})

    app = ScheduledAlerts.build(settings, store)  # a cold start with Telegram out of reach
    try:
        summary = app.run_once(now)
    finally:
        app.close()

    assert (summary["transitions"], summary["delivered"], summary["failed"]) == (1, 0, 1)
    assert len(store.get_alert_rule("u1", "r1").state.outbox) == 1


def test_a_warm_alerts_function_whose_cold_start_missed_telegram_delivers_once_it_is_back(
        tmp_path):
    now = time.time_ns() // 1_000_000
    store = attic_below_3(tmp_path / "lambda.db", 1.5, now)
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free once closed: Telegram "down" at this address
    settings = Settings(telegram={"token": BotApiEmulator().token,
                                  "base_url": f"http://127.0.0.1:{port}"})

    app = ScheduledAlerts.build(settings, store)
    try:
        down = app.run_once(now)
        with BotApiEmulator(port=port) as telegram:
            back = app.run_once(now + 60_000)
            sent = [c for c in telegram.calls if c.method == "sendMessage" and c.chat_id == 77]
    finally:
        app.close()

    assert (down["failed"], back["delivered"], back["failed"]) == (1, 1, 0)
    assert len(sent) == 1
    assert store.get_alert_rule("u1", "r1").state.outbox == ()


def test_without_a_database_it_fails_and_creates_none(tmp_path, emulator, monkeypatch, capsys):
    """A cron job started in another folder without --config would otherwise make an empty
    ./sensorbot.db and check its no rules, every minute, in silence."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SENSORBOT_TELEGRAM__TOKEN", emulator.token)
    monkeypatch.setenv("SENSORBOT_TELEGRAM__BASE_URL", emulator.base_url)

    assert main(["alerts", "check"]) == 1

    err = capsys.readouterr().err
    assert f"error: no database at {tmp_path / 'sensorbot.db'}; run `sensorbot init`" in err
    assert not (tmp_path / "sensorbot.db").exists()
