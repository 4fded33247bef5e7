"""FitnessForce webhooks: the body UFP posts when something changes, as change events.

The UFP documentation names its webhooks in its index and says nothing more; this
shape is inferred, and the sandbox sends exactly it:
``{"event_id", "event_type", "occurred_at", "tenant_id", "data": {...}}`` with headers
``X-UFP-Delivery`` (the same on every redelivery), ``X-UFP-Event`` and
``X-UFP-Signature`` (``signing.py``). Event types: ``invoice.created``,
``invoice.updated``, ``invoice.voided``, ``invoice.deleted`` (data: ``client_id``,
``invoice_id``), ``payment.received`` (also ``payment_id``, ``amount`` in major units,
``currency_code``) and ``subscription.created``, ``subscription.updated``,
``subscription.cancelled`` (``client_id``, ``subscription_id``). A type not listed
here is accepted and announces nothing: a platform adds event types over time.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ...domain import Money
from ...events.model import Change, ChangeEvent, EventKind
from .mapping import client_key, invoice_key, money, subscription_key

SIGNATURE_HEADER = "X-UFP-Signature"
DELIVERY_HEADER = "X-UFP-Delivery"

_TYPES: dict[str, tuple[EventKind, Change]] = {
    "invoice.created": (EventKind.INVOICE, Change.CREATED),
    "invoice.updated": (EventKind.INVOICE, Change.UPDATED),
    "invoice.voided": (EventKind.INVOICE, Change.UPDATED),
    "invoice.deleted": (EventKind.INVOICE, Change.DELETED),
    "payment.received": (EventKind.PAYMENT, Change.RECEIVED),
    "subscription.created": (EventKind.SUBSCRIPTION, Change.CREATED),
    "subscription.updated": (EventKind.SUBSCRIPTION, Change.UPDATED),
    "subscription.cancelled": (EventKind.SUBSCRIPTION, Change.UPDATED),
}


class InvalidWebhook(ValueError):
    """A body that is not a UFP webhook; ``str()`` says what is wrong."""


def _id(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise InvalidWebhook(f"data.{name} must be an id")
    return str(value).strip()


def parse_webhook(body: Any, delivery_id: str) -> list[ChangeEvent]:
    """The events a decoded webhook body announces (none for an unknown type)."""
    if not isinstance(body, dict):
        raise InvalidWebhook("the body must be a JSON object")
    event_type = body.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidWebhook("event_type must be a string")
    tenant = body.get("tenant_id")
    if isinstance(tenant, bool) or not isinstance(tenant, int | str) or not str(tenant).strip():
        raise InvalidWebhook("tenant_id must be an id")
    occurred_raw = body.get("occurred_at")
    try:
        occurred = datetime.fromisoformat(occurred_raw) if isinstance(occurred_raw, str) else None
    except ValueError:
        occurred = None
    if occurred is None or occurred.tzinfo is None:
        raise InvalidWebhook("occurred_at must be an ISO 8601 date and time with its offset")
    data = body.get("data")
    if not isinstance(data, dict):
        raise InvalidWebhook("data must be a JSON object")
    known = _TYPES.get(event_type)
    if known is None:
        return []
    kind, change = known
    tenant_id = str(tenant).strip()
    client_id = _id(data, "client_id")
    amount: Money | None = None
    if kind is EventKind.SUBSCRIPTION:
        key = subscription_key(tenant_id, client_id, _id(data, "subscription_id"))
    else:
        key = invoice_key(tenant_id, client_id, _id(data, "invoice_id"))
    if kind is EventKind.PAYMENT:
        amount = _amount(data)
    return [
        ChangeEvent(
            id=f"fitnessforce:{delivery_id}",
            kind=kind,
            change=change,
            key=key,
            client_key=client_key(tenant_id, client_id),
            occurred_at=occurred,
            raw=event_type,
            amount=amount,
        )
    ]


def _amount(data: dict[str, Any]) -> Money:
    value, currency = data.get("amount"), data.get("currency_code")
    if not isinstance(currency, str) or len(currency) != 3:
        raise InvalidWebhook("data.currency_code must be an ISO 4217 code")
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise InvalidWebhook("data.amount must be a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidWebhook("data.amount must be a number") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidWebhook("data.amount must be a positive number")
    # Major units as every UFP amount, to the cent like them (``mapping.money``).
    return money(amount, currency.upper())
