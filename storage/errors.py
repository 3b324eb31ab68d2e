"""Storage errors carry what the edges (HTTP, chat, CLI) need to answer."""

from __future__ import annotations


class StorageError(Exception):
    """Something went wrong in the store; whatever it was, trying again later may work."""

    status_code = 503
    retry_after_seconds = 30


class StorageUnavailable(StorageError):
    """Transient: throttled past the retries, locked, unreachable. Retry later."""

    status_code = 503
    retry_after_seconds = 5


class NotFound(StorageError):
    status_code = 404


class AlreadyExists(StorageError):
    status_code = 409


class InvalidRecord(StorageError, ValueError):
    """A record the store refuses: an id unfit for a key, a value DynamoDB cannot hold."""

    status_code = 422


class MissingTable(StorageError):
    """A table this version needs is not there yet (an upgrade that did not run init)."""
