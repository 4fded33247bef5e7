"""Invoices and their lines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Private
from strawberry.scalars import JSON

from .. import domain, ids
from ..connectors.base import (
    InvoiceFilter,
    InvoiceOrder,
    Row,
    SortDirection,
    invoice_matches,
    invoice_sort_value,
)
from ..domain import Key
from .connection import Connection, to_connection
from .enums import InvoiceItemKind, InvoiceStatus
from .inputs import (
    AfterArg,
    BeforeArg,
    FirstArg,
    InvoiceOrderInput,
    LastArg,
    PageArgs,
    describe,
    page_args,
    page_in_memory,
)
from .money import Money
from .node import RAW_DESCRIPTION, Ctx, Node, loaded

if TYPE_CHECKING:
    from .client import Client
    from .subscription import Subscription

LazyClient = Annotated["Client", strawberry.lazy("clubgraph.schema.client")]
LazySubscription = Annotated["Subscription", strawberry.lazy("clubgraph.schema.subscription")]


def memory_tiebreak(key: Key) -> tuple[str, str, str]:
    """Ties in lists held in memory, which may mix sources: source, tenant, id."""
    return (key.source.value, key.tenant, key.id)


def order_of(order_by: InvoiceOrderInput | None) -> InvoiceOrder:
    return (order_by or InvoiceOrderInput()).to_order()


async def invoice_connection(
    info: Ctx,
    kind: str,
    records: Iterable[domain.InvoiceRecord],
    args: PageArgs,
    flt: InvoiceFilter,
    order: InvoiceOrder,
) -> Connection[Invoice]:
    """A connection over invoices already in memory, filtered and ordered here."""
    rows = [
        Row(0, r.key, invoice_sort_value(r, order.field), r, memory_tiebreak(r.key))
        for r in records
        if invoice_matches(r, flt)
    ]
    kind = f"{kind}|{describe(flt)}|{order.field.value}:{order.direction.value}"
    descending = order.direction is SortDirection.DESC
    page = await page_in_memory(kind, "memory", rows, descending=descending, args=args)
    return to_connection(page, Invoice.of_row)


@strawberry.type(description="A bill sent to a client.")
class Invoice(Node):
    record: Private[domain.InvoiceRecord | None] = None

    async def _rec(self, info: Ctx) -> domain.InvoiceRecord:
        if self.record is None:
            self.record = await loaded(info.context.loaders.invoice, self.key)
        return self.record

    @classmethod
    def of_row(cls, row: Row[Any]) -> Invoice:
        return cls(key=row.key, record=row.record)

    @strawberry.field(description="Invoice number as shown to the client, if the source has one.")
    async def number(self, info: Ctx) -> str | None:
        return (self.record or await self._rec(info)).number

    @strawberry.field(description="Status unified over the sources.")
    async def status(self, info: Ctx) -> InvoiceStatus:
        return (self.record or await self._rec(info)).status

    @strawberry.field(
        description="The source's own status value(s), e.g. TimeTap `OPEN/Partial Payment`."
    )
    async def status_raw(self, info: Ctx) -> str:
        return (self.record or await self._rec(info)).status_raw

    @strawberry.field(description="ISO 4217 currency of every amount on this invoice.")
    async def currency(self, info: Ctx) -> str:
        return (self.record or await self._rec(info)).currency

    @strawberry.field(description="When the invoice was issued (timezone-aware).")
    async def issued_at(self, info: Ctx) -> datetime:
        return (self.record or await self._rec(info)).issued_at

    @strawberry.field(description="When payment is due, if the source sets a due date.")
    async def due_at(self, info: Ctx) -> datetime | None:
        return (self.record or await self._rec(info)).due_at

    @strawberry.field(description="When the invoice was paid in full, if it was.")
    async def paid_at(self, info: Ctx) -> datetime | None:
        return (self.record or await self._rec(info)).paid_at

    @strawberry.field(description="Sum of the lines before discount and tax.")
    async def subtotal(self, info: Ctx) -> Money:
        return Money.of((self.record or await self._rec(info)).subtotal)

    @strawberry.field(description="Total discount granted on the invoice.")
    async def discount(self, info: Ctx) -> Money:
        return Money.of((self.record or await self._rec(info)).discount)

    @strawberry.field(description="Total tax on the invoice.")
    async def tax(self, info: Ctx) -> Money:
        return Money.of((self.record or await self._rec(info)).tax)

    @strawberry.field(description="Amount billed: subtotal minus discount plus tax.")
    async def total(self, info: Ctx) -> Money:
        return Money.of((self.record or await self._rec(info)).total)

    @strawberry.field(description="Amount paid so far.")
    async def amount_paid(self, info: Ctx) -> Money:
        return Money.of((self.record or await self._rec(info)).amount_paid)

    @strawberry.field(description="Amount still to pay (zero when settled).")
    async def balance_due(self, info: Ctx) -> Money:
        return Money.of((self.record or await self._rec(info)).balance_due)

    @strawberry.field(description="Free-text note or comment on the invoice.")
    async def note(self, info: Ctx) -> str | None:
        return (self.record or await self._rec(info)).note

    @strawberry.field(description=RAW_DESCRIPTION)
    async def raw(self, info: Ctx) -> JSON:
        return JSON(dict((self.record or await self._rec(info)).raw))

    @strawberry.field(description="The client billed (null when the source records none).")
    async def client(self, info: Ctx) -> LazyClient | None:
        from .client import Client

        client_key = (self.record or await self._rec(info)).client_key
        return None if client_key is None else Client(key=client_key)

    @strawberry.field(description="The lines of the invoice, in their order on the invoice.")
    async def items(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        last: LastArg = None,
        before: BeforeArg = None,
    ) -> Connection[InvoiceItem]:
        record = self.record or await self._rec(info)
        lines: Sequence[domain.InvoiceItemRecord] | None = record.items
        if lines is None:
            lines = await info.context.loaders.invoice_items.load(self.key)
        rows = [Row(0, line.key, line.position, line, line.key.id) for line in lines]
        page = await page_in_memory(
            f"items|{ids.encode(self.key)}",
            "lines",
            rows,
            descending=False,
            args=page_args(info, first, after, last, before),
        )
        return to_connection(page, InvoiceItem.of_row)

    @strawberry.field(description="The membership or recurring plan this invoice bills, if any.")
    async def subscription(self, info: Ctx) -> LazySubscription | None:
        from .subscription import Subscription

        key = (self.record or await self._rec(info)).subscription_key
        return None if key is None else Subscription(key=key)


@strawberry.type(description="One line of an invoice.")
class InvoiceItem(Node):
    record: Private[domain.InvoiceItemRecord | None] = None

    @classmethod
    def of_row(cls, row: Row[Any]) -> InvoiceItem:
        return cls(key=row.key, record=row.record)

    async def _rec(self, info: Ctx) -> domain.InvoiceItemRecord:
        if self.record is None:
            self.record = await loaded(info.context.loaders.invoice_item, self.key)
        return self.record

    @strawberry.field(description="Zero-based position of the line on its invoice.")
    async def position(self, info: Ctx) -> int:
        return (self.record or await self._rec(info)).position

    @strawberry.field(description="What the line is for, as shown on the invoice.")
    async def description(self, info: Ctx) -> str:
        return (self.record or await self._rec(info)).description

    @strawberry.field(description="Kind of line, unified.")
    async def kind(self, info: Ctx) -> InvoiceItemKind:
        return (self.record or await self._rec(info)).kind

    @strawberry.field(description="The source's own line type, if it has one.")
    async def kind_raw(self, info: Ctx) -> str | None:
        return (self.record or await self._rec(info)).kind_raw

    @strawberry.field(description="Quantity (exact decimal string).")
    async def quantity(self, info: Ctx) -> Decimal:
        return (self.record or await self._rec(info)).quantity

    @strawberry.field(description="Price of one unit before discount and tax.")
    async def unit_price(self, info: Ctx) -> Money:
        return Money.of((self.record or await self._rec(info)).unit_price)

    @strawberry.field(description="Discount on this line.")
    async def discount(self, info: Ctx) -> Money:
        return Money.of((self.record or await self._rec(info)).discount)

    @strawberry.field(description="Tax on this line.")
    async def tax(self, info: Ctx) -> Money:
        return Money.of((self.record or await self._rec(info)).tax)

    @strawberry.field(description="Line total: quantity x unit price - discount + tax.")
    async def total(self, info: Ctx) -> Money:
        return Money.of((self.record or await self._rec(info)).total)

    @strawberry.field(description=RAW_DESCRIPTION)
    async def raw(self, info: Ctx) -> JSON:
        return JSON(dict((self.record or await self._rec(info)).raw))

    @strawberry.field(description="The invoice this line belongs to.")
    async def invoice(self, info: Ctx) -> Invoice:
        return Invoice(key=(self.record or await self._rec(info)).invoice_key)
