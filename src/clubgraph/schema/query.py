"""The query root: lookups by global ID and the lists that span every source."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Annotated, Any

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from .. import domain, ids
from ..connectors.base import (
    ClientFilter,
    Connector,
    SortDirection,
    Stream,
    SubscriptionFilter,
    client_matches,
    client_sort_value,
    normalize_email,
)
from ..domain import EntityType, Key
from ..listing import Page
from .client import Client
from .connection import Connection, to_connection
from .enums import InvoiceStatus, Source, SubscriptionStatus
from .inputs import (
    AfterArg,
    BeforeArg,
    DueArg,
    FirstArg,
    InvoiceOrderArg,
    IssuedArg,
    LastArg,
    WithBalanceDueArg,
    describe,
    invoice_filter,
    memory_connection,
    page_args,
    page_of,
)
from .inputs import reverse as reverse_order
from .invoice import Invoice, InvoiceItem, invoice_connection, memory_tiebreak, order_of
from .invoice_key import invoice_by_key_field
from .node import Ctx, InvoiceStatusArg, Node, SubscriptionStatusArg
from .person import Person
from .scope import scoped_streams
from .sources import SourceInfo, sources
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


def _client_in_scope(
    info: Ctx, client_id: str, sources: Sequence[domain.Source] | None, tenant: str | None
) -> Key | None:
    """The key of a client filter, or None when the other filters exclude that client."""
    key = ids.decode(client_id, EntityType.CLIENT)
    if key.source not in info.context.connectors or (sources and key.source not in sources):
        return None
    return key if tenant is None or key.tenant == tenant else None


async def _loaded(
    page: Page[Any],
    loader: Any,
    remember: Callable[[Iterable[Any]], None],
    prefetch: Callable[[list[Any]], None] | None = None,
) -> Page[Any]:
    """The page with every row's record at hand.

    Records the upstream list carried prime the loaders (and ``prefetch`` starts what
    they will need, to go out with the reads below); rows known only by key
    (ClubCollect's index) are loaded together now, and a row whose record is gone
    upstream since the list was read is left out instead of failing the whole page.
    """
    shown = [e.row.record for e in page.edges if e.row.record is not None]
    remember(shown)
    if prefetch is not None:
        prefetch(shown)
    keys = [e.row.key for e in page.edges if e.row.record is None]
    if not keys:
        return page
    found = await asyncio.gather(*(loader.load(k) for k in keys), return_exceptions=True)
    gone = {k for k, record in zip(keys, found, strict=True) if record is None}
    return replace(page, edges=[e for e in page.edges if e.row.key not in gone])


async def _own_clients(info: Ctx, sources: Sequence[domain.Source] | None) -> list[Any]:
    """A member's own client records (in ``sources``), those that still exist."""
    keys = sorted(
        (k for k in info.context.principal.clients if not sources or k.source in sources),
        key=lambda k: (k.source.value, k.tenant, k.id),
    )
    keys = [k for k in keys if k.source in info.context.connectors]
    records = await info.context.loaders.client.load_many(keys)
    return [r for r in records if r is not None]


# Fields of an entity its key answers, without reading its record.
_KEY_FIELDS = frozenset({"id", "__typename", "source", "tenantId", "sourceId"})


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    """The fields of a selection, fragments flattened."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)


def _node_fields(info: Ctx) -> list[SelectedField]:
    """The fields selected on the nodes of the connection the resolver returns."""
    out: list[SelectedField] = []
    for connection in _fields(info.selected_fields):
        for field in _fields(connection.selections):
            if field.name == "nodes":
                out.extend(_fields(field.selections))
            elif field.name == "edges":
                for edge in _fields(field.selections):
                    if edge.name == "node":
                        out.extend(_fields(edge.selections))
    return out


def _prefetch_for_invoices(info: Ctx, records: Iterable[domain.InvoiceRecord]) -> None:
    """Start the loads a page of invoices will need, so that they go out with the reads
    of the rows the lists gave by key only (ClubCollect's), in one round trip instead of
    one after them: the clients (when a field beyond their key is asked for), their plans,
    and lines that did not come embedded. Only what the query selects is loaded."""
    nodes = _node_fields(info)
    clients = [g for f in nodes if f.name == "client" for g in _fields(f.selections)]
    wants_client = any(g.name not in _KEY_FIELDS for g in clients)
    wants_plans = any(g.name == "subscriptions" for g in clients)
    wants_lines = any(f.name == "items" for f in nodes)
    if not (wants_client or wants_plans or wants_lines):
        return
    loaders = info.context.loaders
    for record in records:
        if record.client_key is not None:
            if wants_client:
                _started(loaders.client.load(record.client_key))
            if wants_plans:
                _started(loaders.client_subscriptions.load(record.client_key))
        if wants_lines and record.items is None:
            _started(loaders.invoice_items.load(record.key))


def _started(load: Any) -> None:
    """A load nobody awaits yet: its failure is the resolver's to report when it awaits
    the same (cached) future, not an unretrieved exception."""
    load.add_done_callback(lambda f: None if f.cancelled() else f.exception())


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

    invoice_by_key: Invoice | None = invoice_by_key_field()

    @strawberry.field(description="An invoice line by global ID; null when it does not exist.")
    async def invoice_item(self, info: Ctx, id: IdArg) -> InvoiceItem | None:
        node = await _load_node(info, ids.decode(id, EntityType.INVOICE_ITEM))
        return node if isinstance(node, InvoiceItem) else None

    @strawberry.field(description="A subscription by global ID; null when it does not exist.")
    async def subscription(self, info: Ctx, id: IdArg) -> Subscription | None:
        node = await _load_node(info, ids.decode(id, EntityType.SUBSCRIPTION))
        return node if isinstance(node, Subscription) else None

    @strawberry.field(
        description="Every upstream platform: whether it is reachable here, and its writes."
    )
    def sources(self, info: Ctx) -> list[SourceInfo]:
        return sources(info)

    @strawberry.field(description="One person across sources, by email address (case-insensitive).")
    async def person(
        self,
        info: Ctx,
        email: Annotated[str, strawberry.argument(description="Email address to look up.")],
    ) -> Person:
        return Person(email=email.strip().lower())

    @strawberry.field(
        description=(
            "Clients of every source, by name (A-Z), merged into one list. `search` "
            "matches a part of the name or email; `email` one exact address."
        )
    )
    async def clients(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        last: LastArg = None,
        before: BeforeArg = None,
        source: SourceArg = None,
        tenant: TenantArg = None,
        search: Annotated[
            str | None,
            strawberry.argument(description="Part of a name or email, any case."),
        ] = None,
        email: Annotated[
            str | None, strawberry.argument(description="An email address, any case.")
        ] = None,
    ) -> Connection[Client]:
        args = page_args(info, first, after, last, before)
        flt = ClientFilter(tenant=tenant, search=search or None, email=normalize_email(email))
        principal = info.context.principal
        if principal.is_member:
            clients = await _own_clients(info, source)
            return await memory_connection(
                _kind("own-clients", _values(source), describe(flt)),
                "memory",
                [
                    r
                    for r in clients
                    if client_matches(r, flt) and (tenant is None or r.key.tenant == tenant)
                ],
                order=lambda r: (client_sort_value(r), memory_tiebreak(r.key)),
                descending=False,
                args=args,
                wrap=Client.of_record,
            )
        connectors = _connectors(info, source)

        async def open_streams(reverse: bool) -> Sequence[Stream[Any]]:
            direction = SortDirection.DESC if reverse else SortDirection.ASC
            return await _streams(
                scoped_streams(
                    principal, connectors, flt, lambda c, f: c.client_streams(f, direction)
                )
            )

        page = await page_of(_kind("clients", _values(source), describe(flt)), open_streams, args)
        loaders = info.context.loaders
        page = await _loaded(page, loaders.client, loaders.remember_clients)
        return to_connection(page, Client.of_row)

    @strawberry.field(
        description=(
            "Invoices of every source merged into one list, newest issued first unless "
            "`orderBy` says otherwise."
        )
    )
    async def invoices(
        self,
        info: Ctx,
        first: FirstArg = None,
        after: AfterArg = None,
        last: LastArg = None,
        before: BeforeArg = None,
        source: SourceArg = None,
        status: InvoiceStatusArg = None,
        client_id: ClientIdArg = None,
        tenant: TenantArg = None,
        issued: IssuedArg = None,
        due: DueArg = None,
        with_balance_due: WithBalanceDueArg = None,
        order_by: InvoiceOrderArg = None,
    ) -> Connection[Invoice]:
        args = page_args(info, first, after, last, before)
        flt = invoice_filter(
            status=status,
            tenant=tenant,
            issued=issued,
            due=due,
            with_balance_due=with_balance_due,
        )
        order = order_of(order_by)
        if client_id is not None:
            key = _client_in_scope(info, client_id, source, tenant)
            records: Sequence[domain.InvoiceRecord] = ()
            if key is not None:
                records = await info.context.loaders.client_invoices.load(key)
            return await invoice_connection(
                info, f"client-invoices|{client_id}", records, args, flt, order
            )
        principal = info.context.principal
        if principal.is_member:
            lists = await info.context.loaders.client_invoices.load_many(
                [c.key for c in await _own_clients(info, source)]
            )
            mine = [r for records in lists for r in records]
            return await invoice_connection(info, "own-invoices", mine, args, flt, order)
        connectors = _connectors(info, source)

        async def open_streams(reverse: bool) -> Sequence[Stream[Any]]:
            o = reverse_order(order) if reverse else order
            return await _streams(
                scoped_streams(principal, connectors, flt, lambda c, f: c.invoice_streams(f, o))
            )

        kind = _kind(
            "invoices",
            _values(source),
            describe(flt),
            f"{order.field.value}:{order.direction.value}",
        )
        page = await page_of(kind, open_streams, args)
        loaders = info.context.loaders
        page = await _loaded(
            page,
            loaders.invoice,
            loaders.remember_invoices,
            lambda shown: _prefetch_for_invoices(info, shown),
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
        last: LastArg = None,
        before: BeforeArg = None,
        source: SourceArg = None,
        status: SubscriptionStatusArg = None,
        client_id: ClientIdArg = None,
        tenant: TenantArg = None,
    ) -> Connection[Subscription]:
        args = page_args(info, first, after, last, before)
        if client_id is not None:
            key = _client_in_scope(info, client_id, source, tenant)
            records: Sequence[domain.SubscriptionRecord] = ()
            if key is not None:
                records = await info.context.loaders.client_subscriptions.load(key)
            return await subscription_connection(
                info, f"client-subs|{client_id}", records, args, status
            )
        flt = SubscriptionFilter(statuses=frozenset(status or ()), tenant=tenant)
        principal = info.context.principal
        if principal.is_member:
            lists = await info.context.loaders.client_subscriptions.load_many(
                [c.key for c in await _own_clients(info, source)]
            )
            mine = [r for records in lists for r in records]
            if tenant is not None:
                mine = [r for r in mine if r.key.tenant == tenant]
            return await subscription_connection(info, "own-subscriptions", mine, args, status)
        connectors = _connectors(info, source)

        async def open_streams(reverse: bool) -> Sequence[Stream[Any]]:
            direction = SortDirection.ASC if reverse else SortDirection.DESC
            return await _streams(
                scoped_streams(
                    principal, connectors, flt, lambda c, f: c.subscription_streams(f, direction)
                )
            )

        page = await page_of(
            _kind("subscriptions", _values(source), describe(flt)), open_streams, args
        )
        loaders = info.context.loaders
        page = await _loaded(page, loaders.subscription, loaders.remember_subscriptions)
        return to_connection(page, Subscription.of_row)


__all__ = ["InvoiceStatus", "Query", "SubscriptionStatus"]
