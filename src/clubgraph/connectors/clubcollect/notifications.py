"""ClubCollect's change notifications: the body it posts to a partner, checked.

Documented (ClubCollect API documentation, "Notifications"): every ten minutes, and
optionally in real time for one invoice, ClubCollect POSTs
``{"api_key": "...", "invoice_ids": [...], "import_ids": [...]}`` to the partner's
endpoint and expects 200 OK; unconfirmed ids are sent again in the next round. The
partner then GETs each invoice and import to read what changed. The ``api_key`` in
the body is how the partner can tell the request comes from ClubCollect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...domain import InvoiceRecord, Key, Money
from ...events.model import Change, ChangeEvent, EventKind


class InvalidNotification(ValueError):
    """A body that is not a ClubCollect notification."""


@dataclass(frozen=True, slots=True)
class Notification:
    """The ids a notification names (deduplicated, in the order given)."""

    invoice_ids: tuple[str, ...] = ()
    import_ids: tuple[str, ...] = ()
    api_key: str | None = None


def _ids(body: dict[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidNotification(f"{name} must be a list of non-empty id strings")
    return tuple(dict.fromkeys(v.strip() for v in value))


def parse_notification(body: Any) -> Notification:
    """The notification in a decoded JSON body, or ``InvalidNotification``."""
    if not isinstance(body, dict):
        raise InvalidNotification("the body must be a JSON object")
    if "invoice_ids" not in body and "import_ids" not in body:
        raise InvalidNotification("the body names neither invoice_ids nor import_ids")
    api_key = body.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        raise InvalidNotification("api_key must be a string")
    return Notification(_ids(body, "invoice_ids"), _ids(body, "import_ids"), api_key)


# The signature and delivery headers of a notification (inferred: ClubCollect documents
# the api_key in the body; a signed delivery follows the scheme of ``signing.py``).
SIGNATURE_HEADER = "X-ClubCollect-Signature"
DELIVERY_HEADER = "X-ClubCollect-Delivery"


@dataclass(frozen=True, slots=True)
class InvoiceChange:
    """An invoice a notification named: its record before (None: not indexed) and after
    (None: gone upstream)."""

    key: Key
    before: InvoiceRecord | None
    after: InvoiceRecord | None


def change_events(
    delivery_id: str, changes: list[InvoiceChange], occurred_at: datetime
) -> list[ChangeEvent]:
    """What a notification's invoices went through, as events: each invoice created,
    updated or deleted, and a payment where the amount paid grew."""
    events: list[ChangeEvent] = []
    for item in changes:
        record = item.after or item.before
        client = record.client_key if record is not None else None
        if item.after is None:
            change = Change.DELETED
        elif item.before is None:
            change = Change.CREATED
        else:
            change = Change.UPDATED
        base = f"clubcollect:{delivery_id}:{item.key.id}"
        events.append(
            ChangeEvent(
                f"{base}:{change.value}",
                EventKind.INVOICE,
                change,
                item.key,
                client,
                occurred_at,
                "notification",
            )
        )
        paid_before = item.before.amount_paid.amount if item.before is not None else Decimal(0)
        if item.after is not None and item.after.amount_paid.amount > paid_before:
            received = item.after.amount_paid.amount - paid_before
            events.append(
                ChangeEvent(
                    f"{base}:payment",
                    EventKind.PAYMENT,
                    Change.RECEIVED,
                    item.key,
                    client,
                    occurred_at,
                    "notification",
                    Money(received, item.after.amount_paid.currency),
                )
            )
    return events
