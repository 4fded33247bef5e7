"""The graph's entity types: Client, Invoice, InvoiceItem, Subscription, Person.

An object holds its key and, when known, its record. A field that needs the
record loads it through the request's loaders on first use, so an object reached
only by key (``invoice.client``) costs nothing until a field needs its data, and
its relations (``invoice.client.subscriptions``) start from the key alone, in
parallel with loading the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry import Private
from strawberry.scalars import JSON
from strawberry.types import Info

from .. import domain, ids
from ..connectors.base import InvoiceSortField, Row, invoice_sort_value, subscription_sort_value
from ..domain import EntityType, Key
from ..listing import offset_page
from .connection import Connection, page_size, to_connection
from .context import Context
from .enums import (
    BillingInterval,
    InvoiceItemKind,
    InvoiceStatus,
    Source,
    SubscriptionKind,
    SubscriptionStatus,
)
from .errors import EntityNotFound
from .money import Money

Ctx = Info[Context, None]

_RAW = "The upstream JSON object this record was mapped from, unchanged, for debugging."
_SOURCE_ID = "The record's id in its source (opaque; may combine a parent id, e.g. client/invoice)."
_TENANT = "The source's tenant, business or company the record belongs to."


@strawberry.interface(description="An object with a globally unique, opaque ID (Relay).")
class Node:
    key: Private[Key]

    @strawberry.field(description="Global ID: pass it to `node(id:)` to fetch this object again.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(ids.encode(self.key))

    @strawberry.field(description="The upstream platform this record lives in.")
    def source(self) -> Source:
        return self.key.source

    @strawberry.field(description=_TENANT)
    def tenant_id(self) -> str:
        return self.key.tenant

    @strawberry.field(description=_SOURCE_ID)
    def source_id(self) -> str:
        return self.key.id


def _statuses(values: Sequence[domain.InvoiceStatus] | None) -> frozenset[domain.InvoiceStatus]:
    return frozenset(values or ())


def _invoice_rows(records: Iterable[domain.InvoiceRecord]) -> list[Row[domain.InvoiceRecord]]:
    ordered = sorted(
        records, key=lambda r: invoice_sort_value(r, InvoiceSortField.ISSUED_AT), reverse=True
    )
    return [Row(i, r.key, None, r) for i, r in enumerate(ordered)]


def invoice_connection(
    info: Ctx,
    kind: str,
    records: Iterable[domain.InvoiceRecord],
    first: int | None,
    after: str | None,
    status: Sequence[domain.InvoiceStatus] | None,
) -> Connection[Invoice]:
    """A connection over invoices already in memory, newest first."""
    settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    wanted = _statuses(status)
    rows = _invoice_rows(r for r in records if not wanted or r.status in wanted)
    kind = f"{kind}|{','.join(sorted(s.value for s in wanted))}"
    return to_connection(offset_page(kind, rows, size, after), Invoice.of_row)


def subscription_connection(
    info: Ctx,
    kind: str,
    records: Iterable[domain.SubscriptionRecord],
    first: int | None,
    after: str | None,
    status: Sequence[domain.SubscriptionStatus] | None,
) -> Connection[Subscription]:
    """A connection over subscriptions already in memory, newest start first."""
    settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    wanted = frozenset(status or ())
    ordered = sorted(
        (r for r in records if not wanted or r.status in wanted),
        key=subscription_sort_value,
        reverse=True,
    )
    rows = [Row(i, r.key, None, r) for i, r in enumerate(ordered)]
    kind = f"{kind}|{','.join(sorted(s.value for s in wanted))}"
    return to_connection(offset_page(kind, rows, size, after), Subscription.of_row)


FirstArg = Annotated[
    int | None,
    strawberry.argument(description="Page size (default 50; above the maximum is an error)."),
]
AfterArg = Annotated[str | None, strawberry.argument(description="Return items after this cursor.")]
InvoiceStatusArg = Annotated[
    list[InvoiceStatus] | None,
    strawberry.argument(description="Only invoices in one of these statuses."),
]
SubscriptionStatusArg = Annotated[
    list[SubscriptionStatus] | None,
    strawberry.argument(description="Only subscriptions in one of these statuses."),
]


@strawberry.type(description="A person or organisation a club bills, as one source knows them.")
class Client(Node):
    record: Private[domain.ClientRecord | None] = None

    async def _rec(self, info: Ctx) -> domain.ClientRecord:
        if self.record is None:
            record = await info.context.loaders.client.load(self.key)
            if record is None:
                raise EntityNotFound(f"Client {ids.encode(self.key)}")
            self.record = record
        return self.record

    @classmethod
    def of_row(cls, row: Row[Any]) -> Client:
        return cls(key=row.key, record=row.record)

    @strawberry.field(description="Full name for display (or company name).")
    async def name(self, info: Ctx) -> str:
        return (await self._rec(info)).display_name

    @strawberry.field(description="Given name, when the source has it separately.")
    async def first_name(self, info: Ctx) -> str | None:
        return (await self._rec(info)).first_name

    @strawberry.field(description="Family name, when the source has it separately.")
    async def last_name(self, info: Ctx) -> str | None:
        return (await self._rec(info)).last_name

    @strawberry.field(description="Email address, as the source has it.")
    async def email(self, info: Ctx) -> str | None:
        return (await self._rec(info)).email

    @strawberry.field(description="Phone number, as the source has it.")
    async def phone(self, info: Ctx) -> str | None:
        return (await self._rec(info)).phone

    @strawberry.field(description="When the client was created in the source.")
    async def created_at(self, info: Ctx) -> datetime | None:
        return (await self._rec(info)).created_at

    @strawberry.field(description=_RAW)
    async def raw(self, info: Ctx) -> JSON:
        return JSON(dict((await self._rec(info)).raw))

    @strawberry.field(description="This client's invoices in this source, newest first.")
    async def invoices(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        status: InvoiceStatusArg = None,
    ) -> Connection[Invoice]:
        records = await info.context.loaders.client_invoices.load(self.key)
        return invoice_connection(
            info, f"client-invoices|{ids.encode(self.key)}", records, first, after, status
        )

    @strawberry.field(
        description="This client's memberships and recurring plans, newest start first."
    )
    async def subscriptions(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        status: SubscriptionStatusArg = None,
    ) -> Connection[Subscription]:
        records = await info.context.loaders.client_subscriptions.load(self.key)
        return subscription_connection(
            info, f"client-subs|{ids.encode(self.key)}", records, first, after, status
        )

    @strawberry.field(
        description=(
            "Everything billed to this client's email address in every source "
            "(null when the client has no email)."
        )
    )
    async def person(self, info: Ctx) -> Person | None:
        email = (await self._rec(info)).email
        if not email:
            return None
        return Person(email=email.strip().lower())


@strawberry.type(description="A bill sent to a client.")
class Invoice(Node):
    record: Private[domain.InvoiceRecord | None] = None

    async def _rec(self, info: Ctx) -> domain.InvoiceRecord:
        if self.record is None:
            record = await info.context.loaders.invoice.load(self.key)
            if record is None:
                raise EntityNotFound(f"Invoice {ids.encode(self.key)}")
            self.record = record
        return self.record

    @classmethod
    def of_row(cls, row: Row[Any]) -> Invoice:
        return cls(key=row.key, record=row.record)

    @strawberry.field(description="Invoice number as shown to the client, if the source has one.")
    async def number(self, info: Ctx) -> str | None:
        return (await self._rec(info)).number

    @strawberry.field(description="Status unified over the sources.")
    async def status(self, info: Ctx) -> InvoiceStatus:
        return (await self._rec(info)).status

    @strawberry.field(
        description="The source's own status value(s), e.g. TimeTap `OPEN/Partial Payment`."
    )
    async def status_raw(self, info: Ctx) -> str:
        return (await self._rec(info)).status_raw

    @strawberry.field(description="ISO 4217 currency of every amount on this invoice.")
    async def currency(self, info: Ctx) -> str:
        return (await self._rec(info)).currency

    @strawberry.field(description="When the invoice was issued (timezone-aware).")
    async def issued_at(self, info: Ctx) -> datetime:
        return (await self._rec(info)).issued_at

    @strawberry.field(description="When payment is due, if the source sets a due date.")
    async def due_at(self, info: Ctx) -> datetime | None:
        return (await self._rec(info)).due_at

    @strawberry.field(description="When the invoice was paid in full, if it was.")
    async def paid_at(self, info: Ctx) -> datetime | None:
        return (await self._rec(info)).paid_at

    @strawberry.field(description="Sum of the lines before discount and tax.")
    async def subtotal(self, info: Ctx) -> Money:
        return Money.of((await self._rec(info)).subtotal)

    @strawberry.field(description="Total discount granted on the invoice.")
    async def discount(self, info: Ctx) -> Money:
        return Money.of((await self._rec(info)).discount)

    @strawberry.field(description="Total tax on the invoice.")
    async def tax(self, info: Ctx) -> Money:
        return Money.of((await self._rec(info)).tax)

    @strawberry.field(description="Amount billed: subtotal minus discount plus tax.")
    async def total(self, info: Ctx) -> Money:
        return Money.of((await self._rec(info)).total)

    @strawberry.field(description="Amount paid so far.")
    async def amount_paid(self, info: Ctx) -> Money:
        return Money.of((await self._rec(info)).amount_paid)

    @strawberry.field(description="Amount still to pay (zero when settled).")
    async def balance_due(self, info: Ctx) -> Money:
        return Money.of((await self._rec(info)).balance_due)

    @strawberry.field(description="Free-text note or comment on the invoice.")
    async def note(self, info: Ctx) -> str | None:
        return (await self._rec(info)).note

    @strawberry.field(description=_RAW)
    async def raw(self, info: Ctx) -> JSON:
        return JSON(dict((await self._rec(info)).raw))

    @strawberry.field(description="The client billed (null when the source records none).")
    async def client(self, info: Ctx) -> Client | None:
        client_key = (await self._rec(info)).client_key
        return None if client_key is None else Client(key=client_key)

    @strawberry.field(description="The lines of the invoice, in order.")
    async def items(self, info: Ctx) -> list[InvoiceItem]:
        record = await self._rec(info)
        lines: Sequence[domain.InvoiceItemRecord] | None = record.items
        if lines is None:
            lines = await info.context.loaders.invoice_items.load(self.key)
        return [InvoiceItem(key=line.key, record=line) for line in lines]

    @strawberry.field(description="The membership or recurring plan this invoice bills, if any.")
    async def subscription(self, info: Ctx) -> Subscription | None:
        key = (await self._rec(info)).subscription_key
        return None if key is None else Subscription(key=key)


@strawberry.type(description="One line of an invoice.")
class InvoiceItem(Node):
    record: Private[domain.InvoiceItemRecord | None] = None

    async def _rec(self, info: Ctx) -> domain.InvoiceItemRecord:
        if self.record is None:
            record = await info.context.loaders.invoice_item.load(self.key)
            if record is None:
                raise EntityNotFound(f"InvoiceItem {ids.encode(self.key)}")
            self.record = record
        return self.record

    @strawberry.field(description="Zero-based position of the line on its invoice.")
    async def position(self, info: Ctx) -> int:
        return (await self._rec(info)).position

    @strawberry.field(description="What the line is for, as shown on the invoice.")
    async def description(self, info: Ctx) -> str:
        return (await self._rec(info)).description

    @strawberry.field(description="Kind of line, unified.")
    async def kind(self, info: Ctx) -> InvoiceItemKind:
        return (await self._rec(info)).kind

    @strawberry.field(description="The source's own line type, if it has one.")
    async def kind_raw(self, info: Ctx) -> str | None:
        return (await self._rec(info)).kind_raw

    @strawberry.field(description="Quantity (exact decimal string).")
    async def quantity(self, info: Ctx) -> Decimal:
        return (await self._rec(info)).quantity

    @strawberry.field(description="Price of one unit before discount and tax.")
    async def unit_price(self, info: Ctx) -> Money:
        return Money.of((await self._rec(info)).unit_price)

    @strawberry.field(description="Discount on this line.")
    async def discount(self, info: Ctx) -> Money:
        return Money.of((await self._rec(info)).discount)

    @strawberry.field(description="Tax on this line.")
    async def tax(self, info: Ctx) -> Money:
        return Money.of((await self._rec(info)).tax)

    @strawberry.field(description="Line total: quantity x unit price - discount + tax.")
    async def total(self, info: Ctx) -> Money:
        return Money.of((await self._rec(info)).total)

    @strawberry.field(description=_RAW)
    async def raw(self, info: Ctx) -> JSON:
        return JSON(dict((await self._rec(info)).raw))

    @strawberry.field(description="The invoice this line belongs to.")
    async def invoice(self, info: Ctx) -> Invoice:
        return Invoice(key=(await self._rec(info)).invoice_key)


@strawberry.type(
    description=(
        "A membership (FitnessForce client subscription) or a recurring plan (a Tight "
        "recurring invoice): something that bills a client on a schedule."
    )
)
class Subscription(Node):
    record: Private[domain.SubscriptionRecord | None] = None

    async def _rec(self, info: Ctx) -> domain.SubscriptionRecord:
        if self.record is None:
            record = await info.context.loaders.subscription.load(self.key)
            if record is None:
                raise EntityNotFound(f"Subscription {ids.encode(self.key)}")
            self.record = record
        return self.record

    @classmethod
    def of_row(cls, row: Row[Any]) -> Subscription:
        return cls(key=row.key, record=row.record)

    @strawberry.field(description="Membership or recurring invoice.")
    async def kind(self, info: Ctx) -> SubscriptionKind:
        return (await self._rec(info)).kind

    @strawberry.field(description="Name of the plan, e.g. 'Monthly Unlimited'.")
    async def plan_name(self, info: Ctx) -> str:
        return (await self._rec(info)).plan_name

    @strawberry.field(description="The plan's id in the source, if plans are separate records.")
    async def plan_id(self, info: Ctx) -> str | None:
        return (await self._rec(info)).plan_id

    @strawberry.field(description="Status unified over the sources.")
    async def status(self, info: Ctx) -> SubscriptionStatus:
        return (await self._rec(info)).status

    @strawberry.field(description="The source's own status value.")
    async def status_raw(self, info: Ctx) -> str:
        return (await self._rec(info)).status_raw

    @strawberry.field(description="How often it bills.")
    async def interval(self, info: Ctx) -> BillingInterval:
        return (await self._rec(info)).interval

    @strawberry.field(description="The source's own frequency value.")
    async def interval_raw(self, info: Ctx) -> str | None:
        return (await self._rec(info)).interval_raw

    @strawberry.field(description="Amount billed each interval, if known.")
    async def price(self, info: Ctx) -> Money | None:
        return Money.maybe((await self._rec(info)).price)

    @strawberry.field(description="When it starts or started.")
    async def starts_at(self, info: Ctx) -> datetime | None:
        return (await self._rec(info)).starts_at

    @strawberry.field(description="When it ends or ended; null when open-ended.")
    async def ends_at(self, info: Ctx) -> datetime | None:
        return (await self._rec(info)).ends_at

    @strawberry.field(description="When it next bills, if it is still billing.")
    async def next_billing_at(self, info: Ctx) -> datetime | None:
        return (await self._rec(info)).next_billing_at

    @strawberry.field(description=_RAW)
    async def raw(self, info: Ctx) -> JSON:
        return JSON(dict((await self._rec(info)).raw))

    @strawberry.field(description="The client who holds it.")
    async def client(self, info: Ctx) -> Client | None:
        key = (await self._rec(info)).client_key
        return None if key is None else Client(key=key)

    @strawberry.field(description="Invoices billed under it, newest first.")
    async def invoices(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        status: InvoiceStatusArg = None,
    ) -> Connection[Invoice]:
        records = await info.context.loaders.subscription_invoices.load(self.key)
        return invoice_connection(
            info, f"sub-invoices|{ids.encode(self.key)}", records, first, after, status
        )


OWED = frozenset(
    {
        domain.InvoiceStatus.OPEN,
        domain.InvoiceStatus.PARTIALLY_PAID,
        domain.InvoiceStatus.PAYMENT_FAILED,
    }
)


@strawberry.type(
    description=(
        "One person across sources: every client record with this email address, in any "
        "source, and their billing together."
    )
)
class Person:
    email: str = strawberry.field(description="The email address (lower-cased) that links them.")

    async def _clients(self, info: Ctx) -> Sequence[domain.ClientRecord]:
        return await info.context.loaders.clients_by_email.load(self.email)

    @strawberry.field(description="The client records of this person, one per source and tenant.")
    async def clients(self, info: Ctx) -> list[Client]:
        return [Client(key=r.key, record=r) for r in await self._clients(info)]

    async def _invoices(self, info: Ctx) -> list[domain.InvoiceRecord]:
        clients = await self._clients(info)
        lists = await info.context.loaders.client_invoices.load_many([c.key for c in clients])
        return [inv for invoices in lists for inv in invoices]

    @strawberry.field(description="Invoices of all their client records, newest first.")
    async def invoices(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        status: InvoiceStatusArg = None,
    ) -> Connection[Invoice]:
        records = await self._invoices(info)
        return invoice_connection(info, f"person|{self.email}", records, first, after, status)

    @strawberry.field(
        description=(
            "Amount they owe: the balance of their sent, unsettled invoices (OPEN, "
            "PARTIALLY_PAID, PAYMENT_FAILED), one entry per currency. Drafts and "
            "scheduled invoices are not owed yet."
        )
    )
    async def balance_due(self, info: Ctx) -> list[Money]:
        totals: dict[str, Decimal] = {}
        for record in await self._invoices(info):
            if record.status in OWED:
                bal = record.balance_due
                totals[bal.currency] = totals.get(bal.currency, Decimal("0.00")) + bal.amount
        return [Money.of(domain.Money(v, c)) for c, v in sorted(totals.items())]

    @strawberry.field(description="Subscriptions of all their client records.")
    async def subscriptions(
        self, info: Ctx, status: SubscriptionStatusArg = None
    ) -> list[Subscription]:
        clients = await self._clients(info)
        lists = await info.context.loaders.client_subscriptions.load_many([c.key for c in clients])
        wanted = frozenset(status or ())
        return [
            Subscription(key=s.key, record=s)
            for subs in lists
            for s in subs
            if not wanted or s.status in wanted
        ]


ENTITY_TYPES: dict[EntityType, type[Any]] = {
    EntityType.CLIENT: Client,
    EntityType.INVOICE: Invoice,
    EntityType.INVOICE_ITEM: InvoiceItem,
    EntityType.SUBSCRIPTION: Subscription,
}
