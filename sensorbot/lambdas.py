"""AWS Lambda entry point: API Gateway REST (v1), HTTP API (v2) and Function URL events.

Configure with environment variables (SENSORBOT_STORAGE__BACKEND=dynamodb, ...). The app and
its storage client are built on the first event of a cold start and reused while warm.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from sensorbot.logs import configure_logging

# Once per cold start, for every handler in this module.
configure_logging()

_adapter: Mangum | None = None


def build_handler(app: Any) -> Mangum:
    return Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _adapter
    if _adapter is None:
        from core.config import load_settings
        from ingest.app import create_app
        from sensorbot.stores import open_store

        settings = load_settings()
        _adapter = build_handler(create_app(settings, store=open_store(settings.storage)))
    return _adapter(event, context)
