"""Storage: one interface (storage.base.Store), SQLite and DynamoDB backends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.base import Store

if TYPE_CHECKING:
    from sensorbot.config import StorageSettings


def open_store(settings: StorageSettings, *, dynamodb_client: Any = None) -> Store:
    """The configured backend. Imports boto3 only when DynamoDB is used."""
    if settings.backend == "dynamodb":
        from storage.dynamodb import DynamoDBStore

        dynamo = settings.dynamodb
        return DynamoDBStore(
            measurements_table=dynamo.measurements_table,
            meta_table=dynamo.meta_table,
            retention_days=settings.retention_days,
            region=dynamo.region,
            endpoint_url=dynamo.endpoint_url,
            client=dynamodb_client,
        )
    from storage.sqlite import SQLiteStore

    return SQLiteStore(settings.sqlite_path, retention_days=settings.retention_days)


__all__ = ["Store", "open_store"]
