"""Sandbox only: a member pays an invoice (``POST /__sandbox/simulate/payment``).

Body ``{"invoice_id", "amount_cents"}``, ``amount_cents`` optional (the open amount by
default). The payment is a ``PAYMENT-LINE`` of minus the amount, paid by iDEAL, as
the seeded payments are; the paid and open amounts follow from the lines, the status
becomes ``partially_paid``, or ``paid`` once nothing is open, and the import's settled
amount grows. The invoice is notified in real time when webhooks are configured, and
named in the next round either way. Answered ``{"payment": <the line>, "invoice"}``;
refusals as ``{"error": code}``: 404 ``invalid_invoice_id``, 409
``invoice_not_payable`` (a draft, retracted, credited or refunded invoice, or nothing
open), 422 ``invalid_body``, ``invalid_invoice_id`` (missing) or ``invalid_amount_cents``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ..core import json_response
from ..simulate import SIMULATE_PAYMENT, BadInput, cents_amount, read_object, within
from .ledger import line, new_id, recompute
from .protocol import Refused, state_of

# Statuses whose invoice the member can no longer (or not yet) pay.
_UNPAYABLE = ("draft", "retracted", "credited", "refunded")


async def simulate_payment(request: web.Request) -> web.Response:
    """``POST /__sandbox/simulate/payment``: a member pays (part of) an invoice."""
    state = state_of(request)
    try:
        body = await read_object(request)
    except BadInput:
        raise Refused(422, "invalid_body") from None
    invoice_id = body.get("invoice_id")
    if not isinstance(invoice_id, str) or not invoice_id:
        raise Refused(422, "invalid_invoice_id")
    try:
        asked = cents_amount(body)
    except BadInput:
        raise Refused(422, "invalid_amount_cents") from None
    invoice = state.invoices.get(invoice_id)
    if invoice is None:
        raise Refused(404, "invalid_invoice_id")
    open_cents = invoice["amount_open_cents"]
    if invoice["status"] in _UNPAYABLE or open_cents <= 0:
        raise Refused(409, "invoice_not_payable")
    try:
        cents = within(asked, open_cents, "amount_cents")
    except BadInput:
        raise Refused(422, "invalid_amount_cents") from None
    lid = new_id()[:24]
    state.line_ids.add(lid)
    payment = line(lid, "PAYMENT-LINE", -cents, datetime.now(UTC), payment_method="ideal")
    invoice["invoice_lines"].append(payment)
    recompute(invoice)
    invoice["status"] = "paid" if invoice["amount_open_cents"] <= 0 else "partially_paid"
    state.imports[invoice["import_id"]]["settled_amount_cents"] += cents
    state.changed([invoice["invoice_id"]])
    return json_response({"payment": payment, "invoice": invoice})


def add_routes(app: web.Application) -> None:
    app.router.add_post(SIMULATE_PAYMENT, simulate_payment)
