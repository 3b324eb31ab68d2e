"""API tokens: issued once, stored as SHA-256 hashes; ranchdata's token string imported."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import shlex
from dataclasses import dataclass, field

from storage.base import Store
from storage.errors import AlreadyExists, NotFound
from storage.models import ApiToken, Scope, User, check_user_id

SCOPES: tuple[Scope, ...] = ("read", "write")
RANCH_SCOPES: dict[str, Scope] = {"R": "read", "W": "write"}
RANCH_EXAMPLE = "R:readtoken:23#W:writetoken:23"
WEAK_TOKEN_CHARS = 16
IMPORTED_LABEL = "imported from ranchdata"
# What JavaScript makes of a missing array element used as an object key (auth.js).
JS_UNDEFINED = "undefined"


class TokenImportError(ValueError):
    """The ranchdata token string holds no usable token; nothing was imported."""


@dataclass(frozen=True)
class RanchToken:
    scope: Scope
    secret: str
    user_id: str


@dataclass(frozen=True)
class RanchTokens:
    """What ranchdata's auth.js made of a token string, and what an operator should know."""

    tokens: list[RanchToken]
    warnings: list[str]
    dead_secrets: list[str]  # entries ranchdata never let in: they must stay dead here


@dataclass
class TokenImport:
    imported: list[ApiToken] = field(default_factory=list)
    present: int = 0
    users_created: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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


@dataclass(frozen=True)
class _Entry:
    number: int
    mode: str
    secret: str
    user_id: str | None
    extra: list[str]
    text: str

    @property
    def masked(self) -> str:
        """The entry with its secret hidden, for messages."""
        if len(self.text.split(":")) < 2:
            return "****" if self.text else "(empty)"
        return f"{self.mode}:****:{self.user_id if self.user_id is not None else ''}"


def _entries(text: str) -> list[_Entry]:
    """auth.js: `item.split(":")` destructured into the first three parts; the rest ignored."""
    found = []
    for number, item in enumerate(text.split("#"), start=1):
        parts = item.split(":")
        secret = parts[1] if len(parts) > 1 else JS_UNDEFINED
        user_id = parts[2] if len(parts) > 2 else None
        found.append(_Entry(number, parts[0], secret, user_id, parts[3:], item))
    return found


def parse_ranch_tokens(text: str) -> RanchTokens:
    """Read `R:TOKEN:USER#W:TOKEN:USER` exactly as ranchdata's utils/auth.js read it.

    A token listed twice is what its last entry says (auth.js builds an object keyed by token);
    only upper-case `R`/`W` ever let anyone in; a token holding a space never matched
    (auth.js splits the header on spaces); parts after the third are ignored; empty entries
    (a trailing `#`) are harmless. Entries ranchdata never let in are reported, not imported.
    Only line breaks around the whole string are dropped (a shell's `$(cat file)` artefact).
    """
    text = text.strip("\r\n")
    if not text.strip():
        raise TokenImportError(f"the token string is empty; expected e.g. {RANCH_EXAMPLE}")
    entries = _entries(text)
    last: dict[str, _Entry] = {}
    warnings: list[str] = []
    for entry in entries:
        earlier = last.get(entry.secret)
        if earlier is not None and entry.text and earlier.text not in ("", entry.text):
            warnings.append(f"entries {earlier.number} ({earlier.masked}) and {entry.number} "
                            f"({entry.masked}) name the same token; ranchdata used the last one, "
                            f"entry {entry.number}, and so does this import")
        last[entry.secret] = entry
    tokens, dead = [], []
    for entry in last.values():
        problem = _problem(entry)
        if problem is None:
            tokens.append(RanchToken(RANCH_SCOPES[entry.mode], entry.secret, str(entry.user_id)))
            warnings.extend(_notes(entry))
        elif problem:
            warnings.append(f"entry {entry.number} ({entry.masked}) {problem}; not imported")
            dead.append(entry.secret)
    if not tokens:
        raise TokenImportError("the token string holds no token ranchdata would accept: "
                               + "; ".join(warnings) + f". Expected e.g. {RANCH_EXAMPLE}")
    return RanchTokens(tokens, warnings, dead)


