"""Alert rules as stored: typed on the way in and out, and items written before the types."""

from __future__ import annotations

import json

from storage.codec import dump_spec, dump_state, load_spec, load_state
from storage.models import (
    AlertState,
    AlertStatus,
    Claim,
    OutboxEntry,
    RuleKind,
    RuleSpec,
    TransitionKind,
)

# Exactly what the untyped version wrote for a firing freeze rule with one claimed entry.
OLD_SPEC = '{"kind": "below", "threshold": 3.0, "for_s": 600, "clear": 4.0, ' \
           '"repeat_s": 3600, "preset": "freeze"}'
OLD_DATA = json.dumps({
    "since": 1000, "extreme": 1.2, "notified": True, "last_notice": 5000,
    "snoozed_until": 9000,
    "outbox": [{"kind": "fired", "at": 5000, "value": 1.5, "reading_ts": 4900,
                "extreme": 1.2, "since": 1000, "id": "ab12cd34ef",
                "trend": {"per_hour": -0.8}, "delivered": [11], "claim": {"by": "w1",
                                                                         "until": 65000}}],
})


def test_it_loads_a_state_written_before_the_types():
    state = load_state("firing", 7, OLD_DATA)

    assert state == AlertState(
        AlertStatus.FIRING, 7, since=1000, extreme=1.2, notified=True, last_notice=5000,
        snoozed_until=9000,
        outbox=(OutboxEntry("ab12cd34ef", TransitionKind.FIRED, 5000, 1.5, 4900, 1.2, 1000,
                            -0.8, (11,), Claim("w1", 65000)),))
    assert load_spec(OLD_SPEC) == RuleSpec(RuleKind.BELOW, 3.0, 600, 4.0, 3600,
                                           preset="freeze")


def test_it_writes_what_the_older_version_reads():
    state = load_state("firing", 7, OLD_DATA)

    assert json.loads(dump_state(state)) == json.loads(OLD_DATA)
    assert json.loads(dump_spec(load_spec(OLD_SPEC))) == json.loads(OLD_SPEC)


def test_it_loads_an_empty_pending_state():
    assert load_state("pending", 2, '{"since": 10}') == AlertState(AlertStatus.PENDING, 2,
                                                                   since=10)
    assert load_state("ok", 0, "{}") == AlertState()
