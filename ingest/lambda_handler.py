"""AWS Lambda entry point: API Gateway REST (v1), HTTP API (v2) and Function URL events.

Configure with environment variables (SENSORBOT_STORAGE__BACKEND=dynamodb, ...). The app and
its storage client are built on the first event of a cold start and reused while warm.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

_adapter: Mangum | None = None


def build_handler(app: Any) -> Mangum:
    return Mangum(app, lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _adapter
    if _adapter is None:
        from ingest.app import create_app
        from sensorbot.config import load_settings

        _adapter = build_handler(create_app(load_settings()))
    return _adapter(event, context)
