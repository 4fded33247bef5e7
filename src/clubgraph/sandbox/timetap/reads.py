"""Read endpoints of the TimeTap sandbox: clients, invoices, invoice items."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..core import json_response
from .model import JSON, STATE, TimeTapState
from .problems import bad_request, not_found

BUSINESS: web.RequestKey[int] = web.RequestKey("timetap_business", int)
MAX_PAGE_SIZE = 500
LISTABLE_STATUSES = ("OPEN", "CLOSED", "VOID")

# inferred: order_field takes the invoice's own property names; an invoice without a
# due date sorts by its invoice date, one without a number (or a blank one) as the
# empty string. Ties are broken by the id, in the same direction (see _ordered).
_INVOICE_ORDER: dict[str, Callable[[JSON], Any]] = {
    "invoiceId": lambda i: i["invoiceId"],
    "invoiceDate": lambda i: i["invoiceDate"],
    "invoiceDueDate": lambda i: i["invoiceDueDate"] or i["invoiceDate"],
    "invoiceNumber": lambda i: _text(i["invoiceNumber"]),
    "createdDate": lambda i: i["createdDate"] or 0,
    "chargeDate": lambda i: i["chargeDate"] or 0,
    "lastStatusDate": lambda i: i["lastStatusDate"] or 0,
    "paidOnDate": lambda i: i["paidOnDate"] or 0,
}
# inferred: the client list sorts case-insensitively on names, ties by clientId.
_CLIENT_ORDER: dict[str, Callable[[JSON], Any]] = {
    "clientId": lambda c: c["clientId"],
    "fullName": lambda c: _full_name(c).casefold(),
    "lastName": lambda c: _text(c["lastName"]).casefold(),
    "firstName": lambda c: _text(c["firstName"]).casefold(),
    "createdDate": lambda c: c["createdDate"] or 0,
}


def _text(value: str | None) -> str:
    return value if value and value.strip() else ""


def _full_name(client: JSON) -> str:
    """The name TimeTap shows: ``fullName``, else first and last name joined."""
    parts = (_text(client["firstName"]), _text(client["lastName"]))
    return _text(client["fullName"]) or " ".join(p for p in parts if p)


def state_of(request: web.Request) -> TimeTapState:
    """The sandbox state behind a request."""
    return request.app[STATE]


def int_param(request: web.Request, name: str) -> int:
    """A path parameter that must be an integer id."""
    raw = request.match_info[name]
    try:
        return int(raw)
    except ValueError:
        raise bad_request("INVALID_ID", f"{name} must be an integer", name) from None


def _page(request: web.Request, rows: Sequence[JSON]) -> Sequence[JSON]:
    """Apply ``pageNumber`` (1-based, inferred) and ``pageSize``; without them, all rows."""
    number = request.query.get("pageNumber")
    size = request.query.get("pageSize")
    if number is None and size is None:
        return rows
    try:
        page = int(number or "1")
        per = int(size or "25")
    except ValueError:
        raise bad_request(
            "INVALID_PAGE_PARAMETER", "pageNumber and pageSize must be integers"
        ) from None
    if page < 1:
        raise bad_request("INVALID_PAGE_PARAMETER", "pageNumber starts at 1", "pageNumber")
    if not 1 <= per <= MAX_PAGE_SIZE:
        raise bad_request(
            "INVALID_PAGE_PARAMETER", f"pageSize must be 1..{MAX_PAGE_SIZE}", "pageSize"
        )
    return rows[(page - 1) * per : page * per]


def _ordered(
    request: web.Request, rows: list[JSON], fields: dict[str, Callable[[JSON], Any]], tie: str
) -> list[JSON]:
    field = request.query.get("order_field", tie)
    mode = request.query.get("order_mode", "asc").lower()
    if field not in fields:
        raise bad_request("INVALID_ORDER_FIELD", f"Cannot order by {field}", "order_field")
    if mode not in ("asc", "desc"):
        raise bad_request("INVALID_ORDER_MODE", "order_mode must be asc or desc", "order_mode")
    value = fields[field]
    # Equal values keep a strict order: by id, reversed with the value when descending.
    return sorted(rows, key=lambda r: (value(r), r[tie]), reverse=mode == "desc")


def _date_ms(request: web.Request, name: str, end: bool) -> int | None:
    # inferred: the dates are whole UTC days, the end date included.
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise bad_request("INVALID_DATE", f"{name} must be YYYY-MM-DD", name) from None
    ms = int(day.timestamp() * 1000)
    return ms + 86_400_000 - 1 if end else ms


def _in_range(value: int | None, start: int | None, end: int | None) -> bool:
    if start is None and end is None:
        return True
    if value is None:
        return False
    return (start is None or value >= start) and (end is None or value <= end)


def _client_of(request: web.Request) -> JSON:
    state = state_of(request)
    client_id = int_param(request, "clientId")
    client = state.clients.get(client_id)
    if client is None or client["businessId"] != request[BUSINESS] or not client["active"]:
        raise not_found("client", client_id)
    return client


# --- clients (inferred from TimeTap's Clients API) ------------------------------------


async def list_clients(request: web.Request) -> web.Response:
    """``GET /clients``: every active client of the business."""
    state = state_of(request)
    rows = [
        c for c in state.clients.values() if c["businessId"] == request[BUSINESS] and c["active"]
    ]
    return json_response(_page(request, rows))


async def get_client(request: web.Request) -> web.Response:
    """``GET /clients/{clientId}``."""
    return json_response(_client_of(request))


def _client_search(request: web.Request) -> Callable[[JSON], bool]:
    """The client list's ``searchString`` and ``emailAddress`` filters (both inferred)."""
    # inferred: searchString matches a case-insensitive part of the name or the email.
    needle = request.query.get("searchString", "").strip().casefold()
    # inferred: emailAddress matches the whole address, ignoring case and outer spaces.
    email = request.query.get("emailAddress", "").strip().lower()

    def matches(client: JSON) -> bool:
        address = _text(client["emailAddress"])
        if email and address.strip().lower() != email:
            return False
        if needle:
            return any(needle in text.casefold() for text in (_full_name(client), address))
        return True

    return matches


