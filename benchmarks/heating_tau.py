"""The learned τ at the watch's first warning against the simulated building's true τ: the
benchmarks print it beside the ETA figures (the ETA leans on the learned τ)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from alerts.heating import HeatingEvent, HeatingMemory, HeatingStep


def events_and_taus(steps: Iterable[tuple[HeatingMemory, HeatingStep]]
                    ) -> tuple[list[HeatingEvent], dict[int, float]]:
    """The replay's events, and the learned τ (h) behind each heating_failed one, by its time."""
    events: list[HeatingEvent] = []
    taus: dict[int, float] = {}
    for _, step in steps:
        for e in step.events:
            events.append(e)
            if e.kind == "heating_failed" and step.memory.model is not None:
                model = step.memory.model  # the τ the time to 0 °C trusts, as /alerts shows
                taus[e.at] = model.deep_tau_h if model.deep_tau_h > 0 else model.tau_h
    return events, taus


def tau_line(pairs: Sequence[tuple[float, float]]) -> str:
    """`learned / true` over the failures warned: median, p10–p90, and the share within ×1.3."""
    ratios = sorted(learned / true for learned, true in pairs if true > 0)
    if not ratios:
        return "learned τ / true τ at the first warning: no warnings"

    def q(p: float) -> float:
        return ratios[min(len(ratios) - 1, int(p * len(ratios)))]

    near = sum(1 for r in ratios if abs(math.log(r)) <= math.log(1.3)) / len(ratios)
    return (f"learned τ / true τ at the first warning: median {q(0.5):.2f}, p10 {q(0.1):.2f}, "
            f"p90 {q(0.9):.2f}, within ×1.3 {near:.0%} (n={len(ratios)})")
