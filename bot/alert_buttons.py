"""The alert buttons, both ends of their protocol: what a button carries, and reading it back.

`a:ack:<rule>:<incident start>` · `a:s1:<rule>` · `a:s8:<rule>` · `a:chart:<rule>` ·
`a:down:<rule>` (a heating warning's "I turned the heating down").
Acknowledge names its incident, so yesterday's button cannot silence today's alert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from storage.models import TransitionKind


class Action(Enum):
    ACK = "ack"
    SNOOZE_1H = "s1"
    SNOOZE_8H = "s8"
    CHART = "chart"
    TURNED_DOWN = "down"


SNOOZE_SECONDS = {Action.SNOOZE_1H: 3600, Action.SNOOZE_8H: 8 * 3600}
LABELS = {Action.ACK: "Acknowledge", Action.SNOOZE_1H: "Snooze 1h",
          Action.SNOOZE_8H: "Snooze 8h", Action.CHART: "Chart 24h",
          Action.TURNED_DOWN: "I turned the heating down"}
BUTTON_RE = re.compile(r"a:(ack|s1|s8|chart|down):([rf][0-9a-f]{1,16})(?::(\d{1,16}))?")
ORDINARY_ACTIONS = (Action.ACK, Action.SNOOZE_1H, Action.SNOOZE_8H, Action.CHART)
HEATING_ACTIONS = (Action.ACK, Action.TURNED_DOWN, Action.SNOOZE_8H, Action.CHART)


@dataclass(frozen=True)
class AlertButton:
    action: Action
    rule_id: str
    incident: int = 0


def parse_button(data: str | None) -> AlertButton | None:
    """The button, or None for data this bot did not make."""
    match = BUTTON_RE.fullmatch(data or "")
    if match is None:
        return None
    action, rule_id, incident = match.groups()
    if (action == "ack") != (incident is not None):
        return None
    return AlertButton(Action(action), rule_id, int(incident or 0))


def keyboard(rule_id: str, incident: int | None,
             actions: tuple[Action, ...] = ORDINARY_ACTIONS) -> InlineKeyboardMarkup | None:
    """Two rows of the given actions, in their usual places."""
    def button(action: Action) -> InlineKeyboardButton:
        data = f"a:{action.value}:{rule_id}"
        if action is Action.ACK:
            data += f":{incident or 0}"
        return InlineKeyboardButton(LABELS[action], callback_data=data)

    rows = [[button(a) for a in (Action.ACK, Action.SNOOZE_1H) if a in actions],
            [button(a) for a in (Action.TURNED_DOWN,) if a in actions],
            [button(a) for a in (Action.SNOOZE_8H, Action.CHART) if a in actions]]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def for_transition(kind: TransitionKind, rule_id: str, incident: int | None, *,
                   heating: bool = False) -> InlineKeyboardMarkup | None:
    """Every button under a firing or reminder message; none under a recovery. A heating
    warning has "I turned the heating down" in place of Snooze 1h."""
    if kind is TransitionKind.RESOLVED:
        return None
    return keyboard(rule_id, incident, HEATING_ACTIONS if heating else ORDINARY_ACTIONS)


def after_press(pressed: Action, rule_id: str, incident: int) -> InlineKeyboardMarkup | None:
    """The buttons that still make sense: after Acknowledge (or "I turned the heating down")
    only the chart; after a snooze
    Acknowledge and the chart."""
    if pressed in (Action.ACK, Action.TURNED_DOWN):
        return keyboard(rule_id, incident, (Action.CHART,))
    return keyboard(rule_id, incident, (Action.ACK, Action.CHART))
