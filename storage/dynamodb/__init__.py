"""DynamoDB storage backend."""

from __future__ import annotations

from storage.dynamodb.store import DynamoDBStore

__all__ = ["DynamoDBStore"]
