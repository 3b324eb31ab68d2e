"""AWS Lambda entry points, as deploy/template.yaml names them.

ApiFunction → `api_handler` (API Gateway REST, HTTP API and Function URL events), AlertsFunction
→ `alerts_handler` (an EventBridge schedule), BotFunction → `bot_handler` (Telegram's webhook).
Each body is one line: its app is built on the first event of a cold start — settings from the
environment, secrets from SSM (sensorbot/secrets.py), one boto3 client — and reused while warm.
Imports stay inside the builders, so the API's package carries neither PTB nor matplotlib.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sensorbot.logs import configure_logging

if TYPE_CHECKING:
    from mangum import Mangum

    from sensorbot.scheduled import ScheduledAlerts
    from sensorbot.webhook import WebhookBot

T = TypeVar("T")
Event = dict[str, Any]

_apps: dict[str, Any] = {}

# Once per cold start, for every handler in this module.
configure_logging()

# What each entry point imports. Lambda imports this module in its init phase, which is
# observed to run with more CPU than the handler gets at small memory sizes, so the entry point
# Lambda will call (env `_HANDLER`) has its heavy imports done then; anywhere else (tests, the
# other functions' entry points) importing this module costs nothing.
PRELOAD = {"api_handler": ["ingest.http.app"], "handler": ["ingest.http.app"],
           "alerts_handler": ["sensorbot.scheduled"], "bot_handler": ["sensorbot.webhook"]}
for _module in PRELOAD.get(os.environ.get("_HANDLER", "").rpartition(".")[2], []):
    importlib.import_module(_module)


def warm(name: str, build: Callable[[], T]) -> T:
    """The app `name`, built on first use in this execution environment."""
    if name not in _apps:
        _apps[name] = build()
    return cast(T, _apps[name])


def api_handler(event: Event, context: Any) -> dict[str, Any]:
    """An HTTP request to the ingest API."""
    return warm("api", build_api)(event, context)


def alerts_handler(event: Event, context: Any) -> dict[str, Any]:
    """One alert cycle (evaluate every rule, deliver what is pending); returns its summary."""
    return warm("alerts", build_alerts).run_once()


def bot_handler(event: Event, context: Any) -> dict[str, Any]:
    """One Telegram update, checked against the webhook secret."""
    return warm("bot", build_bot).handle(event)


handler = api_handler  # the name earlier deployments of the API use


def build_handler(app: Any) -> Mangum:
    from mangum import Mangum

    return Mangum(app, lifespan="off")


def build_api() -> Mangum:
    from ingest.http.app import create_app
    from sensorbot.secrets import load_lambda_settings
    from sensorbot.stores import open_store

    settings = load_lambda_settings()
    return build_handler(create_app(settings, store=open_store(settings.storage)))


def build_alerts() -> ScheduledAlerts:
    from sensorbot.scheduled import ScheduledAlerts
    from sensorbot.secrets import load_lambda_settings
    from sensorbot.stores import open_store

    settings = load_lambda_settings()
    return ScheduledAlerts.build(settings, open_store(settings.storage))


def build_bot() -> WebhookBot:
    from sensorbot.secrets import load_lambda_settings
    from sensorbot.stores import open_store
    from sensorbot.webhook import WebhookBot

    settings = load_lambda_settings()
    return WebhookBot.build(settings, open_store(settings.storage))
