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
    SortDirection,
    invoice_matches,
    invoice_sort_value,
)
from ..domain import EntityType, Key
from .connection import Connection
from .enums import InvoiceItemKind, InvoiceStatus
from .inputs import (
    AfterArg,
    BeforeArg,
    FirstArg,
    InvoiceOrderInput,
    LastArg,
    PageArgs,
    describe,
    memory_connection,
    page_args,
)
from .money import Money
from .node import (
    ENTITY_KEYS,
    RAW_DESCRIPTION,
    Ctx,
    Node,
    loaded,
    raw_json,
    record_field,
    reference_key,
)

if TYPE_CHECKING:
    from .client import Client
    from .subscription import Subscription

LazyClient = Annotated["Client", strawberry.lazy("clubgraph.schema.client")]
LazySubscription = Annotated["Subscription", strawberry.lazy("clubgraph.schema.subscription")]


def _line_order(line: domain.InvoiceItemRecord) -> tuple[int, str]:
    """Lines in their order on the invoice (the id breaks ties)."""
    return (line.position, line.key.id)


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
    kind = f"{kind}|{describe(flt)}|{order.field.value}:{order.direction.value}"
    return await memory_connection(
        kind,
        "memory",
        [r for r in records if invoice_matches(r, flt)],
        order=lambda r: (invoice_sort_value(r, order.field), memory_tiebreak(r.key)),
        descending=order.direction is SortDirection.DESC,
        args=args,
        wrap=Invoice.of_record,
    )


@strawberry.federation.type(
    keys=ENTITY_KEYS,
    description="A bill sent to a client.",
)
class Invoice(Node):
    @classmethod
    def resolve_reference(cls, **representation: Any) -> Invoice:
        """The entity a gateway's representation names (federation ``_entities``)."""
        return cls(key=reference_key(EntityType.INVOICE, representation))

    record: Private[domain.InvoiceRecord | None] = None

    async def _rec(self, info: Ctx) -> domain.InvoiceRecord:
        if self.record is None:
            self.record = await loaded(info.context.loaders.invoice, self.key)
        return self.record

    number: str | None = record_field(
        "number", description="Invoice number as shown to the client, if the source has one."
    )

    status: InvoiceStatus = record_field("status", description="Status unified over the sources.")

    status_raw: str = record_field(
        "status_raw",
        description="The source's own status value(s), e.g. TimeTap `OPEN/Partial Payment`.",
    )

    currency: str = record_field(
        "currency", description="ISO 4217 currency of every amount on this invoice."
    )

    issued_at: datetime = record_field(
        "issued_at", description="When the invoice was issued (timezone-aware)."
    )

    due_at: datetime | None = record_field(
        "due_at", description="When payment is due, if the source sets a due date."
    )

    paid_at: datetime | None = record_field(
        "paid_at", description="When the invoice was paid in full, if it was."
    )

    subtotal: Money = record_field(
        "subtotal", description="Sum of the lines before discount and tax."
    )

    discount: Money = record_field("discount", description="Total discount granted on the invoice.")

    tax: Money = record_field("tax", description="Total tax on the invoice.")

    total: Money = record_field(
        "total", description="Amount billed: subtotal minus discount plus tax."
    )

    amount_paid: Money = record_field("amount_paid", description="Amount paid so far.")

    balance_due: Money = record_field(
        "balance_due", description="Amount still to pay (zero when settled)."
    )

    note: str | None = record_field("note", description="Free-text note or comment on the invoice.")

    raw: JSON = record_field("raw", description=RAW_DESCRIPTION, wrap=raw_json)

    @strawberry.field(description="The client billed (null when the source records none).")
    async def client(self, info: Ctx) -> LazyClient | None:
        from .client import Client

        client_key = (self.record or await self._rec(info)).client_key
        if client_key is None:
            return None
        # When the client is being loaded already (the page started the loads its
        # selection needs), it comes with its record, and its fields are read from it
        # at once instead of each waiting for the same load. A failed or empty load is
        # left to those fields to report, as when nothing was started.
        load = info.context.loaders.client.started(client_key)
        if load is None:
            return Client(key=client_key)
        try:
            record = await load
        except Exception:
            record = None
        return Client(key=client_key, record=record)

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
        return await memory_connection(
            f"items|{ids.encode(self.key)}",
            "lines",
            lines,
            order=_line_order,
            descending=False,
            args=page_args(info, first, after, last, before),
            wrap=InvoiceItem.of_record,
        )

    @strawberry.field(description="The membership or recurring plan this invoice bills, if any.")
    async def subscription(self, info: Ctx) -> LazySubscription | None:
        from .subscription import Subscription

        key = (self.record or await self._rec(info)).subscription_key
        return None if key is None else Subscription(key=key)


@strawberry.federation.type(
    keys=ENTITY_KEYS,
    description="One line of an invoice.",
)
class InvoiceItem(Node):
    @classmethod
    def resolve_reference(cls, **representation: Any) -> InvoiceItem:
        """The entity a gateway's representation names (federation ``_entities``)."""
        return cls(key=reference_key(EntityType.INVOICE_ITEM, representation))

    record: Private[domain.InvoiceItemRecord | None] = None

    async def _rec(self, info: Ctx) -> domain.InvoiceItemRecord:
        if self.record is None:
            self.record = await loaded(info.context.loaders.invoice_item, self.key)
        return self.record

    position: int = record_field(
        "position", description="Zero-based position of the line on its invoice."
    )

    description: str = record_field(
        "description", description="What the line is for, as shown on the invoice."
    )

    kind: InvoiceItemKind = record_field("kind", description="Kind of line, unified.")

    kind_raw: str | None = record_field(
        "kind_raw", description="The source's own line type, if it has one."
    )

    quantity: Decimal = record_field("quantity", description="Quantity (exact decimal string).")

    unit_price: Money = record_field(
        "unit_price", description="Price of one unit before discount and tax."
    )

    discount: Money = record_field("discount", description="Discount on this line.")

    tax: Money = record_field("tax", description="Tax on this line.")

    total: Money = record_field(
        "total", description="Line total: quantity x unit price - discount + tax."
    )

    raw: JSON = record_field("raw", description=RAW_DESCRIPTION, wrap=raw_json)

    @strawberry.field(description="The invoice this line belongs to.")
    async def invoice(self, info: Ctx) -> Invoice:
        return Invoice(key=(self.record or await self._rec(info)).invoice_key)
