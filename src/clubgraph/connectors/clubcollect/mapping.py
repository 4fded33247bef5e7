"""Pure functions from ClubCollect JSON to domain records.

Amounts are integer cents, so money never passes through a float. Payment and
chargeback lines are not invoice items: they make up ``amount_paid``; every other
line (charges, credits, fees) is an item, and the invoice totals are sums of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ...domain import (
    ClientRecord,
    EntityType,
    InvoiceItemKind,
    InvoiceItemRecord,
    InvoiceRecord,
    InvoiceStatus,
    Key,
    Money,
    Source,
)
from ...errors import UpstreamBadResponse
from ..drift import enum_text
from .types import CustomerJSON, InvoiceJSON, InvoiceLineJSON

SOURCE = Source.CLUBCOLLECT

# inferred: ClubCollect publishes no invoice status; the sandbox serves these.
STATUSES: Mapping[str, InvoiceStatus] = {
    "draft": InvoiceStatus.DRAFT,
    "transmitted": InvoiceStatus.OPEN,
    "payment_in_progress": InvoiceStatus.OPEN,
    "partially_paid": InvoiceStatus.PARTIALLY_PAID,
    "paid": InvoiceStatus.PAID,
    "chargeback": InvoiceStatus.PAYMENT_FAILED,
    "retracted": InvoiceStatus.VOID,
    "credited": InvoiceStatus.VOID,
    "refunded": InvoiceStatus.REFUNDED,
}

_PAYMENT_TYPES = frozenset({"PAYMENT-LINE", "PAYMENT", "JEUGDFONDS"})
_CHARGEBACK_TYPES = frozenset({"CHARGEBACK-LINE", "CHARGEBACK"})


def invoice_key(company: str, invoice_id: str) -> Key:
    return Key(EntityType.INVOICE, SOURCE, company, invoice_id)


def client_key(company: str, customer: str) -> Key:
    return Key(EntityType.CLIENT, SOURCE, company, customer)


def item_key(company: str, invoice_id: str, line_id: str) -> Key:
    return Key(EntityType.INVOICE_ITEM, SOURCE, company, f"{invoice_id}/{line_id}")


def cents(value: Any) -> int:
    """Integer cents from a JSON number or numeric string; a fractional cent is refused."""
    if isinstance(value, bool):
        raise UpstreamBadResponse(SOURCE.value, f"amount is not cents: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    # A float is only acceptable when it is whole: anything else is not a cent amount.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise UpstreamBadResponse(SOURCE.value, f"amount is not cents: {value!r}")


def parse_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 date or datetime; offsets are kept, a date or naive time is UTC."""
    if not value:
        return None
    if len(value) == 10:
        d = date.fromisoformat(value)
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _dig(obj: Any, *path: str) -> Any:
    """A nested value of loosely shaped JSON; None where any step is missing."""
    for name in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(name)
    return obj


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def customer_key(invoice: InvoiceJSON) -> str:
    """The id of the invoice's customer within its company.

    The club membership number when present, else the lower-cased email, else a
    stable hash of name and address (ClubCollect has no customer resource).
    """
    member = _text(invoice.get("club_membership_number"))
    if member:
        return member
    email = _text(_dig(invoice, "customer", "email", "email_address"))
    if email:
        return email.lower()
    name = _dig(invoice, "customer", "name") or {}
    address = _dig(invoice, "customer", "address") or {}
    parts = [
        *(str(name.get(k) or "").strip().lower() for k in ("first_name", "infix", "last_name")),
        *(
            str(address.get(k) or "").strip().lower()
            for k in ("address1", "house_number", "zipcode", "city", "country_code")
        ),
    ]
    digest = hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()
    return f"h-{digest[:16]}"


def _last_name(name: Mapping[str, Any]) -> str | None:
    last = _text(name.get("last_name"))
    infix = _text(name.get("infix"))
    return f"{infix} {last}" if infix and last else last


def map_client(customer: CustomerJSON, company: str, key_id: str) -> ClientRecord:
    """A client from the customer object of one of its invoices."""
    name: Mapping[str, Any] = customer.get("name") or {}
    first = _text(name.get("first_name"))
    last = _last_name(name)
    display = _text(name.get("organization")) or " ".join(p for p in (first, last) if p) or key_id
    return ClientRecord(
        key=client_key(company, key_id),
        first_name=first,
        last_name=last,
        display_name=display,
        email=_text(_dig(customer, "email", "email_address")),
        phone=_text(_dig(customer, "phone", "phone_number")),
        created_at=None,
        raw=customer,
    )


