"""Users, API tokens, chat links and invites, in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from storage.errors import AlreadyExists
from storage.models import ApiToken, ChatLink, Invite, OutsideSettings, User, check_user_id
from storage.sqlite.connection import Connections

TOUCH_WAIT_S = 0.5


class MetaTables(Connections):

    def add_user(self, user: User) -> None:
        check_user_id(user.user_id)
        try:
            with self._tx() as db:
                db.execute("INSERT INTO users VALUES (?, ?, ?)", (user.user_id, user.name,
                                                                  user.created))
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"user {user.user_id!r} already exists") from None

    def get_user(self, user_id: str) -> User | None:
        rows = self._query("SELECT * FROM users WHERE user_id = ?", (user_id,))
        return User(*rows[0]) if rows else None

    def list_users(self) -> list[User]:
        return [User(*row) for row in self._query("SELECT * FROM users ORDER BY user_id")]

    def get_outside_settings(self, user_id: str) -> OutsideSettings | None:
        rows = self._query("SELECT user_id, outdoor_sensor, latitude, longitude"
                           " FROM outside_settings WHERE user_id = ?", (user_id,))
        return OutsideSettings(*rows[0]) if rows else None

    def put_outside_settings(self, settings: OutsideSettings) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO outside_settings VALUES (?, ?, ?, ?)",
                       (settings.user_id, settings.outdoor_sensor, settings.latitude,
                        settings.longitude))

    def add_token(self, token: ApiToken) -> None:
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (token.token_id, token.token_hash, token.user_id, token.scope, token.label,
                     token.created, token.last_used, int(token.revoked)),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists("that token already exists") from None

    def _tokens(self, where: str, params: Sequence[Any]) -> list[ApiToken]:
        rows = self._query(
            "SELECT token_id, token_hash, user_id, scope, label, created, last_used, revoked"
            f" FROM tokens {where} ORDER BY user_id, created, token_id",
            params,
        )
        return [ApiToken(token_id, token_hash, user_id, scope, label, created, last_used,
                         bool(revoked))
                for token_id, token_hash, user_id, scope, label, created, last_used, revoked
                in rows]

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        found = self._tokens("WHERE token_hash = ?", (token_hash,))
        return found[0] if found else None

    def get_token(self, token_id: str) -> ApiToken | None:
        found = self._tokens("WHERE token_id = ?", (token_id,))
        return found[0] if found else None

    def list_tokens(self, user_id: str | None = None) -> list[ApiToken]:
        if user_id is None:
            return self._tokens("", ())
        return self._tokens("WHERE user_id = ?", (user_id,))

    def revoke_token(self, token_id: str) -> bool:
        with self._tx() as db:
            return db.execute(
                "UPDATE tokens SET revoked = 1 WHERE token_id = ?", (token_id,)
            ).rowcount == 1

    def touch_token(self, token: ApiToken, *, now_ms: int) -> None:
        # Bookkeeping on a read's path: it must not make the read wait out another writer.
        with self._tx(wait_s=TOUCH_WAIT_S) as db:
            db.execute(
                "UPDATE tokens SET last_used = ? WHERE token_id = ?", (now_ms, token.token_id)
            )

    # -- chats and invites --------------------------------------------------------------------

    def put_chat_link(self, link: ChatLink) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO chat_links VALUES (?, ?, ?, ?, ?, ?)",
                (link.chat_id, link.user_id, link.linked_at, int(link.active), link.timezone,
                 link.quiet_hours),
            )

    def _links(self, where: str, params: Sequence[Any]) -> list[ChatLink]:
        rows = self._query(
            "SELECT chat_id, user_id, linked_at, active, timezone, quiet_hours FROM chat_links"
            f" {where} ORDER BY chat_id",
            params,
        )
        return [ChatLink(c, u, at, bool(active), tz, quiet) for c, u, at, active, tz, quiet in rows]

    def get_chat_link(self, chat_id: int) -> ChatLink | None:
        found = self._links("WHERE chat_id = ?", (chat_id,))
        return found[0] if found else None

    def delete_chat_link(self, chat_id: int) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM chat_links WHERE chat_id = ?", (chat_id,)).rowcount == 1

    def chat_links_for_user(self, user_id: str) -> list[ChatLink]:
        return self._links("WHERE user_id = ?", (user_id,))

    def add_invite(self, invite: Invite) -> None:
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO invites VALUES (?, ?, ?, ?, ?, ?)",
                    (invite.code, invite.user_id, invite.created, invite.expires, invite.used_by,
                     invite.used_at),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists("that invite code already exists") from None

    def claim_invite(self, code: str, chat_id: int, *, now_ms: int) -> Invite | None:
        with self._tx() as db:
            claimed = db.execute(
                "UPDATE invites SET used_by = ?, used_at = ?"
                " WHERE code = ? AND used_by IS NULL AND expires > ?",
                (chat_id, now_ms, code, now_ms),
            ).rowcount
            row = db.execute("SELECT * FROM invites WHERE code = ?", (code,)).fetchone()
        return Invite(*row) if claimed and row else None
