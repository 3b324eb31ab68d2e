"""Adopting a running ranchdata deployment: `sensorbot migrate` (docs/migrating.md).

Three steps, each idempotent, so the command can run again while the old Lambda still writes:
import ranchdata's token string, register every `<user>#<sensor>` its table holds (one Scan,
DynamoDB only), and link the chats of the old bot's `users.json`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from core.tokens import TokenImport, add_user_once, hash_token, import_ranch_tokens
from storage.base import ScanProgress, ScansSensorKeys, SensorKey, SensorKeyScan, Store
from storage.errors import InvalidRecord
from storage.models import ApiToken, ChatLink, User, check_sensor_id, check_user_id

USERS_JSON_EXAMPLE = '[[123456789, "readtoken"], [987654321, "othertoken"]]'


class MigrationInputError(ValueError):
    """The old bot's users.json is not what it wrote; nothing was done."""


@dataclass(frozen=True)
class OldChat:
    """One login of the old bot: a Telegram user (= private chat id) and the key it sent."""

    number: int
    chat_id: int
    secret: str


@dataclass
class Migration:
    """What `migrate` did (or, on a dry run, would do)."""

    dry_run: bool
    tokens: TokenImport | None = None
    scan: SensorKeyScan | None = None
    users_created: list[str] = field(default_factory=list)
    sensors_new: list[SensorKey] = field(default_factory=list)
    sensors_known: int = 0
    chats_linked: list[tuple[int, str]] = field(default_factory=list)
    chats_already: int = 0
    warnings: list[str] = field(default_factory=list)


def parse_old_bot_users(text: str) -> list[OldChat]:
    """`[[telegram_user_id, apikey], …]`, the old bot's users.json."""
    try:
        rows = json.loads(text)
    except ValueError as exc:
        raise MigrationInputError(f"users.json is not JSON ({exc}); expected e.g. "
                                  f"{USERS_JSON_EXAMPLE}") from None
    if not isinstance(rows, list):
        raise MigrationInputError(f"users.json must be a list of [telegram_user_id, apikey] "
                                  f"pairs, e.g. {USERS_JSON_EXAMPLE}")
    return [_old_chat(number, row) for number, row in enumerate(rows, start=1)]


def _old_chat(number: int, row: object) -> OldChat:
    if isinstance(row, list) and len(row) == 2 and isinstance(row[1], str):
        chat_id = row[0]
        if isinstance(chat_id, str) and chat_id.strip().lstrip("-").isdigit():
            chat_id = int(chat_id)
        if isinstance(chat_id, int) and not isinstance(chat_id, bool):
            return OldChat(number, chat_id, row[1])
    raise MigrationInputError(f"users.json entry {number} is not a [telegram_user_id, apikey] "
                              f"pair; expected e.g. {USERS_JSON_EXAMPLE}")


def migrate(store: Store, *, tokens: str | None, old_chats: list[OldChat] | None, now_ms: int,
            dry_run: bool = False, segments: int = 4,
            progress: Callable[[ScanProgress], None] = lambda _: None) -> Migration:
    """Import tokens, register the table's sensors, link old chats; writes nothing on a dry run.

    Inputs are parsed before anything is written: a bad token string imports nothing.
    """
    done = Migration(dry_run)
    if tokens is not None:
        done.tokens = import_ranch_tokens(store, tokens, now_ms=now_ms, dry_run=dry_run)
        done.users_created += done.tokens.users_created
        done.warnings += done.tokens.warnings
    if isinstance(store, ScansSensorKeys):
        done.scan = store.scan_sensor_keys(segments=segments, progress=progress)
        register_sensors(store, done, done.scan.keys, now_ms=now_ms)
    if old_chats:
        pending = {t.token_hash: t for t in done.tokens.imported} if done.tokens else {}
        for chat in old_chats:
            link_old_chat(store, done, chat, pending, now_ms=now_ms)
    return done


def sensor_keys(keys: dict[str, int], warnings: list[str]) -> dict[str, set[str]]:
    """`<user>#<sensor>` split at the first `#` (user ids hold none), by user."""
    by_user: dict[str, set[str]] = defaultdict(set)
    for key, count in sorted(keys.items()):
        user_id, hash_mark, sensor = key.partition("#")
        try:
            if not hash_mark:
                raise InvalidRecord("it is not <user>#<sensor>")
            by_user[check_user_id(user_id)].add(check_sensor_id(sensor))
        except InvalidRecord as exc:
            warnings.append(f"key {key[:80]!r} ({count} items) not registered: {exc}")
    return by_user


