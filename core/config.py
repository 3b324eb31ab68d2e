"""Configuration: defaults < TOML file < environment < explicit values (docs/configuration.md)."""

from __future__ import annotations

import difflib
import logging
import os
import re
import ssl
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "SENSORBOT_"
DEFAULT_CONFIG_NAME = "config.toml"
# SENSORBOT_ variables that are not settings: read by find_config_file and sensorbot/secrets.py.
OTHER_VARIABLES = frozenset({"SENSORBOT_CONFIG", "SENSORBOT_SSM_BOT_TOKEN_PARAM",
                             "SENSORBOT_SSM_WEBHOOK_SECRET_PARAM"})
# A list is set from the environment whole, as JSON; what to show as an example.
LIST_EXAMPLES = {"telegram.admins": "[123456789]", "api.cors_origins": '["https://example.org"]'}

log = logging.getLogger("sensorbot.config")


class ConfigError(Exception):
    """A configuration problem, worded for the person who has to fix it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TelegramSettings(_Section):
    token: str = ""
    admins: list[int] = Field(default_factory=list)
    base_url: str = ""
    webhook_secret: str = ""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be empty or an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]{0,256}", value):
            raise ValueError("must be at most 256 of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value


class DynamoDBSettings(_Section):
    region: str = ""  # "": the user's AWS configuration's (AWS_REGION, the profile's)
    endpoint_url: str = ""
    measurements_table: str = Field(default="measurement", min_length=3, max_length=255)
    meta_table: str = Field(default="sensorbot-meta", min_length=3, max_length=255)
    statistics_table: str = Field(default="sensorbot-statistics", min_length=3, max_length=255)


class StorageSettings(_Section):
    backend: Literal["sqlite", "dynamodb"] = "sqlite"
    sqlite_path: Path = Path("sensorbot.db")
    retention_days: int = Field(default=90, ge=1, le=36500)
    statistics_retention_days: int = Field(default=0, ge=0, le=36500)  # 0: kept forever
    dynamodb: DynamoDBSettings = Field(default_factory=DynamoDBSettings)


class ApiSettings(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    max_readings_per_minute: int = Field(default=1200, ge=0)
    # A request's headers and body must arrive within this; at 30 s, a 1 MiB upload slower
    # than 35 kB/s gets 408.
    request_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)


class AlertsSettings(_Section):
    check_interval_seconds: int = Field(default=60, ge=1)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a folder, not a zone
            raise ValueError("must be an IANA time zone such as 'Europe/Helsinki'") from None
        return value


class ForecastSettings(_Section):
    """The weather forecast the heating watch uses for the hours ahead (at each user's
    /location; none is fetched for a user without one)."""

    provider: Literal["open-meteo", "off"] = "open-meteo"
    base_url: str = ""  # empty: Open-Meteo's own server
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be empty or an http:// or https:// URL, "
                             "e.g. https://api.open-meteo.com")
        return value.rstrip("/")


class MqttSubscription(_Section):
    """One topic filter whose messages are one user's readings (docs/devices.md)."""

    topic: str = Field(min_length=1, max_length=65535)
    user: str = Field(min_length=1)
    sensor: str = Field(min_length=1, description="sensor id template over topic levels: {0}, {1}")
    format: Literal["number", "json", "ruuvi"] = "json"
    fields: list[str] = Field(default_factory=list)  # json: keep only these fields ("" = all)

    @field_validator("topic")
    @classmethod
    def _topic_filter(cls, value: str) -> str:
        _fits_mqtt(value)
        levels = value.split("/")
        for index, level in enumerate(levels):
            if ("+" in level and level != "+") or ("#" in level and level != "#") or \
                    (level == "#" and index != len(levels) - 1):
                raise ValueError("must be an MQTT topic filter: '+' stands for one whole level, "
                                 "'#' for the last ones, e.g. 'zigbee2mqtt/+' or 'tele/#'")
        return value

    @model_validator(mode="after")
    def _template_fits_topic(self) -> MqttSubscription:
        levels = self.topic.split("/")
        open_ended = levels[-1] == "#"
        for _, name, spec, conversion in string.Formatter().parse(self.sensor):
            if name is None:
                continue
            if not name.isdigit() or spec or conversion:
                raise ValueError(f"sensor template {self.sensor!r}: use {{0}}, {{1}}, … for "
                                 "topic levels, e.g. 'attic/{1}'")
            if int(name) >= len(levels) and not open_ended:
                raise ValueError(f"sensor template {self.sensor!r}: topic {self.topic!r} has "
                                 f"{len(levels)} levels, {{0}} to {{{len(levels) - 1}}}")
        return self


