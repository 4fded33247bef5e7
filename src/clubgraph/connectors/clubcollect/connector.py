"""The ClubCollect connector: invoices by id, lists and clients from the invoice index."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from ...commands import (
    Capability,
    CreateInvoice,
    LineChange,
    LineInput,
    UpdateInvoice,
    WriteResult,
)
from ...domain import (
    ClientRecord,
    EntityType,
    InvoiceItemRecord,
    InvoiceRecord,
    Key,
    Money,
    Source,
    SubscriptionRecord,
)
from ...errors import UpstreamNotFound
from ...resilience import CallPolicy
from ..base import (
    Chunk,
    ClientFilter,
    Connector,
    InvoiceFilter,
    InvoiceOrder,
    InvoiceSortField,
    Row,
    SortDirection,
    Stream,
    SubscriptionFilter,
    client_sort_value,
)
from ..drift import DRIFT
from .api import ClubCollectAPI, new_http
from .credentials import ClubCollectCredentials
from .index import Company, InvoiceIndex
from .mapping import invoice_key, map_invoice
from .notifications import InvoiceChange, Notification
from .store import MEMORY, Counts, instant
from .types import InvoiceJSON
from .writes import ClubCollectWrites, LinesFixed

log = logging.getLogger("clubgraph.clubcollect")

T = TypeVar("T")

# Notified ids are fetched a few at a time: ClubCollect asks partners to spread them out.
NOTIFICATION_CONCURRENCY = 4


class ClubCollectConnector(Connector):
    """ClubCollect API v2 for one partner key; tenants are companies.

    Reads by key are one GET per distinct invoice, concurrently (the API has no
    batch endpoint); lists and clients come from the invoice index, kept in SQLite
    at ``index_path`` (in memory by default), or in PostgreSQL when ``index_path`` is
    a postgresql:// URL (one index shared by replicas), which ``start()`` opens and
    completes in the background. Notifications (``notified``) keep it current.
    """

    source = Source.CLUBCOLLECT
    capabilities = frozenset(
        {
            Capability.CREATE_INVOICE,
            Capability.UPDATE_INVOICE,
            Capability.SEND_INVOICE,
            Capability.VOID_INVOICE,
            Capability.DELETE_INVOICE,
        }
    )

    def __init__(
        self,
        base_url: str,
        credentials: ClubCollectCredentials,
        *,
        page_size: int = 100,
        index_path: str = MEMORY,
        policy: CallPolicy | None = None,
    ) -> None:
        self.http = new_http(base_url, credentials, policy)
        # Notifications carry it in their body: how they tell they come from ClubCollect.
        self.partner_key = credentials.api_key
        self.api = ClubCollectAPI(self.http)
        self.index = InvoiceIndex(
            self.api,
            upstream=base_url,
            path=index_path,
            company_ids=credentials.company_ids,
            page_size=page_size,
        )
        self._notifications: set[asyncio.Task[list[InvoiceChange]]] = set()
        self.writes = ClubCollectWrites(self.api, self.index)

    async def start(self) -> None:
        await self.http.start()
        self.index.start()

    async def close(self) -> None:
        for task in list(self._notifications):
            task.cancel()
        await asyncio.gather(*self._notifications, return_exceptions=True)
        await self.index.close()
        await self.http.close()

    async def tenants(self) -> Sequence[str]:
        return list(await self.index.companies())

    async def rebuild_index(self) -> dict[str, Counts]:
        """Crawl every company again and replace the index; invoices and clients per company."""
        return await self.index.rebuild()

    # --- reads by key ---------------------------------------------------------------

    async def clients(self, keys: Sequence[Key]) -> Sequence[ClientRecord | None]:
        await self.index.ready()
        return await self.index.clients(keys)

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
        wanted = await self.index.client_invoices(client_keys)
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

    # --- lists: the index sorts and filters in SQL, so every filter applies there ---

    async def client_streams(
        self, flt: ClientFilter, direction: SortDirection = SortDirection.ASC
    ) -> Sequence[Stream[ClientRecord]]:
        await self.index.ready()
        streams: list[Stream[ClientRecord]] = []
        for company in await self._companies(flt.tenant):

            async def page(start: int, count: int, company: str = company) -> Chunk[ClientRecord]:
                clients, total = await self.index.client_page(company, flt, direction, start, count)
                rows = [
                    Row(start + i, c.key, client_sort_value(c), c, c.key.id)
                    for i, c in enumerate(clients)
                ]
                return Chunk(rows, start + len(rows) >= total, total)

            streams.append(_stream(f"clubcollect:{company}", page, direction))
        return streams

    async def invoice_streams(
        self, flt: InvoiceFilter, order: InvoiceOrder
    ) -> Sequence[Stream[InvoiceRecord]]:
        await self.index.ready()
        companies = await self.index.companies()
        suffix = ":" + "+".join(sorted(s.value for s in flt.statuses)) if flt.statuses else ""
        streams: list[Stream[InvoiceRecord]] = []
        for company in await self._companies(flt.tenant):
            currency = companies[company].currency

            async def page(
                start: int, count: int, company: str = company, currency: str = currency
            ) -> Chunk[InvoiceRecord]:
                found, total = await self.index.invoice_page(
                    company, flt, order.field, order.direction, start, count
                )
                rows: list[Row[InvoiceRecord]] = [
                    Row(
                        start + i,
                        invoice_key(company, invoice_id),
                        _sort_value(order.field, column, currency),
                        None,
                        invoice_id,
                    )
                    for i, (invoice_id, column) in enumerate(found)
                ]
                return Chunk(rows, start + len(rows) >= total, total)

            streams.append(_stream(f"clubcollect:{company}{suffix}", page, order.direction))
        return streams

    async def subscription_streams(
        self, flt: SubscriptionFilter, direction: SortDirection = SortDirection.DESC
    ) -> Sequence[Stream[SubscriptionRecord]]:
        return []

    # --- writes: lines are fixed at creation, and there are no subscriptions ----------

    async def create_invoice(self, cmd: CreateInvoice) -> WriteResult:
        return await self._settled(self.writes.create_invoice(cmd))

    async def update_invoice(self, cmd: UpdateInvoice) -> WriteResult:
        return await self._settled(self.writes.update_invoice(cmd))

    async def send_invoice(self, key: Key) -> WriteResult:
        return await self._settled(self.writes.send_invoice(key))

    async def void_invoice(self, key: Key, reason: str | None) -> WriteResult:
        return await self._settled(self.writes.void_invoice(key, reason))

    async def delete_invoice(self, key: Key) -> WriteResult:
        return await self._settled(self.writes.delete_invoice(key))

    async def _settled(self, write: Awaitable[WriteResult]) -> WriteResult:
        """The write's result once the index holds what it changed (for a shared index:
        what every replica lists from)."""
        try:
            return await write
        finally:
            await self.index.settled()

    async def add_invoice_items(self, key: Key, lines: Sequence[LineInput]) -> WriteResult:
        raise LinesFixed(Capability.ADD_INVOICE_ITEMS)

    async def update_invoice_item(self, key: Key, change: LineChange) -> WriteResult:
        raise LinesFixed(Capability.UPDATE_INVOICE_ITEM)

    async def remove_invoice_item(self, key: Key) -> WriteResult:
        raise LinesFixed(Capability.REMOVE_INVOICE_ITEM)

    # --- notifications --------------------------------------------------------------

    def notified(self, notification: Notification) -> asyncio.Task[list[InvoiceChange]]:
        """Bring the index up to date with a notification, in the background; the task's
        result is what changed."""
        task = asyncio.get_running_loop().create_task(self.apply_notification(notification))
        self._notifications.add(task)
        task.add_done_callback(self._notification_done)
        return task

    async def notifications_settled(self) -> None:
        """Wait for the notifications being applied now."""
        await asyncio.gather(*self._notifications, return_exceptions=True)

    def _notification_done(self, task: asyncio.Task[list[InvoiceChange]]) -> None:
        self._notifications.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # ClubCollect names these ids again only if we had refused it: log them.
            log.error("clubcollect notification failed", exc_info=task.exception())

    async def apply_notification(self, notification: Notification) -> list[InvoiceChange]:
        """GET each named import and invoice and reflect it in the index; each invoice's
        record before and after (None: not known before, or gone now)."""
        await self.index.ready()
        limit = asyncio.Semaphore(NOTIFICATION_CONCURRENCY)
        invoice_ids = dict.fromkeys(notification.invoice_ids)
        imports = await asyncio.gather(
            *(_limited(limit, self._import_changed(i)) for i in notification.import_ids)
        )
        for new_ids in imports:
            invoice_ids.update(dict.fromkeys(new_ids))
        changed = await asyncio.gather(
            *(_limited(limit, self._invoice_changed(i)) for i in invoice_ids)
        )
        await self.index.settled()
        return [change for changes in changed for change in changes]

    async def _import_changed(self, import_id: str) -> list[str]:
        """Reflect an import; the ids of its invoices the index does not hold yet."""
        indexed = await self.index.keys_of_import(import_id)
        try:
            imp = await self.api.import_(import_id)
        except UpstreamNotFound:
            for key in indexed:
                self.index.remove(key)
            return []
        listed = set(imp["invoice_ids"])
        company = imp.get("company_id")
        if isinstance(company, str):
            self.index.remember_import(import_id, company)
        for key in indexed:
            if key.id not in listed:
                self.index.remove(key)
        known = {k.id for k in indexed}
        return [i for i in imp["invoice_ids"] if i not in known]

    async def _invoice_changed(self, invoice_id: str) -> list[InvoiceChange]:
        companies = await self.index.companies()
        before: dict[str, InvoiceRecord] = {}
        for company_id, stored in (await self.index.stored(invoice_id)).items():
            if company_id in companies:
                with contextlib.suppress(*DRIFT):  # what it was is unknown, not an error
                    currency = companies[company_id].currency
                    before[company_id] = map_invoice(stored, company_id, currency)
        try:
            raw = await self.api.invoice(invoice_id)
        except UpstreamNotFound:
            gone = await self.index.keys_by_id([invoice_id])
            for key in gone:
                self.index.remove(key)
            return [InvoiceChange(key, before.get(key.tenant), None) for key in gone]
        company = await self._company_of(raw)
        if company is None:
            log.warning("clubcollect: notified invoice %s belongs to no known company", invoice_id)
            return []
        after = self._store(raw, company)
        return [InvoiceChange(after.key, before.get(company.id), after)]

    async def _company_of(self, raw: InvoiceJSON) -> Company | None:
        """The company of an invoice: from the index, else from its import."""
        companies = await self.index.companies()
        found = await self.index.company_of(raw["invoice_id"], raw.get("import_id"))
        if found is None and raw.get("import_id"):
            try:
                imp = await self.api.import_(raw["import_id"])
            except UpstreamNotFound:
                imp = None
            company = imp.get("company_id") if imp is not None else None
            if isinstance(company, str) and company in companies:
                found = company
                self.index.remember_import(raw["import_id"], company)
        if found is None and len(companies) == 1:
            # inferred: an import names its company only in the sandbox; with one
            # company reachable there is no doubt.
            found = next(iter(companies))
        return companies.get(found) if found is not None else None

    def _store(self, raw: InvoiceJSON, company: Company) -> InvoiceRecord:
        record = map_invoice(raw, company.id, company.currency)
        self.index.upsert(record)
        return record

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
        records = await asyncio.gather(*(self._get(k, companies[k.tenant]) for k in distinct))
        return {k: r for k, r in zip(distinct, records, strict=True) if r is not None}

    async def _get(self, key: Key, company: Company) -> InvoiceRecord | None:
        try:
            raw = await self.api.invoice(key.id)
        except UpstreamNotFound:
            self.index.remove(key)
            return None
        return self._store(raw, company)


def _stream(
    stream_id: str, page: Callable[[int, int], Awaitable[Chunk[T]]], direction: SortDirection
) -> Stream[T]:
    """A stream whose fetch reads one slice of the index (the whole span at once)."""

    async def fetch(start: int, count: int) -> Chunk[T]:
        return await page(start, max(count, 1))

    return Stream(stream_id, fetch, direction is SortDirection.DESC)


def _sort_value(field: InvoiceSortField, column: Any, currency: str) -> Any:
    """``invoice_sort_value`` from the index's sort column."""
    if field in (InvoiceSortField.ISSUED_AT, InvoiceSortField.DUE_AT):
        moment: datetime = instant(column)
        return moment
    if field is InvoiceSortField.TOTAL:
        amount: Decimal = Money.from_minor(column, currency).amount
        return amount
    return column


async def _limited(limit: asyncio.Semaphore, call: Awaitable[T]) -> T:
    async with limit:
        return await call


def _items(record: InvoiceRecord | None) -> Sequence[InvoiceItemRecord]:
    return record.items or () if record is not None else ()


def _parent(key: Key) -> Key | None:
    """The invoice key of an item key ``"{invoice_id}/{invoice_line_id}"``."""
    if key.type is not EntityType.INVOICE_ITEM or "/" not in key.id:
        return None
    return Key(EntityType.INVOICE, key.source, key.tenant, key.id.split("/", 1)[0])
