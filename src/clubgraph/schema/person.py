"""One person across sources, linked by email address."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import strawberry

from .. import domain
from .client import Client
from .connection import Connection
from .inputs import (
    AfterArg,
    BeforeArg,
    DueArg,
    FirstArg,
    InvoiceOrderArg,
    IssuedArg,
    LastArg,
    WithBalanceDueArg,
    invoice_filter,
    page_args,
)
from .invoice import Invoice, invoice_connection, order_of
from .money import Money
from .node import Ctx, InvoiceStatusArg, SubscriptionStatusArg
from .subscription import Subscription, subscription_connection

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

    @strawberry.field(
        description="Their client records (profiles), one per source and tenant, by source."
    )
    async def profiles(self, info: Ctx) -> list[Client]:
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
        last: LastArg = None,
        before: BeforeArg = None,
        status: InvoiceStatusArg = None,
        issued: IssuedArg = None,
        due: DueArg = None,
        with_balance_due: WithBalanceDueArg = None,
        order_by: InvoiceOrderArg = None,
    ) -> Connection[Invoice]:
        records = await self._invoices(info)
        return await invoice_connection(
            info,
            f"person|{self.email}",
            records,
            page_args(info, first, after, last, before),
            invoice_filter(
                status=status, issued=issued, due=due, with_balance_due=with_balance_due
            ),
            order_of(order_by),
        )

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

    @strawberry.field(description="Subscriptions of all their client records, newest start first.")
    async def subscriptions(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        last: LastArg = None,
        before: BeforeArg = None,
        status: SubscriptionStatusArg = None,
    ) -> Connection[Subscription]:
        clients = await self._clients(info)
        lists = await info.context.loaders.client_subscriptions.load_many([c.key for c in clients])
        return await subscription_connection(
            info,
            f"person-subs|{self.email}",
            [s for subs in lists for s in subs],
            page_args(info, first, after, last, before),
            status,
        )
