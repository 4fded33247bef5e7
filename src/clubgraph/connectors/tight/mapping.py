"""Pure functions from Tight's JSON to domain records.

Money: ``totalAmountCents`` is authoritative for the total; every other amount is a
JSON dollar number, decoded as an exact ``Decimal`` of the text Tight wrote
(``http.loads_exact``) and rounded to the cent (a sender's binary noise such as
``0.30000000000000004`` reads as 0.30).

The recurring parent of a series is both a Subscription (the plan) and an Invoice
(it bills the first period itself); its children, and the parent, point to the
Subscription through ``subscription_key``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ...domain import (
    BillingInterval,
    ClientRecord,
    EntityType,
    InvoiceItemKind,
    InvoiceItemRecord,
    InvoiceRecord,
    InvoiceStatus,
    Key,
    MappedLater,
    Money,
    Source,
    SubscriptionKind,
    SubscriptionRecord,
    SubscriptionStatus,
)
from ...numbers import exact_decimal as decimal_of
from ..base import InvoiceSortField, invoice_sort_parts
from ..drift import decoded, enum_text
from .types import TightClient, TightInvoice, TightLineItem

DEFAULT_CURRENCY = "USD"
_CENT = Decimal("0.01")

SUBSCRIPTION_STATUS = {
    "OPEN": SubscriptionStatus.ACTIVE,
    "SCHEDULED": SubscriptionStatus.ACTIVE,
    "CANCELLED": SubscriptionStatus.CANCELLED,
    "CLOSED": SubscriptionStatus.EXPIRED,
    "DRAFT": SubscriptionStatus.PENDING,
}
INTERVAL = {
    "ONE_TIME": BillingInterval.ONE_TIME,
    "WEEKLY": BillingInterval.WEEKLY,
    "BI_WEEKLY": BillingInterval.BI_WEEKLY,
    "MONTHLY": BillingInterval.MONTHLY,
    "YEARLY": BillingInterval.YEARLY,
    # Tight's test frequency: a new invoice every two minutes.
    "AFTER_TWO_MINS": BillingInterval.OTHER,
}
# Unified invoice statuses -> the Tight statuses that can produce them.
UPSTREAM_INVOICE_STATUS: dict[InvoiceStatus, tuple[str, ...]] = {
    InvoiceStatus.DRAFT: ("DRAFT",),
    InvoiceStatus.SCHEDULED: ("SCHEDULED",),
    InvoiceStatus.OPEN: ("OPEN",),
    InvoiceStatus.PARTIALLY_PAID: ("OPEN",),
    InvoiceStatus.PAID: ("CLOSED", "OPEN"),
    InvoiceStatus.VOID: ("CANCELLED",),
    InvoiceStatus.REFUNDED: ("REFUNDED",),
}
UPSTREAM_SUBSCRIPTION_STATUS: dict[SubscriptionStatus, tuple[str, ...]] = {
    SubscriptionStatus.ACTIVE: ("OPEN", "SCHEDULED"),
    SubscriptionStatus.CANCELLED: ("CANCELLED",),
    SubscriptionStatus.EXPIRED: ("CLOSED",),
    SubscriptionStatus.PENDING: ("DRAFT",),
}


# --- scalars ---------------------------------------------------------------------


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half-up, as Tight rounds invoice amounts."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def money(value: Any, currency: str) -> Money:
    """A dollar amount (JSON number, null meaning zero) as exact Money."""
    return Money(cents(decimal_of(0 if value is None else value)), currency)


def parse_date(value: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (or a full ISO datetime) as a timezone-aware datetime (UTC midnight)."""
    if not value:
        return None
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def add_period(start: datetime, frequency: str) -> datetime | None:
    """The instant one billing period after ``start``; None for an unknown frequency."""
    if frequency == "WEEKLY":
        return start + timedelta(days=7)
    if frequency == "BI_WEEKLY":
        return start + timedelta(days=14)
    if frequency == "AFTER_TWO_MINS":
        return start + timedelta(minutes=2)
    if frequency not in ("MONTHLY", "YEARLY"):
        return None
    months = start.month - 1 + (12 if frequency == "YEARLY" else 1)
    year, month = start.year + months // 12, months % 12 + 1
    # The same day of the month, or the month's last day when it is shorter (31 Jan ->
    # 28 Feb, 29 Feb -> 28 Feb the next year).
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


# --- keys --------------------------------------------------------------------------


def _key(kind: EntityType, tenant: str, ident: object) -> Key:
    return Key(kind, Source.TIGHT, tenant, str(ident))


