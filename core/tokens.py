"""API tokens: issued once, stored as SHA-256 hashes; ranchdata's token string imported."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from storage.base import Store
from storage.errors import NotFound
from storage.models import ApiToken, Scope, User, check_user_id

SCOPES: tuple[Scope, ...] = ("read", "write")
RANCH_SCOPES: dict[str, Scope] = {"R": "read", "W": "write"}
RANCH_EXAMPLE = "R:readtoken:23#W:writetoken:23"


class TokenImportError(ValueError):
    """The ranchdata token string is malformed; nothing was imported."""


@dataclass(frozen=True)
class RanchToken:
    scope: Scope
    secret: str
    user_id: str


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def new_token_id() -> str:
    return "t_" + secrets.token_hex(5)


def issue_token(
    store: Store, user_id: str, scope: Scope, *, label: str = "", now_ms: int
) -> tuple[str, ApiToken]:
    """Create a token for an existing user; the secret is returned here and nowhere else."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be 'read' or 'write', not {scope!r}")
    if store.get_user(user_id) is None:
        raise NotFound(f"no user with id {user_id!r} (see `sensorbot users list`)")
    secret = new_secret()
    token = ApiToken(new_token_id(), hash_token(secret), user_id, scope, label, now_ms)
    store.add_token(token)
    return secret, token


def parse_ranch_tokens(text: str) -> list[RanchToken]:
    """Parse `R:TOKEN:USER#W:TOKEN:USER`; raise TokenImportError naming the bad entry."""
    entries = [entry.strip() for entry in text.strip().split("#")]
    if not text.strip():
        raise TokenImportError(f"the token string is empty; expected e.g. {RANCH_EXAMPLE}")
    parsed = []
    for number, entry in enumerate(entries, start=1):
        scope_letter, _, rest = entry.partition(":")
        secret, _, user_id = rest.rpartition(":")
        problem = None
        if scope_letter.upper() not in RANCH_SCOPES:
            problem = "must start with R: or W:"
        elif not secret or not user_id:
            problem = "must be SCOPE:TOKEN:USER"
        elif not check_user_id_quietly(user_id):
            problem = f"user id {user_id!r} may not hold spaces and is at most 64 characters"
        if problem:
            raise TokenImportError(
                f"entry {number} ({_masked(entry)}) {problem}; expected e.g. {RANCH_EXAMPLE}"
            )
        parsed.append(RanchToken(RANCH_SCOPES[scope_letter.upper()], secret, user_id))
    return parsed


def check_user_id_quietly(user_id: str) -> bool:
    try:
        check_user_id(user_id)
    except ValueError:
        return False
    return True


def _masked(entry: str) -> str:
    """An entry with its secret hidden, for error messages."""
    scope, _, rest = entry.partition(":")
    secret, _, user = rest.rpartition(":")
    return f"{scope}:****:{user}" if secret else "****"


def import_ranch_tokens(store: Store, text: str, *, now_ms: int) -> list[ApiToken]:
    """Import every token of the string (creating missing users); skip ones already here.

    The whole string is parsed before anything is written, so a malformed one imports nothing.
    """
    wanted = parse_ranch_tokens(text)
    imported = []
    for ranch in wanted:
        if store.get_user(ranch.user_id) is None:
            store.add_user(User(ranch.user_id, ranch.user_id, now_ms))
        token_hash = hash_token(ranch.secret)
        if store.token_by_hash(token_hash) is not None:
            continue
        token = ApiToken(new_token_id(), token_hash, ranch.user_id, ranch.scope,
                         "imported from ranchdata", now_ms)
        store.add_token(token)
        imported.append(token)
    return imported
