"""Alert rules with their state, in SQLite; state changes are conditional on its version."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from storage.codec import dump_spec, dump_state, load_spec, load_state
from storage.errors import AlreadyExists
from storage.models import AlertRule, AlertState, check_sensor_id
from storage.sqlite.connection import Connections


class RulesTable(Connections):

    def put_alert_rule(self, rule: AlertRule) -> None:
        check_sensor_id(rule.sensor)
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO alert_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (rule.user_id, rule.rule_id, rule.sensor, dump_spec(rule.spec), rule.created,
                     rule.state.status.value, rule.state.version, dump_state(rule.state)),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"rule {rule.rule_id!r} already exists") from None

    def put_preset_rule(self, rule: AlertRule) -> bool:
        check_sensor_id(rule.sensor)
        with self._tx() as db:
            return db.execute(
                "INSERT INTO alert_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id, rule_id) DO UPDATE SET sensor = excluded.sensor,"
                " spec = excluded.spec, created = excluded.created, status = excluded.status,"
                " version = alert_rules.version + 1, data = excluded.data"
                " WHERE alert_rules.spec <> excluded.spec OR alert_rules.sensor <> excluded.sensor",
                (rule.user_id, rule.rule_id, rule.sensor, dump_spec(rule.spec), rule.created,
                 rule.state.status.value, rule.state.version, dump_state(rule.state)),
            ).rowcount == 1

    def list_alert_rules(self, user_id: str | None = None) -> list[AlertRule]:
        where, params = ("WHERE user_id = ?", (user_id,)) if user_id is not None else ("", ())
        rows = self._query(
            f"SELECT * FROM alert_rules {where} ORDER BY user_id, created, rule_id", params
        )
        return [_rule(row) for row in rows]

    def get_alert_rule(self, user_id: str, rule_id: str) -> AlertRule | None:
        rows = self._query("SELECT * FROM alert_rules WHERE user_id = ? AND rule_id = ?",
                           (user_id, rule_id))
        return _rule(rows[0]) if rows else None

    def delete_alert_rule(self, user_id: str, rule_id: str) -> bool:
        with self._tx() as db:
            return db.execute(
                "DELETE FROM alert_rules WHERE user_id = ? AND rule_id = ?", (user_id, rule_id)
            ).rowcount == 1

    def update_alert_state(
        self, user_id: str, rule_id: str, state: AlertState, *, expected_version: int
    ) -> AlertState | None:
        stored = replace(state, version=expected_version + 1)
        with self._tx() as db:
            changed = db.execute(
                "UPDATE alert_rules SET status = ?, version = ?, data = ?"
                " WHERE user_id = ? AND rule_id = ? AND version = ?",
                (stored.status.value, stored.version, dump_state(stored), user_id, rule_id,
                 expected_version),
            ).rowcount
        return stored if changed else None


def _rule(row: Sequence[Any]) -> AlertRule:
    user, rule_id, sensor, spec, created, status, version, data = row
    return AlertRule(user, rule_id, sensor, load_spec(spec), created,
                     load_state(status, version, data))