async def client_report(request: web.Request) -> web.Response:
    """``GET /clientList/reportWithCount``: one ordered, filtered page and the total."""
    state = state_of(request)
    matches = _client_search(request)
    rows = [
        c
        for c in state.clients.values()
        if c["businessId"] == request[BUSINESS] and c["active"] and matches(c)
    ]
    rows = _ordered(request, rows, _CLIENT_ORDER, "clientId")
    return json_response({"count": len(rows), "clientList": list(_page(request, rows))})


async def get_business(request: web.Request) -> web.Response:
    """``GET /business``: the session's business."""
    return json_response(state_of(request).businesses[request[BUSINESS]].view())


# --- invoices (documented) ------------------------------------------------------------


async def invoices_by_status(request: web.Request) -> web.Response:
    """``GET /invoices/status/{statusString}``: one ordered, filtered page."""
    state = state_of(request)
    status = request.match_info["statusString"]
    if status not in LISTABLE_STATUSES:
        raise bad_request(
            "INVALID_STATUS", "statusString must be OPEN, CLOSED or VOID", "statusString"
        )
    inv_start = _date_ms(request, "invoiceStartDate", False)
    inv_end = _date_ms(request, "invoiceEndDate", True)
    chg_start = _date_ms(request, "chargeStartDate", False)
    chg_end = _date_ms(request, "chargeEndDate", True)
    rows = [
        i
        for i in state.invoices.values()
        if i["businessId"] == request[BUSINESS]
        and i["active"]
        and i["status"] == status
        and _in_range(i["invoiceDate"], inv_start, inv_end)
        and _in_range(i["chargeDate"], chg_start, chg_end)
    ]
    rows = _ordered(request, rows, _INVOICE_ORDER, "invoiceId")
    return json_response([state.invoice_view(i) for i in _page(request, rows)])


def invoice_of(request: web.Request, invoice_id: int) -> JSON:
    """An invoice of the session's business, or 404."""
    invoice = state_of(request).invoices.get(invoice_id)
    if invoice is None or invoice["businessId"] != request[BUSINESS]:
        raise not_found("invoice", invoice_id)
    return invoice


async def get_invoice(request: web.Request) -> web.Response:
    # inferred: a soft-deleted invoice is still readable by id (active=false, DELETED).
    """``GET /invoices/{invoiceId}``."""
    invoice = invoice_of(request, int_param(request, "invoiceId"))
    return json_response(state_of(request).invoice_view(invoice))


async def client_invoices(request: web.Request) -> web.Response:
    """``GET /invoices/client/{clientId}``: the client's active invoices."""
    state = state_of(request)
    client = _client_of(request)
    rows = [
        state.invoice_view(i)
        for i in state.invoices.values()
        if i["clientId"] == client["clientId"] and i["active"]
    ]
    return json_response(rows)


# --- invoice items (documented) -------------------------------------------------------


def _items(request: web.Request, keep: Callable[[JSON], bool]) -> list[JSON]:
    state = state_of(request)
    return [
        state.item_view(i)
        for i in state.items.values()
        if i["businessId"] == request[BUSINESS] and i["active"] and keep(i)
    ]


async def item_report(request: web.Request) -> web.Response:
    # inferred: "WithCount" answers {"count", "invoiceItemList"} ordered by id.
    """``GET /invoiceItemList/reportWithCount``: one page of lines and the total."""
    rows = _items(request, lambda i: True)
    return json_response({"count": len(rows), "invoiceItemList": list(_page(request, rows))})


async def uninvoiced_items(request: web.Request) -> web.Response:
    """``GET /invoiceItem/client/{clientId}/uninvoiced``."""
    client_id = _client_of(request)["clientId"]
    return json_response(
        _items(request, lambda i: i["clientId"] == client_id and i["invoiceId"] is None)
    )


def _items_by(field: str, param: str) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        wanted = int_param(request, param)
        return json_response(_items(request, lambda i: i.get(field) == wanted))

    return handler


items_by_product = _items_by("productId", "productId")
items_by_recurring = _items_by("recurringAppointmentId", "recurringAppointmentId")
items_by_appointment = _items_by("calendarId", "calendarId")