SCHEMES = {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}  # and their default ports


class MqttSettings(_Section):
    enabled: bool = False
    url: str = "mqtt://127.0.0.1:1883"
    username: str = ""
    password: str = ""
    ca_file: str = ""  # with TLS: a CA certificate (PEM) to trust instead of the system's
    cert_file: str = ""  # with TLS: this client's certificate (PEM), for brokers that ask
    key_file: str = ""  # its private key (PEM), unless cert_file holds it too
    client_id: str = Field(default="sensorbot", min_length=1, max_length=65535)
    state_file: Path = Path("sensorbot-mqtt.db")  # what the subscriber keeps across restarts
    subscriptions: list[MqttSubscription] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 - a bad port raises here
        except ValueError:
            raise ValueError("has a bad port; e.g. mqtt://192.168.1.5:1883") from None
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError("must be mqtt://HOST[:PORT], mqtts://HOST[:PORT] (TLS), or over "
                             "WebSocket ws://HOST[:PORT][/PATH] or wss://HOST[:PORT][/PATH]")
        if parts.scheme in ("mqtt", "mqtts") and parts.path not in ("", "/"):
            raise ValueError(f"has a path ({parts.path!r}), which only ws:// and wss:// take")
        return value

    @model_validator(mode="after")
    def _something_to_read(self) -> MqttSettings:
        if self.enabled and not self.subscriptions:
            raise ValueError("mqtt is enabled but has no [[mqtt.subscriptions]]; add one (see "
                             "config.example.toml) or set enabled = false")
        return self

    @field_validator("client_id", "username", "password")
    @classmethod
    def _fits_a_string(cls, value: str) -> str:
        _fits_mqtt(value)
        return value

    @field_validator("password")
    @classmethod
    def _password_needs_a_user(cls, value: str, info: ValidationInfo) -> str:
        if value and not info.data.get("username"):
            raise ValueError("is set but username is empty; MQTT sends a password only with "
                             "a user name")
        return value

    @field_validator("ca_file")
    @classmethod
    def _readable_ca_file(cls, value: str, info: ValidationInfo) -> str:
        """Found out at start, not at every attempt to connect."""
        if not value:
            return value
        _needs_tls(info)
        try:
            ssl.create_default_context(cafile=value)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot be read as PEM certificates ({exc.strerror or exc}); "
                             "give the file of the CA that signed the broker's certificate, "
                             "relative to the config file's folder or absolute") from None
        return value

    @field_validator("cert_file", "key_file")
    @classmethod
    def _for_tls(cls, value: str, info: ValidationInfo) -> str:
        if value:
            _needs_tls(info)
        return value

    @model_validator(mode="after")
    def _client_certificate(self) -> MqttSettings:
        """The certificate and its key load together, or sensorbot does not start."""
        if self.key_file and not self.cert_file:
            raise ValueError("[mqtt] key_file is set but cert_file is empty; give the client "
                             "certificate the key belongs to")
        if not self.cert_file:
            return self
        try:
            ssl.create_default_context().load_cert_chain(self.cert_file, self.key_file or None)
        except ssl.SSLError as exc:
            raise ValueError(f"[mqtt] cert_file and key_file do not make a client certificate "
                             f"({exc.reason or exc}): give the certificate (PEM) in cert_file and "
                             "its private key in key_file (or both in cert_file)") from None
        except OSError as exc:
            raise ValueError(f"[mqtt] cert_file or key_file cannot be read ({exc.strerror or exc})"
                             "; give PEM files, relative to the config file's folder or "
                             "absolute") from None
        return self

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or SCHEMES.get(parts.scheme, 1883)

    @property
    def tls(self) -> bool:
        return self.scheme in ("mqtts", "wss")

    @property
    def websockets(self) -> bool:
        return self.scheme in ("ws", "wss")

    @property
    def path(self) -> str:
        """The WebSocket path: the url's, or /mqtt (Mosquitto takes any, EMQX and HiveMQ this)."""
        parts = urlsplit(self.url)
        return (parts.path or "/mqtt") + (f"?{parts.query}" if parts.query else "")


