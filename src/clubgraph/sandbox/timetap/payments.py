"""Sandbox only: a client pays an invoice at the front desk (``/__sandbox/simulate/payment``).

Body ``{"business_id", "invoice_id", "amount"}``: ``business_id`` optional (invoice
ids are unique across the sandbox's businesses), ``amount`` optional (a decimal
number or string, the whole balance by default). The invoice changes as the seeded
ones that were paid did: ``paidAmount`` grows and ``balanceAmount`` follows; an
invoice paid in full is ``CLOSED``/``Paid`` with a ``paidOnDate``, otherwise it stays
``OPEN`` as ``Partial Payment``; ``lastStatusDate`` moves either way, which is what a
poller sees. TimeTap has no webhooks. Answered ``{"amount", "invoice"}``; refusals
in TimeTap's error shape: 404 for an unknown invoice, 409 for one that is not an open
invoice with a balance, 422 for a bad body or amount.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from ..core import json_response
from ..simulate import SIMULATE_PAYMENT, BadInput, identifier, major_amount, read_object, within
from .model import JSON, STATE, TimeTapState, dec, now_ms, num
from .problems import Problem, TimeTapProblem, not_found


def _refused(status: int, code: str, exc: BadInput) -> TimeTapProblem:
    return TimeTapProblem(status, Problem(code, str(exc), exc.field))


def _invoice(state: TimeTapState, body: dict[str, Any]) -> JSON:
    try:
        invoice_id = identifier(body, "invoice_id")
        business_id = identifier(body, "business_id") if "business_id" in body else None
    except BadInput as exc:
        raise _refused(422, "INVALID_ID", exc) from None
    invoice = state.invoices.get(invoice_id)
    if invoice is None or business_id not in (None, invoice["businessId"]):
        raise not_found("invoice", invoice_id)
    return invoice


def pay(state: TimeTapState, invoice: JSON, cents: int) -> None:
    """Apply a payment of ``cents`` to an open invoice."""
    stamp = now_ms()
    invoice["paidAmount"] = num(dec(invoice["paidAmount"]) + Decimal(cents) / 100)
    state.recompute(invoice)
    if dec(invoice["balanceAmount"]) <= 0:
        invoice["status"], invoice["subStatus"] = "CLOSED", "Paid"
        invoice["paidOnDate"] = stamp
    else:
        invoice["subStatus"] = "Partial Payment"
    invoice["lastStatusDate"] = stamp
    invoice["modifiedUser"] = "frontdesk"


async def simulate_payment(request: web.Request) -> web.Response:
    """``POST /__sandbox/simulate/payment``: a client pays (part of) an invoice."""
    state = request.app[STATE]
    try:
        body = await read_object(request)
    except BadInput as exc:
        raise _refused(422, "INVALID_JSON", exc) from None
    invoice = _invoice(state, body)
    try:
        asked = major_amount(body)
    except BadInput as exc:
        raise _refused(422, "INVALID_AMOUNT", exc) from None
    balance = int(dec(invoice["balanceAmount"]) * 100)
    if (
        not invoice["active"]
        or invoice["status"] != "OPEN"
        or invoice["invoiceType"] != "INVOICE"
        or balance <= 0
    ):
        message = f"invoice {invoice['invoiceId']} is not an open invoice with a balance"
        raise TimeTapProblem(409, Problem("INVOICE_NOT_PAYABLE", message, "invoice_id"))
    try:
        cents = within(asked, balance, "amount")
    except BadInput as exc:
        raise _refused(422, "INVALID_AMOUNT", exc) from None
    pay(state, invoice, cents)
    return json_response(
        {"amount": num(Decimal(cents) / 100), "invoice": state.invoice_view(invoice)}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post(SIMULATE_PAYMENT, simulate_payment)
