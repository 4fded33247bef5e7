"""The invoice index: what ClubCollect cannot list, crawled once and kept current.

ClubCollect reaches invoices only by id (partners are told of changes by
notification), so lists, sorting, filtering and clients come from this index. It
lives in SQLite (``store``), or in PostgreSQL shared by replicas (``pgstore``, when
the path is a postgresql:// URL), and survives restarts: a company is crawled
(companies -> imports -> invoices) only when the index has never held it, or on
``rebuild``; ``upsert``/``remove`` keep it current after writes and notifications.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from ...domain import ClientRecord, InvoiceRecord, Key
from ...errors import UpstreamNotFound
from ..base import ClientFilter, InvoiceFilter, InvoiceSortField, SortDirection
from . import store
from .api import ClubCollectAPI
from .mapping import map_invoice
from .store import MEMORY, Counts, IndexBackend, IndexStore
from .types import CompanyJSON, InvoiceJSON

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Company:
    """A company the partner key reaches: the connector's tenant."""

    id: str
    name: str
    currency: str
    raw: CompanyJSON = field(repr=False, compare=False)


def _company(raw: CompanyJSON) -> Company:
    return Company(raw["company_id"], raw["name"], raw.get("currency") or "EUR", raw)


def _observe(task: asyncio.Task[None]) -> None:
    # A failed background build is reported to whoever awaits the index next, and
    # retried then; with nobody waiting, it is no error of its own.
    if not task.cancelled():
        task.exception()


async def _bounded(limit: asyncio.Semaphore, call: Callable[[], Awaitable[T]]) -> T:
    # Takes a factory, not a coroutine: a crawl cancelled while calls wait for the
    # semaphore must not leave coroutines that were created but never awaited.
    async with limit:
        return await call()


# A write to replay onto a crawl's result when it lands during the crawl.
_Op = Callable[[], None]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(path: str, upstream: str) -> IndexBackend:
    """The index's store: PostgreSQL when ``path`` is a postgresql:// URL, else SQLite."""
    if path.startswith(POSTGRES_SCHEMES):
        from .pgstore import PostgresIndexStore  # asyncpg only when PostgreSQL is used

        return PostgresIndexStore(path, upstream)
    return IndexStore(path, upstream)


