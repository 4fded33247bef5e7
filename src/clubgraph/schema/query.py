"""The query root: lookups by global ID and the lists that span every source."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any

import strawberry

from .. import domain, ids
from ..connectors.base import (
    ClientFilter,
    Connector,
    InvoiceFilter,
    InvoiceOrder,
    Stream,
    SubscriptionFilter,
)
from ..domain import EntityType, Key
from ..listing import merge_page
from .client import Client
from .connection import Connection, page_size, to_connection
from .enums import InvoiceStatus, Source, SubscriptionStatus
from .invoice import Invoice, InvoiceItem, invoice_connection
from .node import AfterArg, Ctx, FirstArg, InvoiceStatusArg, Node, SubscriptionStatusArg
from .person import Person
from .subscription import Subscription, subscription_connection

SourceArg = Annotated[
    list[Source] | None,
    strawberry.argument(description="Only records from these sources (default: all)."),
]
TenantArg = Annotated[
    str | None,
    strawberry.argument(description="Only records of this tenant, business or company id."),
]
IdArg = Annotated[strawberry.ID, strawberry.argument(description="A global ID.")]
ClientIdArg = Annotated[
    strawberry.ID | None,
    strawberry.argument(description="Only records of the client with this global ID."),
]


async def _load_node(info: Ctx, key: Key) -> Node | None:
    loaders = info.context.loaders
    loader: Any = {
        EntityType.CLIENT: loaders.client,
        EntityType.INVOICE: loaders.invoice,
        EntityType.INVOICE_ITEM: loaders.invoice_item,
        EntityType.SUBSCRIPTION: loaders.subscription,
    }[key.type]
    if key.source not in info.context.connectors:
        return None
    record = await loader.load(key)
    if record is None:
        return None
    node: Node = ENTITY_TYPES[key.type](key=key, record=record)
    return node


def _connectors(info: Ctx, sources: Sequence[domain.Source] | None) -> list[Connector]:
    wanted = set(sources or domain.Source)
    return [c for s, c in info.context.connectors.items() if s in wanted]


def _kind(name: str, *parts: object) -> str:
    return "|".join([name, *(str(p) for p in parts)])


def _values(items: Sequence[Any] | None) -> list[str]:
    return sorted(i.value for i in items or ())


async def _streams(calls: Sequence[Any]) -> list[Stream[Any]]:
    lists = await asyncio.gather(*calls)
    return [s for streams in lists for s in streams]


ENTITY_TYPES: dict[EntityType, type[Any]] = {
    EntityType.CLIENT: Client,
    EntityType.INVOICE: Invoice,
    EntityType.INVOICE_ITEM: InvoiceItem,
    EntityType.SUBSCRIPTION: Subscription,
}


@strawberry.type(description="Read clients, invoices and subscriptions from every source.")
class Query:
    @strawberry.field(description="Any object by its global ID; null when it does not exist.")
    async def node(self, info: Ctx, id: IdArg) -> Node | None:
        return await _load_node(info, ids.decode(id))

    @strawberry.field(
        description="Several objects by global ID, in the order asked; null where absent."
    )
    async def nodes(
        self,
        info: Ctx,
        ids_: Annotated[
            list[strawberry.ID], strawberry.argument(name="ids", description="Global IDs.")
        ],
    ) -> list[Node | None]:
        keys = [ids.decode(i) for i in ids_]
        return list(await asyncio.gather(*(_load_node(info, k) for k in keys)))

    @strawberry.field(description="A client by global ID; null when it does not exist.")
    async def client(self, info: Ctx, id: IdArg) -> Client | None:
        node = await _load_node(info, ids.decode(id, EntityType.CLIENT))
        return node if isinstance(node, Client) else None

    @strawberry.field(description="An invoice by global ID; null when it does not exist.")
    async def invoice(self, info: Ctx, id: IdArg) -> Invoice | None:
        node = await _load_node(info, ids.decode(id, EntityType.INVOICE))
        return node if isinstance(node, Invoice) else None

    @strawberry.field(description="An invoice line by global ID; null when it does not exist.")
    async def invoice_item(self, info: Ctx, id: IdArg) -> InvoiceItem | None:
        node = await _load_node(info, ids.decode(id, EntityType.INVOICE_ITEM))
        return node if isinstance(node, InvoiceItem) else None

    @strawberry.field(description="A subscription by global ID; null when it does not exist.")
    async def subscription(self, info: Ctx, id: IdArg) -> Subscription | None:
        node = await _load_node(info, ids.decode(id, EntityType.SUBSCRIPTION))
        return node if isinstance(node, Subscription) else None

    @strawberry.field(description="One person across sources, by email address (case-insensitive).")
    async def person(
        self,
        info: Ctx,
        email: Annotated[str, strawberry.argument(description="Email address to look up.")],
    ) -> Person:
        return Person(email=email.strip().lower())

    @strawberry.field(description="Clients of every source, by name (A-Z), merged into one list.")
    async def clients(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        source: SourceArg = None,
        tenant: TenantArg = None,
    ) -> Connection[Client]:
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        flt = ClientFilter(tenant=tenant)
        streams = await _streams([c.client_streams(flt) for c in _connectors(info, source)])
        page = await merge_page(
            _kind("clients", _values(source), tenant), streams, size, after, descending=False
        )
        info.context.loaders.remember_clients(
            e.row.record for e in page.edges if e.row.record is not None
        )
        return to_connection(page, Client.of_row)

    @strawberry.field(description="Invoices of every source, newest first, merged into one list.")
    async def invoices(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        source: SourceArg = None,
        status: InvoiceStatusArg = None,
        client_id: ClientIdArg = None,
        tenant: TenantArg = None,
    ) -> Connection[Invoice]:
        if client_id is not None:
            key = ids.decode(client_id, EntityType.CLIENT)
            records: Sequence[domain.InvoiceRecord] = ()
            if key.source in info.context.connectors and (not source or key.source in source):
                records = await info.context.loaders.client_invoices.load(key)
            return invoice_connection(
                info, f"client-invoices|{client_id}", records, first, after, status
            )
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        flt = InvoiceFilter(statuses=frozenset(status or ()), tenant=tenant)
        order = InvoiceOrder()
        streams = await _streams([c.invoice_streams(flt, order) for c in _connectors(info, source)])
        kind = _kind("invoices", _values(source), _values(status), tenant, order.field.value)
        page = await merge_page(kind, streams, size, after, descending=True)
        info.context.loaders.remember_invoices(
            e.row.record for e in page.edges if e.row.record is not None
        )
        return to_connection(page, Invoice.of_row)

    @strawberry.field(
        description=(
            "Memberships and recurring plans of every source, newest start first, "
            "merged into one list."
        )
    )
    async def subscriptions(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        source: SourceArg = None,
        status: SubscriptionStatusArg = None,
        client_id: ClientIdArg = None,
        tenant: TenantArg = None,
    ) -> Connection[Subscription]:
        if client_id is not None:
            key = ids.decode(client_id, EntityType.CLIENT)
            records: Sequence[domain.SubscriptionRecord] = ()
            if key.source in info.context.connectors and (not source or key.source in source):
                records = await info.context.loaders.client_subscriptions.load(key)
            return subscription_connection(
                info, f"client-subs|{client_id}", records, first, after, status
            )
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        flt = SubscriptionFilter(statuses=frozenset(status or ()), tenant=tenant)
        streams = await _streams([c.subscription_streams(flt) for c in _connectors(info, source)])
        kind = _kind("subscriptions", _values(source), _values(status), tenant)
        page = await merge_page(kind, streams, size, after, descending=True)
        info.context.loaders.remember_subscriptions(
            e.row.record for e in page.edges if e.row.record is not None
        )
        return to_connection(page, Subscription.of_row)


__all__ = ["InvoiceStatus", "Query", "SubscriptionStatus"]
