"""Money as GraphQL: exact decimal amount, minor units and currency."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from .. import domain


@strawberry.type(
    description="An exact amount of money. Never a float: do arithmetic on `minorUnits`."
)
class Money:
    # A record's ``domain.Money`` is served as this type as it is (same ``amount`` and
    # ``currency``; the resolvers below read only those): no copy per amount shown.
    amount: Decimal = strawberry.field(
        description='Amount in major units as an exact decimal string, e.g. "49.95".'
    )
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. EUR.")

    @strawberry.field(description="Amount in minor units (cents) as an integer, e.g. 4995.")
    def minor_units(self) -> int:
        return domain.Money(self.amount, self.currency).minor

    @strawberry.field(description='Amount and currency for display, e.g. "49.95 EUR".')
    def formatted(self) -> str:
        return f"{self.amount:.2f} {self.currency}"

    @classmethod
    def of(cls, money: domain.Money) -> Money:
        return cls(amount=money.amount, currency=money.currency)

    @classmethod
    def maybe(cls, money: domain.Money | None) -> Money | None:
        return None if money is None else cls.of(money)