def tenant_of(raw: Mapping[str, Any], default: str) -> str:
    """The business id a Tight object belongs to."""
    business = raw.get("businessId")
    return default if business is None else str(business)


def client_key(tenant: str, client_id: object) -> Key:
    return _key(EntityType.CLIENT, tenant, client_id)


def invoice_key(tenant: str, invoice_id: object) -> Key:
    return _key(EntityType.INVOICE, tenant, invoice_id)


def item_key(tenant: str, invoice_id: object, line_id: object) -> Key:
    return _key(EntityType.INVOICE_ITEM, tenant, f"{invoice_id}/{line_id}")


def subscription_key(tenant: str, parent_id: object) -> Key:
    return _key(EntityType.SUBSCRIPTION, tenant, parent_id)


def is_subscription(raw: Mapping[str, Any]) -> bool:
    """Whether an invoice is the recurring parent of a series, i.e. a plan."""
    return bool(raw.get("isRecurringParent")) and raw.get("frequency") != "ONE_TIME"


# --- records -------------------------------------------------------------------------


def map_client(raw: TightClient, tenant: str) -> ClientRecord:
    """A Tight client; ``tenant`` is used when the object carries no ``businessId``."""
    first = raw.get("firstName") or None
    last = raw.get("lastName") or None
    name = raw.get("name") or " ".join(p for p in (first, last) if p) or str(raw["id"])
    return ClientRecord(
        key=client_key(tenant_of(raw, tenant), raw["id"]),
        first_name=first,
        last_name=last,
        display_name=name,
        email=raw.get("email") or None,
        phone=raw.get("phone") or None,
        created_at=parse_date(raw.get("createdDate")),
        raw=raw,
    )


def _line_amount(raw: TightLineItem) -> Decimal:
    if raw.get("amount") is not None:
        return cents(decimal_of(raw["amount"]))
    return cents(decimal_of(raw.get("quantity", 1)) * cents(decimal_of(raw["price"])))


def map_item(raw: TightLineItem, invoice: Key, position: int, currency: str) -> InvoiceItemRecord:
    """One line; its tax is the line's percent rate applied to its amount, to the cent."""
    amount = _line_amount(raw)
    tax = cents(amount * decimal_of(raw.get("salesTax") or 0) / 100)
    price = money(raw.get("price"), currency)
    line_id = raw.get("id", position)
    return InvoiceItemRecord(
        key=item_key(invoice.tenant, invoice.id, line_id),
        invoice_key=invoice,
        position=position,
        description=raw.get("description") or "",
        kind=InvoiceItemKind.DISCOUNT if price.amount < 0 else InvoiceItemKind.CHARGE,
        kind_raw=None,
        quantity=decimal_of(raw.get("quantity", 1)),
        unit_price=price,
        discount=Money(Decimal("0.00"), currency),
        tax=Money(tax, currency),
        total=Money(amount + tax, currency),
        raw=raw,
    )


def invoice_status(raw: TightInvoice) -> InvoiceStatus:
    """Tight's status, with OPEN split by what has been paid."""
    status = enum_text(raw.get("status"))
    if status == "OPEN":
        paid = decimal_of(raw.get("amountPaid") or 0)
        if paid > 0:
            balance = decimal_of(raw.get("balance") or 0)
            return InvoiceStatus.PAID if balance <= 0 else InvoiceStatus.PARTIALLY_PAID
        return InvoiceStatus.OPEN
    return {
        "DRAFT": InvoiceStatus.DRAFT,
        "SCHEDULED": InvoiceStatus.SCHEDULED,
        "CLOSED": InvoiceStatus.PAID,
        "CANCELLED": InvoiceStatus.VOID,
        "REFUNDED": InvoiceStatus.REFUNDED,
    }.get(status, InvoiceStatus.UNKNOWN)


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, Decimal("0.00"))


def _total(raw: Mapping[str, Any], currency: str) -> Money:
    if raw.get("totalAmountCents") is not None:
        return Money.from_minor(raw["totalAmountCents"], currency)
    return money(raw.get("totalAmount"), currency)


def _number(raw: Mapping[str, Any]) -> str | None:
    number = raw.get("invoiceNo")
    return None if number is None else f"{raw.get('invoicePrefix') or ''}{number}"


def _issued(raw: Mapping[str, Any]) -> datetime:
    issued = parse_date(raw.get("date"))
    if issued is None:
        raise ValueError(f"Tight invoice {raw.get('id')} has no date")
    return issued


def raw_invoice_key(raw: Mapping[str, Any], tenant: str) -> Key:
    """The key ``map_invoice`` gives this raw invoice."""
    return invoice_key(tenant_of(raw, tenant), raw["id"])


