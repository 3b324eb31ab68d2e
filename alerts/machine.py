"""The alert state machine: (rule, latest reading, prior state, now) → (state, transitions).

Pure: no I/O, no clock. Steady state needs only the latest reading. When a state may change,
`evaluate` first answers with `needs` (a time range); the cycle reads it (plus the one reading
before it) and calls again with `history`, so the offending run and the incident's extreme are
judged on reading timestamps, never on when the cycle happened to run.

States: ok → pending (condition holds, waiting `for`) → firing (notify; reminders every
`repeat` until acknowledged; nothing while snoozed) → ok when the value crosses the clear
level (notify "recovered"). Stale rules: ok → firing when no reading for `stale_s`, → ok on
the next fresh reading. The machine never touches the outbox; the cycle owns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from storage.models import AlertState, AlertStatus, Reading, RuleKind, RuleSpec, TransitionKind

# How far back a new incident's start is looked for, so "since" says when the cold began
# even when the rule was made (or the sensor came back) in the middle of it.
RUN_LOOKBACK_MS = 24 * 3_600_000


@dataclass(frozen=True)
class Transition:
    kind: TransitionKind
    at: int  # the cycle's now, epoch ms
    value: float | None  # the latest reading's value, if any
    reading_ts: int | None
    extreme: float | None  # lowest (below) / highest (above) of the incident
    since: int | None  # when the incident began (first offending reading, or last data)


@dataclass(frozen=True)
class Step:
    state: AlertState
    transitions: tuple[Transition, ...] = ()
    needs: tuple[int, int] | None = None  # read this range (and the reading before) first

    def changed_from(self, state: AlertState) -> bool:
        return self.state != state


def evaluate(spec: RuleSpec, state: AlertState, latest: Reading | None, now_ms: int,
             history: Sequence[Reading] | None = None, *, watched_since: int = 0) -> Step:
    """`watched_since`: when the rule was made; a sensor with no reading at all is silent
    from then on, not from the beginning of time."""
    if spec.kind is RuleKind.STALE:
        return _stale(spec, state, latest, now_ms, watched_since)
    return _threshold(spec, state, latest, now_ms, history)


def _threshold(spec: RuleSpec, state: AlertState, latest: Reading | None, now_ms: int,
               history: Sequence[Reading] | None) -> Step:
    if latest is None:
        return _remind(spec, state, latest, now_ms)
    if state.status is AlertStatus.FIRING:
        if spec.clears(latest.value):
            if history is None:
                start = state.since if state.since is not None else latest.timestamp
                return Step(state, needs=(start, latest.timestamp))
            return _resolve(spec, state, latest, now_ms, history)
        if spec.offends(latest.value):
            extreme = latest.value if state.extreme is None else state.extreme
            state = replace(state, extreme=spec.worse(extreme, latest.value))
        return _remind(spec, state, latest, now_ms)
    if not spec.offends(latest.value):
        if state.status is AlertStatus.PENDING:
            return Step(replace(state.without_incident(), status=AlertStatus.OK))
        return Step(state)
    since = state.since if state.status is AlertStatus.PENDING else None
    if since is not None and latest.timestamp - since < spec.for_s * 1000:
        return Step(state)  # still waiting: nothing to read
    if history is None:
        start = since if since is not None else \
            latest.timestamp - max(spec.for_s * 1000, RUN_LOOKBACK_MS)
        return Step(state, needs=(min(start, latest.timestamp), latest.timestamp))
    run = _offending_run(spec, history, latest)
    run_start = run[0].timestamp
    extreme = min(r.value for r in run) if spec.kind is RuleKind.BELOW else \
        max(r.value for r in run)
    cleared = state.without_incident()
    if latest.timestamp - run_start < spec.for_s * 1000:
        return Step(replace(cleared, status=AlertStatus.PENDING, since=run_start))
    fired = replace(cleared, status=AlertStatus.FIRING, since=run_start, extreme=extreme)
    return _remind(spec, fired, latest, now_ms)


def _offending_run(spec: RuleSpec, history: Sequence[Reading], latest: Reading
                   ) -> list[Reading]:
    """The readings from the first offending one after the last non-offending one."""
    readings = sorted({r.timestamp: r for r in [*history, latest]}.values(),
                      key=lambda r: r.timestamp)
    run: list[Reading] = []
    for reading in reversed(readings):
        if not spec.offends(reading.value):
            break
        run.append(reading)
    return list(reversed(run)) or [latest]


def _resolve(spec: RuleSpec, state: AlertState, latest: Reading, now_ms: int,
             history: Sequence[Reading]) -> Step:
    extreme = state.extreme if state.extreme is not None else latest.value
    for reading in history:
        started = state.since is None or reading.timestamp >= state.since
        if started and spec.offends(reading.value):
            extreme = spec.worse(extreme, reading.value)
    transitions = (Transition(TransitionKind.RESOLVED, now_ms, latest.value, latest.timestamp,
                              extreme, state.since),) if state.notified else ()
    return Step(replace(state.without_incident(), status=AlertStatus.OK), transitions)


def _remind(spec: RuleSpec, state: AlertState, latest: Reading | None, now_ms: int) -> Step:
    """While firing: the first notice (deferred while snoozed), then reminders until
    acknowledged."""
    if state.status is not AlertStatus.FIRING or state.snoozed(now_ms):
        return Step(state)
    if not state.notified:
        kind = TransitionKind.FIRED
    elif state.ack_by or now_ms - _or(state.last_notice, now_ms) < spec.repeat_s * 1000:
        return Step(state)
    else:
        kind = TransitionKind.REMINDER
    value = latest.value if latest else state.last_value
    reading_ts = latest.timestamp if latest else state.last_ts
    state = replace(state, notified=True, last_notice=now_ms)
    return Step(state, (Transition(kind, now_ms, value, reading_ts, state.extreme,
                                   state.since),))


def _stale(spec: RuleSpec, state: AlertState, latest: Reading | None, now_ms: int,
           watched_since: int) -> Step:
    stale_ms = _or(spec.stale_s, 0) * 1000
    heard = latest.timestamp if latest is not None else watched_since
    fresh = now_ms - heard < stale_ms
    if state.status is AlertStatus.FIRING and latest is not None and fresh:
        transitions = (Transition(TransitionKind.RESOLVED, now_ms, latest.value,
                                  latest.timestamp, None, state.since),) \
            if state.notified else ()
        return Step(replace(state.without_incident(), status=AlertStatus.OK), transitions)
    if state.status is not AlertStatus.FIRING and not fresh:
        fired = replace(state.without_incident(), status=AlertStatus.FIRING, since=heard,
                        last_value=latest.value if latest else None,
                        last_ts=latest.timestamp if latest else None)
        return _remind(spec, fired, latest, now_ms)
    return _remind(spec, state, latest, now_ms)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value
