"""The subscription root: what a client can follow live over graphql-transport-ws or
server-sent events.

Billing changes (invoices changed, payments received, memberships changed) arrive with
webhooks and polling (``changes.py``); the sources' health is what operators'
dashboards follow.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from .changes import (
    InvoiceChange,
    InvoiceChangeFilter,
    PaymentReceived,
    SubscriptionChange,
    invoice_changes,
    payments,
    subscription_changes,
)
from .node import Ctx
from .sources import SourceInfo, sources


@strawberry.type(description="What a client can follow live (GraphQL subscriptions).")
class SubscriptionRoot:
    @strawberry.subscription(
        description=(
            "Every source with its health, now and then every `everySeconds` seconds "
            "(breaker state, recent error rate), until the client stops."
        )
    )
    async def source_health(
        self,
        info: Ctx,
        every_seconds: Annotated[
            int, strawberry.argument(description="Seconds between two reports (1-3600).")
        ] = 5,
    ) -> AsyncGenerator[list[SourceInfo], None]:
        interval = min(max(every_seconds, 1), 3600)
        hub = info.context.events
        stopping = hub.broker.draining if hub is not None else asyncio.Event()
        while not stopping.is_set():
            yield sources(info)
            # Ends at once when the server stops, instead of at the next report.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval)

    @strawberry.subscription(
        description=(
            "Invoices as they change upstream (created, updated, paid, voided, deleted), "
            "each read again after the change; only invoices the caller may see."
        )
    )
    async def invoice_changed(
        self,
        info: Ctx,
        filter: Annotated[
            InvoiceChangeFilter | None, strawberry.argument(description="Narrow the changes.")
        ] = None,
    ) -> AsyncGenerator[InvoiceChange, None]:
        async for change in invoice_changes(info, filter):
            yield change

    @strawberry.subscription(
        description="A client's memberships and recurring plans as they change upstream."
    )
    async def subscription_changed(
        self,
        info: Ctx,
        client_id: Annotated[strawberry.ID, strawberry.argument(description="A client's ID.")],
    ) -> AsyncGenerator[SubscriptionChange, None]:
        async for change in subscription_changes(info, client_id):
            yield change

    @strawberry.subscription(description="Payments a client makes, as the sources report them.")
    async def payment_received(
        self,
        info: Ctx,
        client_id: Annotated[strawberry.ID, strawberry.argument(description="A client's ID.")],
    ) -> AsyncGenerator[PaymentReceived, None]:
        async for payment in payments(info, client_id):
            yield payment
