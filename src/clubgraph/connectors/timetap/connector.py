"""The TimeTap connector: businesses reached by API key, invoices embedding their lines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

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
    InvoiceItemRecord,
    InvoiceRecord,
    Key,
    Source,
    SubscriptionRecord,
)
from ...errors import UpstreamBadResponse, UpstreamNotFound
from ...http import Params, UpstreamHTTP
from ...resilience import CallPolicy
from ..base import (
    ClientFilter,
    Connector,
    InvoiceFilter,
    InvoiceOrder,
    SortDirection,
    Stream,
    SubscriptionFilter,
)
from ..fanout import per_distinct
from . import mapping, streams
from .auth import key_auths, parse_errors
from .credentials import TimeTapCredentials
from .writes import Business, TimeTapWrites


class TimeTapConnector(Connector):
    """Reads and writes TimeTap businesses, one API key each."""

    source = Source.TIMETAP
    capabilities = frozenset(
        {
            Capability.CREATE_INVOICE,
            Capability.UPDATE_INVOICE,
            Capability.VOID_INVOICE,
            Capability.DELETE_INVOICE,
            Capability.ADD_INVOICE_ITEMS,
            Capability.UPDATE_INVOICE_ITEM,
            Capability.REMOVE_INVOICE_ITEM,
        }
    )

    def __init__(
        self,
        base_url: str,
        credentials: TimeTapCredentials,
        *,
        page_size: int = streams.MAX_PAGE_SIZE,
        policy: CallPolicy | None = None,
    ) -> None:
        # One pooled client for every business; each call carries its business's key.
        self._auths = key_auths(credentials)
        self._http = UpstreamHTTP(
            Source.TIMETAP.value,
            base_url,
            error_parser=parse_errors,
            exact_decimals=True,
            policy=policy,
        )
        self._key_count = len(credentials.keys)
        # The largest page asked for: TimeTap's own maximum, so a page of the graph
        # costs one request per stream.
        self._page_size = page_size
        self._businesses: dict[str, int] | None = None
        self._currencies: dict[str, str] = {}
        self._businesses_lock = asyncio.Lock()
        self._writes = TimeTapWrites(self._http, self._auths, self._business)

    async def start(self) -> None:
        await self._http.start()

    async def close(self) -> None:
        await self._http.close()

    # --- plumbing ----------------------------------------------------------------

    async def _get(
        self,
        key_index: int,
        path: str,
        params: Params | None = None,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        return await self._http.request(
            "GET", path, params=params, auth=self._auths[key_index], decode=decode
        )

    async def _business_keys(self) -> dict[str, int]:
        """businessId -> index of the API key that reaches it (asked once; through the
        shared cache, for its TTL, when there is one)."""
        if self.reference_cache is not None:
            found, currencies = await self.reference_cache.get("businesses", self._read_businesses)
            self._currencies = currencies
            return found
        if self._businesses is None:
            async with self._businesses_lock:
                if self._businesses is None:
                    found, self._currencies = await self._read_businesses()
                    self._businesses = found
        return self._businesses

    async def _read_businesses(self) -> tuple[dict[str, int], dict[str, str]]:
        """Each business's key index, and its currency where it says."""
        bodies = await asyncio.gather(*(self._get(i, "/business") for i in range(self._key_count)))
        found: dict[str, int] = {}
        currencies: dict[str, str] = {}
        for index, body in enumerate(bodies):
            if not isinstance(body, dict) or "businessId" not in body:
                raise UpstreamBadResponse("timetap", "business without businessId")
            business = str(body["businessId"])
            found.setdefault(business, index)
            currency = body.get("currency")
            if isinstance(currency, str) and currency:
                currencies.setdefault(business, currency)
        return found, currencies

    async def _key_of(self, tenant: str) -> int | None:
        return (await self._business_keys()).get(tenant)

    async def _business(self, tenant: str) -> Business | None:
        """A business to write to (None when no configured key reaches it)."""
        index = await self._key_of(tenant)
        if index is None or not tenant.isdigit():
            return None
        currency = self._currencies.get(tenant, mapping.DEFAULT_CURRENCY)
        return Business(int(tenant), index, currency)

    async def _get_or_none(self, tenant: str, path: str) -> Any:
        index = await self._key_of(tenant)
        if index is None:
            return None
        try:
            return await self._get(index, path)
        except UpstreamNotFound:
            return None

    async def _invoice(self, key: tuple[str, str]) -> InvoiceRecord | None:
        tenant, invoice_id = key
        body = await self._get_or_none(tenant, f"/invoices/{invoice_id}")
        return mapping.map_invoice(body) if body is not None else None

    async def _invoices_by_id(self, keys: Sequence[tuple[str, str]]) -> list[InvoiceRecord | None]:
        return await per_distinct(keys, self._invoice)

    # --- contract ----------------------------------------------------------------

    async def tenants(self) -> Sequence[str]:
        return list(await self._business_keys())

    async def clients(self, keys: Sequence[Key]) -> Sequence[ClientRecord | None]:
        async def load(key: tuple[str, str]) -> ClientRecord | None:
            body = await self._get_or_none(key[0], f"/clients/{key[1]}")
            return mapping.map_client(body, key[0]) if body is not None else None

        return await per_distinct([(k.tenant, k.id) for k in keys], load)

    async def invoices(self, keys: Sequence[Key]) -> Sequence[InvoiceRecord | None]:
        return await self._invoices_by_id([(k.tenant, k.id) for k in keys])

    async def invoice_items(
        self, invoice_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceItemRecord]]:
        invoices = await self._invoices_by_id([(k.tenant, k.id) for k in invoice_keys])
        return [list(inv.items or ()) if inv is not None else [] for inv in invoices]

    async def invoice_item(self, keys: Sequence[Key]) -> Sequence[InvoiceItemRecord | None]:
        # TimeTap has no read of one line: the line comes from its invoice, fetched
        # once however many of its lines are asked for.
        parents = [(k.tenant, k.id.partition("/")[0]) for k in keys]
        invoices = await self._invoices_by_id(parents)
        out: list[InvoiceItemRecord | None] = []
        for key, invoice in zip(keys, invoices, strict=True):
            items = invoice.items or () if invoice is not None else ()
            out.append(next((i for i in items if i.key == key), None))
        return out

    async def subscriptions(self, keys: Sequence[Key]) -> Sequence[SubscriptionRecord | None]:
        return [None] * len(keys)

    async def client_invoices(
        self, client_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceRecord]]:
        async def load(key: tuple[str, str]) -> list[InvoiceRecord]:
            body = await self._get_or_none(key[0], f"/invoices/client/{key[1]}")
            records = [mapping.map_invoice(raw) for raw in body or ()]
            records.sort(key=lambda r: (r.issued_at, int(r.key.id)), reverse=True)
            return records

        return await per_distinct([(k.tenant, k.id) for k in client_keys], load)

    async def client_subscriptions(
        self, client_keys: Sequence[Key]
    ) -> Sequence[Sequence[SubscriptionRecord]]:
        return [[] for _ in client_keys]

    async def subscription_invoices(
        self, subscription_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceRecord]]:
        return [[] for _ in subscription_keys]

    def embedded_client(self, invoice: InvoiceRecord) -> ClientRecord | None:
        """The client an invoice response embedded (so a client loader can be primed)."""
        return mapping.embedded_client(invoice)

    # --- streams -------------------------------------------------------------------

    async def _tenant_keys(self, tenant: str | None) -> list[tuple[str, int]]:
        found = await self._business_keys()
        return [(b, i) for b, i in found.items() if tenant is None or b == tenant]

    def _getter(self, index: int) -> streams.Get:
        async def get(
            path: str, params: Params, decode: Callable[[bytes], Any] | None = None
        ) -> Any:
            return await self._get(index, path, params, decode)

        return get

    async def client_streams(
        self, flt: ClientFilter, direction: SortDirection = SortDirection.ASC
    ) -> Sequence[Stream[ClientRecord]]:
        return [
            streams.client_stream(
                f"timetap:{business}:clients",
                self._getter(index),
                business,
                flt,
                direction,
                self._page_size,
            )
            for business, index in await self._tenant_keys(flt.tenant)
        ]

    async def invoice_streams(
        self, flt: InvoiceFilter, order: InvoiceOrder
    ) -> Sequence[Stream[InvoiceRecord]]:
        return [
            streams.invoice_stream(
                f"timetap:{business}:{status}",
                self._getter(index),
                status,
                flt,
                order,
                self._page_size,
            )
            for business, index in await self._tenant_keys(flt.tenant)
            for status in streams.invoice_endpoints(flt)
        ]

    async def subscription_streams(
        self, flt: SubscriptionFilter, direction: SortDirection = SortDirection.DESC
    ) -> Sequence[Stream[SubscriptionRecord]]:
        return []

    # --- writes ----------------------------------------------------------------------

    async def create_invoice(self, cmd: CreateInvoice) -> WriteResult:
        return await self._writes.create_invoice(cmd)

    async def update_invoice(self, cmd: UpdateInvoice) -> WriteResult:
        return await self._writes.update_invoice(cmd)

    async def void_invoice(self, key: Key, reason: str | None) -> WriteResult:
        return await self._writes.void_invoice(key, reason)

    async def delete_invoice(self, key: Key) -> WriteResult:
        return await self._writes.delete_invoice(key)

    async def add_invoice_items(self, key: Key, lines: Sequence[LineInput]) -> WriteResult:
        return await self._writes.add_invoice_items(key, lines)

    async def update_invoice_item(self, key: Key, change: LineChange) -> WriteResult:
        return await self._writes.update_invoice_item(key, change)

    async def remove_invoice_item(self, key: Key) -> WriteResult:
        return await self._writes.remove_invoice_item(key)
