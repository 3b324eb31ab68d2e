"""Numbers as DynamoDB holds them, read without surprises.

DynamoDB keeps up to 38 significant digits with exponents from -130 to +125, but answers in
plain notation: 1e100 comes back as a 101-digit string. boto3's own deserializer reads numbers
in a context that treats dropping those trailing zeros as an error (`decimal.Rounded`,
boto/boto3#2500), so one such item would fail every read of its sensor. This context holds
exactly what DynamoDB holds and rounds nothing that DynamoDB kept.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, Overflow

from boto3.dynamodb.types import TypeDeserializer

DYNAMODB_NUMBERS = Context(prec=38, Emin=-130, Emax=125, rounding=ROUND_HALF_EVEN,
                           traps=[InvalidOperation, Overflow])


def stored_number(text: str) -> Decimal:
    """An `N` attribute's text as a Decimal, exact to DynamoDB's 38 digits."""
    return DYNAMODB_NUMBERS.create_decimal(text)


class NumberSafeDeserializer(TypeDeserializer):
    """boto3's deserializer, reading numbers in DYNAMODB_NUMBERS."""

    def _deserialize_n(self, value: str) -> Decimal:
        return stored_number(value)
