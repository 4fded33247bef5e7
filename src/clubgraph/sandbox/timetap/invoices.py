"""Invoice write endpoints of the TimeTap sandbox."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from ..core import json_response
from .items import ITEMS, new_item, store_items
from .model import JSON, TimeTapState, now_ms, num
from .problems import Problem, TimeTapProblem, bad_request, not_found
from .reads import BUSINESS, LISTABLE_STATUSES, int_param, invoice_of, state_of
from .validation import check_business, parse_amount, raise_problems, read_body

INVOICE_TYPES = ("INVOICE", "QUOTE", "TRANSFER_IN", "TRANSFER_OUT")
SUB_STATUSES = ("No Payment", "Partial Payment", "Paid", "Payment Declined", "Manual")
# inferred: which invoice properties a PUT may change (status has its own rule).
_INVOICE_WRITABLE = (
    "invoiceNumber",
    "comments",
    "invoiceDate",
    "invoiceDueDate",
    "chargeDate",
    "preAuthPayment",
    "billingLocationId",
    "billingStaffId",
)


def _new_invoice(state: TimeTapState, request: web.Request, client_id: int, kind: str) -> JSON:
    business = state.businesses[request[BUSINESS]]
    invoice_id = state.next_invoice_id
    state.next_invoice_id += 1
    stamp = now_ms()
    invoice: JSON = {
        "invoiceId": invoice_id,
        "businessId": business.business_id,
        "clientId": client_id,
        "invoiceNumber": None,
        "invoiceType": kind,
        "invoiceHash": hashlib.md5(f"{business.business_id}:{invoice_id}".encode()).hexdigest(),
        "status": "OPEN",
        "subStatus": "No Payment",
        "active": True,
        "currency": business.currency,
        "invoiceDate": stamp,
        "invoiceDueDate": None,
        "chargeDate": None,
        "createdDate": stamp,
        "lastStatusDate": stamp,
        "paidOnDate": None,
        "createdUser": "api",
        "modifiedUser": None,
        "comments": None,
        "preAuthPayment": False,
        "billingLocationId": business.location["locationId"],
        "billingStaffId": business.staff["professionalId"],
        "location": dict(business.location),
        "staff": dict(business.staff),
        "subtotalAmount": 0,
        "taxAmount": 0,
        "tax2Amount": 0,
        "tipAmount": 0,
        "transactionFeeAmount": 0,
        "depositAmount": None,
        "paidAmount": 0,
        "writeOffAmount": 0,
        "balanceAmount": 0,
    }
    state.invoices[invoice_id] = invoice
    return invoice


def _client_id(state: TimeTapState, request: web.Request, client_id: Any) -> int:
    client = state.clients.get(client_id) if isinstance(client_id, int) else None
    if client is None or client["businessId"] != request[BUSINESS]:
        raise bad_request("INVALID_CLIENT", f"No client with id {client_id}", "client")
    return int(client_id)


async def create_invoice(request: web.Request) -> web.Response:
    """``POST /invoices``: an invoice object, optionally with lines."""
    state = state_of(request)
    body = await read_body(request)
    if not isinstance(body, dict):
        raise bad_request("INVALID_BODY", "an invoice object is expected")
    problems: list[Problem] = []
    check_business(body, request, problems)
    client = body.get("client")
    if not isinstance(client, dict) or client.get("clientId") is None:
        problems.append(Problem("REQUIRED_FIELD_MISSING", "client is required", "client"))
    if not isinstance(body.get("invoiceDate"), int):
        problems.append(Problem("REQUIRED_FIELD_MISSING", "invoiceDate is required", "invoiceDate"))
    if body.get("invoiceType") not in INVOICE_TYPES:
        problems.append(
            Problem(
                "INVALID_INVOICE_TYPE", "invoiceType must be one of INVOICE, ...", "invoiceType"
            )
        )
    raise_problems(problems)
    assert isinstance(client, dict)
    client_id = _client_id(state, request, client["clientId"])
    invoice = _new_invoice(state, request, client_id, body["invoiceType"])
    for name in _INVOICE_WRITABLE:
        if name in body:
            invoice[name] = body[name]
    for name in ("tipAmount", "transactionFeeAmount"):
        amount = parse_amount(body.get(name), name, problems)
        if amount is not None:
            invoice[name] = num(amount)
    try:
        raise_problems(problems)
        lines = body.get("invoiceItem") or []
        items = [
            new_item(state, request, {**line, "clientId": client_id}, invoice, f"invoiceItem[{n}]")
            for n, line in enumerate(lines)
        ]
    except TimeTapProblem:
        del state.invoices[invoice["invoiceId"]]
        raise
    store_items(state, items)
    state.recompute(invoice)
    return json_response(state.invoice_view(invoice))


async def create_client_invoice(request: web.Request) -> web.Response:
    """``POST /invoices/client/{clientId}``: an invoice from an array of lines."""
    state = state_of(request)
    client_id = int_param(request, "clientId")
    client = state.clients.get(client_id)
    if client is None or client["businessId"] != request[BUSINESS]:
        raise not_found("client", client_id)
    kind = request.query.get("invoiceType", "INVOICE")
    if kind not in ("INVOICE", "QUOTE"):
        raise bad_request(
            "INVALID_INVOICE_TYPE", "invoiceType must be INVOICE or QUOTE", "invoiceType"
        )
    body = await read_body(request)
    if not isinstance(body, list):
        raise bad_request("INVALID_BODY", "an array of invoiceItem objects is expected")
    if not body:
        # inferred: "with invoice line items already in it" needs at least one.
        raise bad_request("REQUIRED_FIELD_MISSING", "at least one invoiceItem is required", ITEMS)
    invoice = _new_invoice(state, request, client_id, kind)
    attach: list[JSON] = []
    new: list[JSON] = []
    try:
        for n, line in enumerate(body):
            ref = line.get("invoiceItemId") if isinstance(line, dict) else None
            existing = state.items.get(ref) if isinstance(ref, int) else None
            if existing is not None:
                # An uninvoiced line of this client moves onto the new invoice.
                if existing["clientId"] != client_id or existing["invoiceId"] is not None:
                    raise bad_request(
                        "ITEM_ALREADY_INVOICED",
                        "item is invoiced or not this client's",
                        f"[{n}]",
                    )
                attach.append(existing)
            else:
                new.append(new_item(state, request, line, invoice, f"[{n}]"))
    except TimeTapProblem:
        del state.invoices[invoice["invoiceId"]]
        raise
    for item in attach:
        item["invoiceId"] = invoice["invoiceId"]
        state.items_by_invoice.setdefault(invoice["invoiceId"], []).append(item["invoiceItemId"])
    store_items(state, new)
    state.recompute(invoice)
    return json_response(state.invoice_view(invoice))


async def update_invoice(request: web.Request) -> web.Response:
    """``PUT /invoices``: change properties; a status change needs subStatus Manual."""
    state = state_of(request)
    body = await read_body(request)
    if not isinstance(body, dict):
        raise bad_request("INVALID_BODY", "an invoice object is expected")
    if not isinstance(body.get("invoiceId"), int):
        raise bad_request("REQUIRED_FIELD_MISSING", "invoiceId is required", "invoiceId")
    problems: list[Problem] = []
    check_business(body, request, problems)
    invoice = invoice_of(request, body["invoiceId"])
    if not invoice["active"]:
        raise bad_request("INVOICE_DELETED", "A deleted invoice cannot be updated", "invoiceId")
    status = body.get("status", invoice["status"])
    sub = body.get("subStatus", invoice["subStatus"])
    if status != invoice["status"]:
        if status not in LISTABLE_STATUSES:
            problems.append(
                Problem("INVALID_STATUS", "status must be OPEN, CLOSED or VOID", "status")
            )
        if sub != "Manual":
            problems.append(
                Problem(
                    "SUBSTATUS_MUST_BE_MANUAL",
                    "A status change needs subStatus Manual",
                    "subStatus",
                )
            )
    elif sub not in SUB_STATUSES:
        problems.append(Problem("INVALID_SUB_STATUS", f"Unknown subStatus {sub}", "subStatus"))
    write_off = parse_amount(body.get("writeOffAmount"), "writeOffAmount", problems)
    raise_problems(problems)
    changed = [n for n in _INVOICE_WRITABLE if n in body and body[n] != invoice[n]]
    if changed and invoice["status"] != "OPEN" and status != "OPEN":
        # inferred: a VOID or CLOSED invoice keeps its properties unless it is reopened.
        raise bad_request(
            "INVOICE_NOT_OPEN", f"{invoice['status']} invoices cannot change", changed[0]
        )
    for name in _INVOICE_WRITABLE:
        if name in body:
            invoice[name] = body[name]
    if write_off is not None:
        invoice["writeOffAmount"] = num(write_off)
    if (status, sub) != (invoice["status"], invoice["subStatus"]):
        invoice["lastStatusDate"] = now_ms()
    invoice["status"] = status
    invoice["subStatus"] = sub
    invoice["modifiedUser"] = "api"
    state.recompute(invoice)
    return json_response(state.invoice_view(invoice))


async def delete_invoice(request: web.Request) -> web.Response:
    """``DELETE /invoices/{invoiceId}``: soft delete."""
    state = state_of(request)
    invoice = invoice_of(request, int_param(request, "invoiceId"))
    invoice["active"] = False
    invoice["status"] = "DELETED"
    invoice["lastStatusDate"] = now_ms()
    return json_response(state.invoice_view(invoice))
