"""Pure functions from UFP JSON to domain records.

UFP sends amounts as JSON decimal numbers in major units. The connector decodes every
number with a fraction as an exact ``Decimal`` of the text UFP wrote
(``http.loads_exact``); amounts are then quantized to the cent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
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
from ...numbers import exact_decimal as decimal
from ..base import InvoiceSortField, invoice_sort_parts
from ..drift import decoded, enum_text
from .types import Client, Invoice, InvoiceDetail, Subscription

CENT = Decimal("0.01")

INVOICE_STATUS: Mapping[str, InvoiceStatus] = {
    "Draft": InvoiceStatus.DRAFT,
    "Unpaid": InvoiceStatus.OPEN,
    "PartiallyPaid": InvoiceStatus.PARTIALLY_PAID,
    "Paid": InvoiceStatus.PAID,
    "PaymentFailed": InvoiceStatus.PAYMENT_FAILED,
    "Void": InvoiceStatus.VOID,
    # A written-off balance is abandoned, not owed: the closest unified state is VOID.
    "WrittenOff": InvoiceStatus.VOID,
    "Refunded": InvoiceStatus.REFUNDED,
    "PartiallyRefunded": InvoiceStatus.REFUNDED,
}
SUBSCRIPTION_STATUS: Mapping[str, SubscriptionStatus] = {
    "Pending": SubscriptionStatus.PENDING,
    "Active": SubscriptionStatus.ACTIVE,
    # Still billing until its cancellation date.
    "PendingCancellation": SubscriptionStatus.ACTIVE,
    "Frozen": SubscriptionStatus.FROZEN,
    "Cancelled": SubscriptionStatus.CANCELLED,
    "Expired": SubscriptionStatus.EXPIRED,
    "Void": SubscriptionStatus.VOID,
}
BILLING_INTERVAL: Mapping[str, BillingInterval] = {
    "OneTime": BillingInterval.ONE_TIME,
    "Weekly": BillingInterval.WEEKLY,
    "Fortnightly": BillingInterval.BI_WEEKLY,
    "Monthly": BillingInterval.MONTHLY,
    "Quarterly": BillingInterval.QUARTERLY,
    "HalfYearly": BillingInterval.OTHER,
    "Yearly": BillingInterval.YEARLY,
}
ITEM_KIND: Mapping[str, InvoiceItemKind] = {
    "Membership": InvoiceItemKind.CHARGE,
    "Service": InvoiceItemKind.CHARGE,
    "Product": InvoiceItemKind.CHARGE,
    "Package": InvoiceItemKind.CHARGE,
    "Fee": InvoiceItemKind.FEE,
    "Discount": InvoiceItemKind.DISCOUNT,
    "Refund": InvoiceItemKind.REFUND,
    "Tax": InvoiceItemKind.TAX,
}


def money(value: Any, currency: str) -> Money:
    """A UFP amount in major units; a missing amount is zero."""
    if value is None:
        return Money.zero(currency)
    return Money(decimal(value).quantize(CENT), currency)


def parse_datetime(value: str | None) -> datetime | None:
    """A UFP datetime (offset kept) or date (midnight UTC); None stays None."""
    if not value:
        return None
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def client_key(tenant: str, client_id: int | str) -> Key:
    return Key(EntityType.CLIENT, Source.FITNESSFORCE, tenant, str(client_id))


def invoice_key(tenant: str, client_id: int | str, invoice_id: int | str) -> Key:
    return Key(EntityType.INVOICE, Source.FITNESSFORCE, tenant, f"{client_id}/{invoice_id}")


def subscription_key(tenant: str, client_id: int | str, subscription_id: int | str) -> Key:
    return Key(
        EntityType.SUBSCRIPTION, Source.FITNESSFORCE, tenant, f"{client_id}/{subscription_id}"
    )


def key_ids(key: Key, parts: int) -> tuple[str, ...] | None:
    """The numeric ids packed in ``key.id``, or None when the key is not one of ours."""
    pieces = tuple(key.id.split("/"))
    if key.source is not Source.FITNESSFORCE or len(pieces) != parts:
        return None
    if not key.tenant.isdigit() or not all(p.isdigit() for p in pieces):
        return None
    return pieces


def _position(line_number: object, index: int) -> int:
    if isinstance(line_number, int) and not isinstance(line_number, bool) and line_number > 0:
        return line_number - 1
    return index


def map_client(raw: Client, tenant: str) -> ClientRecord:
    """A UFP client as a ClientRecord."""
    first = raw.get("first_name") or None
    last = raw.get("last_name") or None
    name = raw.get("full_name") or " ".join(p for p in (first, last) if p)
    return ClientRecord(
        key=client_key(tenant, raw["client_id"]),
        first_name=first,
        last_name=last,
        display_name=name or raw.get("email") or str(raw["client_id"]),
        email=raw.get("email") or None,
        phone=raw.get("mobile_number") or None,
        created_at=parse_datetime(raw.get("created_date")),
        raw=raw,
    )


def map_invoice_item(
    raw: InvoiceDetail, invoice: Key, currency: str, index: int = 0
) -> InvoiceItemRecord:
    """One embedded ``invoice_details`` line (the ``index``-th) as an InvoiceItemRecord."""
    kind_raw = raw.get("charge_type")
    client_id, invoice_id = invoice.id.split("/", 1)
    return InvoiceItemRecord(
        key=Key(
            EntityType.INVOICE_ITEM,
            Source.FITNESSFORCE,
            invoice.tenant,
            f"{client_id}/{invoice_id}/{raw['invoice_detail_id']}",
        ),
        invoice_key=invoice,
        # UFP numbers lines from 1; the graph's positions count from 0, as elsewhere.
        position=_position(raw.get("line_number"), index),
        description=raw.get("charge_name") or "",
        kind=ITEM_KIND.get(kind_raw or "", InvoiceItemKind.UNKNOWN),
        kind_raw=kind_raw,
        quantity=decimal(raw.get("quantity", 1)),
        unit_price=money(raw.get("unit_price"), currency),
        discount=money(raw.get("discount_amount"), currency),
        tax=money(raw.get("tax_amount"), currency),
        total=money(raw.get("net_amount"), currency),
        raw=raw,
    )


def _issued(raw: Invoice) -> datetime:
    issued = parse_datetime(raw["invoice_date"])
    if issued is None:
        raise ValueError("invoice_date is empty")
    return issued


def _invoice_total(raw: Invoice) -> Money:
    return money(raw.get("net_amount"), raw["currency_code"])


def invoice_sort_raw(raw: Invoice, field: InvoiceSortField) -> Any:
    """A raw invoice's sort value: what ``invoice_sort_value`` gives its mapped record.

    Only the fields the order needs are read: an invoice that drifted elsewhere still
    takes its place in the list (and fails alone when its record is mapped).
    """
    dated = field in (InvoiceSortField.ISSUED_AT, InvoiceSortField.DUE_AT)
    return invoice_sort_parts(
        field,
        issued_at=_issued(raw) if dated else None,
        due_at=parse_datetime(raw.get("due_date")) if dated else None,
        total=_invoice_total(raw).amount if field is InvoiceSortField.TOTAL else None,
        number=raw.get("invoice_number"),
    )


def map_invoice(raw: Invoice, tenant: str) -> InvoiceRecord:
    """A UFP invoice, with its embedded lines, as an InvoiceRecord."""
    currency = raw["currency_code"]
    client_id = raw["client_id"]
    key = invoice_key(tenant, client_id, raw["invoice_id"])
    status_raw = enum_text(raw.get("status"))
    sub_id = raw.get("subscription_id")
    details = raw.get("invoice_details")
    issued = _issued(raw)
    return InvoiceRecord(
        key=key,
        client_key=client_key(tenant, client_id),
        number=raw.get("invoice_number"),
        status=INVOICE_STATUS.get(status_raw, InvoiceStatus.UNKNOWN),
        status_raw=status_raw,
        currency=currency,
        issued_at=issued,
        due_at=parse_datetime(raw.get("due_date")),
        paid_at=parse_datetime(raw.get("paid_date")),
        subtotal=money(raw.get("gross_amount"), currency),
        discount=money(raw.get("discount_amount"), currency),
        tax=money(raw.get("tax_amount"), currency),
        total=_invoice_total(raw),
        amount_paid=money(raw.get("paid_amount"), currency),
        balance_due=money(raw.get("balance_amount"), currency),
        subscription_key=None if sub_id is None else subscription_key(tenant, client_id, sub_id),
        note=raw.get("remarks") or None,
        items=None
        if details is None
        else MappedLater(
            details,
            decoded(
                Source.FITNESSFORCE,
                f"lines of Invoice {key.id}",
                lambda index, line: map_invoice_item(line, key, currency, index),
            ),
        ),
        raw=raw,
    )


def map_subscription(raw: Subscription, tenant: str) -> SubscriptionRecord:
    """A UFP client subscription (membership) as a SubscriptionRecord."""
    status_raw = enum_text(raw.get("subscription_status"))
    interval_raw = raw.get("billing_frequency")
    amount = raw.get("recurring_amount")
    plan_id = raw.get("plan_id")
    return SubscriptionRecord(
        key=subscription_key(tenant, raw["client_id"], raw["subscription_id"]),
        client_key=client_key(tenant, raw["client_id"]),
        kind=SubscriptionKind.MEMBERSHIP,
        plan_name=raw.get("plan_name") or "",
        plan_id=None if plan_id is None else str(plan_id),
        status=SUBSCRIPTION_STATUS.get(status_raw, SubscriptionStatus.UNKNOWN),
        status_raw=status_raw,
        interval=BILLING_INTERVAL.get(interval_raw or "", BillingInterval.UNKNOWN),
        interval_raw=interval_raw,
        price=None if amount is None else money(amount, raw["currency_code"]),
        starts_at=parse_datetime(raw.get("start_date")),
        ends_at=parse_datetime(raw.get("end_date")),
        next_billing_at=parse_datetime(raw.get("next_billing_date")),
        raw=raw,
    )