def _fits_mqtt(value: str) -> None:
    """MQTT sends a string as at most 65,535 bytes of UTF-8."""
    if len(value.encode("utf-8", "surrogatepass")) > 65535:
        raise ValueError("is longer than MQTT allows (65,535 bytes of UTF-8)")


def _needs_tls(info: ValidationInfo) -> None:
    url = info.data.get("url")
    if url is not None and urlsplit(url).scheme not in ("mqtts", "wss"):
        raise ValueError(f"is for TLS (mqtts:// or wss://), but url is {url!r}")


class _FileSource(PydanticBaseSettingsSource):
    """Values already read from the TOML file, ranked below the environment."""

    def __init__(self, settings_cls: type[BaseSettings], data: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = dict(data)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    forecast: ForecastSettings = Field(default_factory=ForecastSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_data = init_settings.init_kwargs.pop("_file_data", {})  # type: ignore[attr-defined]
        return (init_settings, env_settings, _FileSource(settings_cls, file_data))


def find_config_file(explicit: str | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The file to read: --config, else $SENSORBOT_CONFIG, else ./config.toml if present."""
    if explicit:
        return Path(explicit)
    if environ.get("SENSORBOT_CONFIG"):
        return Path(environ["SENSORBOT_CONFIG"])
    candidate = cwd / DEFAULT_CONFIG_NAME
    return candidate if candidate.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    """The file's settings. A byte order mark, which Windows editors put before UTF-8, is
    skipped: TOML has no use for it, and tomllib would call it an invalid statement."""
    try:
        raw = path.read_bytes()
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(
            f"The configuration file {path} is not UTF-8 text (a byte {raw[exc.start]:#04x} on "
            f"line {line}): save it as UTF-8.") from None
    except FileNotFoundError:
        raise ConfigError(
            f"The configuration file {path} does not exist. Create it from "
            "config.example.toml, or point --config / SENSORBOT_CONFIG at the right file."
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"The configuration file {path} cannot be read ({exc.strerror}). "
            "Check its permissions, or point --config / SENSORBOT_CONFIG elsewhere."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"The configuration file {path} is not valid TOML: {exc}. "
            "See config.example.toml for the expected layout."
        ) from None


def load_settings(
    config_path: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Load and validate the configuration; raise ConfigError with a readable sentence."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    path = find_config_file(config_path, environ, cwd)
    file_data = read_toml(path) if path else {}
    if path:
        for key in ("ca_file", "cert_file", "key_file"):
            relative_to_file(file_data, "mqtt", key, path.parent)
    try:
        settings = Settings(_file_data=file_data, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, path)) from None
    for note in unknown_variables(environ):
        log.warning("%s", note)
    if not settings.telegram.token and environ.get("TELEGRAM_BOT_TOKEN"):
        settings.telegram.token = environ["TELEGRAM_BOT_TOKEN"]
    base = path.parent if path else cwd
    if not settings.storage.sqlite_path.is_absolute():
        settings.storage.sqlite_path = (base / settings.storage.sqlite_path).resolve()
    if not settings.mqtt.state_file.is_absolute():
        settings.mqtt.state_file = (base / settings.mqtt.state_file).resolve()
    return settings


def relative_to_file(data: dict[str, Any], section: str, key: str, base: Path) -> None:
    """A relative path in the file means one next to the file, as for `sqlite_path`."""
    values = data.get(section)
    if isinstance(values, dict) and isinstance(values.get(key), str) and values[key] and \
            not Path(values[key]).is_absolute():
        values[key] = str((base / values[key]).resolve())


# Settings whose values never appear in an error message (they end up in logs).
SECRET_KEYS = frozenset({"token", "webhook_secret", "password"})


def describe_validation_error(exc: ValidationError, path: Path | None) -> str:
    """One paragraph naming each bad key, what was wrong and where it was set: the environment
    variable by name when one set it (pydantic-settings reads `os.environ`), else the file."""
    in_file, in_env = [], []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        env_name = variable_for(error["loc"])
        setter = env_variable_setting(error["loc"], os.environ)
        got = error.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict | list) else ""
        if SECRET_KEYS & {str(part) for part in error["loc"]}:
            shown = " (value hidden: it is a secret)"
        if error["type"] == "extra_forbidden":
            problem = f"'{key}' is not a known setting" + unknown_key_hint(error["loc"], setter)
        else:
            problem = f"'{key}': {error['msg']}{shown}"
        as_list = list_example(error["loc"], error["type"])
        if setter:
            fix = f" (a list is set whole, as JSON: {as_list})" if as_list else ""
            in_env.append(f"{setter}: {problem}; correct or unset that variable{fix}")
        else:
            fix = "" if error["type"] == "extra_forbidden" else \
                f"; set it in the file or with {as_list or env_name}"
            in_file.append(problem + fix)
    parts = []
    if in_file:
        where = f"in {path}" if path else "in the built-in defaults"
        parts.append(f"Configuration error {where}: " + "; ".join(in_file) + ".")
    if in_env:
        parts.append("Configuration error in the environment: " + "; ".join(in_env) + ".")
    return " ".join(parts)


def unknown_key_hint(loc: tuple[int | str, ...], setter: str | None) -> str:
    """" (did you mean [telegram] token?)" for a key in the wrong place or misspelt (in the
    environment, the variable meant); else a pointer to the example file."""
    meant = likeliest_keys(tuple(str(part) for part in loc if not isinstance(part, int)))
    if setter:
        meant = [key for key in meant if key[:2] != SUBSCRIPTIONS]  # set only as a whole list
        named = [variable_for(key) for key in meant]
    else:
        named = [toml_place(key) for key in meant]
    if not named:
        return " (see config.example.toml)"
    return f" (did you mean {' or '.join(named)}?)"


SUBSCRIPTIONS = ("mqtt", "subscriptions")  # a list of tables: [[mqtt.subscriptions]]


def setting_keys(model: type[BaseModel] = Settings,
                 prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key the file may hold, as the names leading to it: sections (`("storage",
    "dynamodb")`) and settings (`("telegram", "token")`, `("mqtt", "subscriptions", "topic")`
    for a key of each subscription)."""
    keys = []
    for name, field in model.model_fields.items():
        key = (*prefix, name)
        keys.append(key)
        annotation = field.annotation
        if get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += setting_keys(annotation, key)
    return keys


def likeliest_keys(wrong: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The keys an unknown one most likely meant: the same name in another section (a key
    written above its section's header, or under the wrong one), then a close spelling in its
    own section. At most two; none when nothing is close."""
    keys = setting_keys()
    name = wrong[-1].lower()
    elsewhere = [key for key in keys if key[-1] == name and key != wrong]
    siblings = {key[-1]: key for key in keys if key[:-1] == wrong[:-1]}
    close = difflib.get_close_matches(name, list(siblings), n=2, cutoff=0.6)
    return [*elsewhere, *(siblings[spelt] for spelt in close)][:2]


def toml_place(key: tuple[str, ...]) -> str:
    """Where a key goes in the file: "[telegram] token", "[storage.dynamodb]" (a section),
    "[[mqtt.subscriptions]] topic"."""
    def header(section: tuple[str, ...]) -> str:
        dotted = ".".join(section)
        return f"[[{dotted}]]" if section == SUBSCRIPTIONS else f"[{dotted}]"
    if any(other[:len(key)] == key and other != key for other in setting_keys()):
        return header(key)
    return f"{header(key[:-1])} {key[-1]}"


def variable_for(loc: tuple[int | str, ...]) -> str:
    """The SENSORBOT_* variable that sets the value at `loc`: for an item of a list, the list's
    (SENSORBOT_TELEGRAM__ADMINS, never SENSORBOT_TELEGRAM__ADMINS__0, which sets nothing)."""
    keys = []
    for part in loc:
        if isinstance(part, int):
            break
        keys.append(str(part).upper())
    return ENV_PREFIX + "__".join(keys)


def list_example(loc: tuple[int | str, ...], error_type: str) -> str:
    """`SENSORBOT_X__Y='[…]'` when the value at `loc` is a list or in one; else ""."""
    if error_type != "list_type" and not any(isinstance(part, int) for part in loc):
        return ""
    key = ".".join(str(part) for part in loc if not isinstance(part, int))
    return f"{variable_for(loc)}='{LIST_EXAMPLES.get(key, '[...]')}'"


def setting_variables(model: type[BaseModel] = Settings, prefix: str = ENV_PREFIX) -> set[str]:
    """Every SENSORBOT_* variable that sets something, sections included."""
    names = set()
    for name, field in model.model_fields.items():
        variable = prefix + name.upper()
        names.add(variable)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names |= setting_variables(field.annotation, variable + "__")
    return names


def likeliest(name: str, known: set[str]) -> str | None:
    """The setting a misspelt variable most likely meant: the same words with other
    underscores (SENSORBOT_TELEGRAM_TOKEN), else a close spelling; None when nothing is close."""
    keys = sorted(variable for variable in known
                  if not any(other.startswith(variable + "__") for other in known))
    words = {variable.replace("_", ""): variable for variable in keys}
    if name.replace("_", "") in words:
        return words[name.replace("_", "")]
    close = difflib.get_close_matches(name, keys, n=1, cutoff=0.85)
    return close[0] if close else None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A sentence for each SENSORBOT_* variable that sets nothing, naming the likeliest one
    meant: a misspelt one (SENSORBOT_TELEGRAM_TOKEN) would otherwise be ignored in silence.
    A variable under a known section (SENSORBOT_API__PORTT) is the validation's to refuse."""
    known = setting_variables() | OTHER_VARIABLES
    sections = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    notes = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known or \
                upper.split("__")[0] in sections:
            continue
        meant = likeliest(upper, known)
        hint = f"; did you mean {meant}?" if meant else \
            " (settings are SENSORBOT_<SECTION>__<KEY>, with two underscores)"
        notes.append(f"the environment variable {name} is not a sensorbot setting and is "
                     f"ignored{hint}")
    return notes


def env_variable_setting(loc: tuple[int | str, ...], environ: Mapping[str, str]) -> str | None:
    """The SENSORBOT_* variable that supplied the value at `loc` (the key itself, or a section
    given as JSON), as spelt in the environment; None when the value came from elsewhere."""
    names = {name.upper(): name for name in environ if name.upper().startswith(ENV_PREFIX)}
    for depth in range(len(loc), 0, -1):
        wanted = ENV_PREFIX + "__".join(str(part).upper() for part in loc[:depth])
        if wanted in names:
            return names[wanted]
    # A variable one level deeper than the value (SENSORBOT_TELEGRAM__ADMINS__0) made it a
    # section where a list or a number belongs.
    deeper = ENV_PREFIX + "__".join(str(part).upper() for part in loc) + "__"
    return next((names[name] for name in sorted(names) if name.startswith(deeper)), None)
