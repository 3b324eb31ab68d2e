"""`sensorbot webhook set URL` / `sensorbot webhook delete` against the Bot API emulator."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from sensorbot.cli import main
from sensorbot.demo.emulator import BotApiEmulator

URL = "https://xyz789ghi.lambda-url.eu-north-1.on.aws/"
SECRET = "webhook-secret_0001"


def config(tmp_path: Path, emulator: BotApiEmulator, *, token: str | None = None,
           secret: str = SECRET) -> str:
    path = tmp_path / "config.toml"
    path.write_text(f'[telegram]\ntoken = "{token or emulator.token}"\n'
                    f'base_url = "{emulator.base_url}"\nwebhook_secret = "{secret}"\n',
                    encoding="utf-8")
    return str(path)


def test_it_sets_the_webhook_with_the_secret_and_registers_the_menu(
        tmp_path: Path, emulator: BotApiEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["webhook", "set", URL, "--config", config(tmp_path, emulator)])

    assert status == 0
    call = emulator.wait_for(lambda c: c.method == "setWebhook")
    assert (call.params["url"], call.params["secret_token"]) == (URL, SECRET)
    assert "callback_query" in call.params["allowed_updates"]
    assert [c["command"] for c in emulator.commands][:2] == ["latest", "sensors"]
    assert URL in capsys.readouterr().err
    assert not (tmp_path / "sensorbot.db").exists()  # no storage needed, none created


def test_it_deletes_the_webhook(tmp_path: Path, emulator: BotApiEmulator) -> None:
    assert main(["webhook", "delete", "--config", config(tmp_path, emulator)]) == 0

    assert emulator.wait_for(lambda c: c.method == "deleteWebhook")


def test_it_refuses_to_set_a_webhook_without_a_secret(
        tmp_path: Path, emulator: BotApiEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["webhook", "set", URL, "--config", config(tmp_path, emulator, secret="")])

    assert status == 2
    assert "webhook_secret" in capsys.readouterr().err
    assert [c.method for c in emulator.calls] == []


def test_it_refuses_a_url_telegram_would_not_call(
        tmp_path: Path, emulator: BotApiEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["webhook", "set", "http://example.com/", "--config",
                   config(tmp_path, emulator)])

    assert status == 2  # a usage error
    assert "HTTPS" in capsys.readouterr().err
    assert [c.method for c in emulator.calls] == []


def test_it_explains_a_refused_token_in_one_line(
        tmp_path: Path, emulator: BotApiEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["webhook", "set", URL, "--config",
                   config(tmp_path, emulator, token="999:WRONG")])

    err = capsys.readouterr().err
    assert status == 2  # a configuration error, as for `run`
    assert err.startswith("Telegram refused the bot token.") and "Traceback" not in err
    assert "WRONG" not in err  # the token never reaches a log


def test_it_takes_the_token_and_secret_from_ssm_when_named(
        tmp_path: Path, emulator: BotApiEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[telegram]\nbase_url = "{emulator.base_url}"\n', encoding="utf-8")
    monkeypatch.setenv("SENSORBOT_SSM_BOT_TOKEN_PARAM", "/sensorbot/bot-token")
    monkeypatch.setenv("SENSORBOT_SSM_WEBHOOK_SECRET_PARAM", "/sensorbot/webhook-secret")

    with mock_aws():
        ssm = boto3.client("ssm", region_name="eu-north-1")
        ssm.put_parameter(Name="/sensorbot/bot-token", Value=emulator.token, Type="SecureString")
        ssm.put_parameter(Name="/sensorbot/webhook-secret", Value=SECRET, Type="SecureString")
        status = main(["webhook", "set", URL, "--config", str(path)])

    assert status == 0
    assert emulator.wait_for(lambda c: c.method == "setWebhook").params["secret_token"] == SECRET


def test_it_refuses_a_webhook_secret_telegram_would_refuse_with_exit_2(
        tmp_path: Path, emulator: BotApiEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path, emulator, secret="has spaces")

    status = main(["webhook", "set", URL, "--config", path])

    err = capsys.readouterr().err
    assert status == 2
    assert "'telegram.webhook_secret'" in err and "A-Z" in err
    assert [c.method for c in emulator.calls] == []