def invoice_sort_raw(raw: Mapping[str, Any], field: InvoiceSortField) -> Any:
    """A raw invoice's sort value: what ``invoice_sort_value`` gives its mapped record."""
    return invoice_sort_parts(
        field,
        issued_at=_issued(raw),
        due_at=parse_date(raw.get("dueDate")),
        total=_total(raw, raw.get("currency") or DEFAULT_CURRENCY).amount,
        number=_number(raw),
    )


def map_invoice(raw: TightInvoice, tenant: str) -> InvoiceRecord:
    """A Tight invoice with its embedded lines (``items`` is set when ``lineItems`` came)."""
    tenant = tenant_of(raw, tenant)
    currency = raw.get("currency") or DEFAULT_CURRENCY
    key = invoice_key(tenant, raw["id"])
    lines = raw.get("lineItems")
    items = (
        MappedLater(
            lines,
            decoded(
                Source.TIGHT,
                f"lines of Invoice {key.id}",
                lambda i, line: map_item(line, key, i, currency),
            ),
        )
        if isinstance(lines, list)
        else None
    )
    total = _total(raw, currency)
    if raw.get("salesTax") is not None:
        tax = money(raw["salesTax"], currency).amount
    else:
        tax = _sum(i.tax.amount for i in items or ())
    if items:
        subtotal = _sum(_line_amount(line) for line in lines or ())
    else:
        subtotal = total.amount - tax + decimal_of(raw.get("discountAmount") or 0)
    if raw.get("discountAmount") is not None:
        discount = money(raw["discountAmount"], currency).amount
    elif raw.get("discountPercent") is not None:
        discount = cents(subtotal * decimal_of(raw["discountPercent"]) / 100)
    else:
        discount = Decimal("0.00")
    paid = money(raw.get("amountPaid"), currency)
    if raw.get("balance") is not None:
        balance = money(raw["balance"], currency)
    else:
        balance = Money(total.amount - paid.amount, currency)
    parent = raw.get("parentId")
    if parent is not None:
        plan: Key | None = subscription_key(tenant, parent)
    elif is_subscription(raw):
        plan = subscription_key(tenant, raw["id"])
    else:
        plan = None
    client = raw.get("clientId")
    issued = _issued(raw)
    return InvoiceRecord(
        key=key,
        client_key=None if client is None else client_key(tenant, client),
        number=_number(raw),
        status=invoice_status(raw),
        status_raw=enum_text(raw.get("status")),
        currency=currency,
        issued_at=issued,
        due_at=parse_date(raw.get("dueDate")),
        paid_at=parse_date(raw.get("paidDate")),
        subtotal=Money(subtotal, currency),
        discount=Money(discount, currency),
        tax=Money(tax, currency),
        total=total,
        amount_paid=paid,
        balance_due=balance,
        subscription_key=plan,
        note=raw.get("personalNote") or None,
        items=items,
        raw=raw,
    )


def map_subscription(raw: TightInvoice, tenant: str) -> SubscriptionRecord:
    """A recurring parent invoice as a recurring-invoice plan."""
    tenant = tenant_of(raw, tenant)
    currency = raw.get("currency") or DEFAULT_CURRENCY
    status_raw = enum_text(raw.get("status"))
    status = SUBSCRIPTION_STATUS.get(status_raw, SubscriptionStatus.UNKNOWN)
    frequency = raw.get("frequency")
    starts = parse_date(raw.get("date"))
    last = parse_date(raw.get("lastCreatedRecurringInvoice"))
    next_billing: datetime | None = None
    base = last or starts
    if status_raw == "SCHEDULED":
        next_billing = starts
    elif status is SubscriptionStatus.ACTIVE and frequency and base is not None:
        next_billing = add_period(base, frequency)
    ends = (
        (last or starts)
        if status in (SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED)
        else None
    )
    if raw.get("totalAmountCents") is not None:
        price: Money | None = Money.from_minor(raw["totalAmountCents"], currency)
    elif raw.get("totalAmount") is not None:
        price = money(raw["totalAmount"], currency)
    else:
        price = None
    client = raw.get("clientId")
    return SubscriptionRecord(
        key=subscription_key(tenant, raw["id"]),
        client_key=None if client is None else client_key(tenant, client),
        kind=SubscriptionKind.RECURRING_INVOICE,
        plan_name=raw.get("name") or "",
        plan_id=None,
        status=status,
        status_raw=status_raw,
        interval=INTERVAL.get(frequency or "", BillingInterval.UNKNOWN),
        interval_raw=frequency,
        price=price,
        starts_at=starts,
        ends_at=ends,
        next_billing_at=next_billing,
        raw=raw,
    )
