"""The rules kept between cycles of one process."""

from __future__ import annotations

from dataclasses import dataclass

from storage.models import AlertRule


@dataclass
class RuleBook:
    """The rules and states between cycles of one process, so a steady cycle costs only the
    latest-reading lookups. Conditional writes keep it honest: a lost race, a change made
    through the use-cases (`invalidate`), or `refresh_ms` passing reloads it from storage."""

    refresh_ms: int = 600_000
    rules: list[AlertRule] | None = None
    loaded_at: int = 0
    generation: int = 0  # bumped by every invalidation, so a cycle never keeps a stale copy

    def invalidate(self) -> None:
        self.rules = None
        self.generation += 1

    def keep(self, rules: list[AlertRule] | None, generation: int) -> None:
        if generation == self.generation:
            self.rules = rules

    def fresh(self, now_ms: int) -> list[AlertRule] | None:
        if self.rules is None or now_ms - self.loaded_at >= self.refresh_ms:
            return None
        return self.rules
