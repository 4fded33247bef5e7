"""Invoices: read, create with lines, update the recipient, delete, credit and retract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from ..core import json_response
from .ledger import iso, line, new_id, recompute
from .protocol import Refused, invoice_of, json_body, state_of
from .validation import RECIPIENT_FIELDS, create_error, retract_error, update_error

# --- invoices -------------------------------------------------------------------------


async def show_invoice(request: web.Request) -> web.Response:
    """``GET /api/v2/invoices/:id``."""
    return json_response(invoice_of(request))


async def show_lines(request: web.Request) -> web.Response:
    """``GET /api/v2/invoices/:id/lines``."""
    invoice = invoice_of(request)
    return json_response(
        {
            "import_id": invoice["import_id"],
            "invoice_id": invoice["invoice_id"],
            "invoice_lines": invoice["invoice_lines"],
            "amount_total_cents": invoice["amount_total_cents"],
        }
    )


async def create_invoice(request: web.Request) -> web.Response:
    """``POST /api/v2/invoices``: a draft in a not yet transmitted import."""
    body = await json_body(request)
    state = state_of(request)
    failed = create_error(body, state)
    if failed:
        raise Refused(*failed)
    now = datetime.now(UTC)
    imp = state.imports[body["import_id"]]
    company = state.companies[imp["company_id"]]
    lines = []
    for given in body["invoice_lines"]:
        lid = str(given.get("invoice_line_id") or new_id()[:24])
        state.line_ids.add(lid)
        when = given.get("date") or iso(now)
        ln = line(lid, "INVOICE-LINE", given["amount_cents"], now, given["description"])
        ln["date"] = when
        if given["amount_cents"] < 0:
            # Negative partner amounts are credits on the bill.
            ln["type"] = "CREDIT-LINE"
        lines.append(ln)
    invoice: dict[str, Any] = {
        "invoice_id": new_id(),
        "import_id": imp["import_id"],
        "external_invoice_number": body["external_invoice_number"].strip(),
        "reference": new_id()[:7],
        "invoice_number": str(100000 + len(state.invoices) + 1),
        **{k: body.get(k) for k in RECIPIENT_FIELDS if k != "external_invoice_number"},
        "customer": body["customer"],
        "invoice_lines": lines,
        "amount_total_cents": body["amount_total_cents"],
        "messages": [],
        "tickets": [],
        "retracted_at": None,
        "retraction_reason": None,
        "show_retraction_reason_to_customer": False,
        # inferred fields
        "status": "draft",
        "created_at": iso(now),
        "transmitted_at": None,
        "due_date": body.get("due_date")
        or (now + timedelta(days=14)).astimezone(UTC).date().isoformat(),
    }
    invoice["locale"] = body.get("locale") or company["locale"]
    recompute(invoice)
    state.invoices[invoice["invoice_id"]] = invoice
    imp["invoice_ids"].append(invoice["invoice_id"])
    state.changed([invoice["invoice_id"]])
    return json_response(invoice)


def _merge_customer(current: dict[str, Any], given: Any) -> dict[str, Any]:
    if not isinstance(given, dict):
        return current
    merged = dict(current)
    for part, value in given.items():
        if part == "name" and isinstance(value, dict):
            merged["name"] = {**(current.get("name") or {}), **value}
        else:
            merged[part] = value
    return merged


async def update_invoice(request: web.Request) -> web.Response:
    """``PUT /api/v2/invoices/:id``: recipient attributes only."""
    invoice = invoice_of(request)
    body = await json_body(request)
    customer = _merge_customer(invoice["customer"], body.get("customer"))
    failed = update_error(body, customer)
    if failed:
        raise Refused(*failed)
    for name in RECIPIENT_FIELDS:
        if name in body:
            invoice[name] = body[name]
    invoice["customer"] = customer
    state_of(request).changed([invoice["invoice_id"]])
    return json_response(invoice)


async def delete_invoice(request: web.Request) -> web.Response:
    """``DELETE /api/v2/invoices/:id``, before transmission."""
    invoice = invoice_of(request)
    state = state_of(request)
    if state.imports[invoice["import_id"]]["transmitted"]:
        raise Refused(422, "invoice_already_transmitted")  # inferred: code
    del state.invoices[invoice["invoice_id"]]
    state.imports[invoice["import_id"]]["invoice_ids"].remove(invoice["invoice_id"])
    state.changed([invoice["invoice_id"]])
    return web.Response(status=204)


async def credit_and_retract(request: web.Request) -> web.Response:
    """``POST /api/v2/invoices/:id/credit_and_retract``."""
    invoice = invoice_of(request)
    body = await json_body(request)
    failed = retract_error(body, invoice)
    if failed:
        raise Refused(*failed)
    now = datetime.now(UTC)
    description = body["description"].strip()
    outstanding = sum(ln["amount_cents"] for ln in invoice["invoice_lines"])
    if outstanding:
        invoice["invoice_lines"].append(
            line(new_id()[:24], "CREDIT-LINE", -outstanding, now, description)
        )
    if "external_invoice_number" in body:
        invoice["external_invoice_number"] = body["external_invoice_number"]
    invoice["retracted_at"] = iso(now)
    invoice["retraction_reason"] = description
    invoice["show_retraction_reason_to_customer"] = bool(
        body.get("show_retraction_reason_to_customer", False)
    )
    invoice["status"] = "retracted"
    recompute(invoice)
    state_of(request).changed([invoice["invoice_id"]])
    return json_response(invoice)
