"""Invoice reads: the paged list, one invoice, and the client invoice key exchange."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..core import json_response
from .auth import require_token
from .listing import int_param, page_of
from .replies import fail
from .state import STATE

STATUSES = ("OPEN", "CLOSED", "CANCELLED", "DRAFT", "REFUNDED", "SCHEDULED")

_SORTS = {
    "date": lambda i: (i["date"], i["id"]),
    # inferred: an invoice without a due date sorts as due on its invoice date.
    "dueDate": lambda i: (i["dueDate"] or i["date"], i["id"]),
    "totalAmount": lambda i: (i["totalAmountCents"], i["id"]),
    "invoiceNo": lambda i: (i["invoiceNo"], i["id"]),
}


def _bool_param(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in ("true", "false"):
        fail(400, "INVALID_VALUE", f"{name} must be true or false")
    return raw == "true"


async def list_invoices(request: web.Request) -> web.Response:
    """GET /v5/invoicing/invoices."""
    require_token(request)
    rows: list[dict[str, Any]] = list(request.app[STATE].invoices.values())
    # inferred: clientId, status, isRecurringParent and parentId filters.
    client_id = int_param(request, "clientId")
    if client_id is not None:
        rows = [i for i in rows if i["clientId"] == client_id]
    statuses = [s for s in request.query.get("status", "").split(",") if s]
    for status in statuses:
        if status not in STATUSES:
            fail(400, "INVALID_VALUE", f"status must be among {', '.join(STATUSES)}")
    if statuses:
        rows = [i for i in rows if i["status"] in statuses]
    parent = _bool_param(request, "isRecurringParent")
    if parent is not None:
        rows = [i for i in rows if i["isRecurringParent"] is parent]
    parent_id = int_param(request, "parentId")
    if parent_id is not None:
        rows = [i for i in rows if i["parentId"] == parent_id]
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