def _problem(entry: _Entry) -> str | None:
    """Why ranchdata never let this entry in ('' for an empty one); None when it did."""
    if not entry.text:
        return ""
    if entry.mode not in RANCH_SCOPES:
        if entry.mode.strip().upper() in RANCH_SCOPES:
            return (f"starts with {entry.mode!r}, which ranchdata ignored (it let in only an "
                    "exact, upper-case R: or W:)")
        return "does not start with R: or W:, so ranchdata ignored it"
    if len(entry.text.split(":")) < 3:
        return "has no user part (SCOPE:TOKEN:USER), so ranchdata let no one in with it"
    if not entry.secret:
        return "has an empty token"
    if " " in entry.secret:
        return "holds a space in its token, which ranchdata never matched"
    if not entry.user_id:
        return "has an empty user id"
    try:
        check_user_id(entry.user_id)
    except ValueError as exc:
        return f"cannot be kept: {exc}"
    return None


def _notes(entry: _Entry) -> list[str]:
    """What is odd about an accepted entry, though ranchdata accepted it too."""
    notes = []
    if entry.extra:
        notes.append(f"entry {entry.number} ({entry.masked}) has more than three parts; "
                     f"ranchdata ignored ':{':'.join(entry.extra)}' and read token and user "
                     f"{entry.user_id!r}, as this import does")
    if entry.user_id != str(entry.user_id).strip():
        notes.append(f"entry {entry.number} ({entry.masked}): user id {entry.user_id!r} has "
                     "spaces at an end; kept, as ranchdata stored its readings under it")
    if len(entry.secret) < WEAK_TOKEN_CHARS:
        notes.append(f"entry {entry.number} ({entry.masked}) is a weak token "
                     f"({_characters(len(entry.secret))}, under {WEAK_TOKEN_CHARS}): it can be "
                     "guessed; issue a new one with `sensorbot tokens issue "
                     f"{shlex.quote(str(entry.user_id))} --scope {RANCH_SCOPES[entry.mode]}` and "
                     "revoke this one")
    return notes


def add_user_once(store: Store, user: User) -> None:
    """Create the user unless another writer (a concurrent migrate) just did."""
    with contextlib.suppress(AlreadyExists):  # the same user, made by the same rule
        store.add_user(user)


def _characters(count: int) -> str:
    return f"{count} character" + ("" if count == 1 else "s")


def import_ranch_tokens(store: Store, text: str, *, now_ms: int,
                        dry_run: bool = False) -> TokenImport:
    """Import every token ranchdata accepted (creating missing users); skip ones already here.

    The whole string is parsed before anything is written. A token ranchdata ignored but that
    is active here (an earlier, laxer import) is reported, never imported again.
    """
    parsed = parse_ranch_tokens(text)
    result = TokenImport(warnings=list(parsed.warnings))
    for secret in parsed.dead_secrets:
        stored = store.token_by_hash(hash_token(secret))
        if stored is not None and not stored.revoked:
            result.warnings.append(f"token {stored.token_id} is active here although ranchdata "
                                   f"ignored it; revoke it: sensorbot tokens revoke "
                                   f"{stored.token_id}")
    for ranch in parsed.tokens:
        _import_one(store, ranch, result, now_ms=now_ms, dry_run=dry_run)
    return result


def _import_one(store: Store, ranch: RanchToken, result: TokenImport, *, now_ms: int,
                dry_run: bool) -> None:
    if store.get_user(ranch.user_id) is None and ranch.user_id not in result.users_created:
        result.users_created.append(ranch.user_id)
        if not dry_run:
            add_user_once(store, User(ranch.user_id, ranch.user_id, now_ms))
    token_hash = hash_token(ranch.secret)
    stored = store.token_by_hash(token_hash)
    if stored is not None:
        result.present += 1
        if (stored.user_id, stored.scope) != (ranch.user_id, ranch.scope):
            result.warnings.append(
                f"token {stored.token_id} is here as a {stored.scope} token of "
                f"{stored.user_id!r}, but ranchdata's string makes it {ranch.scope} of "
                f"{ranch.user_id!r}; left as it is")
        return
    token = ApiToken(new_token_id(), token_hash, ranch.user_id, ranch.scope, IMPORTED_LABEL,
                     now_ms)
    if not dry_run:
        store.add_token(token)
    result.imported.append(token)
