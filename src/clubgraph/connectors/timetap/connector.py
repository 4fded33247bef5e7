"""The TimeTap connector: businesses reached by API key, invoices embedding their lines."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

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


class TimeTapConnector(Connector):
    """Reads TimeTap businesses, one API key each."""

    source = Source.TIMETAP

    def __init__(
        self,
        base_url: str,
        credentials: TimeTapCredentials,
        *,
        page_size: int = streams.MAX_PAGE_SIZE,
    ) -> None:
        # One pooled client for every business; each call carries its business's key.
        self._auths = key_auths(credentials)
        self._http = UpstreamHTTP(
            Source.TIMETAP.value, base_url, error_parser=parse_errors, exact_decimals=True
        )
        self._key_count = len(credentials.keys)
        # The largest page asked for: TimeTap's own maximum, so a page of the graph
        # costs one request per stream.
        self._page_size = page_size
        self._businesses: dict[str, int] | None = None
        self._businesses_lock = asyncio.Lock()

    async def start(self) -> None:
        await self._http.start()

    async def close(self) -> None:
        await self._http.close()

    # --- plumbing ----------------------------------------------------------------

    async def _get(self, key_index: int, path: str, params: Params | None = None) -> Any:
        return await self._http.request("GET", path, params=params, auth=self._auths[key_index])

    async def _business_keys(self) -> dict[str, int]:
        """businessId -> index of the API key that reaches it (asked once)."""
        if self._businesses is None:
            async with self._businesses_lock:
                if self._businesses is None:
                    bodies = await asyncio.gather(
                        *(self._get(i, "/business") for i in range(self._key_count))
                    )
                    found: dict[str, int] = {}
                    for index, body in enumerate(bodies):
                        if not isinstance(body, dict) or "businessId" not in body:
                            raise UpstreamBadResponse("timetap", "business without businessId")
                        found.setdefault(str(body["businessId"]), index)
                    self._businesses = found
        return self._businesses

    async def _key_of(self, tenant: str) -> int | None:
        return (await self._business_keys()).get(tenant)

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
        async def get(path: str, params: Params) -> Any:
            return await self._get(index, path, params)

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
