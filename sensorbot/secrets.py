"""Secrets from AWS SSM Parameter Store, fetched once per process (a Lambda cold start).

The functions' environment names the parameters (SecureString); a setting that the
configuration already holds — env `TELEGRAM_BOT_TOKEN`, `SENSORBOT_TELEGRAM__*`, a config
file — is not fetched, so tests and local runs override SSM without touching AWS.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from core.config import ConfigError, Settings, TelegramSettings, load_settings

BOT_TOKEN_PARAM = "SENSORBOT_SSM_BOT_TOKEN_PARAM"  # noqa: S105 - names, not secrets
WEBHOOK_SECRET_PARAM = "SENSORBOT_SSM_WEBHOOK_SECRET_PARAM"  # noqa: S105
# env variable naming a parameter → the [telegram] setting it fills
SECRETS = {BOT_TOKEN_PARAM: "token", WEBHOOK_SECRET_PARAM: "webhook_secret"}


def wanted_parameters(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """Parameter name → setting, for each secret named in env and not configured otherwise."""
    configured = settings.telegram.model_dump()
    return {environ[variable]: setting for variable, setting in SECRETS.items()
            if environ.get(variable) and not configured[setting]}


def fetch_parameters(client: Any, names: list[str]) -> dict[str, str]:
    """One GetParameters call, decrypted; a missing parameter is a configuration error."""
    response = client.get_parameters(Names=names, WithDecryption=True)
    missing = response.get("InvalidParameters") or []
    if missing:
        raise ConfigError(
            f"The SSM parameter(s) {', '.join(missing)} do not exist in this account and region. "
            "Create them with `aws ssm put-parameter --type SecureString --name NAME --value "
            "VALUE` (docs/aws.md), or set TELEGRAM_BOT_TOKEN / "
            "SENSORBOT_TELEGRAM__WEBHOOK_SECRET instead.")
    return {parameter["Name"]: parameter["Value"] for parameter in response["Parameters"]}


def ssm_client() -> Any:
    """A client in the AWS configuration's region (AWS_REGION included)."""
    import boto3
    from botocore.config import Config

    from storage.dynamodb.client import configured_region

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3,
                    read_timeout=5)
    session = boto3.session.Session()
    region = configured_region(session)
    if not region:
        raise ConfigError(
            "There is no AWS region to read the SSM parameters in: set the stack's with "
            "`aws configure set region REGION` or AWS_REGION (docs/aws.md).")
    return session.client("ssm", region_name=region, config=config)


def fill_secrets(settings: Settings, environ: Mapping[str, str] | None = None, *,
                 client: Any = None) -> Settings:
    """`settings` with the SSM secrets it lacks filled in (validated like any setting)."""
    environ = os.environ if environ is None else environ
    wanted = wanted_parameters(settings, environ)
    if not wanted:
        return settings
    from botocore.exceptions import BotoCoreError

    try:
        values = fetch_parameters(client if client is not None else ssm_client(),
                                  sorted(wanted))
    except BotoCoreError as exc:  # no credentials, a profile that is not there, no network
        raise ConfigError(
            f"The SSM parameter(s) {', '.join(sorted(wanted))} cannot be read ({exc}): check "
            "your AWS credentials and region (`aws configure`), or set TELEGRAM_BOT_TOKEN / "
            "SENSORBOT_TELEGRAM__WEBHOOK_SECRET instead.") from None
    updates = {setting: values[name] for name, setting in wanted.items()}
    try:
        telegram = TelegramSettings.model_validate({**settings.telegram.model_dump(), **updates})
    except ValueError:
        raise ConfigError(f"The SSM parameter(s) {', '.join(sorted(wanted))} hold a value that "
                          "is not a valid bot token or webhook secret (webhook secrets: 1-256 "
                          "of A-Z a-z 0-9 _ -).") from None
    return settings.model_copy(update={"telegram": telegram})


def load_lambda_settings(environ: Mapping[str, str] | None = None, *,
                         client: Any = None) -> Settings:
    """The configuration from the environment, then the secrets from SSM."""
    return fill_secrets(load_settings(environ=environ), environ, client=client)
