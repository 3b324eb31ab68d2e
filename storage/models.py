"""The records the store keeps, in the user's words."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from storage.errors import InvalidRecord

Scope = Literal["read", "write"]

# Any text ranchdata could store: no control characters (nor lone surrogates, which no
# store can encode). `#` is allowed; the user part before the first `#` holds none.
SENSOR_ID_MAX = 200
NOT_IN_IDS = r"\x00-\x1f\x7f-\x9f\ud800-\udfff"
SENSOR_ID_RE = re.compile(rf"[^{NOT_IN_IDS}]{{1,{SENSOR_ID_MAX}}}")
SENSOR_ID_RULE = (f"1-{SENSOR_ID_MAX} characters of any text without control characters, "
                  "e.g. 'Living room' or 'olohuone/lämpötila'")
# ranchdata's user ids held anything but its separators `#` and `:`, spaces included.
USER_ID_RE = re.compile(rf"[^#{NOT_IN_IDS}]{{1,64}}")
MAX_VALUE = 1e100


def check_sensor_id(sensor: str) -> str:
    if not SENSOR_ID_RE.fullmatch(sensor):
        raise InvalidRecord(f"sensor id {sensor!r}: use {SENSOR_ID_RULE}")
    return sensor


def check_value(value: float) -> float:
    """Finite and within what DynamoDB's Number holds, so both backends accept the same."""
    if not math.isfinite(value) or abs(value) > MAX_VALUE or 0 < abs(value) < 1 / MAX_VALUE:
        raise InvalidRecord(f"value {value!r}: must be finite, and 0 or 1e-100 to 1e100 in size")
    return value


def check_user_id(user_id: str) -> str:
    if not USER_ID_RE.fullmatch(user_id):
        raise InvalidRecord(f"user id {user_id!r}: use 1-64 characters, no '#' and no control "
                            "characters")
    return user_id


class Reading(NamedTuple):
    """One measurement: sensor id, epoch milliseconds, value. A tuple: cheap by the million."""

    sensor: str
    timestamp: int
    value: float


@dataclass(frozen=True, slots=True)
class Sensor:
    sensor_id: str
    name: str | None = None
    unit: str | None = None
    created: int = 0

    @property
    def display_name(self) -> str:
        return self.name or self.sensor_id


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    name: str
    created: int


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token as stored: its SHA-256 hash, never the secret."""

    token_id: str
    token_hash: str
    user_id: str
    scope: Scope
    label: str
    created: int
    last_used: int | None = None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class ChatLink:
    """A Telegram chat following a user, with the chat's own preferences."""

    chat_id: int
    user_id: str
    linked_at: int
    active: bool = True
    timezone: str | None = None
    quiet_hours: str | None = None  # "22:00-07:00" in the chat's zone


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    user_id: str
    created: int
    expires: int
    used_by: int | None = None
    used_at: int | None = None


@dataclass(frozen=True, slots=True)
class AlertState:
    """Where a rule stands. `version` guards conditional updates; `data` is the state
    machine's own memory (pending start, incident extreme, last notice, snooze...)."""

    status: str = "ok"
    version: int = 0
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A rule of one user on one sensor; `spec` holds its parameters (kind, threshold...)."""

    user_id: str
    rule_id: str
    sensor: str
    spec: dict[str, Any]
    created: int
    state: AlertState = field(default_factory=AlertState)
