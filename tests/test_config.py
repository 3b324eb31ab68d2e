"""Configuration: discovery, precedence, and readable errors (docs/configuration.md)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from core.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_it_runs_on_built_in_defaults_without_a_file(tmp_path):
    settings = load_settings(None, environ={}, cwd=tmp_path)

    assert settings.storage.backend == "sqlite"
    assert settings.storage.sqlite_path == tmp_path / "sensorbot.db"
    assert settings.storage.retention_days == 90
    assert settings.api.port == 8080
    assert settings.api.cors_origins == ["*"]
    assert settings.alerts.check_interval_seconds == 60


def test_it_finds_the_file_by_flag_then_environment_then_working_directory(tmp_path):
    write(tmp_path / "config.toml", "[api]\nport = 1001\n")
    other = write(tmp_path / "other.toml", "[api]\nport = 1002\n")
    flag = write(tmp_path / "flag.toml", "[api]\nport = 1003\n")
    environ = {"SENSORBOT_CONFIG": str(other)}

    assert load_settings(None, environ={}, cwd=tmp_path).api.port == 1001
    assert load_settings(None, environ=environ, cwd=tmp_path).api.port == 1002
    assert load_settings(str(flag), environ=environ, cwd=tmp_path).api.port == 1003


def test_it_lets_the_environment_override_the_file(tmp_path, monkeypatch):
    path = write(tmp_path / "c.toml", '[storage]\nbackend = "sqlite"\nretention_days = 10\n'
                                      '[storage.dynamodb]\nregion = "us-east-1"\n')
    monkeypatch.setenv("SENSORBOT_STORAGE__BACKEND", "dynamodb")
    monkeypatch.setenv("SENSORBOT_STORAGE__DYNAMODB__ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SENSORBOT_TELEGRAM__ADMINS", "[42, 43]")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")

    settings = load_settings(str(path), cwd=tmp_path)

    assert settings.storage.backend == "dynamodb"
    assert settings.storage.retention_days == 10
    assert settings.storage.dynamodb.region == "us-east-1"
    assert settings.storage.dynamodb.endpoint_url == "http://127.0.0.1:9"
    assert settings.telegram.admins == [42, 43]
    assert settings.telegram.token == "123:abc"


def test_it_prefers_the_files_bot_token_to_the_environments(tmp_path):
    path = write(tmp_path / "c.toml", '[telegram]\ntoken = "from-file"\n')

    settings = load_settings(str(path), environ={"TELEGRAM_BOT_TOKEN": "from-env"})

    assert settings.telegram.token == "from-file"


def test_it_resolves_the_sqlite_path_from_the_config_files_folder(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write(folder / "c.toml", '[storage]\nsqlite_path = "data/s.db"\n')

    settings = load_settings(str(path), environ={}, cwd=tmp_path)

    assert settings.storage.sqlite_path == folder / "data" / "s.db"


@pytest.mark.parametrize(("text", "expected"), [
    ('[storage]\nbackend = "mongo"\n', ["storage.backend", "'sqlite' or 'dynamodb'", "mongo",
                                         "SENSORBOT_STORAGE__BACKEND"]),
    ('[storage]\nretention_days = "soon"\n', ["storage.retention_days", "integer"]),
    ("[storage]\nretention_days = 0\n", ["storage.retention_days", "greater than or equal to 1"]),
    ("[api]\nport = 70000\n", ["api.port", "65535"]),
    ("[api]\nprot = 80\n", ["api.prot", "not a known setting", "(did you mean [api] port?)"]),
    ('[alerts]\ntimezone = "Mars/Olympus"\n', ["alerts.timezone", "IANA"]),
    ('[alerts]\ntimezone = "Europe"\n', ["alerts.timezone", "IANA"]),
    ('[telegram]\nbase_url = "localhost:8081"\n', ["telegram.base_url", "http://"]),
    ('[forecast]\nprovider = "yr"\n', ["forecast.provider", "'open-meteo' or 'off'",
                                        "SENSORBOT_FORECAST__PROVIDER"]),
    ('[forecast]\nbase_url = "api.open-meteo.com"\n', ["forecast.base_url", "https://"]),
    ("[forecast]\ntimeout_seconds = 0\n", ["forecast.timeout_seconds", "greater than 0"]),
    ("[storage\n", ["not valid TOML", "line 1"]),
])
def test_it_explains_a_bad_configuration_in_one_paragraph(tmp_path, text, expected):
    path = write(tmp_path / "c.toml", text)

    with pytest.raises(ConfigError) as caught:
        load_settings(str(path), environ={})

    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


@pytest.mark.parametrize(("text", "meant"), [
    # a key above its section's header, or with none: the first thing a newcomer writes
    ('token = "123456789:AA"\n', "did you mean [telegram] token?"),
    ('[storage]\nbakend = "sqlite"\n', "did you mean [storage] backend?"),
    ("[api]\nadmins = [1]\n", "did you mean [telegram] admins?"),
    ("[telegram]\nadmin = [1]\n", "did you mean [telegram] admins?"),
    ('[storage]\nregion = "eu-north-1"\n', "did you mean [storage.dynamodb] region?"),
    ('[telegam]\ntoken = ""\n', "did you mean [telegram]?"),
    ('base_url = ""\n', "did you mean [telegram] base_url or [forecast] base_url?"),
    ('[mqtt]\nuser = "u"\n', "did you mean [[mqtt.subscriptions]] user or [mqtt] username?"),
    ('[mqtt]\nenabled = true\n[[mqtt.subscriptions]]\ntopic = "a/+"\nuser = "u"\n'
     'sensor = "{1}"\nfeilds = []\n', "did you mean [[mqtt.subscriptions]] fields?"),
])
def test_an_unknown_key_names_the_setting_it_most_likely_meant(tmp_path, text, meant):
    path = write(tmp_path / "c.toml", text)

    with pytest.raises(ConfigError) as caught:
        load_settings(str(path), environ={})

    message = str(caught.value)
    assert "is not a known setting" in message
    assert meant in message


def test_an_unknown_key_like_no_setting_points_to_the_example_file(tmp_path):
    path = write(tmp_path / "c.toml", "[api]\nwhatever = 1\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(str(path), environ={})

    assert "'api.whatever' is not a known setting (see config.example.toml)" in str(caught.value)
    assert "did you mean" not in str(caught.value)


def test_an_unknown_variable_in_a_section_names_the_variable_it_most_likely_meant(
        tmp_path, monkeypatch):
    monkeypatch.setenv("SENSORBOT_API__PORTT", "8081")

    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ={}, cwd=tmp_path)

    message = str(caught.value)
    assert message.startswith("Configuration error in the environment: SENSORBOT_API__PORTT")
    assert "did you mean SENSORBOT_API__PORT?" in message


def test_it_explains_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(str(tmp_path / "nope.toml"), environ={})


def test_it_explains_a_bad_environment_value(tmp_path, monkeypatch):
    monkeypatch.setenv("SENSORBOT_API__PORT", "-1")

    with pytest.raises(ConfigError, match=r"in the environment.*SENSORBOT_API__PORT"):
        load_settings(None, environ={}, cwd=tmp_path)


@pytest.mark.parametrize(("variable", "value"), [
    ("SENSORBOT_API__PORT", "abc"), ("sensorbot_api__port", "abc"),
    ("SENSORBOT_API", '{"port": "abc"}')])
def test_it_blames_a_bad_environment_override_on_the_variable_not_the_file(tmp_path, monkeypatch,
                                                                          variable, value):
    path = write(tmp_path / "c.toml", "[api]\nport = 8081\n")
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as caught:
        load_settings(str(path), environ={})

    message = str(caught.value)
    assert message.startswith(f"Configuration error in the environment: {variable}: 'api.port'")
    assert "abc" in message and "unset" in message
    assert str(path) not in message


def test_it_blames_the_file_and_the_environment_each_for_its_own_mistake(tmp_path,
                                                                       monkeypatch):
    path = write(tmp_path / "c.toml", "[alerts]\ncheck_interval_seconds = 0\n")
    monkeypatch.setenv("SENSORBOT_API__PORT", "abc")

    with pytest.raises(ConfigError) as caught:
        load_settings(str(path), environ={})

    file_part, env_part = str(caught.value).split(" Configuration error in the environment: ")
    assert str(path) in file_part and "alerts.check_interval_seconds" in file_part
    assert env_part.startswith("SENSORBOT_API__PORT: 'api.port'")


def test_the_example_file_documents_every_key_with_its_default():
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    defaults = Settings().model_dump(mode="json")

    def keys(tree: dict, prefix: str = "") -> set[str]:
        found = set()
        for key, value in tree.items():
            found |= keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
        return found

    assert keys(example) == keys(defaults)
    assert example["storage"]["retention_days"] == defaults["storage"]["retention_days"]
    assert example["api"] == defaults["api"]
    assert example["api"]["max_readings_per_minute"] == 1200


def test_a_bad_secret_is_named_but_never_shown(tmp_path, monkeypatch):
    monkeypatch.setenv("SENSORBOT_TELEGRAM__WEBHOOK_SECRET", "my super secret!")
    path = write(tmp_path / "c.toml", "[mqtt]\npassword = 31337\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(str(path), environ={})

    message = str(caught.value)
    assert "SENSORBOT_TELEGRAM__WEBHOOK_SECRET" in message and "'mqtt.password'" in message
    assert message.count("value hidden") == 2
    assert "super secret" not in message and "31337" not in message


def test_a_file_saved_with_a_byte_order_mark_reads_as_without(tmp_path):
    """Windows editors (Notepad) begin UTF-8 with a BOM, which tomllib calls an "Invalid
    statement (at line 1, column 1)"."""
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xef\xbb\xbf[api]\r\nport = 8081\r\n")

    assert load_settings(str(path), environ={}).api.port == 8081


def test_a_file_not_in_utf8_is_told_so(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes('[mqtt]\nusername = "pääkäyttäjä"\n'.encode("latin-1"))

    with pytest.raises(ConfigError, match=r"is not UTF-8 text .*line 2.*save it as UTF-8"):
        load_settings(str(path), environ={})
