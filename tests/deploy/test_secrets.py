"""Secrets from SSM Parameter Store (moto): fetched once per cold start, env overrides them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from core.config import ConfigError, Settings, TelegramSettings
from sensorbot import lambdas, secrets
from sensorbot.secrets import fill_secrets

TOKEN = "123456:FROM-SSM"
SECRET = "from-ssm_secret-0001"
NAMES = {secrets.BOT_TOKEN_PARAM: "/sensorbot/bot-token",
         secrets.WEBHOOK_SECRET_PARAM: "/sensorbot/webhook-secret"}


class CountingClient:
    """moto's SSM client, counting GetParameters calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[list[str]] = []

    def get_parameters(self, **request: Any) -> Any:
        self.calls.append(list(request["Names"]))
        return self.client.get_parameters(**request)


@pytest.fixture
def ssm(botocore_session: Any) -> Iterator[CountingClient]:
    """From the suite's one botocore session, which read SSM's model once."""
    with mock_aws():
        client = CountingClient(botocore_session.create_client("ssm", region_name="eu-north-1"))
        client.client.put_parameter(Name="/sensorbot/bot-token", Value=TOKEN,
                                    Type="SecureString")
        client.client.put_parameter(Name="/sensorbot/webhook-secret", Value=SECRET,
                                    Type="SecureString")
        yield client


def test_it_fills_the_token_and_the_webhook_secret_with_one_call(ssm: CountingClient) -> None:
    settings = fill_secrets(Settings(), NAMES, client=ssm)

    assert (settings.telegram.token, settings.telegram.webhook_secret) == (TOKEN, SECRET)
    assert ssm.calls == [["/sensorbot/bot-token", "/sensorbot/webhook-secret"]]


def test_it_lets_configured_values_override_ssm(ssm: CountingClient) -> None:
    configured = Settings(telegram=TelegramSettings(token="999:FROM-ENV"))

    settings = fill_secrets(configured, NAMES, client=ssm)

    assert (settings.telegram.token, settings.telegram.webhook_secret) == ("999:FROM-ENV",
                                                                          SECRET)
    assert ssm.calls == [["/sensorbot/webhook-secret"]]


def test_it_asks_ssm_nothing_when_no_parameter_is_named() -> None:
    class Untouchable:
        def get_parameters(self, **request: Any) -> Any:
            raise AssertionError("SSM was called")

    assert fill_secrets(Settings(), {}, client=Untouchable()) == Settings()


def test_it_names_a_missing_parameter_and_how_to_create_it(ssm: CountingClient) -> None:
    names = {secrets.BOT_TOKEN_PARAM: "/sensorbot/missing"}

    with pytest.raises(ConfigError, match=r"/sensorbot/missing.*put-parameter"):
        fill_secrets(Settings(), names, client=ssm)


def test_it_refuses_a_webhook_secret_telegram_would_refuse(ssm: CountingClient) -> None:
    ssm.client.put_parameter(Name="/sensorbot/bad", Value="spaces are not allowed",
                             Type="SecureString")

    with pytest.raises(ConfigError, match="/sensorbot/bad"):
        fill_secrets(Settings(), {secrets.WEBHOOK_SECRET_PARAM: "/sensorbot/bad"}, client=ssm)


def test_a_lambda_reads_ssm_once_per_cold_start(
        ssm: CountingClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSORBOT_STORAGE__SQLITE_PATH", str(tmp_path / "lambda.db"))
    monkeypatch.setenv(secrets.BOT_TOKEN_PARAM, "/sensorbot/bot-token")
    monkeypatch.setattr(secrets, "ssm_client", lambda: ssm)
    monkeypatch.setattr(lambdas, "_apps", {})
    health = {"version": "2.0", "rawPath": "/healthz", "rawQueryString": "", "headers": {},
              "requestContext": {"http": {"method": "GET", "path": "/healthz",
                                          "sourceIp": "203.0.113.7"}}, "isBase64Encoded": False}

    statuses = [lambdas.api_handler(health, None)["statusCode"] for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert ssm.calls == [["/sensorbot/bot-token"]]


@pytest.fixture
def aws_configuration_without_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_the_ssm_client_takes_the_region_from_aws_region(
        aws_configuration_without_region: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")

    assert secrets.ssm_client().meta.region_name == "eu-west-3"


def test_without_a_region_the_ssm_client_says_how_to_set_one(
        aws_configuration_without_region: None) -> None:
    with pytest.raises(ConfigError, match=r"no AWS region.*AWS_REGION"):
        secrets.ssm_client()


def test_parameters_that_cannot_be_read_are_one_paragraph_not_a_traceback() -> None:
    from botocore.exceptions import NoCredentialsError

    class WithoutCredentials:
        def get_parameters(self, **request: Any) -> Any:
            raise NoCredentialsError

    with pytest.raises(ConfigError, match=r"/sensorbot/bot-token cannot be read.*credentials"):
        fill_secrets(Settings(), {secrets.BOT_TOKEN_PARAM: "/sensorbot/bot-token"},
                     client=WithoutCredentials())
