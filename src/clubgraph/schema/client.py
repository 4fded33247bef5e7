"""Clients: a person or organisation as one source knows them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Private
from strawberry.scalars import JSON

from .. import domain, ids
from ..connectors.base import normalize_email
from ..domain import EntityType
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
from .node import (
    ENTITY_KEYS,
    RAW_DESCRIPTION,
    Ctx,
    InvoiceStatusArg,
    Node,
    SubscriptionStatusArg,
    loaded,
    raw_json,
    record_field,
    reference_key,
)
from .subscription import Subscription, subscription_connection

if TYPE_CHECKING:
    from .person import Person

LazyPerson = Annotated["Person", strawberry.lazy("clubgraph.schema.person")]


@strawberry.federation.type(
    keys=ENTITY_KEYS, description="A person or organisation a club bills, as one source knows them."
)
class Client(Node):
    @classmethod
    def resolve_reference(cls, **representation: Any) -> Client:
        """The entity a gateway's representation names (federation ``_entities``)."""
        return cls(key=reference_key(EntityType.CLIENT, representation))

    record: Private[domain.ClientRecord | None] = None

    async def _rec(self, info: Ctx) -> domain.ClientRecord:
        if self.record is None:
            self.record = await loaded(info.context.loaders.client, self.key)
        return self.record

    name: str = record_field("display_name", description="Full name for display (or company name).")

    first_name: str | None = record_field(
        "first_name", description="Given name, when the source has it separately."
    )

    last_name: str | None = record_field(
        "last_name", description="Family name, when the source has it separately."
    )

    email: str | None = record_field("email", description="Email address, as the source has it.")

    phone: str | None = record_field("phone", description="Phone number, as the source has it.")

    created_at: datetime | None = record_field(
        "created_at", description="When the client was created in the source."
    )

    raw: JSON = record_field("raw", description=RAW_DESCRIPTION, wrap=raw_json)

    @strawberry.field(description="This client's invoices in this source, newest first.")
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
        records = await info.context.loaders.client_invoices.load(self.key)
        return await invoice_connection(
            info,
            f"client-invoices|{ids.encode(self.key)}",
            records,
            page_args(info, first, after, last, before),
            invoice_filter(
                status=status, issued=issued, due=due, with_balance_due=with_balance_due
            ),
            order_of(order_by),
        )

    @strawberry.field(
        description="This client's memberships and recurring plans, newest start first."
    )
    async def subscriptions(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        last: LastArg = None,
        before: BeforeArg = None,
        status: SubscriptionStatusArg = None,
    ) -> Connection[Subscription]:
        records = await info.context.loaders.client_subscriptions.load(self.key)
        return await subscription_connection(
            info,
            f"client-subs|{ids.encode(self.key)}",
            records,
            page_args(info, first, after, last, before),
            status,
        )

    @strawberry.field(
        description=(
            "The same person in other sources and tenants: client records with the same "
            "email address (trimmed, any case). Empty when the client has no email."
        )
    )
    async def profiles(self, info: Ctx) -> list[Client]:
        email = normalize_email((self.record or await self._rec(info)).email)
        if email is None:
            return []
        records = await info.context.loaders.clients_by_email.load(email)
        return [Client(key=r.key, record=r) for r in records if r.key != self.key]

    @strawberry.field(
        description=(
            "Everything billed to this client's email address in every source "
            "(null when the client has no email)."
        )
    )
    async def person(self, info: Ctx) -> LazyPerson | None:
        from .person import Person

        email = (self.record or await self._rec(info)).email
        if not email:
            return None
        return Person(email=normalize_email(email) or email)
