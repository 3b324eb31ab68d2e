"""The alert state machine: (rule, latest reading, prior state, now) → (state, transitions).

Pure: no I/O, no clock. Steady state needs only the latest reading. When a state may change,
`evaluate` first answers with `needs` (a time range); the cycle reads it (plus the one reading
before it) and calls again with `history`, so the offending run and the incident's extreme are
judged on reading timestamps, never on when the cycle happened to run.

States: ok → pending (condition holds, waiting `for`) → firing (notify; reminders every
`repeat` until acknowledged; nothing while snoozed) → ok when the value crosses the clear
level (notify "recovered"). Stale rules: ok → firing when no reading for `stale_s`, → ok on
the next fresh reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from alerts.rules import Spec
from storage.models import Reading

OK, PENDING, FIRING = "ok", "pending", "firing"
FIRED, REMINDER, RESOLVED = "fired", "reminder", "resolved"
# Incident memory that ends with the incident (snoozes outlive it; they are per rule).
INCIDENT_KEYS = ("since", "extreme", "notified", "last_notice", "ack_by", "last_value",
                 "last_ts")


@dataclass(frozen=True)
class Transition:
    kind: str  # fired | reminder | resolved
    at: int  # the cycle's now, epoch ms
    value: float | None  # the latest reading's value, if any
    reading_ts: int | None
    extreme: float | None  # lowest (below) / highest (above) of the incident
    since: int | None  # when the incident began (first offending reading, or last data)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at, "value": self.value,
                "reading_ts": self.reading_ts, "extreme": self.extreme, "since": self.since}


@dataclass(frozen=True)
class Step:
    status: str
    data: dict[str, Any]
    transitions: list[Transition] = field(default_factory=list)
    needs: tuple[int, int] | None = None  # read this range (and the reading before) first

    def changed_from(self, status: str, data: dict[str, Any]) -> bool:
        return self.status != status or self.data != data


def evaluate(spec: Spec, status: str, data: dict[str, Any], latest: Reading | None,
             now_ms: int, history: Sequence[Reading] | None = None) -> Step:
    if spec.kind == "stale":
        return _stale(spec, status, dict(data), latest, now_ms)
    return _threshold(spec, status, dict(data), latest, now_ms, history)


def _threshold(spec: Spec, status: str, data: dict[str, Any], latest: Reading | None,
               now_ms: int, history: Sequence[Reading] | None) -> Step:
    if latest is None:
        return _remind(spec, status, data, latest, now_ms)
    if status == FIRING:
        if spec.clears(latest.value):
            if history is None:
                return Step(status, data, needs=(data.get("since", latest.timestamp),
                                                 latest.timestamp))
            return _resolve(spec, data, latest, now_ms, history)
        if spec.offends(latest.value):
            data["extreme"] = spec.worse(data.get("extreme", latest.value), latest.value)
        return _remind(spec, status, data, latest, now_ms)
    if not spec.offends(latest.value):
        return Step(OK, _without_incident(data)) if status == PENDING else Step(status, data)
    since = data.get("since") if status == PENDING else None
    if since is not None and latest.timestamp - since < spec.for_s * 1000:
        return Step(status, data)  # still waiting: nothing to read
    if history is None:
        start = since if since is not None else latest.timestamp - spec.for_s * 1000
        return Step(status, data, needs=(min(start, latest.timestamp), latest.timestamp))
    run = _offending_run(spec, history, latest)
    run_start = run[0].timestamp
    extreme = min((r.value for r in run), default=latest.value) if spec.kind == "below" else \
        max((r.value for r in run), default=latest.value)
    if latest.timestamp - run_start < spec.for_s * 1000:
        return Step(PENDING, {**_without_incident(data), "since": run_start})
    fired = {**_without_incident(data), "since": run_start, "extreme": extreme,
             "notified": False}
    return _remind(spec, FIRING, fired, latest, now_ms)


def _offending_run(spec: Spec, history: Sequence[Reading], latest: Reading) -> list[Reading]:
    """The readings from the first offending one after the last non-offending one."""
    readings = sorted({r.timestamp: r for r in [*history, latest]}.values(),
                      key=lambda r: r.timestamp)
    run: list[Reading] = []
    for reading in reversed(readings):
        if not spec.offends(reading.value):
            break
        run.append(reading)
    return list(reversed(run)) or [latest]


def _resolve(spec: Spec, data: dict[str, Any], latest: Reading, now_ms: int,
             history: Sequence[Reading]) -> Step:
    extreme = data.get("extreme", latest.value)
    for reading in history:
        if reading.timestamp >= data.get("since", reading.timestamp) and \
                spec.offends(reading.value):
            extreme = spec.worse(extreme, reading.value)
    transitions = [Transition(RESOLVED, now_ms, latest.value, latest.timestamp, extreme,
                              data.get("since"))] if data.get("notified") else []
    return Step(OK, _without_incident(data), transitions)


def _remind(spec: Spec, status: str, data: dict[str, Any], latest: Reading | None,
            now_ms: int) -> Step:
    """While firing: the first notice (deferred while snoozed), then reminders until
    acknowledged."""
    if status != FIRING or data.get("snoozed_until", 0) > now_ms:
        return Step(status, data)
    value = latest.value if latest else data.get("last_value")
    reading_ts = latest.timestamp if latest else data.get("last_ts")
    if not data.get("notified"):
        kind = FIRED
    elif data.get("ack_by") or now_ms - data.get("last_notice", now_ms) < spec.repeat_s * 1000:
        return Step(status, data)
    else:
        kind = REMINDER
    data.update(notified=True, last_notice=now_ms)
    transition = Transition(kind, now_ms, value, reading_ts, data.get("extreme"),
                            data.get("since"))
    return Step(status, data, [transition])


def _stale(spec: Spec, status: str, data: dict[str, Any], latest: Reading | None,
           now_ms: int) -> Step:
    assert spec.stale_s is not None
    fresh = latest is not None and now_ms - latest.timestamp < spec.stale_s * 1000
    if status == FIRING and fresh:
        assert latest is not None
        transitions = [Transition(RESOLVED, now_ms, latest.value, latest.timestamp, None,
                                  data.get("since"))] if data.get("notified") else []
        return Step(OK, _without_incident(data), transitions)
    if status != FIRING and not fresh:
        fired = {**_without_incident(data), "notified": False,
                 "since": latest.timestamp if latest else now_ms,
                 "last_value": latest.value if latest else None,
                 "last_ts": latest.timestamp if latest else None}
        return _remind(spec, FIRING, fired, latest, now_ms)
    return _remind(spec, status, data, latest, now_ms)


def _without_incident(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in INCIDENT_KEYS}


def acknowledge(data: dict[str, Any], who: str) -> dict[str, Any]:
    return {**data, "ack_by": who}


def snooze(data: dict[str, Any], until_ms: int) -> dict[str, Any]:
    return {**data, "snoozed_until": until_ms}
