"""Changing a rule's state: the one conditional-update loop every writer uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from storage.base import Store
from storage.models import AlertRule, AlertState

UPDATE_TRIES = 5


def update_rule_state(store: Store, rule: AlertRule,
                      change: Callable[[AlertState], AlertState | None]) -> AlertRule | None:
    """Apply `change` to the rule's state with a conditional write; after a lost race re-read
    the rule and apply it again. The rule as stored, or None when it is gone, `change`
    declines (returns None) or the races go on past UPDATE_TRIES."""
    for _ in range(UPDATE_TRIES):
        new = change(rule.state)
        if new is None:
            return None
        stored = store.update_alert_state(rule.user_id, rule.rule_id, new,
                                          expected_version=rule.state.version)
        if stored is not None:
            return replace(rule, state=stored)
        fresh = store.get_alert_rule(rule.user_id, rule.rule_id)
        if fresh is None:
            return None
        rule = fresh
    return None
