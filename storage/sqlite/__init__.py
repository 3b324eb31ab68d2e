"""SQLite backend: one file, WAL, the embedded default."""

from __future__ import annotations

from storage.sqlite.meta import MetaTables
from storage.sqlite.readings import ReadingsTable
from storage.sqlite.rules import RulesTable
from storage.sqlite.schema import SCHEMA_VERSION
from storage.sqlite.statistics import StatisticsTable
from storage.sqlite.updates import UpdatesTable


class SQLiteStore(ReadingsTable, MetaTables, RulesTable, StatisticsTable, UpdatesTable):
    """Thread-safe. Writes share one connection and its lock, and wait on busy_timeout for
    other processes' writes; reads each take a connection of their own from a pool, so in WAL
    mode they never wait for a writer, of this process or another."""


__all__ = ["SCHEMA_VERSION", "SQLiteStore"]