def is_payment_line(line_type: str) -> bool:
    """Payments and chargebacks move money; they are not items of the bill."""
    t = line_type.upper()
    if t in _PAYMENT_TYPES or t in _CHARGEBACK_TYPES:
        return True
    if t.startswith("PAYMENT-") or t.endswith("-PAYMENT-LINE"):
        return True
    return t.startswith("CHARGEBACK-") and not t.startswith("CHARGEBACK-FEE")


def line_kind(line: InvoiceLineJSON) -> InvoiceItemKind:
    """The unified kind of a non-payment line."""
    t = str(line.get("type") or "").upper()
    if t == "INVOICE-LINE":
        if line.get("subtype") == "surcharge":
            return InvoiceItemKind.FEE
        return InvoiceItemKind.REFUND if cents(line["amount_cents"]) < 0 else InvoiceItemKind.CHARGE
    if t.startswith("CREDIT-"):
        return InvoiceItemKind.DISCOUNT
    if t.endswith("-FEE") or t.endswith("-FEE-LINE"):
        return InvoiceItemKind.FEE
    return InvoiceItemKind.UNKNOWN


def map_line(
    line: InvoiceLineJSON, company: str, invoice_id: str, position: int, currency: str
) -> InvoiceItemRecord:
    """One non-payment line; ``position`` counts items only, from 0."""
    amount = Money.from_minor(cents(line["amount_cents"]), currency)
    kind = line_kind(line)
    return InvoiceItemRecord(
        key=item_key(company, invoice_id, line["invoice_line_id"]),
        invoice_key=invoice_key(company, invoice_id),
        position=position,
        description=line.get("description") or str(line.get("type") or ""),
        kind=kind,
        kind_raw=line.get("type"),
        quantity=Decimal(1),
        unit_price=amount,
        discount=Money.zero(currency),
        tax=Money.zero(currency),
        total=amount,
        raw=line,
    )


def map_items(invoice: InvoiceJSON, company: str, currency: str) -> tuple[InvoiceItemRecord, ...]:
    """The item lines of an invoice, in upstream order."""
    lines = [ln for ln in invoice.get("invoice_lines") or [] if not is_payment_line(ln["type"])]
    return tuple(
        map_line(ln, company, invoice["invoice_id"], i, currency) for i, ln in enumerate(lines)
    )


def _status(invoice: InvoiceJSON, paid: int, open_: int) -> tuple[InvoiceStatus, str]:
    raw = invoice.get("status")
    if raw is not None:
        text = enum_text(raw)
        return STATUSES.get(text, InvoiceStatus.UNKNOWN), text
    # Without the status field, derive what the documented fields tell.
    if invoice.get("retracted_at"):
        return InvoiceStatus.VOID, ""
    if open_ <= 0 and paid > 0:
        return InvoiceStatus.PAID, ""
    return (InvoiceStatus.PARTIALLY_PAID if paid > 0 else InvoiceStatus.OPEN), ""


def map_invoice(invoice: InvoiceJSON, company: str, currency: str) -> InvoiceRecord:
    """An invoice with its item lines embedded."""
    items = map_items(invoice, company, currency)
    lines = invoice.get("invoice_lines") or []
    payments = [ln for ln in lines if is_payment_line(ln["type"])]
    paid = -sum(cents(ln["amount_cents"]) for ln in payments)
    discount = -sum(i.total.minor for i in items if i.kind is InvoiceItemKind.DISCOUNT)
    subtotal = sum(i.total.minor for i in items if i.kind is not InvoiceItemKind.DISCOUNT)
    total = subtotal - discount
    status, status_raw = _status(invoice, paid, total - paid)
    created = parse_datetime(invoice.get("created_at"))
    issued = parse_datetime(invoice.get("transmitted_at")) or created
    if issued is None:
        raise UpstreamBadResponse(SOURCE.value, f"invoice {invoice['invoice_id']} has no date")
    paid_at = None
    if status in (InvoiceStatus.PAID, InvoiceStatus.REFUNDED):
        dates = [d for d in (parse_datetime(ln.get("date")) for ln in payments) if d is not None]
        paid_at = max(dates) if dates else None
    return InvoiceRecord(
        key=invoice_key(company, invoice["invoice_id"]),
        client_key=client_key(company, customer_key(invoice)),
        number=_text(invoice.get("external_invoice_number"))
        or _text(invoice.get("invoice_number")),
        status=status,
        status_raw=status_raw,
        currency=currency,
        issued_at=issued,
        due_at=parse_datetime(invoice.get("due_date")),
        paid_at=paid_at,
        subtotal=Money.from_minor(subtotal, currency),
        discount=Money.from_minor(discount, currency),
        tax=Money.zero(currency),
        total=Money.from_minor(total, currency),
        amount_paid=Money.from_minor(paid, currency),
        balance_due=Money.from_minor(total - paid, currency),
        subscription_key=None,
        note=_text(invoice.get("retraction_reason")),
        items=items,
        raw=invoice,
    )
