"""moto answering numbers as DynamoDB does: the stored text, not boto3's rounding of it.

moto projects items through boto3's own (de)serializer, so it rounds or refuses long numbers
before our code sees them; real DynamoDB (and dynalite) return 1e100 as its 101 digits.
"""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


class StoredText(str):
    """An `N` attribute's text, carried through moto's projection untouched."""


class _KeepNumbers(TypeDeserializer):
    def _deserialize_n(self, value: str) -> Any:
        return StoredText(value)


class _WriteNumbers(TypeSerializer):
    def serialize(self, value: Any) -> dict[str, Any]:
        if isinstance(value, StoredText):
            return {"N": str(value)}
        return super().serialize(value)  # type: ignore[no-any-return]


def moto_keeps_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models import dynamo_type

    monkeypatch.setattr(dynamo_type, "deserializer", _KeepNumbers())
    monkeypatch.setattr(dynamo_type, "serializer", _WriteNumbers())
