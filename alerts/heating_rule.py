"""A heating rule's state: the watch's memory kept in the rule's state as JSON, and how the
watch's events become the rule's status and its outbox (pure).

The warning is sent once (no reminders) and always rings; while the rule is snoozed it waits
for the snooze to end, as other rules' first notices do. The recovery is told only to those
who were warned.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from alerts.heating import (
    HeatingEvent,
    HeatingMemory,
    HeatingModel,
    HeatingPhase,
    HeatingStep,
    Outside,
    Prediction,
)
from storage.codec import canonical
from storage.models import AlertState, AlertStatus, HeatingOutlook, Reading, TransitionKind

HeatingEvaluator = Callable[[HeatingMemory, Reading | None, int, Sequence[Reading] | None,
                             Outside], HeatingStep]


def dump_memory(memory: HeatingMemory) -> str:
    data = {f.name: getattr(memory, f.name) for f in dataclasses.fields(memory)}
    data["phase"] = memory.phase.value
    if memory.model is not None:
        data["model"] = dataclasses.asdict(memory.model)
    return canonical({key: value for key, value in data.items() if value is not None})


@lru_cache(maxsize=8192)
def load_memory(text: str | None) -> HeatingMemory:
    """The memory as stored; a field this version does not know is left out, and one it
    misses takes its default, so memories outlive changes to the watch. Cached: a steady
    cycle reads the same text again and again (the memory is immutable)."""
    if text is None:
        return HeatingMemory()
    loaded = json.loads(text)
    data: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    known = {f.name for f in dataclasses.fields(HeatingMemory)}
    values = {key: value for key, value in data.items() if key in known}
    if "phase" in values:
        values["phase"] = HeatingPhase(values["phase"])
    model = values.get("model")
    if isinstance(model, dict):
        model_fields = {f.name for f in dataclasses.fields(HeatingModel)}
        try:
            values["model"] = HeatingModel(**{k: v for k, v in model.items()
                                              if k in model_fields})
        except (TypeError, ValueError):  # another shape: learned again at the next chance
            values["model"] = None
    return HeatingMemory(**values)


def memory_of(state: AlertState) -> HeatingMemory:
    return load_memory(state.heating)


@dataclass(frozen=True)
class HeatingNotice:
    """A message the cycle puts in the outbox for a heating rule."""

    kind: TransitionKind
    value: float | None
    reading_ts: int | None
    lowest: float | None
    since: int | None
    rate_per_h: float | None = None
    outlook: HeatingOutlook | None = None


def outlook_of(level: float | None, prediction: Prediction | None) -> HeatingOutlook:
    if prediction is None:
        return HeatingOutlook(level)
    return HeatingOutlook(level, prediction.eta_ms, prediction.eta_low_ms, prediction.eta_high_ms,
                          prediction.outside, prediction.outside_source)


def apply_step(state: AlertState, step: HeatingStep, now_ms: int
               ) -> tuple[AlertState, list[HeatingNotice]]:
    """The rule's state after the watch's step, and the messages it makes."""
    state = replace(state, heating=dump_memory(step.memory))
    notices: list[HeatingNotice] = []
    for event in step.events:
        state, notice = _on_event(state, event, now_ms)
        notices += [notice] if notice else []
    if step.memory.phase is not HeatingPhase.FIRING and state.status is AlertStatus.FIRING:
        state = replace(state.without_incident(), status=AlertStatus.OK)  # turned down meanwhile
    if step.memory.phase is HeatingPhase.FIRING and state.status is AlertStatus.FIRING:
        state = replace(state, extreme=step.memory.lowest if step.memory.lowest is not None
                        else state.extreme)
    return state, notices


def _on_event(state: AlertState, event: HeatingEvent, now_ms: int
              ) -> tuple[AlertState, HeatingNotice | None]:
    if event.kind == "heating_failed":
        since = event.since if event.since is not None else event.at
        fired = replace(state.without_incident(), status=AlertStatus.FIRING, since=since,
                        extreme=event.value, last_value=event.value, last_ts=event.at)
        if fired.snoozed(now_ms):
            return fired, None  # told when the snooze ends (deferred_warning_due)
        prediction = event.prediction
        return replace(fired, notified=True, last_notice=now_ms), HeatingNotice(
            TransitionKind.FIRED, event.value, event.at, event.value, since,
            prediction.rate_per_h if prediction else None, outlook_of(event.level, prediction))
    told = state.notified
    lowest = event.lowest if event.lowest is not None else state.extreme
    began = state.since if state.since is not None else event.since
    resolved = replace(state.without_incident(), status=AlertStatus.OK)
    if not told:
        return resolved, None
    return resolved, HeatingNotice(TransitionKind.RESOLVED, event.value, event.at, lowest, began,
                                   outlook=HeatingOutlook(event.level))


def deferred_warning_due(state: AlertState, now_ms: int) -> bool:
    """A warning held back by a snooze, now that the snooze is over."""
    return state.status is AlertStatus.FIRING and not state.notified and \
        not state.snoozed(now_ms)


def deferred_warning(state: AlertState, latest: Reading | None, prediction: Prediction,
                     now_ms: int) -> tuple[AlertState, HeatingNotice]:
    model = memory_of(state).model
    value = latest.value if latest else state.last_value
    reading_ts = latest.timestamp if latest else state.last_ts
    notice = HeatingNotice(TransitionKind.FIRED, value, reading_ts, state.extreme, state.since,
                           prediction.rate_per_h,
                           outlook_of(model.level if model else None, prediction))
    return replace(state, notified=True, last_notice=now_ms), notice


def turn_down(state: AlertState, turned: Callable[[HeatingMemory, int], HeatingMemory],
              now_ms: int) -> AlertState:
    """"I turned the heating down": the watch relearns the level from now, the warning ends
    without a recovery message."""
    memory = turned(memory_of(state), now_ms)
    return replace(state.without_incident(), status=AlertStatus.OK, heating=dump_memory(memory))
