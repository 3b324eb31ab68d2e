"""The store factory: the configured backend, built once per process."""

from __future__ import annotations

from typing import Any

from core.config import StorageSettings
from storage.base import Store


def open_store(settings: StorageSettings, *, dynamodb_client: Any = None) -> Store:
    """The configured backend. Imports boto3 only when DynamoDB is used."""
    if settings.backend == "dynamodb":
        from storage.dynamodb import DynamoDBStore

        dynamo = settings.dynamodb
        return DynamoDBStore(
            measurements_table=dynamo.measurements_table,
            meta_table=dynamo.meta_table,
            statistics_table=dynamo.statistics_table,
            retention_days=settings.retention_days,
            statistics_retention_days=settings.statistics_retention_days,
            region=dynamo.region,
            endpoint_url=dynamo.endpoint_url,
            client=dynamodb_client,
        )
    from storage.sqlite import SQLiteStore

    return SQLiteStore(settings.sqlite_path, retention_days=settings.retention_days,
                       statistics_retention_days=settings.statistics_retention_days)
