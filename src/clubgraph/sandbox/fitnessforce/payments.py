"""Sandbox only: a member pays an invoice at the front desk (``/__sandbox/simulate/payment``).

Body ``{"tenant_id", "client_id", "invoice_id", "amount"}``, ``amount`` optional (a
decimal number or string in major units; the whole balance by default). The invoice
changes as the seeded ones that were paid did (inferred, like the statuses): the paid
amount grows, the balance shrinks, the status becomes ``PartiallyPaid``, or ``Paid``
with a ``paid_date`` once nothing is left. A payment record with a new ``payment_id``
is kept, and ``payment.received`` then ``invoice.updated`` are announced. Answered
``{"payment", "invoice"}``; refusals in UFP's ValidationError shape: 404 for ids
unknown (or of another tenant or client), 409 for a draft or an invoice with nothing
to pay, 422 for a bad body or amount.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ..core import json_response
from ..simulate import SIMULATE_PAYMENT, BadInput, identifier, major_amount, read_object, within
from . import events
from .responses import STATE, UfpError
from .state import JSON, FitnessForceState, money, stamp


def _cents(amount: float) -> int:
    return round(amount * 100)


def _invoice(state: FitnessForceState, tenant_id: int, client_id: int, invoice_id: int) -> JSON:
    if tenant_id not in state.tenants:
        raise UfpError(404, "TenantNotFound", f"tenant {tenant_id} not found", "tenant_id")
    client = state.clients.get(client_id)
    if client is None or client["tenant_id"] != tenant_id:
        raise UfpError(404, "ClientNotFound", f"client {client_id} not found", "client_id")
    inv = state.invoices.get(invoice_id)
    if inv is None or inv["client_id"] != client_id:
        raise UfpError(404, "InvoiceNotFound", f"invoice {invoice_id} not found", "invoice_id")
    return inv


def pay(state: FitnessForceState, inv: JSON, cents: int) -> JSON:
    """Apply a payment of ``cents`` to ``inv``; the payment record."""
    now = stamp(datetime.now(UTC), state.tenants[inv["tenant_id"]]["time_zone"])
    balance = _cents(inv["balance_amount"]) - cents
    inv["paid_amount"] = money(_cents(inv["paid_amount"]) + cents)
    inv["balance_amount"] = money(balance)
    if balance == 0:
        inv["status"] = "Paid"
        inv["paid_date"] = now
    else:
        inv["status"] = "PartiallyPaid"
    payment = {
        "payment_id": state.new_id("payment"),
        "tenant_id": inv["tenant_id"],
        "client_id": inv["client_id"],
        "invoice_id": inv["invoice_id"],
        "amount": money(cents),
        "currency_code": inv["currency_code"],
        "payment_date": now,
        "payment_method": "Cash",  # at the front desk
    }
    state.payments[payment["payment_id"]] = payment
    return payment


async def simulate_payment(request: web.Request) -> web.Response:
    """``POST /__sandbox/simulate/payment``: a member pays an invoice at the front desk."""
    state = request.app[STATE]
    try:
        body = await read_object(request)
        tenant_id = identifier(body, "tenant_id")
        client_id = identifier(body, "client_id")
        invoice_id = identifier(body, "invoice_id")
        asked = major_amount(body)
    except BadInput as exc:
        raise UfpError(422, "InvalidRequestBody", str(exc), exc.field) from None
    inv = _invoice(state, tenant_id, client_id, invoice_id)
    if inv["status"] == "Draft":
        raise UfpError(409, "InvoiceNotIssued", "a draft invoice cannot be paid", "invoice_id")
    open_cents = _cents(inv["balance_amount"])
    if open_cents <= 0:
        message = f"invoice is {inv['status']} with no balance due"
        raise UfpError(409, "InvoiceHasNoBalance", message, "invoice_id")
    try:
        cents = within(asked, open_cents, "amount")
    except BadInput as exc:
        raise UfpError(422, "AmountExceedsBalance", str(exc), exc.field) from None
    payment = pay(state, inv, cents)
    events.payment_received(request.app, payment)
    events.invoice_changed(request.app, "invoice.updated", inv)
    return json_response({"payment": payment, "invoice": inv})


def add_routes(app: web.Application) -> None:
    app.router.add_post(SIMULATE_PAYMENT, simulate_payment)
