"""The invoice index: what ClubCollect cannot list, crawled once and kept current.

ClubCollect reaches invoices only by id (partners are told of changes by
notification), so lists, sorting, filtering and clients come from this index. It
is built by crawling companies -> imports -> invoices, holds a summary per invoice
(not whole records), and is kept current by ``upsert``/``remove`` after writes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import TypeVar

from ...domain import ClientRecord, InvoiceRecord, InvoiceStatus, Key
from ...errors import UpstreamNotFound
from .api import ClubCollectAPI
from .mapping import map_client, map_invoice
from .types import CompanyJSON, CustomerJSON, InvoiceJSON

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Company:
    """A company the partner key reaches: the connector's tenant."""

    id: str
    name: str
    currency: str
    raw: CompanyJSON = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class InvoiceSummary:
    """What listing, sorting and filtering an invoice needs."""

    key: Key
    client_key: Key
    issued_at: datetime
    due_at: datetime | None
    total: Decimal
    number: str | None
    status: InvoiceStatus
    # The customer as this invoice names it; a client shows its newest invoice's.
    client: ClientRecord = field(repr=False, compare=False)
    seq: int = field(default=0, compare=False)


def summarize(record: InvoiceRecord) -> InvoiceSummary:
    """The index entry of a mapped invoice."""
    if record.client_key is None:
        raise ValueError(f"invoice {record.key.id} has no customer")
    customer: CustomerJSON = record.raw.get("customer") or {}
    return InvoiceSummary(
        key=record.key,
        client_key=record.client_key,
        issued_at=record.issued_at,
        due_at=record.due_at,
        total=record.total.amount,
        number=record.number,
        status=record.status,
        client=map_client(customer, record.key.tenant, record.client_key.id),
    )


class _State:
    """Summaries by company and by client; insertion order is crawl order."""

    def __init__(self) -> None:
        self.by_company: dict[str, dict[str, InvoiceSummary]] = {}
        self.by_client: dict[Key, dict[str, InvoiceSummary]] = {}
        self.clients: dict[Key, ClientRecord] = {}
        self._seq = itertools.count()

    def put(self, summary: InvoiceSummary) -> None:
        old = self.by_company.get(summary.key.tenant, {}).get(summary.key.id)
        summary = replace(summary, seq=next(self._seq))
        self.by_company.setdefault(summary.key.tenant, {})[summary.key.id] = summary
        if old is not None and old.client_key != summary.client_key:
            self.by_client.get(old.client_key, {}).pop(old.key.id, None)
            self._refresh_client(old.client_key)
        self.by_client.setdefault(summary.client_key, {})[summary.key.id] = summary
        self._refresh_client(summary.client_key)

    def remove(self, key: Key) -> None:
        old = self.by_company.get(key.tenant, {}).pop(key.id, None)
        if old is not None:
            self.by_client.get(old.client_key, {}).pop(key.id, None)
            self._refresh_client(old.client_key)

    def _refresh_client(self, key: Key) -> None:
        invoices = self.by_client.get(key)
        if not invoices:
            self.by_client.pop(key, None)
            self.clients.pop(key, None)
            return
        newest = max(invoices.values(), key=lambda s: (s.issued_at, s.seq))
        self.clients[key] = newest.client


def _observe(task: asyncio.Task[None]) -> None:
    # A failed background crawl is reported to whoever awaits the index next, and
    # retried then; with nobody waiting, it is no error of its own.
    if not task.cancelled():
        task.exception()


async def _bounded(limit: asyncio.Semaphore, call: Callable[[], Awaitable[T]]) -> T:
    # Takes a factory, not a coroutine: a crawl cancelled while calls wait for the
    # semaphore must not leave coroutines that were created but never awaited.
    async with limit:
        return await call()


