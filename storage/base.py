"""The storage interface the API, the bot and the alerts share.

Every backend passes the same contract suite (tests/storage/test_contract.py). Methods that
depend on time take `now_ms`; none reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from storage.models import (
    AlertRule,
    AlertState,
    ApiToken,
    ChatLink,
    HourStats,
    Invite,
    OutsideSettings,
    Reading,
    Sensor,
    User,
)

SensorKey = tuple[str, str]  # (user_id, sensor_id)

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MAX_TIME_MS = 2**63 - 1  # range reads clamp their end here: both backends hold it
# Telegram redelivers an update it got no answer for, for up to a day: remember them that long.
UPDATE_MEMORY_MS = DAY_MS


class Unset:
    """Marks an argument left out, where None is a meaningful value."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()


class Store(Protocol):
    retention_ms: int

    def init(self) -> list[str]:
        """Create tables (idempotent); return warnings worth showing an operator."""

    def ping(self) -> None:
        """Raise StorageUnavailable unless the store answers."""

    def close(self) -> None: ...

    # Readings. Ranges are inclusive, ascending; expired readings are never returned.
    def write_readings(self, user_id: str, readings: Sequence[Reading], *, now_ms: int) -> int:
        """Store readings (same sensor and timestamp overwrites); return how many."""

    def read_range(
        self, user_id: str, sensor: str, start_ms: int, end_ms: int, *, now_ms: int,
        limit: int | None = None,
    ) -> list[Reading]: ...

    def latest_reading(self, user_id: str, sensor: str, *, now_ms: int,
                       before_ms: int | None = None) -> Reading | None:
        """The newest reading (older than `before_ms` when given)."""

    def latest_readings(
        self, keys: Iterable[SensorKey], *, now_ms: int
    ) -> dict[SensorKey, Reading]: ...

    def purge_expired(self, *, now_ms: int) -> int:
        """Delete what retention says is gone (a no-op where TTL does it)."""

    def delete_sensor(
        self, user_id: str, sensor: str, *,
        progress: Callable[[DeletionProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SensorDeletion:
        """Remove a sensor with its alert rules, its readings (expired ones too) and its
        hourly statistics: the rules first (a rule left on a sensor losing its readings would
        cry "no data"), then the readings and statistics, the sensor itself last, so a
        deletion stopped part-way (`should_stop`, asked between batches) leaves it listed, to
        be deleted again."""

    # Hourly statistics, kept `statistics_retention_days` (0 = forever) past the readings.
    def write_statistics(self, user_id: str, sensor: str, hours: Sequence[HourStats], *,
                         now_ms: int) -> int:
        """Store hours (the same hour overwrites); return how many."""

    def read_statistics(self, user_id: str, sensor: str, start_ms: int, end_ms: int, *,
                        now_ms: int) -> list[HourStats]:
        """The hours starting in [start_ms, end_ms], ascending."""

    # Sensors: registered on their first reading; name and unit set by the user.
    def list_sensors(self, user_id: str) -> list[Sensor]: ...

    def get_sensor(self, user_id: str, sensor: str) -> Sensor | None: ...

    def update_sensor(
        self, user_id: str, sensor: str, *, now_ms: int,
        name: str | Unset | None = UNSET, unit: str | Unset | None = UNSET,
    ) -> Sensor: ...

    # Users (tenants).
    def add_user(self, user: User) -> None:
        """Raise AlreadyExists if the id is taken."""

    def get_user(self, user_id: str) -> User | None: ...

    def list_users(self) -> list[User]: ...

    # Where a user's outside temperature comes from (the heating watch).
    def get_outside_settings(self, user_id: str) -> OutsideSettings | None: ...

    def put_outside_settings(self, settings: OutsideSettings) -> None: ...

    # API tokens, stored by hash.
    def add_token(self, token: ApiToken) -> None: ...

    def token_by_hash(self, token_hash: str) -> ApiToken | None: ...

    def get_token(self, token_id: str) -> ApiToken | None: ...

    def list_tokens(self, user_id: str | None = None) -> list[ApiToken]: ...

    def revoke_token(self, token_id: str) -> bool: ...

    def touch_token(self, token: ApiToken, *, now_ms: int) -> None:
        """Record the token's last use."""

    # Chats linked to users.
    def put_chat_link(self, link: ChatLink) -> None: ...

    def get_chat_link(self, chat_id: int) -> ChatLink | None: ...

    def delete_chat_link(self, chat_id: int) -> bool: ...

    def chat_links_for_user(self, user_id: str) -> list[ChatLink]: ...

    # Invites: a code links one chat, once, before it expires.
    def add_invite(self, invite: Invite) -> None: ...

    def claim_invite(self, code: str, chat_id: int, *, now_ms: int) -> Invite | None:
        """Mark the invite used by this chat; None if unknown, used or expired."""

    # Telegram updates a webhook has taken: a redelivered one is handled once.
    def claim_update(self, update_id: int, *, now_ms: int, lease_ms: int) -> bool:
        """Take an update for handling, by a conditional write: True unless it was handled
        within UPDATE_MEMORY_MS or another process took it less than `lease_ms` ago."""

    def finish_update(self, update_id: int, *, now_ms: int) -> None:
        """Mark a taken update handled: its redeliveries are skipped for UPDATE_MEMORY_MS."""

    # Alert rules with their state; state changes are conditional on its version.
    def put_alert_rule(self, rule: AlertRule) -> None: ...

    def put_preset_rule(self, rule: AlertRule) -> bool:
        """Store a preset's rule under its (derived) id, by a conditional write: unless the
        rule stored there has the same sensor and spec, whose state is then kept. A rule
        replaced gets a higher version, so a state update read before loses its race.
        True when written."""

    def list_alert_rules(self, user_id: str | None = None) -> list[AlertRule]: ...

    def get_alert_rule(self, user_id: str, rule_id: str) -> AlertRule | None:
        """One rule, read consistently (after a lost race, it is the truth)."""

    def delete_alert_rule(self, user_id: str, rule_id: str) -> bool: ...

    def update_alert_state(
        self, user_id: str, rule_id: str, state: AlertState, *, expected_version: int
    ) -> AlertState | None:
        """Store `state` if the stored version is still `expected_version`.

        Returns the stored state (version bumped), or None when another writer got there first
        or the rule is gone.
        """


@dataclass(frozen=True)
class DeletionProgress:
    """How far deleting a sensor's readings has come, and what it has cost so far."""

    readings: int
    read_units: float
    write_units: float


@dataclass(frozen=True)
class SensorDeletion:
    """What deleting a sensor removed; `complete` is False when it was stopped part-way."""

    sensor: str
    readings: int
    rules: int
    complete: bool
    read_units: float = 0.0
    write_units: float = 0.0


@dataclass(frozen=True)
class ScanProgress:
    items: int
    estimated_items: int | None  # DynamoDB's table item count, refreshed about every 6 hours
    keys: int
    read_units: float


@dataclass(frozen=True)
class SensorKeyScan:
    """The sensors a measurements table holds: `<user>#<sensor>` → items seen."""

    keys: dict[str, int]
    items: int
    read_units: float


@runtime_checkable
class ScansSensorKeys(Protocol):
    """A store whose measurements were written by others (ranchdata), so may hold sensors it
    never registered. Scanning reads the whole table: an operator's one-time step only."""

    def scan_sensor_keys(self, *, segments: int,
                         progress: Callable[[ScanProgress], None]) -> SensorKeyScan: ...


@dataclass(frozen=True)
class StoredItem:
    """A measurement as its writer stored it: ranchdata kept values as clients sent them
    (a number, a string, null, an object...) and times with fractions of a millisecond."""

    timestamp: Decimal
    value: Any  # Decimal, str, None, bool, dict, list; meaningless unless has_value
    has_value: bool


@runtime_checkable
class KeepsStoredItems(Protocol):
    """A store that may hold items others wrote, and can return them untouched: the v2 series
    answers for them as ranchdata's own GET did."""

    def read_stored_items(self, user_id: str, sensor: str, start_ms: int, end_ms: int, *,
                          now_ms: int, limit: int) -> list[StoredItem]: ...


@runtime_checkable
class SummarizesReadings(Protocol):
    """A store that summarises readings by the hour itself: a month of one-minute readings
    becomes 720 rows without 43,200 objects on their way (SQLite's GROUP BY)."""

    def summarize_readings(self, user_id: str, sensor: str, start_ms: int, end_ms: int, *,
                           now_ms: int) -> list[HourStats]:
        """What `storage.rollup.summarize_hours` makes of `read_range`'s readings."""
