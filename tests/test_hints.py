"""Hints that can be pasted: every command or variable a message suggests works as shown."""

from __future__ import annotations

import logging
import re
import shlex
from pathlib import Path

import pytest

from core.config import ConfigError, load_settings, unknown_variables
from core.tokens import parse_ranch_tokens
from ingest.mqtt.subscriber import check_subscriptions
from sensorbot.cli import main
from storage.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent


def suggested_command(text: str) -> list[str]:
    """The `sensorbot …` command a message suggests, as a shell would split it."""
    found = re.search(r"`(sensorbot [^`]+)`", text)
    assert found, text
    return shlex.split(found[1])


def test_the_weak_token_hint_quotes_a_user_id_with_spaces():
    parsed = parse_ranch_tokens("R:short:Living room")

    [hint] = [w for w in parsed.warnings if "weak token" in w]
    assert suggested_command(hint) == ["sensorbot", "tokens", "issue", "Living room",
                                       "--scope", "read"]


def test_the_missing_mqtt_user_hint_creates_the_user_the_subscription_names(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        '[storage]\nsqlite_path = "hint.db"\n[mqtt]\nenabled = true\n[[mqtt.subscriptions]]\n'
        'topic = "zigbee2mqtt/+"\nuser = "my ranch"\nsensor = "{1}"\n', encoding="utf-8")
    settings = load_settings(str(config), environ={})
    store = SQLiteStore(settings.storage.sqlite_path)
    with pytest.raises(ConfigError) as refused:
        check_subscriptions(settings.mqtt, store)

    argv = suggested_command(str(refused.value))
    assert main([*argv[1:], "--config", str(config)]) == 0

    check_subscriptions(settings.mqtt, store)  # the user now exists
    store.close()


def hinted_variable(message: str) -> tuple[str, str]:
    found = re.search(r"(SENSORBOT_\w+)=('[^']*')", message)
    assert found, message
    [value] = shlex.split(found[2])
    return found[1], value


def test_a_bad_list_in_the_file_is_hinted_with_a_variable_that_works(tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text('[telegram]\nadmins = ["me"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(str(bad), environ={})
    name, value = hinted_variable(str(refused.value))
    assert "__0" not in name

    monkeypatch.setenv(name, value)
    good = tmp_path / "good.toml"
    good.write_text("", encoding="utf-8")
    assert load_settings(str(good), environ={name: value}).telegram.admins == [123456789]


def test_a_list_item_set_from_the_environment_is_blamed_on_it_with_the_form_that_works(
        tmp_path, monkeypatch):
    monkeypatch.setenv("SENSORBOT_TELEGRAM__ADMINS__0", "123")
    with pytest.raises(ConfigError) as refused:
        load_settings(None, environ={}, cwd=tmp_path)

    message = str(refused.value)
    assert message.startswith("Configuration error in the environment: "
                              "SENSORBOT_TELEGRAM__ADMINS__0:")
    assert hinted_variable(message) == ("SENSORBOT_TELEGRAM__ADMINS", "[123456789]")


@pytest.mark.parametrize(("variable", "meant"), [
    ("SENSORBOT_TELEGRAM_TOKEN", "SENSORBOT_TELEGRAM__TOKEN"),
    ("SENSORBOT_API_PORT", "SENSORBOT_API__PORT"),
    ("SENSORBOT_STORGE__BACKEND", "SENSORBOT_STORAGE__BACKEND"),
    ("sensorbot_telegram_admins", "SENSORBOT_TELEGRAM__ADMINS"),
])
def test_a_mistyped_variable_is_warned_about_with_the_one_meant(
        tmp_path, monkeypatch, caplog, variable, meant):
    monkeypatch.setenv(variable, "1")
    with caplog.at_level(logging.WARNING, logger="sensorbot.config"):
        load_settings(None, environ={variable: "1"}, cwd=tmp_path)

    assert [r.getMessage() for r in caplog.records] == [
        f"the environment variable {variable} is not a sensorbot setting and is ignored; "
        f"did you mean {meant}?"]


def test_a_variable_like_nothing_known_is_told_the_form_of_settings():
    [note] = unknown_variables({"SENSORBOT_VERBOSE": "1"})

    assert "SENSORBOT_<SECTION>__<KEY>" in note


def test_no_variable_sensorbot_itself_sets_or_reads_is_warned_about():
    template = (ROOT / "deploy" / "template.yaml").read_text(encoding="utf-8")
    names = set(re.findall(r"^\s+(SENSORBOT_\w+):", template, re.MULTILINE))
    assert "SENSORBOT_SSM_BOT_TOKEN_PARAM" in names
    names |= {"SENSORBOT_CONFIG", "SENSORBOT_STORAGE__DYNAMODB__ENDPOINT_URL"}

    assert unknown_variables(dict.fromkeys(names, "x")) == []
