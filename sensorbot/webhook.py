"""The bot as a Telegram webhook (BotFunction), and `sensorbot webhook set|delete`.

Each invocation hands one update to the same PTB Application `sensorbot run` polls with. The
X-Telegram-Bot-Api-Secret-Token header is compared in constant time before anything else; an
update that was handled answers 200 even if its handler failed (that is logged), so Telegram
does not redeliver it forever. Telegram redelivers after timeouts and 5xx, and two Lambdas may
get the same update at once: each update is claimed in storage first, by a conditional write,
and a redelivery of one handled (or being handled) is answered 200 without handling it again.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import Bot, Update
from telegram.ext import Application

from bot.app import MENU, build_application, require_token
from core.clock import wall_clock_ms
from core.config import ConfigError, Settings
from storage.base import Store
from storage.errors import StorageError

log = logging.getLogger("sensorbot.webhook")

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name
TELEGRAM = "https://api.telegram.org/bot"  # PTB's default base URL
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
MAX_NESTING = 1024  # a real update nests a few levels; orjson, on the other paths, stops here
# Longer than BotFunction's timeout: a claim older than this was abandoned by a crashed handler.
CLAIM_LEASE_MS = 90_000


def require_secret(settings: Settings) -> str:
    if not settings.telegram.webhook_secret:
        raise ConfigError(
            "No webhook secret is configured. Set [telegram] webhook_secret (or "
            "SENSORBOT_TELEGRAM__WEBHOOK_SECRET, or the SSM parameter named by "
            "SENSORBOT_SSM_WEBHOOK_SECRET_PARAM): 1-256 of A-Z a-z 0-9 _ -, e.g. from "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`.")
    return settings.telegram.webhook_secret


def request_of(event: dict[str, Any]) -> tuple[dict[str, str], str]:
    """Headers (lower-cased) and body of a Function URL, HTTP API or REST API event."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8", errors="replace")
        except ValueError:  # binascii.Error: not base64 after all; JSON parsing refuses it
            body = ""
    return headers, body


def authorized(headers: dict[str, str], secret: str) -> bool:
    given = headers.get(SECRET_HEADER, "")
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


def response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps(body)}


def update_of(body: str) -> dict[str, Any] | None:
    """The JSON object a body holds; None for anything else, a body nested deeper than
    MAX_NESTING included. The standard library's parser: the bot's zip leaves orjson out."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict) or nesting(payload) > MAX_NESTING:
        return None
    return payload


def nesting(value: Any) -> int:
    """How deep objects and lists nest in `value`, walked without recursion. The parser's own
    limit depends on the Python version (under 1,000 on 3.11, past 1,024 from 3.12), so the
    bound is checked here."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


@dataclass
class WebhookBot:
    """BotFunction's app: the initialised Application and its event loop, per cold start."""

    application: Application[Any, Any, Any, Any, Any, Any]
    secret: str
    loop: asyncio.AbstractEventLoop
    store: Store
    clock_ms: Callable[[], int] = wall_clock_ms

    @classmethod
    def build(cls, settings: Settings, store: Store) -> WebhookBot:
        secret = require_secret(settings)
        application = build_application(settings, store, polling=False)
        loop = asyncio.new_event_loop()
        loop.run_until_complete(application.initialize())  # getMe, once per cold start
        return cls(application, secret, loop, store)

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        headers, body = request_of(event)
        if not authorized(headers, self.secret):
            log.warning("refused a webhook call without the right secret token")
            return response(401, {"detail": "missing or wrong X-Telegram-Bot-Api-Secret-Token"})
        payload = update_of(body)
        if payload is None or type(payload.get("update_id")) is not int:
            return response(400, {"detail": "the body is not a JSON Telegram update"})
        update_id = payload["update_id"]
        try:
            if not self.store.claim_update(update_id, now_ms=self.clock_ms(),
                                           lease_ms=CLAIM_LEASE_MS):
                log.info("update %s was handled already (or is being handled): skipped",
                         update_id)
                return response(200, {"ok": True})
        except StorageError as exc:  # Telegram redelivers after a 5xx
            log.warning("could not claim update %s: %s", update_id, exc)
            return response(503, {"detail": "storage is unavailable; try again"})
        self.loop.run_until_complete(self.process(payload))
        self.finish(update_id)
        return response(200, {"ok": True})

    def finish(self, update_id: int) -> None:
        """Mark the update handled; if that fails, a redelivery after the lease runs it again
        (at least once, never lost)."""
        try:
            self.store.finish_update(update_id, now_ms=self.clock_ms())
        except StorageError as exc:
            log.warning("could not mark update %s handled: %s", update_id, exc)

    def close(self) -> None:
        """Lambda freezes and discards the environment; tests and benchmarks close it."""
        self.loop.run_until_complete(self.application.shutdown())
        self.loop.close()

    async def process(self, payload: dict[str, Any]) -> None:
        """Handlers' own errors go to the bot's error handler; anything else is logged here."""
        try:
            update = Update.de_json(payload, self.application.bot)
            await self.application.process_update(update)
        except Exception:
            log.exception("update %s could not be processed", payload.get("update_id"))


def webhook_bot(settings: Settings) -> Bot:
    base = settings.telegram.base_url
    return Bot(require_token(settings), base_url=f"{base}/bot" if base else TELEGRAM)


async def set_webhook(settings: Settings, url: str) -> None:
    """Point Telegram at `url` with the secret, and register the command menu."""
    secret = require_secret(settings)
    async with webhook_bot(settings) as bot:
        await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        await bot.set_my_commands(MENU)


async def delete_webhook(settings: Settings) -> None:
    async with webhook_bot(settings) as bot:
        await bot.delete_webhook()
