"""Domain records: what every connector maps its source's JSON into.

Nothing here knows a source's JSON or GraphQL. Money is exact (Decimal in major
units plus an ISO currency), datetimes are timezone-aware, every unified enum sits
beside the raw upstream value it came from, and every record keeps the upstream
JSON object it was mapped from in ``raw``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar, overload

JSONObject = Mapping[str, Any]
T = TypeVar("T")


class Source(str, Enum):
    """An upstream billing platform."""

    FITNESSFORCE = "fitnessforce"
    TIMETAP = "timetap"
    CLUBCOLLECT = "clubcollect"
    TIGHT = "tight"


class EntityType(str, Enum):
    """The node types of the graph."""

    CLIENT = "Client"
    INVOICE = "Invoice"
    INVOICE_ITEM = "InvoiceItem"
    SUBSCRIPTION = "Subscription"


class InvoiceStatus(str, Enum):
    """Invoice status, unified over the four sources."""

    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    OPEN = "OPEN"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    VOID = "VOID"
    REFUNDED = "REFUNDED"
    DELETED = "DELETED"
    UNKNOWN = "UNKNOWN"


class SubscriptionStatus(str, Enum):
    """Membership or recurring-plan status, unified over the sources."""

    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    FROZEN = "FROZEN"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    VOID = "VOID"
    UNKNOWN = "UNKNOWN"


class SubscriptionKind(str, Enum):
    """What a subscription is upstream."""

    MEMBERSHIP = "MEMBERSHIP"
    RECURRING_INVOICE = "RECURRING_INVOICE"


class BillingInterval(str, Enum):
    """How often a subscription bills."""

    ONE_TIME = "ONE_TIME"
    WEEKLY = "WEEKLY"
    BI_WEEKLY = "BI_WEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    YEARLY = "YEARLY"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


class InvoiceItemKind(str, Enum):
    """What an invoice line is for."""

    CHARGE = "CHARGE"
    DISCOUNT = "DISCOUNT"
    FEE = "FEE"
    REFUND = "REFUND"
    TAX = "TAX"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class Key:
    """Identity of one upstream entity: hashable, so loaders can batch on it.

    ``id`` is owned by the source's connector. Where the source needs a parent id
    to reach an entity (FitnessForce invoices live under a client) the connector
    packs both into ``id``, e.g. ``"1042/88123"``.
    """

    type: EntityType
    source: Source
    tenant: str
    id: str


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in major units of an ISO 4217 currency."""

    amount: Decimal
    currency: str

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        """Build from integer minor units (cents)."""
        return cls(Decimal(minor).scaleb(-2), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal("0.00"), currency)

    @property
    def minor(self) -> int:
        """Integer minor units (cents), rounded half-even."""
        return int(self.amount.scaleb(2).to_integral_value())


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """A person or organisation billed by a club."""

    key: Key
    first_name: str | None
    last_name: str | None
    display_name: str
    email: str | None
    phone: str | None
    created_at: datetime | None
    raw: JSONObject = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class InvoiceItemRecord:
    """One line of an invoice."""

    key: Key
    invoice_key: Key
    position: int
    description: str
    kind: InvoiceItemKind
    kind_raw: str | None
    quantity: Decimal
    unit_price: Money
    discount: Money
    tax: Money
    total: Money
    raw: JSONObject = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    """A bill sent to a client.

    ``items`` is the sequence of lines when the upstream response carried them (the
    loaders prime the item loader with it), ``None`` when they must be fetched. It may
    be ``MappedLater``: lines mapped on first use.
    """

    key: Key
    client_key: Key | None
    number: str | None
    status: InvoiceStatus
    status_raw: str
    currency: str
    issued_at: datetime
    due_at: datetime | None
    paid_at: datetime | None
    subtotal: Money
    discount: Money
    tax: Money
    total: Money
    amount_paid: Money
    balance_due: Money
    subscription_key: Key | None
    note: str | None
    items: Sequence[InvoiceItemRecord] | None
    raw: JSONObject = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """A membership (FitnessForce) or a recurring invoice plan (Tight)."""

    key: Key
    client_key: Key | None
    kind: SubscriptionKind
    plan_name: str
    plan_id: str | None
    status: SubscriptionStatus
    status_raw: str
    interval: BillingInterval
    interval_raw: str | None
    price: Money | None
    starts_at: datetime | None
    ends_at: datetime | None
    next_billing_at: datetime | None
    raw: JSONObject = field(repr=False, compare=False)


class MappedLater(Sequence[T]):
    """Upstream objects mapped on first use, all at once, then kept.

    A list of invoices carries every invoice's lines, and most queries over a list
    never read them: mapping them only when one is read keeps those queries cheap. A
    line the upstream sent malformed fails when it is read, not the whole list.
    """

    __slots__ = ("_map", "_mapped", "_raw")

    def __init__(self, raw: Sequence[Any], map_one: Callable[[int, Any], T]) -> None:
        self._raw = raw
        self._map = map_one
        self._mapped: tuple[T, ...] | None = None

    def mapped(self) -> tuple[T, ...]:
        if self._mapped is None:
            self._mapped = tuple(self._map(i, raw) for i, raw in enumerate(self._raw))
        return self._mapped

    def __len__(self) -> int:
        return len(self._raw)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        return self.mapped()[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self.mapped())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MappedLater | tuple | list):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MappedLater({list(self.mapped())!r})"
