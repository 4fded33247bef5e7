"""Invoice reads: the paged list, one invoice, and the client invoice key exchange."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..core import json_response
from .auth import require_token
from .listing import bool_param, date_param, int_param, page_of
from .replies import fail
from .state import STATE

STATUSES = ("OPEN", "CLOSED", "CANCELLED", "DRAFT", "REFUNDED", "SCHEDULED")


def invoice_number(invoice: dict[str, Any]) -> str:
    """The invoice number as shown: the business prefix, then ``invoiceNo``."""
    number = invoice.get("invoiceNo")
    return "" if number is None else f"{invoice.get('invoicePrefix') or ''}{number}"


_SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "date": lambda i: (i["date"], i["id"]),
    # inferred: an invoice without a due date sorts as due on its invoice date.
    "dueDate": lambda i: (i["dueDate"] or i["date"], i["id"]),
    "totalAmount": lambda i: (i["totalAmountCents"], i["id"]),
    # inferred: invoice numbers sort as the number text shown ("TFS-1001"), as a list
    # sorted on the invoice number column would; numbers of equal length (every number
    # from TFS-1001 to TFS-9999) sort in numeric order too.
    "invoiceNo": lambda i: (invoice_number(i), i["id"]),
}


def _filtered(request: web.Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The invoices that pass the list's filter parameters."""
    # inferred: every filter parameter of the list.
    client_id = int_param(request, "clientId")
    if client_id is not None:
        rows = [i for i in rows if i["clientId"] == client_id]
    statuses = [s for s in request.query.get("status", "").split(",") if s]
    for status in statuses:
        if status not in STATUSES:
            fail(400, "INVALID_VALUE", f"status must be among {', '.join(STATUSES)}")
    if statuses:
        rows = [i for i in rows if i["status"] in statuses]
    parent = bool_param(request, "isRecurringParent")
    if parent is not None:
        rows = [i for i in rows if i["isRecurringParent"] is parent]
    parent_id = int_param(request, "parentId")
    if parent_id is not None:
        rows = [i for i in rows if i["parentId"] == parent_id]
    # Date ranges include both ends; an invoice without a due date is outside any due range.
    for field, low, high in (("date", "startDate", "endDate"),
                             ("dueDate", "dueStartDate", "dueEndDate")):  # fmt: skip
        first, last = date_param(request, low), date_param(request, high)
        if first is not None:
            rows = [i for i in rows if i[field] is not None and i[field] >= first]
        if last is not None:
            rows = [i for i in rows if i[field] is not None and i[field] <= last]
    has_balance = bool_param(request, "hasBalance")
    if has_balance is not None:
        rows = [i for i in rows if (i["balance"] > 0) is has_balance]
    return rows


async def list_invoices(request: web.Request) -> web.Response:
    """GET /v5/invoicing/invoices."""
    require_token(request)
    rows = _filtered(request, list(request.app[STATE].invoices.values()))
    return page_of(request, rows, _SORTS, "date", "DESC")


def invoice_or_404(request: web.Request, invoice_id: Any) -> dict[str, Any]:
    """The invoice with that id, or a 404 in Tight's error shape."""
    try:
        found = request.app[STATE].invoices.get(int(invoice_id))
    except (TypeError, ValueError):
        found = None
    if found is None:
        fail(404, "NOT_FOUND", f"Invoice {invoice_id} not found")
    return found


async def get_invoice(request: web.Request) -> web.Response:
    """GET /v5/invoicing/invoices/{id} (inferred path)."""
    require_token(request)
    return json_response(invoice_or_404(request, request.match_info["id"]))


async def exchange_client_invoice_key(request: web.Request) -> web.Response:
    """POST /v5/invoicing/clientInvoiceKey: the key itself authorizes the call."""
    # inferred: the key travels in a ``clientInvoiceKey`` header (or query parameter).
    key = request.headers.get("clientInvoiceKey") or request.query.get("clientInvoiceKey")
    if not key:
        fail(400, "REQUIRED", "clientInvoiceKey is required")
    invoice = request.app[STATE].by_client_key(key)
    if invoice is None:
        fail(404, "NOT_FOUND", "No invoice for this client invoice key")
    invoice["lastViewedDate"] = datetime.now(UTC).date().isoformat()
    # inferred: the client-facing view adds the sender's branding.
    return json_response(
        {**invoice, "userEmail": "owner@tightfit.example", "brandColor": "#1F6FEB"}
    )
