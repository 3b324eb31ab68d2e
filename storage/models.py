"""The records the store keeps, in the user's words."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal, NamedTuple

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
# The longest unit a sensor keeps, whether set with /unit or sent with a reading.
MAX_UNIT = 32


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


class HourStats(NamedTuple):
    """One hour of one sensor's readings, summarised; kept after the readings expire."""

    hour: int  # epoch ms of the hour's start
    n: int  # how many readings
    minimum: float
    maximum: float
    mean: float
    first: int  # the times of the hour's first and last reading, epoch ms
    last: int


def distinct_count(readings: list[Reading]) -> int:
    """How many readings a batch leaves stored: one per sensor and time (the last wins)."""
    return len({(r.sensor, r.timestamp) for r in readings})


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

    @property
    def linked(self) -> bool:
        """False for a chat that unlinked: its row stays, with its zone and quiet hours."""
        return bool(self.user_id)


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    user_id: str
    created: int
    expires: int
    used_by: int | None = None
    used_at: int | None = None


class RuleKind(StrEnum):
    BELOW = "below"
    ABOVE = "above"
    STALE = "stale"
    HEATING = "heating"  # the heating watch: the heating has stopped, and when it reaches 0 °C


class AlertStatus(StrEnum):
    OK = "ok"
    PENDING = "pending"  # the condition holds, waiting for its `for`
    FIRING = "firing"


class TransitionKind(StrEnum):
    FIRED = "fired"
    REMINDER = "reminder"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a rule watches. Threshold rules: below/above `threshold`, held for `for_s`,
    resolved at `clear` (hysteresis). Stale rules: no reading for `stale_s`."""

    kind: RuleKind
    threshold: float | None = None
    for_s: int = 0
    clear: float | None = None
    repeat_s: int = 3600
    stale_s: int | None = None
    preset: str | None = None  # "freeze": always rings, even in quiet hours

    @property
    def clear_level(self) -> float:
        if self.clear is not None:
            return self.clear
        return self.limit + 1 if self.kind is RuleKind.BELOW else self.limit - 1

    @property
    def limit(self) -> float:
        """The threshold of a threshold rule (a stale rule has none)."""
        if self.threshold is None:
            raise ValueError(f"a {self.kind} rule has no threshold")
        return self.threshold

    def offends(self, value: float) -> bool:
        return value < self.limit if self.kind is RuleKind.BELOW else value > self.limit

    def clears(self, value: float) -> bool:
        if self.kind is RuleKind.BELOW:
            return value >= self.clear_level
        return value <= self.clear_level

    def worse(self, a: float, b: float) -> float:
        """The more extreme of two values for this rule (lowest for below)."""
        return min(a, b) if self.kind is RuleKind.BELOW else max(a, b)

    @property
    def always_rings(self) -> bool:
        return self.preset == "freeze" or self.kind in (RuleKind.STALE, RuleKind.HEATING)


@dataclass(frozen=True, slots=True)
class Claim:
    """A lease on an outbox entry: one worker delivers it until `until`."""

    by: str
    until: int


@dataclass(frozen=True, slots=True)
class HeatingOutlook:
    """What a heating warning says beyond the reading: the usual level, when the sensor
    reaches 0 °C (with its range; None: cannot tell) and the outside figure it assumed."""

    level: float | None
    eta_ms: int | None = None
    eta_low_ms: int | None = None
    eta_high_ms: int | None = None
    outside: float | None = None
    outside_source: str | None = None  # "sensor" or "forecast"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A transition waiting to reach every chat: written by the same conditional update that
    made it, removed once delivered (the outbox)."""

    entry_id: str
    kind: TransitionKind
    at: int  # the cycle's now, epoch ms
    value: float | None  # the latest reading's value, if any
    reading_ts: int | None
    extreme: float | None  # lowest (below) / highest (above) of the incident
    since: int | None  # when the incident began
    trend_per_hour: float | None = None
    delivered: tuple[int, ...] = ()  # chats that have it
    claim: Claim | None = None
    outlook: HeatingOutlook | None = None  # heating rules' warnings


@dataclass(frozen=True, slots=True)
class AlertState:
    """Where a rule stands. `version` guards conditional updates. The incident fields end
    with the incident; a snooze is per rule and outlives it."""

    status: AlertStatus = AlertStatus.OK
    version: int = 0
    since: int | None = None  # pending start, or the incident's start
    extreme: float | None = None
    notified: bool = False
    last_notice: int | None = None
    ack_by: str | None = None
    last_value: float | None = None  # stale rules: the last reading before the silence
    last_ts: int | None = None
    snoozed_until: int | None = None
    outbox: tuple[OutboxEntry, ...] = ()
    # (chat, message) of the incident's latest message with buttons in each chat, so that a
    # press in one chat updates the others.
    messages: tuple[tuple[int, int], ...] = ()
    heating: str | None = None  # heating rules: what the watch learned, as canonical JSON

    def without_incident(self) -> AlertState:
        return replace(self, since=None, extreme=None, notified=False, last_notice=None,
                       ack_by=None, last_value=None, last_ts=None, messages=())

    def snoozed(self, now_ms: int) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > now_ms

    def entry(self, entry_id: str) -> OutboxEntry | None:
        return next((e for e in self.outbox if e.entry_id == entry_id), None)


@dataclass(frozen=True, slots=True)
class OutsideSettings:
    """Where a user's outside temperature comes from: an outdoor sensor for now, a location
    for the forecast ahead. Either may be unset."""

    user_id: str
    outdoor_sensor: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def location(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A rule of one user on one sensor."""

    user_id: str
    rule_id: str
    sensor: str
    spec: RuleSpec
    created: int
    state: AlertState = field(default_factory=AlertState)
