"""UFP invoice routes: get, list (per client, per subscription, per tenant) and writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import orjson
from aiohttp import web

from ..core import json_response
from . import events
from .responses import (
    STATE,
    UfpError,
    body_text,
    client_of,
    json_body,
    ordered,
    paged,
    path_int,
    query_date,
    query_flag,
    sort_order,
    tenant_of,
    validation_error,
)
from .state import CHANNELS, JSON, FitnessForceState, stamp


def _issued(inv: JSON) -> datetime:
    return datetime.fromisoformat(inv["invoice_date"])


def _due(inv: JSON) -> datetime:
    # inferred: invoices without a due date (drafts) sort as if due when issued.
    if inv["due_date"] is None:
        return _issued(inv)
    return datetime.combine(date.fromisoformat(inv["due_date"]), time(), tzinfo=UTC)


# inferred: the sort_by values of invoice lists.
_SORTS: dict[str, Callable[[JSON], Any]] = {
    "invoice_date": _issued,
    "due_date": _due,
    "net_amount": lambda inv: round(inv["net_amount"] * 100),
    "invoice_number": lambda inv: inv["invoice_number"] or "",
}


def sorted_invoices(request: web.Request, rows: list[JSON]) -> list[JSON]:
    """``rows`` in the requested order, ties by invoice id in the same direction."""
    field = request.query.get("sort_by", "invoice_date")
    if field not in _SORTS:
        raise UfpError(400, "InvalidSortField", f"cannot sort invoices by {field}", "sort_by")
    return ordered(rows, _SORTS[field], "invoice_id", sort_order(request, "desc"))


def filtered_invoices(request: web.Request, rows: list[JSON]) -> list[JSON]:
    """The invoices that pass the list's (inferred) filter parameters.

    ``status``: comma-separated statuses. ``from_date``/``to_date``: the invoice date as
    the tenant writes it (its local date), both inclusive. ``due_from_date``/``due_to_date``:
    the due date, both inclusive; invoices without one never match a due range.
    ``outstanding_only=true``: a balance left to pay.
    """
    raw = request.query.get("status")
    wanted = {s.strip() for s in raw.split(",") if s.strip()} if raw else None
    issued = (query_date(request, "from_date"), query_date(request, "to_date"))
    due = (query_date(request, "due_from_date"), query_date(request, "due_to_date"))
    outstanding = query_flag(request, "outstanding_only")

    def keep(inv: JSON) -> bool:
        if wanted is not None and inv["status"] not in wanted:
            return False
        if not _between(date.fromisoformat(inv["invoice_date"][:10]), *issued):
            return False
        if due != (None, None) and (
            inv["due_date"] is None or not _between(date.fromisoformat(inv["due_date"]), *due)
        ):
            return False
        return not outstanding or inv["balance_amount"] > 0

    return [inv for inv in rows if keep(inv)]


def _between(day: date, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def invoice_of(state: FitnessForceState, request: web.Request) -> JSON:
    client = client_of(state, request)
    invoice_id = path_int(request, "invoice_id")
    inv = state.invoices.get(invoice_id)
    if inv is None or inv["client_id"] != client["client_id"]:
        raise UfpError(404, "InvoiceNotFound", f"invoice {invoice_id} not found", "invoice_id")
    return inv


async def get_invoice(request: web.Request) -> web.Response:
    return json_response(invoice_of(request.app[STATE], request))


async def list_client_invoices(request: web.Request) -> web.Response:
    state = request.app[STATE]
    client = client_of(state, request)
    rows = [inv for inv in state.invoices.values() if inv["client_id"] == client["client_id"]]
    return paged(request, sorted_invoices(request, filtered_invoices(request, rows)))


async def list_tenant_invoices(request: web.Request) -> web.Response:
    # inferred: "List invoice details" at tenant level, the list behind invoice reports.
    state = request.app[STATE]
    tenant = tenant_of(state, request)
    rows = [inv for inv in state.invoices.values() if inv["tenant_id"] == tenant["tenant_id"]]
    client_id = request.query.get("client_id")
    if client_id:
        rows = [inv for inv in rows if str(inv["client_id"]) == client_id]
    return paged(request, sorted_invoices(request, filtered_invoices(request, rows)))


async def void_invoice(request: web.Request) -> web.Response:
    # inferred: body {"reason"}; an invoice with payments must be refunded first.
    state = request.app[STATE]
    inv = invoice_of(state, request)
    reason = body_text(await json_body(request), "reason")
    if inv["status"] == "Void":
        raise UfpError(409, "InvoiceAlreadyVoid", "invoice is already void", "invoice_id")
    if inv["paid_amount"] > 0:
        raise UfpError(
            409, "InvoiceHasPayments", "refund the payments before voiding", "invoice_id"
        )
    inv.update(status="Void", balance_amount=0.0, void_reason=reason)
    events.invoice_changed(request.app, "invoice.voided", inv)
    return json_response(inv)


def _channels(body: Any) -> list[str]:
    if body is None:
        return ["None"]
    if not isinstance(body, list) or not all(isinstance(c, str) for c in body):
        raise UfpError(400, "InvalidRequestBody", "body must be an array of channels")
    bad = [c for c in body if c not in CHANNELS]
    if bad:
        raise UfpError(400, "InvalidChannel", f"unknown channel {bad[0]}", "channel")
    return body or ["None"]


def _deliver(app: web.Application, inv: JSON, channels: list[str], kind: str) -> web.Response:
    state = app[STATE]
    client = state.clients[inv["client_id"]]
    results: list[JSON] = []
    now = stamp(datetime.now(UTC), state.tenants[inv["tenant_id"]]["time_zone"])
    for channel in channels:
        error = None
        if channel == "Email" and not client["email"]:
            error = validation_error("ClientEmailMissing", "client has no email address", "email")
        elif channel in ("SMS", "WhatsApp") and not client["mobile_number"]:
            error = validation_error("ClientMobileMissing", "client has no mobile", "mobile_number")
        if error is None:
            inv["communication_log"].append(
                {
                    "communication_id": state.new_id("communication"),
                    "type": kind,
                    "channel": channel,
                    "sent_at": now,
                }
            )
        results.append(
            {
                "channel": channel,
                "client_id": client["client_id"],
                "staff_id": inv["sales_rep"]["staff_id"],
                "success": error is None,
                "error": error,
            }
        )
    if any(r["success"] for r in results):
        # The communication log is part of the invoice: what was sent changed it.
        events.invoice_changed(app, "invoice.updated", inv)
    # Documented: the response is declared text/plain although its body is a JSON array.
    return web.Response(body=orjson.dumps(results), content_type="text/plain")


async def send_clear_balance_link(request: web.Request) -> web.Response:
    # Documented in full: body is an optional array of channels.
    state = request.app[STATE]
    inv = invoice_of(state, request)
    channels = _channels(await json_body(request) if request.can_read_body else None)
    if inv["balance_amount"] <= 0:
        # inferred: there is nothing to clear on a settled or void invoice.
        raise UfpError(400, "InvoiceHasNoBalance", "invoice has no balance due", "invoice_id")
    return _deliver(request.app, inv, channels, "ClearBalanceLink")


async def send_invoice_pdf(request: web.Request) -> web.Response:
    # inferred: same body and response shape as the clear balance link.
    state = request.app[STATE]
    inv = invoice_of(state, request)
    channels = _channels(await json_body(request) if request.can_read_body else None)
    return _deliver(request.app, inv, channels, "InvoicePdf")


async def change_sales_rep(request: web.Request) -> web.Response:
    # inferred: body {"staff_id"}; the staff member must work at the invoice's tenant.
    state = request.app[STATE]
    inv = invoice_of(state, request)
    body = await json_body(request)
    staff_id = body.get("staff_id") if isinstance(body, dict) else None
    staff = state.staff.get(staff_id) if isinstance(staff_id, int) else None
    if staff is None or staff["tenant_id"] != inv["tenant_id"]:
        raise UfpError(400, "StaffNotFound", f"staff {staff_id} not found", "staff_id")
    inv["sales_rep"] = {"staff_id": staff["staff_id"], "staff_name": staff["staff_name"]}
    events.invoice_changed(request.app, "invoice.updated", inv)
    return json_response(inv)


async def get_invoice_pdf(request: web.Request) -> web.Response:
    inv = invoice_of(request.app[STATE], request)
    text = f"Invoice {inv['invoice_number']} {inv['currency_code']} {inv['net_amount']:.2f}"
    return web.Response(body=tiny_pdf(text), content_type="application/pdf")


def tiny_pdf(text: str) -> bytes:
    """A minimal valid one-page PDF showing ``text``."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 14 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def add_routes(app: web.Application) -> None:
    base = "/tenant/{tenant_id}/clients/{client_id}/invoices"
    one = base + "/{invoice_id}"
    app.router.add_get("/tenant/{tenant_id}/invoices", list_tenant_invoices)
    app.router.add_get(base, list_client_invoices)
    app.router.add_get(one, get_invoice)
    app.router.add_get(one + "/pdf", get_invoice_pdf)  # inferred path
    app.router.add_post(one + "/void", void_invoice)  # inferred path
    app.router.add_post(one + "/send_invoice_pdf", send_invoice_pdf)  # inferred path
    app.router.add_post(one + "/change_sales_rep", change_sales_rep)  # inferred path
    app.router.add_post(one + "/send_invoice_clear_balance_link", send_clear_balance_link)
