"""TimeTap's lists as streams: invoices per status endpoint, clients per business.

Every stream is ordered by ``(sort value, id)``, the id in the same direction as the
value, as TimeTap breaks ties. Filters go to TimeTap where it can apply them; what it
cannot apply exactly is applied here with the shared predicates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ...domain import ClientRecord, InvoiceRecord, InvoiceStatus
from ...http import Params
from ..base import (
    Chunk,
    ClientFilter,
    InvoiceFilter,
    InvoiceOrder,
    InvoiceSortField,
    Row,
    SortDirection,
    Stream,
    client_matches,
    client_sort_value,
    invoice_matches,
    invoice_sort_parts,
    invoice_sort_value,
    normalize_email,
)
from ..paging import paged_stream
from ..rows import MEMO, ListBody, Mapper, RowSpec
from . import mapping

# One business's GET: (path, query[, decode]) -> decoded body.
Get = Callable[..., Awaitable[Any]]

# The largest page TimeTap serves (its web app asks for 500 rows).
MAX_PAGE_SIZE = 500

# What each listable status endpoint can hold, in unified statuses.
ENDPOINT_STATUSES: dict[str, frozenset[InvoiceStatus]] = {
    "OPEN": frozenset(
        {
            InvoiceStatus.OPEN,
            InvoiceStatus.PARTIALLY_PAID,
            InvoiceStatus.PAYMENT_FAILED,
            InvoiceStatus.UNKNOWN,
        }
    ),
    "CLOSED": frozenset({InvoiceStatus.PAID}),
    "VOID": frozenset({InvoiceStatus.VOID}),
}
# TimeTap has no total to order by: that order is made here (see _sorted_locally).
_ORDER_FIELDS = {
    InvoiceSortField.ISSUED_AT: "invoiceDate",
    InvoiceSortField.DUE_AT: "invoiceDueDate",
    InvoiceSortField.NUMBER: "invoiceNumber",
}
# TimeTap may read its YYYY-MM-DD dates in the business's time zone: a day more on
# each side covers every offset, and the exact bounds are checked here.
_MARGIN = timedelta(days=1)
# A status list's rows, decoded when used: the fields of their key and order first.
_INVOICE_ROWS = ListBody(
    RowSpec("invoiceId", "businessId", "invoiceDate", "invoiceDueDate", "invoiceNumber"),
    memo=MEMO,
)
_TICK = timedelta(microseconds=1)


def _mode(direction: SortDirection) -> str:
    return "desc" if direction is SortDirection.DESC else "asc"


def _id(record: InvoiceRecord | ClientRecord) -> int:
    return int(record.key.id)


def _day(instant: datetime, shift: timedelta) -> str | None:
    """The UTC day of ``instant + shift`` as YYYY-MM-DD (None past the calendar's ends)."""
    try:
        return (instant.astimezone(UTC) + shift).date().isoformat()
    except OverflowError:
        return None


def invoice_endpoints(flt: InvoiceFilter) -> list[str]:
    """The status endpoints that can hold an invoice the filter keeps."""
    return [s for s, held in ENDPOINT_STATUSES.items() if not flt.statuses or held & flt.statuses]


def invoice_pushdown(flt: InvoiceFilter, status: str) -> tuple[dict[str, str | int], bool]:
    """The query a status endpoint filters with, and whether rows need checking here."""
    # Checked here: a status narrower than the endpoint, issue dates TimeTap knows only
    # to the day, due dates and balances it cannot filter on.
    query: dict[str, str | int] = {}
    if flt.issued_from is not None and (start := _day(flt.issued_from, -_MARGIN)):
        query["invoiceStartDate"] = start
    # The end date is included, the instant ``issued_until`` is not.
    if flt.issued_until is not None and (end := _day(flt.issued_until, _MARGIN - _TICK)):
        query["invoiceEndDate"] = end
    local = (
        (bool(flt.statuses) and not ENDPOINT_STATUSES[status] <= flt.statuses)
        or flt.issued_from is not None
        or flt.issued_until is not None
        or flt.due_from is not None
        or flt.due_until is not None
        or flt.with_balance_due
    )
    return query, local


def invoice_stream(
    stream_id: str,
    get: Get,
    status: str,
    flt: InvoiceFilter,
    order: InvoiceOrder,
    page_size: int = MAX_PAGE_SIZE,
) -> Stream[InvoiceRecord]:
    """One status endpoint of one business, in ``order``, filtered by ``flt``."""
    query, local = invoice_pushdown(flt, status)
    keep: Callable[[InvoiceRecord], bool] | None = None
    if local:

        def keep(record: InvoiceRecord) -> bool:
            return invoice_matches(record, flt)

    def sort(record: InvoiceRecord) -> Any:
        return invoice_sort_value(record, order.field)

    path = f"/invoices/status/{status}"
    descending = order.direction is SortDirection.DESC
    field = _ORDER_FIELDS.get(order.field)
    if field is None:
        return _sorted_locally(stream_id, get, path, query, sort, keep, descending)

    async def fetch_page(page: int, size: int) -> tuple[Sequence[Any], int | None]:
        params = {
            **query,
            "pageNumber": page + 1,
            "pageSize": size,
            "order_field": field,
            "order_mode": _mode(order.direction),
        }
        body = await get(path, params, _INVOICE_ROWS)
        return list(body), None

    # Rows are mapped when used: a merged page shows a few of the rows each list reads.
    return paged_stream(
        stream_id,
        page_size=page_size,
        fetch_page=fetch_page,
        key=_RAW_KEY,
        sort=Mapper(_raw_sort, order.field),
        tiebreak=_RAW_TIEBREAK,
        keep=keep,
        descending=descending,
        mapper=_MAP_INVOICE,
    )


def _raw_sort(raw: Any, field: InvoiceSortField) -> Any:
    # The same values map_invoice gives (TOTAL, which needs the whole mapping, is
    # sorted locally: see _sorted_locally).
    return invoice_sort_parts(
        field,
        issued_at=mapping.raw_issued_at(raw),
        due_at=mapping.raw_due_at(raw),
        total=None,
        number=mapping.raw_number(raw),
    )


def _raw_invoice_id(raw: Any) -> int:
    return int(raw["invoiceId"])


# What a row read again reuses (``rows.Mapper``).
_RAW_KEY = Mapper(mapping.raw_invoice_key)
_RAW_TIEBREAK = Mapper(_raw_invoice_id)
_MAP_INVOICE = Mapper(mapping.map_invoice)


def _sorted_locally(
    stream_id: str,
    get: Get,
    path: str,
    query: Params,
    sort: Callable[[InvoiceRecord], Any],
    keep: Callable[[InvoiceRecord], bool] | None,
    descending: bool,
) -> Stream[InvoiceRecord]:
    """A stream in an order TimeTap cannot sort by: the whole list, read once, sorted here."""
    rows: list[Row[InvoiceRecord]] | None = None
    lock = asyncio.Lock()

    async def load() -> list[Row[InvoiceRecord]]:
        records: list[InvoiceRecord] = []
        page = 1
        while True:
            params = {
                **query,
                "pageNumber": page,
                "pageSize": MAX_PAGE_SIZE,
                "order_field": "invoiceId",
                "order_mode": "asc",
            }
            body = await get(path, params)
            records.extend(mapping.map_invoice(raw) for raw in body)
            if len(body) < MAX_PAGE_SIZE:
                break
            page += 1
        kept = [r for r in records if keep is None or keep(r)]
        kept.sort(key=lambda r: (sort(r), _id(r)), reverse=descending)
        return [Row(i, r.key, sort(r), r, _id(r)) for i, r in enumerate(kept)]

    async def fetch(start: int, count: int) -> Chunk[InvoiceRecord]:
        nonlocal rows
        async with lock:
            if rows is None:
                rows = await load()
        return Chunk(rows[start:], True, len(rows))

    return Stream(stream_id, fetch, descending)


def client_pushdown(flt: ClientFilter) -> tuple[dict[str, str | int], bool]:
    """The client list's search query, and whether rows need checking here."""
    # Both parameters are inferred (TimeTap documents that the list takes filters, not
    # which), so the predicate is applied here too: should TimeTap ignore them or match
    # more loosely, the result is still exact.
    query: dict[str, str | int] = {}
    needle = flt.search.strip() if flt.search else ""
    if needle:
        query["searchString"] = needle
    email = normalize_email(flt.email)
    if email is not None:
        query["emailAddress"] = email
    # A blank email asks for clients without one: only the predicate can say that.
    return query, bool(needle) or flt.email is not None


def client_stream(
    stream_id: str,
    get: Get,
    business: str,
    flt: ClientFilter,
    direction: SortDirection,
    page_size: int = MAX_PAGE_SIZE,
) -> Stream[ClientRecord]:
    """One business's clients by display name, filtered by ``flt``."""
    query, local = client_pushdown(flt)
    keep: Callable[[ClientRecord], bool] | None = None
    if local:

        def keep(record: ClientRecord) -> bool:
            return client_matches(record, flt)

    async def fetch_page(page: int, size: int) -> tuple[Sequence[ClientRecord], int | None]:
        params = {
            **query,
            "pageNumber": page + 1,
            "pageSize": size,
            "order_field": "fullName",
            "order_mode": _mode(direction),
        }
        body = await get("/clientList/reportWithCount", params)
        return [mapping.map_client(raw, business) for raw in body["clientList"]], int(body["count"])

    return paged_stream(
        stream_id,
        page_size=page_size,
        fetch_page=fetch_page,
        key=lambda r: r.key,
        sort=client_sort_value,
        tiebreak=_id,
        keep=keep,
        descending=direction is SortDirection.DESC,
    )
