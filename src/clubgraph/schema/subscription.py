"""Subscriptions: memberships and recurring plans."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Private
from strawberry.scalars import JSON

from .. import domain, ids
from ..connectors.base import (
    Row,
    SubscriptionFilter,
    subscription_matches,
    subscription_sort_value,
)
from .connection import Connection, to_connection
from .enums import BillingInterval, SubscriptionKind, SubscriptionStatus
from .inputs import (
    AfterArg,
    BeforeArg,
    DueArg,
    FirstArg,
    InvoiceOrderArg,
    IssuedArg,
    LastArg,
    PageArgs,
    WithBalanceDueArg,
    describe,
    invoice_filter,
    page_args,
    page_in_memory,
)
from .invoice import Invoice, invoice_connection, memory_tiebreak, order_of
from .money import Money
from .node import RAW_DESCRIPTION, Ctx, InvoiceStatusArg, Node, loaded

if TYPE_CHECKING:
    from .client import Client

LazyClient = Annotated["Client", strawberry.lazy("clubgraph.schema.client")]


async def subscription_connection(
    info: Ctx,
    kind: str,
    records: Iterable[domain.SubscriptionRecord],
    args: PageArgs,
    status: Sequence[domain.SubscriptionStatus] | None,
) -> Connection[Subscription]:
    """A connection over subscriptions already in memory, newest start first."""
    flt = SubscriptionFilter(statuses=frozenset(status or ()))
    rows = [
        Row(0, r.key, subscription_sort_value(r), r, memory_tiebreak(r.key))
        for r in records
        if subscription_matches(r, flt)
    ]
    page = await page_in_memory(
        f"{kind}|{describe(flt)}", "memory", rows, descending=True, args=args
    )
    return to_connection(page, Subscription.of_row)


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
            self.record = await loaded(info.context.loaders.subscription, self.key)
        return self.record

    @classmethod
    def of_row(cls, row: Row[Any]) -> Subscription:
        return cls(key=row.key, record=row.record)

    @strawberry.field(description="Membership or recurring invoice.")
    async def kind(self, info: Ctx) -> SubscriptionKind:
        return (self.record or await self._rec(info)).kind

    @strawberry.field(description="Name of the plan, e.g. 'Monthly Unlimited'.")
    async def plan_name(self, info: Ctx) -> str:
        return (self.record or await self._rec(info)).plan_name

    @strawberry.field(description="The plan's id in the source, if plans are separate records.")
    async def plan_id(self, info: Ctx) -> str | None:
        return (self.record or await self._rec(info)).plan_id

    @strawberry.field(description="Status unified over the sources.")
    async def status(self, info: Ctx) -> SubscriptionStatus:
        return (self.record or await self._rec(info)).status

    @strawberry.field(description="The source's own status value.")
    async def status_raw(self, info: Ctx) -> str:
        return (self.record or await self._rec(info)).status_raw

    @strawberry.field(description="How often it bills.")
    async def interval(self, info: Ctx) -> BillingInterval:
        return (self.record or await self._rec(info)).interval

    @strawberry.field(description="The source's own frequency value.")
    async def interval_raw(self, info: Ctx) -> str | None:
        return (self.record or await self._rec(info)).interval_raw

    @strawberry.field(description="Amount billed each interval, if known.")
    async def price(self, info: Ctx) -> Money | None:
        return Money.maybe((self.record or await self._rec(info)).price)

    @strawberry.field(description="When it starts or started.")
    async def starts_at(self, info: Ctx) -> datetime | None:
        return (self.record or await self._rec(info)).starts_at

    @strawberry.field(description="When it ends or ended; null when open-ended.")
    async def ends_at(self, info: Ctx) -> datetime | None:
        return (self.record or await self._rec(info)).ends_at

    @strawberry.field(description="When it next bills, if it is still billing.")
    async def next_billing_at(self, info: Ctx) -> datetime | None:
        return (self.record or await self._rec(info)).next_billing_at

    @strawberry.field(description=RAW_DESCRIPTION)
    async def raw(self, info: Ctx) -> JSON:
        return JSON(dict((self.record or await self._rec(info)).raw))

    @strawberry.field(description="The client who holds it.")
    async def client(self, info: Ctx) -> LazyClient | None:
        from .client import Client

        key = (self.record or await self._rec(info)).client_key
        return None if key is None else Client(key=key)

    @strawberry.field(description="Invoices billed under it, newest first.")
    async def invoices(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        last: LastArg = None,
        before: BeforeArg = None,
        status: InvoiceStatusArg = None,
        issued: IssuedArg = None,
        due: DueArg = None,
        with_balance_due: WithBalanceDueArg = None,
        order_by: InvoiceOrderArg = None,
    ) -> Connection[Invoice]:
        records = await info.context.loaders.subscription_invoices.load(self.key)
        return await invoice_connection(
            info,
            f"sub-invoices|{ids.encode(self.key)}",
            records,
            page_args(info, first, after, last, before),
            invoice_filter(
                status=status, issued=issued, due=due, with_balance_due=with_balance_due
            ),
            order_of(order_by),
        )
