"""Alert rules as stored: the spec and the state as JSON text, one format for every backend.

The format is the one written before the state became typed (a flat dict of the machine's
memory plus `outbox`), so items stored by earlier versions load unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from storage.models import (
    AlertState,
    AlertStatus,
    Claim,
    HeatingOutlook,
    OutboxEntry,
    RuleKind,
    RuleSpec,
    TransitionKind,
)

SPEC_FIELDS = ("threshold", "for_s", "clear", "repeat_s", "stale_s", "preset")
OUTLOOK_FIELDS = ("level", "eta_ms", "eta_low_ms", "eta_high_ms", "outside", "outside_source")
INCIDENT_FIELDS = ("since", "extreme", "last_notice", "ack_by", "last_value", "last_ts",
                   "snoozed_until")


def dump_spec(spec: RuleSpec) -> str:
    data: dict[str, Any] = {"kind": spec.kind.value}
    data.update({name: getattr(spec, name) for name in SPEC_FIELDS
                 if getattr(spec, name) is not None})
    return json.dumps(data)


def load_spec(text: str) -> RuleSpec:
    data = json.loads(text)
    return RuleSpec(RuleKind(data["kind"]),
                    **{name: data[name] for name in SPEC_FIELDS if name in data})


def dump_state(state: AlertState) -> str:
    """The state's memory (not status and version, which are columns of their own)."""
    data: dict[str, Any] = {name: getattr(state, name) for name in INCIDENT_FIELDS
                            if getattr(state, name) is not None}
    if state.notified:
        data["notified"] = True
    if state.outbox:
        data["outbox"] = [_dump_entry(entry) for entry in state.outbox]
    if state.messages:
        data["messages"] = [list(message) for message in state.messages]
    if state.heating is not None:
        data["heating"] = json.loads(state.heating)
    return json.dumps(data)


def load_state(status: str, version: int, text: str) -> AlertState:
    data = json.loads(text) if text else {}
    return AlertState(
        AlertStatus(status), version,
        notified=bool(data.get("notified", False)),
        outbox=tuple(_load_entry(entry) for entry in data.get("outbox", [])),
        messages=tuple((int(chat), int(message)) for chat, message in data.get("messages", [])),
        heating=canonical(data["heating"]) if "heating" in data else None,
        **{name: data.get(name) for name in INCIDENT_FIELDS},
    )


def canonical(data: Any) -> str:
    """JSON text that is equal whenever the data is, so an unchanged memory is not rewritten."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _dump_entry(entry: OutboxEntry) -> dict[str, Any]:
    trend = {"per_hour": entry.trend_per_hour} if entry.trend_per_hour is not None else None
    claim = {"by": entry.claim.by, "until": entry.claim.until} if entry.claim else None
    data: dict[str, Any] = {"id": entry.entry_id, "kind": entry.kind.value, "at": entry.at,
                            "value": entry.value, "reading_ts": entry.reading_ts,
                            "extreme": entry.extreme,
                            "since": entry.since, "trend": trend,
                            "delivered": list(entry.delivered), "claim": claim}
    if entry.outlook is not None:
        data["outlook"] = {name: getattr(entry.outlook, name) for name in OUTLOOK_FIELDS}
    return data


def _load_entry(data: dict[str, Any]) -> OutboxEntry:
    claim = data.get("claim")
    return OutboxEntry(
        data["id"], TransitionKind(data["kind"]), int(data["at"]), data.get("value"),
        data.get("reading_ts"), data.get("extreme"), data.get("since"),
        (data.get("trend") or {}).get("per_hour"), tuple(data.get("delivered", [])),
        Claim(claim["by"], int(claim["until"])) if claim else None,
        _load_outlook(data.get("outlook")),
    )


def _load_outlook(data: dict[str, Any] | None) -> HeatingOutlook | None:
    if data is None:
        return None
    return HeatingOutlook(**{name: data.get(name) for name in OUTLOOK_FIELDS})
