"""The Tight connector: v5 invoicing over OAuth 2.0, recurring parents as subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ...domain import (
    ClientRecord,
    InvoiceItemRecord,
    InvoiceRecord,
    InvoiceStatus,
    Key,
    Source,
    SubscriptionRecord,
    SubscriptionStatus,
)
from ...errors import UpstreamNotFound
from ...http import UpstreamHTTP
from ..base import (
    ClientFilter,
    Connector,
    InvoiceFilter,
    InvoiceOrder,
    InvoiceSortField,
    SortDirection,
    Stream,
    SubscriptionFilter,
    client_sort_value,
    invoice_sort_value,
    subscription_sort_value,
)
from ..fanout import by_distinct
from ..paging import paged_stream
from . import mapping
from .auth import TightAuth, parse_errors
from .credentials import TightCredentials
from .types import TightClient, TightInvoice

R = TypeVar("R")

INVOICES = "/v5/invoicing/invoices"
CLIENTS = "/v5/invoicing/clients"
MAX_PAGE_SIZE = 500
_SORT_PARAM = {
    InvoiceSortField.ISSUED_AT: "date",
    InvoiceSortField.DUE_AT: "dueDate",
    InvoiceSortField.TOTAL: "totalAmount",
    InvoiceSortField.NUMBER: "invoiceNo",
}


class TightConnector(Connector):
    """Tight (formerly Hurdlr): one business per set of credentials."""

    source = Source.TIGHT

    def __init__(
        self, base_url: str, credentials: TightCredentials, *, page_size: int = 100
    ) -> None:
        self.credentials = credentials
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.http = UpstreamHTTP(
            "tight",
            base_url,
            auth=TightAuth(credentials),
            error_parser=parse_errors,
            exact_decimals=True,
        )
        self._tenants: tuple[str, ...] | None = None

    async def start(self) -> None:
        await self.http.start()

    async def close(self) -> None:
        await self.http.close()

    async def tenants(self) -> Sequence[str]:
        """The businesses the token reaches (fetched once)."""
        if self._tenants is None:
            body = await self.http.request("GET", "/v5/businesses")
            self._tenants = tuple(str(b["id"]) for b in body.get("data") or ())
        return self._tenants

    # --- upstream calls ---------------------------------------------------------

    async def _invoice(self, invoice_id: str) -> TightInvoice | None:
        if not invoice_id.isdigit():
            return None
        try:
            body: TightInvoice = await self.http.request("GET", f"{INVOICES}/{invoice_id}")
        except UpstreamNotFound:
            return None
        return body

    async def _client(self, client_id: str) -> TightClient | None:
        if not client_id.isdigit():
            return None
        try:
            body: TightClient = await self.http.request("GET", f"{CLIENTS}/{client_id}")
        except UpstreamNotFound:
            return None
        return body

    async def _page(
        self, path: str, params: dict[str, str | int], page: int, size: int
    ) -> tuple[list[Any], int | None]:
        """One page (``page`` counts from 0 here, from 1 upstream)."""
        body = await self.http.request(
            "GET", path, params={**params, "page": page + 1, "pageSize": size}
        )
        return list(body.get("data") or ()), body.get("totalCount")

    async def _all(self, path: str, params: dict[str, str | int]) -> list[Any]:
        """Every row of a list, in the largest pages Tight serves."""
        rows: list[Any] = []
        page = 0
        while True:
            data, total = await self._page(path, params, page, MAX_PAGE_SIZE)
            rows.extend(data)
            if len(data) < MAX_PAGE_SIZE or (total is not None and len(rows) >= total):
                return rows
            page += 1

    async def _invoices_by_id(self, keys: Sequence[Key]) -> dict[str, TightInvoice | None]:
        return await by_distinct((k.id for k in keys), self._invoice)

    # --- reads by key -----------------------------------------------------------

    async def clients(self, keys: Sequence[Key]) -> Sequence[ClientRecord | None]:
        found = await by_distinct((k.id for k in keys), self._client)
        return [
            None if (raw := found[k.id]) is None else mapping.map_client(raw, k.tenant)
            for k in keys
        ]

    async def invoices(self, keys: Sequence[Key]) -> Sequence[InvoiceRecord | None]:
        found = await self._invoices_by_id(keys)
        out: list[InvoiceRecord | None] = []
        for key in keys:
            raw = found[key.id]
            record = None if raw is None else mapping.map_invoice(raw, key.tenant)
            out.append(record if record is not None and record.key.tenant == key.tenant else None)
        return out

    async def invoice_items(
        self, invoice_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceItemRecord]]:
        records = await self.invoices(invoice_keys)
        return [() if r is None else r.items or () for r in records]

    async def invoice_item(self, keys: Sequence[Key]) -> Sequence[InvoiceItemRecord | None]:
        parents = [k.id.partition("/")[0] for k in keys]
        found = await by_distinct(parents, self._invoice)
        out: list[InvoiceItemRecord | None] = []
        for key, parent in zip(keys, parents, strict=True):
            raw = found[parent]
            record = None if raw is None else mapping.map_invoice(raw, key.tenant)
            items = record.items or () if record is not None else ()
            out.append(next((i for i in items if i.key == key), None))
        return out

    async def subscriptions(self, keys: Sequence[Key]) -> Sequence[SubscriptionRecord | None]:
        found = await self._invoices_by_id(keys)
        out: list[SubscriptionRecord | None] = []
        for key in keys:
            raw = found[key.id]
            if raw is None or not mapping.is_subscription(raw):
                out.append(None)
            else:
                record = mapping.map_subscription(raw, key.tenant)
                out.append(record if record.key.tenant == key.tenant else None)
        return out

    async def invoice_by_client_key(self, client_invoice_key: str) -> InvoiceRecord | None:
        """The invoice a client invoice key opens; the key authorizes the call (no token)."""
        try:
            raw: TightInvoice = await self.http.request(
                "POST",
                "/v5/invoicing/clientInvoiceKey",
                headers={"clientInvoiceKey": client_invoice_key},
                authenticate=False,
            )
        except UpstreamNotFound:
            return None
        tenant = self._tenants[0] if self._tenants else ""
        return mapping.map_invoice(raw, tenant)

    # --- reads by parent --------------------------------------------------------

    async def client_invoices(
        self, client_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceRecord]]:
        async def fetch(client_id: str) -> list[TightInvoice]:
            params: dict[str, str | int] = {
                "clientId": client_id, "sort": "date", "sortDirection": "DESC"
            }  # fmt: skip
            return await self._all(INVOICES, params) if client_id.isdigit() else []

        found = await by_distinct((k.id for k in client_keys), fetch)
        return [[mapping.map_invoice(r, k.tenant) for r in found[k.id]] for k in client_keys]

    async def client_subscriptions(
        self, client_keys: Sequence[Key]
    ) -> Sequence[Sequence[SubscriptionRecord]]:
        async def fetch(client_id: str) -> list[TightInvoice]:
            if not client_id.isdigit():
                return []
            params: dict[str, str | int] = {
                "clientId": client_id,
                "isRecurringParent": "true",
                "sort": "date",
                "sortDirection": "DESC",
            }
            return await self._all(INVOICES, params)

        found = await by_distinct((k.id for k in client_keys), fetch)
        return [
            [
                mapping.map_subscription(r, k.tenant)
                for r in found[k.id]
                if mapping.is_subscription(r)
            ]
            for k in client_keys
        ]

    async def subscription_invoices(
        self, subscription_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceRecord]]:
        async def fetch(parent_id: str) -> list[TightInvoice]:
            if not parent_id.isdigit():
                return []
            params: dict[str, str | int] = {
                "parentId": parent_id, "sort": "date", "sortDirection": "DESC"
            }  # fmt: skip
            children, parent = await asyncio.gather(
                self._all(INVOICES, params), self._invoice(parent_id)
            )
            if parent is None or not mapping.is_subscription(parent):
                return []
            # The parent bills the series' first period, so it is the oldest invoice.
            return [*children, parent]

        found = await by_distinct((k.id for k in subscription_keys), fetch)
        return [[mapping.map_invoice(r, k.tenant) for r in found[k.id]] for k in subscription_keys]

    # --- lists --------------------------------------------------------------------

    async def _stream_tenants(self, tenant: str | None) -> list[str]:
        known = await self.tenants()
        return [t for t in known if tenant is None or t == tenant]

    async def client_streams(self, flt: ClientFilter) -> Sequence[Stream[ClientRecord]]:
        streams: list[Stream[ClientRecord]] = []
        for tenant in await self._stream_tenants(flt.tenant):

            async def fetch_page(
                page: int, size: int, tenant: str = tenant
            ) -> tuple[list[ClientRecord], int | None]:
                params: dict[str, str | int] = {"sort": "name", "sortDirection": "ASC"}
                rows, total = await self._page(CLIENTS, params, page, size)
                return [mapping.map_client(r, tenant) for r in rows], total

            streams.append(
                paged_stream(
                    f"tight:{tenant}",
                    page_size=self.page_size,
                    fetch_page=fetch_page,
                    key=lambda r: r.key,
                    sort=client_sort_value,
                    descending=False,
                )
            )
        return streams

    async def invoice_streams(
        self, flt: InvoiceFilter, order: InvoiceOrder
    ) -> Sequence[Stream[InvoiceRecord]]:
        upstream = _upstream_statuses(flt.statuses, mapping.UPSTREAM_INVOICE_STATUS)
        if upstream == ():
            return []
        params: dict[str, str | int] = {
            "sort": _SORT_PARAM[order.field],
            "sortDirection": order.direction.value,
        }
        if upstream:
            params["status"] = ",".join(upstream)
        wanted = flt.statuses
        keep: Callable[[InvoiceRecord], bool] | None = (
            (lambda r: r.status in wanted) if wanted else None
        )

        def sort(record: InvoiceRecord) -> Any:
            return invoice_sort_value(record, order.field)

        streams: list[Stream[InvoiceRecord]] = []
        for tenant in await self._stream_tenants(flt.tenant):

            async def fetch_page(
                page: int, size: int, tenant: str = tenant
            ) -> tuple[list[InvoiceRecord], int | None]:
                rows, total = await self._page(INVOICES, params, page, size)
                return [mapping.map_invoice(r, tenant) for r in rows], total

            streams.append(
                paged_stream(
                    _stream_id(tenant, wanted),
                    page_size=self.page_size,
                    fetch_page=fetch_page,
                    key=lambda r: r.key,
                    sort=sort,
                    keep=keep,
                    descending=order.direction is SortDirection.DESC,
                )
            )
        return streams

    async def subscription_streams(
        self, flt: SubscriptionFilter
    ) -> Sequence[Stream[SubscriptionRecord]]:
        upstream = _upstream_statuses(flt.statuses, mapping.UPSTREAM_SUBSCRIPTION_STATUS)
        if upstream == ():
            return []
        params: dict[str, str | int] = {
            "isRecurringParent": "true",
            "sort": "date",
            "sortDirection": "DESC",
        }
        if upstream:
            params["status"] = ",".join(upstream)
        wanted = flt.statuses

        def keep(record: SubscriptionRecord) -> bool:
            plan = mapping.is_subscription(record.raw)
            return plan and (not wanted or record.status in wanted)

        streams: list[Stream[SubscriptionRecord]] = []
        for tenant in await self._stream_tenants(flt.tenant):

            async def fetch_page(
                page: int, size: int, tenant: str = tenant
            ) -> tuple[list[SubscriptionRecord], int | None]:
                rows, total = await self._page(INVOICES, params, page, size)
                return [mapping.map_subscription(r, tenant) for r in rows], total

            streams.append(
                paged_stream(
                    f"tight:{tenant}:subscriptions" + _status_suffix(wanted),
                    page_size=self.page_size,
                    fetch_page=fetch_page,
                    key=lambda r: r.key,
                    sort=subscription_sort_value,
                    keep=keep,
                )
            )
        return streams


def _upstream_statuses(
    wanted: frozenset[Any], table: dict[Any, tuple[str, ...]]
) -> tuple[str, ...] | None:
    """Tight statuses to ask for; None to ask for all, () when nothing can match."""
    if not wanted or any(s.value == "UNKNOWN" for s in wanted):
        return None
    return tuple(sorted({u for s in wanted for u in table.get(s, ())}))


def _status_suffix(wanted: frozenset[InvoiceStatus] | frozenset[SubscriptionStatus]) -> str:
    return ":" + "+".join(sorted(s.value for s in wanted)) if wanted else ""


def _stream_id(tenant: str, wanted: frozenset[InvoiceStatus]) -> str:
    return f"tight:{tenant}" + _status_suffix(wanted)
