"""Storage: one interface (storage.base.Store), SQLite and DynamoDB backends.

Imports no other project package; `sensorbot.stores.open_store` picks the configured backend.
"""

from __future__ import annotations

from storage.base import Store

__all__ = ["Store"]