class InvoiceIndex:
    """Invoice summaries and clients of every company the partner key reaches."""

    def __init__(
        self,
        api: ClubCollectAPI,
        *,
        company_ids: Sequence[str] = (),
        concurrency: int = 16,
        page_size: int = 100,
    ) -> None:
        self._api = api
        self._company_ids = tuple(company_ids)
        self._concurrency = concurrency
        self._page_size = page_size
        self._state = _State()
        self._companies: dict[str, Company] | None = None
        self._companies_ready: asyncio.Future[dict[str, Company]] | None = None
        self._task: asyncio.Task[None] | None = None
        # Writes seen while a crawl runs, replayed onto the crawl's result.
        self._pending: list[Callable[[_State], None]] | None = None

    def start(self) -> None:
        """Begin the crawl in the background (again, if the last one failed)."""
        failed = (
            self._task is not None
            and self._task.done()
            and (self._task.cancelled() or self._task.exception() is not None)
        )
        if self._task is None or failed:
            loop = asyncio.get_running_loop()
            if self._companies_ready is None or self._companies_ready.exception() is not None:
                self._companies_ready = loop.create_future()
            self._task = loop.create_task(self._build())
            self._task.add_done_callback(_observe)

    async def ready(self) -> None:
        """Wait until the index is built (starting, or retrying, the crawl if needed)."""
        self.start()
        assert self._task is not None
        await asyncio.shield(self._task)

    async def refresh(self) -> None:
        """Crawl again and replace the index."""
        if self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
        self._task = asyncio.get_running_loop().create_task(self._build())
        self._task.add_done_callback(_observe)
        await asyncio.shield(self._task)

    async def close(self) -> None:
        """Stop a crawl still running."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def companies(self) -> dict[str, Company]:
        """The companies, available as soon as the crawl has listed them."""
        if self._companies is not None:
            return self._companies
        self.start()
        assert self._companies_ready is not None
        return await asyncio.shield(self._companies_ready)

    def upsert(self, record: InvoiceRecord) -> None:
        """Reflect a created or changed invoice."""
        summary = summarize(record)
        self._apply(lambda state: state.put(summary))

    def remove(self, key: Key) -> None:
        """Reflect a deleted invoice."""
        self._apply(lambda state: state.remove(key))

    def _apply(self, op: Callable[[_State], None]) -> None:
        op(self._state)
        if self._pending is not None:
            self._pending.append(op)

    # --- reads (after ``ready()``) ------------------------------------------------

    def invoices(self, company: str) -> list[InvoiceSummary]:
        """A company's invoices in crawl order."""
        return list(self._state.by_company.get(company, {}).values())

    def clients(self, company: str) -> list[ClientRecord]:
        return [c for k, c in self._state.clients.items() if k.tenant == company]

    def client(self, key: Key) -> ClientRecord | None:
        return self._state.clients.get(key)

    def client_invoices(self, key: Key) -> list[InvoiceSummary]:
        """A client's invoices, newest first."""
        found = self._state.by_client.get(key, {}).values()
        return sorted(found, key=lambda s: (s.issued_at, s.seq), reverse=True)

    # --- crawl --------------------------------------------------------------------

    async def _build(self) -> None:
        self._pending = []
        limit = asyncio.Semaphore(self._concurrency)
        try:
            companies = await self._load_companies(limit)
            self._companies = companies
            if self._companies_ready is not None and not self._companies_ready.done():
                self._companies_ready.set_result(companies)
            state = _State()
            per_company = await asyncio.gather(
                *(self._crawl_company(c, limit) for c in companies.values())
            )
            for records in per_company:
                for record in records:
                    state.put(summarize(record))
            for op in self._pending:
                op(state)
            self._state = state
        except BaseException as exc:
            ready = self._companies_ready
            if ready is not None and not ready.done():
                if isinstance(exc, asyncio.CancelledError):
                    ready.cancel()
                else:
                    ready.set_exception(exc)
                    # Waiters, if any, see it; nobody waiting is no error of its own.
                    ready.exception()
            raise
        finally:
            self._pending = None

    async def _load_companies(self, limit: asyncio.Semaphore) -> dict[str, Company]:
        if self._company_ids:
            raws = list(
                await asyncio.gather(
                    *(_bounded(limit, partial(self._api.company, c)) for c in self._company_ids)
                )
            )
        else:
            raws = []
            page = 1
            while True:
                body = await self._api.companies_page(page, self._page_size)
                raws.extend(body["companies"])
                if page >= body["page"]["total_pages"]:
                    break
                page += 1
        return {
            r["company_id"]: Company(r["company_id"], r["name"], r.get("currency") or "EUR", r)
            for r in raws
        }

    async def _crawl_company(
        self, company: Company, limit: asyncio.Semaphore
    ) -> list[InvoiceRecord]:
        first = await self._api.imports_page(company.id, 1, self._page_size)
        pages = [first]
        pages += await asyncio.gather(
            *(
                _bounded(limit, partial(self._api.imports_page, company.id, p, self._page_size))
                for p in range(2, first["page"]["total_pages"] + 1)
            )
        )
        import_ids = [i["import_id"] for page in pages for i in page["imports"]]
        imports = await asyncio.gather(
            *(_bounded(limit, partial(self._api.import_, i)) for i in import_ids)
        )
        invoice_ids = list(dict.fromkeys(i for imp in imports for i in imp["invoice_ids"]))
        raws = await asyncio.gather(
            *(_bounded(limit, partial(self._invoice, i)) for i in invoice_ids)
        )
        return [map_invoice(raw, company.id, company.currency) for raw in raws if raw is not None]

    async def _invoice(self, invoice_id: str) -> InvoiceJSON | None:
        try:
            return await self._api.invoice(invoice_id)
        except UpstreamNotFound:
            # Deleted between listing its import and fetching it.
            return None