def register_sensors(store: Store, done: Migration, keys: dict[str, int], *,
                     now_ms: int) -> None:
    for user_id, sensors in sensor_keys(keys, done.warnings).items():
        if store.get_user(user_id) is None and user_id not in done.users_created:
            done.users_created.append(user_id)
            if not done.dry_run:
                add_user_once(store, User(user_id, user_id, now_ms))
        known = {s.sensor_id for s in store.list_sensors(user_id)}
        done.sensors_known += len(sensors & known)
        for sensor in sorted(sensors - known):
            done.sensors_new.append((user_id, sensor))
            if not done.dry_run:
                # No name or unit given: a sensor registered meanwhile keeps its own.
                store.update_sensor(user_id, sensor, now_ms=now_ms)


def link_old_chat(store: Store, done: Migration, chat: OldChat,
                  pending: dict[str, ApiToken], *, now_ms: int) -> None:
    """Link the chat to its key's user, as `/link` would; say why where it cannot."""
    token_hash = hash_token(chat.secret)
    token = store.token_by_hash(token_hash) or pending.get(token_hash)
    where = f"users.json entry {chat.number} (chat {chat.chat_id})"
    if token is None:
        done.warnings.append(f"{where}: its key matches no token; not linked (import the token "
                             "string it came from, or /link in that chat)")
        return
    if token.revoked or token.scope != "read":
        why = "was revoked" if token.revoked else "is a write token; a chat needs a read token"
        done.warnings.append(f"{where}: its key {why}; not linked")
        return
    old = store.get_chat_link(chat.chat_id)
    if old is not None and old.user_id == token.user_id:
        done.chats_already += 1
        return
    if old is not None and old.linked:
        done.warnings.append(f"{where}: already linked to {old.user_id!r} here; left as it is")
        return
    done.chats_linked.append((chat.chat_id, token.user_id))
    if not done.dry_run:
        store.put_chat_link(ChatLink(chat.chat_id, token.user_id, now_ms, True,
                                     old.timezone if old else None,
                                     old.quiet_hours if old else None))


def progress_line(progress: ScanProgress) -> str:
    """`scanned 120,000 of ~1,000,000 items (12%), 8 sensors, 150.0 read units`."""
    total = progress.estimated_items
    of = f" of ~{total:,}" if total else ""
    share = f" ({min(100, 100 * progress.items // total)}%)" if total else ""
    return (f"scanned {progress.items:,}{of} items{share}, {progress.keys:,} sensors, "
            f"{progress.read_units:,.1f} read units")


def summary(done: Migration, *, elapsed_s: float) -> list[str]:
    """The lines printed at the end, in the operator's words."""
    would = "would be " if done.dry_run else ""
    lines = ["dry run: nothing was written"] if done.dry_run else []
    if done.tokens is not None:
        lines.append(f"tokens: {len(done.tokens.imported)} {would}imported, "
                     f"{done.tokens.present} already here")
    if done.scan is None:
        lines.append("measurements: nothing to scan on SQLite (sensors register as readings "
                     "arrive)")
    else:
        lines.append(scan_line(done.scan, elapsed_s))
        lines.append(f"sensors: {len(done.scan.keys)} found, {len(done.sensors_new)} "
                     f"{would}registered, {done.sensors_known} already registered")
    if done.users_created:
        lines.append(f"users {would}created: {', '.join(done.users_created)}")
    lines.append(f"chats: {len(done.chats_linked)} {would}linked, {done.chats_already} "
                 "already linked")
    lines.append("next: run `sensorbot rollup --rebuild` once to compile the hourly statistics "
                 "of the readings kept so far (charts and exports past 48 h read them)")
    return lines


def scan_line(scan: SensorKeyScan, elapsed_s: float) -> str:
    rate = f", {scan.items / elapsed_s:,.0f} items/s" if elapsed_s > 0 else ""
    per_item = f" ({scan.read_units / scan.items:.4f} per item)" if scan.items else ""
    return (f"measurements: scanned {scan.items:,} items in {elapsed_s:.1f} s{rate}; "
            f"{scan.read_units:,.1f} read units consumed{per_item}")
