"""The ClubCollect connector: invoices by id, lists and clients from the invoice index."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from ...domain import (
    ClientRecord,
    EntityType,
    InvoiceItemRecord,
    InvoiceRecord,
    Key,
    Source,
    SubscriptionRecord,
)
from ...errors import UpstreamNotFound
from ..base import (
    ClientFilter,
    Connector,
    InvoiceFilter,
    InvoiceOrder,
    Row,
    SortDirection,
    Stream,
    SubscriptionFilter,
    client_sort_value,
    invoice_sort_parts,
)
from ..paging import memory_stream
from .api import ClubCollectAPI, new_http
from .credentials import ClubCollectCredentials
from .index import InvoiceIndex, InvoiceSummary
from .mapping import map_invoice


class ClubCollectConnector(Connector):
    """ClubCollect API v2 for one partner key; tenants are companies.

    Reads by key are one GET per distinct invoice, concurrently (the API has no
    batch endpoint); lists and clients come from the invoice index, which the
    connector builds in the background on ``start()``.
    """

    source = Source.CLUBCOLLECT

    def __init__(
        self, base_url: str, credentials: ClubCollectCredentials, *, page_size: int = 100
    ) -> None:
        self.http = new_http(base_url, credentials)
        self.api = ClubCollectAPI(self.http)
        self.index = InvoiceIndex(
            self.api, company_ids=credentials.company_ids, page_size=page_size
        )

    async def start(self) -> None:
        await self.http.start()
        self.index.start()

    async def close(self) -> None:
        await self.index.close()
        await self.http.close()

    async def tenants(self) -> Sequence[str]:
        return list(await self.index.companies())

    # --- reads by key ---------------------------------------------------------------

    async def clients(self, keys: Sequence[Key]) -> Sequence[ClientRecord | None]:
        await self.index.ready()
        return [self.index.client(k) for k in keys]

    async def invoices(self, keys: Sequence[Key]) -> Sequence[InvoiceRecord | None]:
        found = await self._fetch(keys)
        return [found.get(k) for k in keys]

    async def invoice_items(
        self, invoice_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceItemRecord]]:
        found = await self._fetch(invoice_keys)
        return [_items(found.get(k)) for k in invoice_keys]

    async def invoice_item(self, keys: Sequence[Key]) -> Sequence[InvoiceItemRecord | None]:
        parents = {k: _parent(k) for k in keys}
        found = await self._fetch(p for p in parents.values() if p is not None)
        out: list[InvoiceItemRecord | None] = []
        for k in keys:
            parent = parents[k]
            items = _items(found.get(parent)) if parent is not None else ()
            out.append(next((i for i in items if i.key == k), None))
        return out

    async def subscriptions(self, keys: Sequence[Key]) -> Sequence[SubscriptionRecord | None]:
        return [None] * len(keys)

    # --- reads by parent ------------------------------------------------------------

    async def client_invoices(
        self, client_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceRecord]]:
        await self.index.ready()
        wanted = [[s.key for s in self.index.client_invoices(k)] for k in client_keys]
        found = await self._fetch(k for keys in wanted for k in keys)
        return [[found[k] for k in keys if k in found] for keys in wanted]

    async def client_subscriptions(
        self, client_keys: Sequence[Key]
    ) -> Sequence[Sequence[SubscriptionRecord]]:
        return [[] for _ in client_keys]

    async def subscription_invoices(
        self, subscription_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceRecord]]:
        return [[] for _ in subscription_keys]

    # --- lists ----------------------------------------------------------------------

    async def client_streams(self, flt: ClientFilter) -> Sequence[Stream[ClientRecord]]:
        await self.index.ready()
        streams: list[Stream[ClientRecord]] = []
        for company in await self._companies(flt.tenant):
            clients = sorted(
                self.index.clients(company), key=lambda c: (client_sort_value(c), c.key.id)
            )
            rows = [Row(i, c.key, client_sort_value(c), c) for i, c in enumerate(clients)]
            streams.append(memory_stream(f"clubcollect:{company}", rows, descending=False))
        return streams

    async def invoice_streams(
        self, flt: InvoiceFilter, order: InvoiceOrder
    ) -> Sequence[Stream[InvoiceRecord]]:
        await self.index.ready()
        descending = order.direction is SortDirection.DESC

        def sort(s: InvoiceSummary) -> Any:
            return invoice_sort_parts(
                order.field, issued_at=s.issued_at, due_at=s.due_at, total=s.total, number=s.number
            )

        suffix = ":" + "+".join(sorted(s.value for s in flt.statuses)) if flt.statuses else ""
        streams: list[Stream[InvoiceRecord]] = []
        for company in await self._companies(flt.tenant):
            kept = [
                s
                for s in self.index.invoices(company)
                if not flt.statuses or s.status in flt.statuses
            ]
            # sorted() is stable with reverse=True too, so ties keep crawl order.
            kept.sort(key=sort, reverse=descending)
            rows: list[Row[InvoiceRecord]] = [Row(i, s.key, sort(s)) for i, s in enumerate(kept)]
            streams.append(
                memory_stream(f"clubcollect:{company}{suffix}", rows, descending=descending)
            )
        return streams

    async def subscription_streams(
        self, flt: SubscriptionFilter
    ) -> Sequence[Stream[SubscriptionRecord]]:
        return []

    # --- helpers --------------------------------------------------------------------

    async def _companies(self, tenant: str | None) -> list[str]:
        companies = await self.index.companies()
        return [c for c in companies if tenant is None or c == tenant]

    async def _fetch(self, keys: Iterable[Key]) -> dict[Key, InvoiceRecord]:
        """GET each distinct invoice once, concurrently; absent ones are left out."""
        companies = await self.index.companies()
        distinct = [
            k
            for k in dict.fromkeys(keys)
            if k.type is EntityType.INVOICE and k.source is self.source and k.tenant in companies
        ]
        records = await asyncio.gather(
            *(self._get(k, companies[k.tenant].currency) for k in distinct)
        )
        return {k: r for k, r in zip(distinct, records, strict=True) if r is not None}

    async def _get(self, key: Key, currency: str) -> InvoiceRecord | None:
        try:
            raw = await self.api.invoice(key.id)
        except UpstreamNotFound:
            self.index.remove(key)
            return None
        record = map_invoice(raw, key.tenant, currency)
        self.index.upsert(record)
        return record


def _items(record: InvoiceRecord | None) -> Sequence[InvoiceItemRecord]:
    return record.items or () if record is not None else ()


def _parent(key: Key) -> Key | None:
    """The invoice key of an item key ``"{invoice_id}/{invoice_line_id}"``."""
    if key.type is not EntityType.INVOICE_ITEM or "/" not in key.id:
        return None
    return Key(EntityType.INVOICE, key.source, key.tenant, key.id.split("/", 1)[0])
