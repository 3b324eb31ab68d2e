"""Who is calling: the API token from the headers (or `?apikey=` on v1), checked by hash."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.tokens import hash_token
from ingest.http.errors import Forbidden, Unauthorized
from ingest.http.limits import FailedLogins
from storage.base import Store
from storage.errors import StorageError
from storage.models import ApiToken, Scope

log = logging.getLogger("sensorbot.api")

TOUCH_EVERY_MS = 60_000
HOW_TO_SEND = "send 'Authorization: Bearer <token>' or 'X-API-Key: <token>'"


def token_from_headers(headers: Mapping[str, str]) -> str | None:
    """Bearer, a bare token after `Authorization:` (as ranchdata clients sent), or X-API-Key."""
    authorization = headers.get("authorization", "").strip()
    if authorization:
        scheme, _, rest = authorization.partition(" ")
        return rest.strip() if scheme.lower() == "bearer" and rest.strip() else authorization
    api_key = headers.get("x-api-key", "").strip()
    return api_key or None


@dataclass(frozen=True)
class Caller:
    """What a request presents: the secret it sent (if any) and the address it came from."""

    secret: str | None
    address: str


class Authenticator:
    """Resolves secrets to tokens; throttles failed attempts per client address; records
    last use at most once a minute per token."""

    def __init__(self, store: Store, clock_ms: Callable[[], int],
                 failed_logins: FailedLogins | None = None) -> None:
        self._store = store
        self._clock_ms = clock_ms
        self._failed = failed_logins or FailedLogins()
        self._touched: dict[str, int] = {}
        self._lock = threading.Lock()

    def authenticate(self, caller: Caller, scope: Scope) -> ApiToken:
        if not caller.secret:
            raise missing_token()
        now = self._clock_ms()
        self._failed.check(caller.address, now_ms=now)
        token = self._store.token_by_hash(hash_token(caller.secret))
        if token is None or token.revoked:
            self._failed.failed(caller.address, now_ms=now)
            raise Unauthorized("the API token is unknown or revoked")
        if token.scope != scope:
            needed = "a write token to store readings" if scope == "write" else \
                "a read token to read"
            raise Forbidden(f"this is a {token.scope} token; use {needed}")
        return token

    def used(self, token: ApiToken) -> None:
        """Record a successful use; called after the request did its work, so a request
        answered 4xx writes nothing at all."""
        now = self._clock_ms()
        with self._lock:
            if now - self._touched.get(token.token_id, 0) < TOUCH_EVERY_MS:
                return
            self._touched[token.token_id] = now
        try:
            self._store.touch_token(token, now_ms=now)
        except StorageError as exc:
            # Bookkeeping only: the request goes on; the next one tries again.
            log.warning("could not record last use of token %s: %s", token.token_id, exc)
            with self._lock:
                self._touched.pop(token.token_id, None)


def missing_token() -> Unauthorized:
    return Unauthorized(f"an API token is required: {HOW_TO_SEND}")