class InvoiceIndex:
    """Invoices and clients of every company the partner key reaches."""

    def __init__(
        self,
        api: ClubCollectAPI,
        *,
        upstream: str,
        path: str = MEMORY,
        company_ids: Sequence[str] = (),
        concurrency: int = 16,
        page_size: int = 100,
    ) -> None:
        self._api = api
        self._company_ids = tuple(company_ids)
        self._concurrency = concurrency
        self._page_size = page_size
        self.store = open_store(path, upstream)
        self._companies: dict[str, Company] | None = None
        self._companies_ready: asyncio.Future[dict[str, Company]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: list[_Op] | None = None

    def start(self) -> None:
        """Open the index, crawling in the background what it does not hold yet
        (again, if the last attempt failed)."""
        failed = (
            self._task is not None
            and self._task.done()
            and (self._task.cancelled() or self._task.exception() is not None)
        )
        if self._task is None or failed:
            self._launch(rebuild=False)

    def _launch(self, *, rebuild: bool) -> None:
        loop = asyncio.get_running_loop()
        if self._companies_ready is None or (
            self._companies_ready.done() and self._companies_ready.exception() is not None
        ):
            self._companies_ready = loop.create_future()
        self._task = loop.create_task(self._build(rebuild))
        self._task.add_done_callback(_observe)

    async def ready(self) -> None:
        """Wait until every company is indexed (starting, or retrying, the build)."""
        self.start()
        assert self._task is not None
        await asyncio.shield(self._task)

    async def rebuild(self) -> dict[str, Counts]:
        """Discover the companies and crawl them again; the crawl replaces the index."""
        if self._task is not None and not self._task.done():
            await asyncio.gather(asyncio.shield(self._task), return_exceptions=True)
        self._launch(rebuild=True)
        assert self._task is not None
        await asyncio.shield(self._task)
        return await self.counts()

    async def close(self) -> None:
        """Stop a crawl still running and close the file."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.store.close()

    async def companies(self) -> dict[str, Company]:
        """The companies, available as soon as they are known (before any crawl ends)."""
        if self._companies is not None:
            return self._companies
        self.start()
        assert self._companies_ready is not None
        return await asyncio.shield(self._companies_ready)

    # --- writes -------------------------------------------------------------------

    def upsert(self, record: InvoiceRecord) -> None:
        """Reflect a created or changed invoice."""
        self._apply(partial(self.store.put_invoice, record))

    def remove(self, key: Key) -> None:
        """Reflect a deleted invoice."""
        self._apply(partial(self.store.delete_invoice, key))

    def remember_import(self, import_id: str, company: str) -> None:
        self._apply(partial(self.store.remember_import, import_id, company))

    def _apply(self, write: _Op) -> None:
        write()
        if self._pending is not None:
            self._pending.append(write)

    async def settled(self) -> None:
        """Wait until the writes made so far are in the store (in a shared store: seen
        by every replica; one process sees its own writes in any case)."""
        await self.store.settled()

    # --- reads (after ``ready()``) ------------------------------------------------

    async def invoice_page(
        self,
        company: str,
        flt: InvoiceFilter,
        field: InvoiceSortField,
        direction: SortDirection,
        start: int,
        count: int,
    ) -> tuple[list[tuple[str, Any]], int]:
        return await self.store.invoice_page(company, flt, field, direction, start, count)

    async def client_page(
        self, company: str, flt: ClientFilter, direction: SortDirection, start: int, count: int
    ) -> tuple[list[ClientRecord], int]:
        return await self.store.client_page(company, flt, direction, start, count)

    async def clients(self, keys: Sequence[Key]) -> list[ClientRecord | None]:
        return await self.store.clients_by_key(keys)

    async def client_invoices(self, keys: Sequence[Key]) -> list[list[Key]]:
        """Each client's invoice keys, newest first."""
        return await self.store.client_invoice_keys(keys)

    async def company_of(self, invoice_id: str | None, import_id: str | None) -> str | None:
        return await self.store.company_of(invoice_id, import_id)

    async def stored(self, invoice_id: str) -> dict[str, InvoiceJSON]:
        """The raw JSON of an invoice as last indexed, by company (empty when unknown)."""
        rows = await self.store.stored_invoices(invoice_id)
        return dict(rows)

    async def keys_of_import(self, import_id: str) -> list[Key]:
        return await self.store.invoice_keys_of_import(import_id)

    async def keys_by_id(self, invoice_ids: Sequence[str]) -> list[Key]:
        return await self.store.invoice_keys_by_id(invoice_ids)

    async def counts(self) -> dict[str, Counts]:
        return await self.store.counts()

    # --- building -----------------------------------------------------------------

    async def _build(self, rebuild: bool) -> None:
        self._pending = []
        limit = asyncio.Semaphore(self._concurrency)
        try:
            stored = await self.store.load_companies()
            raws = await self._company_list(stored, limit, rebuild)
            await self.store.save_companies(raws, rebuild)
            companies = {r["company_id"]: _company(r) for r in raws}
            self._companies = companies
            if self._companies_ready is not None and not self._companies_ready.done():
                self._companies_ready.set_result(companies)
            todo = self._todo(companies, stored, rebuild)
            if todo:
                # Stores shared by replicas crawl one at a time: a replica that waited
                # crawls only what the one before it left undone.
                async with self.store.crawl_lock():
                    if not rebuild:
                        todo = self._todo(companies, await self.store.load_companies(), False)
                    await asyncio.gather(*(self._crawl_company(c, limit) for c in todo))
            for write in self._pending:
                write()
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

    @staticmethod
    def _todo(
        companies: dict[str, Company], stored: dict[str, store.StoredCompany], rebuild: bool
    ) -> list[Company]:
        """The companies to crawl: every one on ``rebuild``, else those never crawled."""
        return [
            c
            for c in companies.values()
            if rebuild or c.id not in stored or not stored[c.id].crawled
        ]

    async def _company_list(
        self, stored: dict[str, store.StoredCompany], limit: asyncio.Semaphore, rebuild: bool
    ) -> list[CompanyJSON]:
        """The companies: remembered ones, unless rebuilding or some are missing."""
        if self._company_ids:
            missing = [c for c in self._company_ids if rebuild or c not in stored]
            fetched = await asyncio.gather(
                *(_bounded(limit, partial(self._api.company, c)) for c in missing)
            )
            found = {r["company_id"]: r for r in fetched}
            return [found[c] if c in found else stored[c].raw for c in self._company_ids]
        if stored and not rebuild:
            return [s.raw for s in stored.values()]
        raws: list[CompanyJSON] = []
        page = 1
        while True:
            body = await self._api.companies_page(page, self._page_size)
            raws.extend(body["companies"])
            if page >= body["page"]["total_pages"]:
                return raws
            page += 1

    async def _crawl_company(self, company: Company, limit: asyncio.Semaphore) -> None:
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
        records = [
            map_invoice(raw, company.id, company.currency) for raw in raws if raw is not None
        ]
        await self.store.replace_company(company.id, records, import_ids)

    async def _invoice(self, invoice_id: str) -> InvoiceJSON | None:
        try:
            return await self._api.invoice(invoice_id)
        except UpstreamNotFound:
            # Deleted between listing its import and fetching it.
            return None
