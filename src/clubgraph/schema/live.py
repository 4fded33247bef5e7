"""The subscription root: what a client can follow live over graphql-transport-ws or
server-sent events.

Billing events (invoices changed, payments received) arrive with webhooks and polling;
what is here already is the sources' health, which operators' dashboards follow.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

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
        while True:
            yield sources(info)
            await asyncio.sleep(interval)
