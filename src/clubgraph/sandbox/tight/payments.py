"""Sandbox only: a client pays an invoice (``POST /__sandbox/simulate/payment``).

Body ``{"invoice_id", "amount_cents"}``, ``amount_cents`` optional (the balance by
default). The payment is added to the invoice's ``payments`` as a processed cash
payment without fees (inferred: ``apiName`` ``MANUAL``, ``paymentSource`` ``Cash``),
and the amounts follow as Tight derives them: ``amountPaid`` grows, ``balance``
shrinks, unpaid installments are paid in order, and an invoice with nothing left is
``CLOSED`` with a ``paidDate``, as the seeded paid ones are. Tight keeps no
updated-at field and sends no webhooks here: a poller sees the new amounts and status.
Answered ``{"result": "SUCCESS", "payment", "invoice"}``; refusals in Tight's error
shape: 404 for an unknown invoice, 409 for one that is not open with a balance, 422
for a bad body or amount.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..core import json_response
from ..simulate import SIMULATE_PAYMENT, BadInput, cents_amount, identifier, read_object, within
from .amounts import dollars, recompute, to_cents
from .invoices import invoice_or_404
from .replies import fail
from .state import STATE, TightState


def _next_payment_id(state: TightState) -> int:
    ids = (p["id"] for invoice in state.invoices.values() for p in invoice["payments"])
    return max(ids, default=0) + 1


def pay(state: TightState, invoice: dict[str, Any], cents: int) -> dict[str, Any]:
    """Apply a payment of ``cents`` to an open invoice; the payment."""
    today = datetime.now(UTC).date().isoformat()
    payment = {
        "id": _next_payment_id(state),
        "invoiceId": invoice["id"],
        "apiName": "MANUAL",
        "apiPaymentId": None,
        "grossPaymentAmount": dollars(cents),
        "feePaymentAmount": 0.0,
        "amountApplied": dollars(cents),
        "paymentSource": "Cash",
        "date": today,
        "status": "PROCESSED",
    }
    invoice["payments"].append(payment)
    left = cents
    for part in invoice["installments"]:
        covered = min(left, to_cents(part["balance"]))
        left -= covered
        part["balance"] = dollars(to_cents(part["balance"]) - covered)
        if part["balance"] == 0:
            part["status"] = "PAID"
    recompute(invoice)
    if invoice["balance"] == 0:
        invoice["status"] = "CLOSED"
        invoice["paidDate"] = today
    return payment


async def simulate_payment(request: web.Request) -> web.Response:
    """``POST /__sandbox/simulate/payment``: a client pays (part of) an invoice."""
    state = request.app[STATE]
    try:
        body = await read_object(request)
        invoice_id = identifier(body, "invoice_id")
        asked = cents_amount(body)
    except BadInput as exc:
        fail(422, "INVALID_VALUE", str(exc))
    invoice = invoice_or_404(request, invoice_id)
    balance = to_cents(invoice["balance"])
    if invoice["status"] != "OPEN" or balance <= 0:
        message = f"Invoice {invoice['id']} is {invoice['status']} with nothing to pay"
        fail(409, "INVOICE_NOT_PAYABLE", message)
    try:
        cents = within(asked, balance, "amount_cents")
    except BadInput as exc:
        fail(422, "INVALID_VALUE", str(exc))
    payment = pay(state, invoice, cents)
    return json_response({"result": "SUCCESS", "payment": payment, "invoice": invoice})


def add_routes(app: web.Application) -> None:
    app.router.add_post(SIMULATE_PAYMENT, simulate_payment)
