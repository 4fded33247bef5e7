"""The Tight connector: v5 invoicing over OAuth 2.0, recurring parents as subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ...commands import Capability, CreateInvoice, UpdateInvoice, WriteResult
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
from ...resilience import CallPolicy
from ..base import (
    ClientFilter,
    Connector,
    InvoiceFilter,
    InvoiceOrder,
    SortDirection,
    Stream,
    SubscriptionFilter,
    client_sort_value,
    subscription_sort_value,
)
from ..fanout import by_distinct
from ..paging import PageFetcher, paged_stream
from ..rows import MEMO, ListBody, Mapper, RowSpec, map_row, read_row
from . import mapping, rules, writes
from .auth import TightAuth, parse_errors
from .credentials import TightCredentials
from .queries import ListQuery, client_query, invoice_query, subscription_query
from .types import TightClient, TightInvoice

R = TypeVar("R")
Rec = TypeVar("Rec", ClientRecord, InvoiceRecord, SubscriptionRecord)

INVOICES = "/v5/invoicing/invoices"
CLIENTS = "/v5/invoicing/clients"
# inferred: the largest ``pageSize`` Tight serves.
MAX_PAGE_SIZE = 500
# Reading a list that fits in one page beats one request per client from this many on.
_BULK_KEYS = 3
# An invoice list's rows are decoded when used; first the fields of their key and order.
_INVOICE_ROWS = ListBody(
    RowSpec(
        "id",
        "businessId",
        "date",
        "dueDate",
        "totalAmountCents",
        "totalAmount",
        "currency",
        "invoiceNo",
        "invoicePrefix",
    ),
    "data",
    MEMO,
)


class TightConnector(Connector):
    """Tight (formerly Hurdlr): one business per set of credentials.

    ``page_size`` caps the pages a stream asks for; Tight's largest by default, so a
    stream fetch of up to that many rows costs one request.
    """

    source = Source.TIGHT
    capabilities = frozenset(
        {
            Capability.CREATE_INVOICE,
            Capability.UPDATE_INVOICE,
            Capability.SEND_INVOICE,
            Capability.VOID_INVOICE,
        }
    )

    def __init__(
        self,
        base_url: str,
        credentials: TightCredentials,
        *,
        page_size: int = MAX_PAGE_SIZE,
        policy: CallPolicy | None = None,
    ) -> None:
        self.credentials = credentials
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.http = UpstreamHTTP(
            "tight",
            base_url,
            auth=TightAuth(credentials),
            error_parser=parse_errors,
            exact_decimals=True,
            policy=policy,
        )
        self._tenants: tuple[str, ...] | None = None

    async def start(self) -> None:
        await self.http.start()

    async def close(self) -> None:
        await self.http.close()

    async def tenants(self) -> Sequence[str]:
        """The businesses the token reaches (fetched once; through the shared cache, for
        its TTL, when there is one)."""
        if self.reference_cache is not None:
            return await self.reference_cache.get("businesses", self._read_tenants)
        if self._tenants is None:
            self._tenants = await self._read_tenants()
        return self._tenants

    async def _read_tenants(self) -> tuple[str, ...]:
        body = await self.http.request("GET", "/v5/businesses")
        return tuple(str(b["id"]) for b in body.get("data") or ())

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
        self,
        path: str,
        params: dict[str, str | int],
        page: int,
        size: int,
        decode: ListBody | None = None,
    ) -> tuple[list[Any], int | None]:
        """One page (``page`` counts from 0 here, from 1 upstream); ``decode`` gives its
        rows as ``LazyRow``s."""
        body = await self.http.request(
            "GET", path, params={**params, "page": page + 1, "pageSize": size}, decode=decode
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

    async def _one_page(
        self, path: str, params: dict[str, str | int], decode: ListBody | None = None
    ) -> list[Any] | None:
        """The whole list when it fits in one of Tight's largest pages, else None."""
        data, total = await self._page(path, params, 0, MAX_PAGE_SIZE, decode)
        complete = len(data) < MAX_PAGE_SIZE and (total is None or total <= len(data))
        return data if complete else None

    async def _invoices_by_id(self, keys: Sequence[Key]) -> dict[str, TightInvoice | None]:
        return await by_distinct((k.id for k in keys), self._invoice)

    # --- reads by key -----------------------------------------------------------

    async def clients(self, keys: Sequence[Key]) -> Sequence[ClientRecord | None]:
        ids = [k.id for k in dict.fromkeys(keys) if k.id.isdigit()]
        listed: dict[str, TightClient] = {}
        if len(ids) >= _BULK_KEYS:
            # Many clients at once: the client list, when it fits in one page, is one request.
            rows = await self._one_page(CLIENTS, {}, _CLIENT_ROWS)
            wanted = set(ids)
            for row in rows or ():
                if (client_id := read_row(_ID_TEXT, row)) in wanted:
                    listed[client_id] = row
        rest = [k.id for k in keys if k.id not in listed]
        found: dict[str, TightClient | None] = {**listed}
        found.update(await by_distinct(rest, self._client))
        tenants = {k.tenant for k in keys}
        mappers = {tenant: Mapper(mapping.map_client, tenant) for tenant in tenants}
        return [
            None if (raw := found[k.id]) is None else map_row(mappers[k.tenant], raw) for k in keys
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

        ids = {k.id for k in client_keys if k.id.isdigit()}
        found: dict[str, list[TightInvoice]] = {}
        if len(ids) >= _BULK_KEYS:
            # Many clients at once: every recurring plan, when they fit in one page.
            params: dict[str, str | int] = {
                "isRecurringParent": "true",
                "sort": "date",
                "sortDirection": "DESC",
            }
            rows = await self._one_page(INVOICES, params, _PLAN_ROWS)
            if rows is not None:
                found = {i: [] for i in ids}
                for row in rows:
                    if (owner := read_row(_CLIENT_ID_TEXT, row)) in found:
                        found[owner].append(row)
        rest = [k.id for k in client_keys if k.id not in found]
        found.update(await by_distinct(rest, fetch))
        tenants = {k.tenant for k in client_keys}
        to_record = {t: Mapper(mapping.map_subscription, t) for t in tenants}
        return [
            [map_row(to_record[k.tenant], r) for r in found[k.id] if read_row(_IS_PLAN, r)]
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

    # --- writes: drafts are created and changed, then sent; any unpaid invoice cancelled --

    async def create_invoice(self, cmd: CreateInvoice) -> WriteResult:
        """A draft with its lines (one call); with ``send``, finalized and sent (a second)."""
        rules.raise_if(rules.check_create(cmd))
        rules.raise_if(rules.check_client(cmd, await self.tenants()))
        assert cmd.client is not None
        raw = await writes.create(self.http, cmd)
        return WriteResult(invoice=mapping.map_invoice(raw, cmd.client.tenant))

    async def find_created_invoice(self, cmd: CreateInvoice, marker: str) -> WriteResult | None:
        """The invoice of ``cmd``'s client that carries ``marker`` as its
        ``apiInvoiceId`` (sent, when ``cmd`` sends it and it stayed a draft)."""
        if cmd.client is None or not cmd.client.id.isdigit():
            return None
        params: dict[str, str | int] = {"clientId": cmd.client.id, "sort": "date"}
        found = [r for r in await self._all(INVOICES, params) if r.get("apiInvoiceId") == marker]
        if not found:
            return None
        raw = found[0]
        if cmd.send and raw.get("status") == "DRAFT":
            raw = await writes.call(self.http, "POST", writes.SEND, {"id": raw["id"]})
        return WriteResult(invoice=mapping.map_invoice(raw, cmd.client.tenant))

    async def update_invoice(self, cmd: UpdateInvoice) -> WriteResult:
        """Change a draft's due date, note, number or email (``INVALID_STATE`` once sent)."""
        rules.raise_if(rules.check_update(cmd))
        invoice_id = rules.target_id(cmd.key, await self.tenants())
        body = writes.update_body(invoice_id, cmd)
        raw = await writes.call(self.http, "PUT", writes.DRAFT, body)
        return WriteResult(invoice=mapping.map_invoice(raw, cmd.key.tenant))

    async def send_invoice(self, key: Key) -> WriteResult:
        """Finalize and send a draft (``INVALID_STATE`` if it is not one)."""
        invoice_id = rules.target_id(key, await self.tenants())
        raw = await writes.call(self.http, "POST", writes.SEND, {"id": invoice_id})
        return WriteResult(invoice=mapping.map_invoice(raw, key.tenant))

    async def void_invoice(self, key: Key, reason: str | None) -> WriteResult:
        """Cancel an unpaid invoice; Tight keeps no reason, so ``reason`` is not sent."""
        invoice_id = rules.target_id(key, await self.tenants())
        raw = await writes.call(self.http, "POST", writes.CANCEL, {"id": invoice_id})
        return WriteResult(invoice=mapping.map_invoice(raw, key.tenant))

    # --- lists --------------------------------------------------------------------

    async def _streams(
        self,
        path: str,
        tenant: str | None,
        name: str,
        query: ListQuery[Rec],
        read: Callable[[Any, str], Rec],
        sort: Callable[[Rec], Any],
        direction: SortDirection,
    ) -> list[Stream[Rec]]:
        """One stream per reachable business over a list; ``name`` tells lists apart."""
        streams: list[Stream[Rec]] = []
        for business in await self.tenants():
            if tenant is not None and business != tenant:
                continue
            streams.append(
                paged_stream(
                    f"tight:{business}:{name}" if name else f"tight:{business}",
                    page_size=self.page_size,
                    fetch_page=self._page_reader(path, query.params, read, business),
                    key=_key,
                    sort=sort,
                    tiebreak=_tiebreak,
                    keep=query.keep,
                    descending=direction is SortDirection.DESC,
                )
            )
        return streams

    def _page_reader(
        self,
        path: str,
        params: dict[str, str | int],
        read: Callable[[Any, str], R],
        business: str,
        decode: ListBody | None = None,
    ) -> PageFetcher[R]:
        """Pages of a list, each row read as a record of ``business``."""

        async def fetch_page(page: int, size: int) -> tuple[list[R], int | None]:
            rows, total = await self._page(path, params, page, size, decode)
            return [read(r, business) for r in rows], total

        return fetch_page

    async def client_streams(
        self, flt: ClientFilter, direction: SortDirection = SortDirection.ASC
    ) -> Sequence[Stream[ClientRecord]]:
        query = client_query(flt, direction)
        return await self._streams(
            CLIENTS, flt.tenant, "", query, mapping.map_client, client_sort_value, direction
        )

    async def invoice_streams(
        self, flt: InvoiceFilter, order: InvoiceOrder
    ) -> Sequence[Stream[InvoiceRecord]]:
        query = invoice_query(flt, order)
        if query is None:
            return []

        name = _status_name(flt.statuses)
        # Rows are mapped when used: a page of a list merged over sources shows some of
        # the rows each stream read, and the key and sort value come from the raw JSON.
        streams: list[Stream[InvoiceRecord]] = []
        for business in await self.tenants():
            if flt.tenant is not None and business != flt.tenant:
                continue
            streams.append(
                paged_stream(
                    f"tight:{business}:{name}" if name else f"tight:{business}",
                    page_size=self.page_size,
                    fetch_page=self._page_reader(
                        INVOICES, query.params, _raw, business, _INVOICE_ROWS
                    ),
                    key=Mapper(mapping.raw_invoice_key, business),
                    sort=Mapper(mapping.invoice_sort_raw, order.field),
                    tiebreak=_RAW_TIEBREAK,
                    keep=query.keep,
                    descending=order.direction is SortDirection.DESC,
                    mapper=Mapper(mapping.map_invoice, business),
                )
            )
        return streams

    async def subscription_streams(
        self, flt: SubscriptionFilter, direction: SortDirection = SortDirection.DESC
    ) -> Sequence[Stream[SubscriptionRecord]]:
        query = subscription_query(flt, direction)
        if query is None:
            return []
        name = "subscriptions" + (":" if flt.statuses else "") + _status_name(flt.statuses)
        return await self._streams(
            INVOICES,
            flt.tenant,
            name,
            query,
            mapping.map_subscription,
            subscription_sort_value,
            direction,
        )


def _raw(raw: Any, business: str) -> Any:
    return raw


def _raw_tiebreak(raw: Any) -> int:
    return int(raw["id"])


_RAW_TIEBREAK = Mapper(_raw_tiebreak)


def _id_text(raw: Any) -> str:
    return str(raw["id"])


def _client_id_text(raw: Any) -> str:
    return str(raw.get("clientId"))


# The client list and the recurring plans, read whole to find many clients' rows.
_CLIENT_ROWS = ListBody(RowSpec("id"), "data", MEMO, merged=False)
_PLAN_ROWS = ListBody(
    RowSpec("id", "clientId", "isRecurringParent", "frequency"), "data", MEMO, merged=False
)
_ID_TEXT = Mapper(_id_text)
_CLIENT_ID_TEXT = Mapper(_client_id_text)
_IS_PLAN = Mapper(mapping.is_subscription)


def _key(record: ClientRecord | InvoiceRecord | SubscriptionRecord) -> Key:
    return record.key


def _tiebreak(record: ClientRecord | InvoiceRecord | SubscriptionRecord) -> int:
    """Tight's integer id, by which its lists order rows with equal sort values."""
    return int(record.key.id)


def _status_name(wanted: frozenset[InvoiceStatus] | frozenset[SubscriptionStatus]) -> str:
    return "+".join(sorted(s.value for s in wanted))
