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
    SubscriptionFilter,
    subscription_matches,
    subscription_sort_value,
)
from ..domain import EntityType
from .connection import Connection
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
    memory_connection,
    page_args,
)
from .invoice import Invoice, invoice_connection, memory_tiebreak, order_of
from .money import Money
from .node import (
    ENTITY_KEYS,
    RAW_DESCRIPTION,
    Ctx,
    InvoiceStatusArg,
    Node,
    loaded,
    raw_json,
    record_field,
    reference_key,
)

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
    return await memory_connection(
        f"{kind}|{describe(flt)}",
        "memory",
        [r for r in records if subscription_matches(r, flt)],
        order=_subscription_order,
        descending=True,
        args=args,
        wrap=Subscription.of_record,
    )


def _subscription_order(record: domain.SubscriptionRecord) -> tuple[Any, Any]:
    return (subscription_sort_value(record), memory_tiebreak(record.key))


@strawberry.federation.type(
    keys=ENTITY_KEYS,
    description=(
        "A membership (FitnessForce client subscription) or a recurring plan (a Tight "
        "recurring invoice): something that bills a client on a schedule."
    ),
)
class Subscription(Node):
    @classmethod
    def resolve_reference(cls, **representation: Any) -> Subscription:
        """The entity a gateway's representation names (federation ``_entities``)."""
        return cls(key=reference_key(EntityType.SUBSCRIPTION, representation))

    record: Private[domain.SubscriptionRecord | None] = None

    async def _rec(self, info: Ctx) -> domain.SubscriptionRecord:
        if self.record is None:
            self.record = await loaded(info.context.loaders.subscription, self.key)
        return self.record

    kind: SubscriptionKind = record_field("kind", description="Membership or recurring invoice.")

    plan_name: str = record_field(
        "plan_name", description="Name of the plan, e.g. 'Monthly Unlimited'."
    )

    plan_id: str | None = record_field(
        "plan_id", description="The plan's id in the source, if plans are separate records."
    )

    status: SubscriptionStatus = record_field(
        "status", description="Status unified over the sources."
    )

    status_raw: str = record_field("status_raw", description="The source's own status value.")

    interval: BillingInterval = record_field("interval", description="How often it bills.")

    interval_raw: str | None = record_field(
        "interval_raw", description="The source's own frequency value."
    )

    price: Money | None = record_field(
        "price", description="Amount billed each interval, if known."
    )

    starts_at: datetime | None = record_field("starts_at", description="When it starts or started.")

    ends_at: datetime | None = record_field(
        "ends_at", description="When it ends or ended; null when open-ended."
    )

    next_billing_at: datetime | None = record_field(
        "next_billing_at", description="When it next bills, if it is still billing."
    )

    raw: JSON = record_field("raw", description=RAW_DESCRIPTION, wrap=raw_json)

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
