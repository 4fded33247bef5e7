"""FitnessForce webhooks: the events the sandbox announces its changes with.

The platform's documentation names "Webhooks" in its index and describes nothing of
them: everything here is inferred, in the style of the documented API (snake_case,
integer ids, the tenant's local time, amounts in major units). A delivery is a POST of

    {"event_id", "event_type", "occurred_at", "tenant_id", "data"}

with ``Content-Type: application/json``, ``X-UFP-Delivery`` (the event id, a uuid4
hex, the same on every redelivery), ``X-UFP-Event`` (the type) and ``X-UFP-Signature``
(``signing.signature_header`` over the body bytes, with the development secret unless
another is configured). Event types and their ``data``:

- ``invoice.created|updated|voided|deleted``: ``{client_id, invoice_id}``;
- ``payment.received``: ``{client_id, invoice_id, payment_id, amount, currency_code}``;
- ``subscription.created|updated|cancelled``: ``{client_id, subscription_id}``
  (``updated`` covers date changes, freezes, reactivation and void).

Every write endpoint emits its events once its change is made, so they leave in the
order the changes happened: void (``invoice.voided``), a sales rep change or a sent
invoice or clear-balance link (the communication log is part of the invoice:
``invoice.updated``), every subscription and freeze write, and a simulated payment
(``payment.received`` then ``invoice.updated``). The sandbox has no endpoint that
creates or deletes an invoice or creates a subscription; those types are named for the
receiver's sake.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ...connectors.fitnessforce.credentials import DEV_WEBHOOK_SECRET
from .. import webhooks
from .responses import STATE
from .state import JSON, stamp

SCHEME = webhooks.Scheme(
    delivery_header="X-UFP-Delivery",
    signature_header="X-UFP-Signature",
    event_header="X-UFP-Event",
    default_secret=DEV_WEBHOOK_SECRET,
)
INVOICE_EVENTS = ("invoice.created", "invoice.updated", "invoice.voided", "invoice.deleted")
SUBSCRIPTION_EVENTS = ("subscription.created", "subscription.updated", "subscription.cancelled")
PAYMENT_RECEIVED = "payment.received"


def emit(app: web.Application, event_type: str, tenant_id: int, data: JSON) -> None:
    """Announce one change (nothing happens while webhooks are not configured)."""
    if app[webhooks.WEBHOOKS].config is None:
        return
    tz = app[STATE].tenants[tenant_id]["time_zone"]
    occurred = stamp(datetime.now(UTC), tz)

    def body(delivery_id: str) -> dict[str, Any]:
        return {
            "event_id": delivery_id,
            "event_type": event_type,
            "occurred_at": occurred,
            "tenant_id": tenant_id,
            "data": data,
        }

    app[webhooks.WEBHOOKS].post(event_type, body)


def invoice_changed(app: web.Application, event_type: str, inv: JSON) -> None:
    """``invoice.<change>`` for ``inv``."""
    assert event_type in INVOICE_EVENTS, event_type
    data = {"client_id": inv["client_id"], "invoice_id": inv["invoice_id"]}
    emit(app, event_type, inv["tenant_id"], data)


def subscription_changed(app: web.Application, event_type: str, sub: JSON) -> None:
    """``subscription.<change>`` for ``sub``."""
    assert event_type in SUBSCRIPTION_EVENTS, event_type
    data = {"client_id": sub["client_id"], "subscription_id": sub["subscription_id"]}
    emit(app, event_type, sub["tenant_id"], data)


def payment_received(app: web.Application, payment: JSON) -> None:
    """``payment.received`` for a payment record."""
    data = {
        k: payment[k] for k in ("client_id", "invoice_id", "payment_id", "amount", "currency_code")
    }
    emit(app, PAYMENT_RECEIVED, payment["tenant_id"], data)


def install(app: web.Application) -> None:
    """Give the app its webhook sender and ``/__sandbox/webhooks`` routes."""
    webhooks.install(app, SCHEME)
