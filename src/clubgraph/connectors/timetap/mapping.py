"""Pure functions from TimeTap JSON to domain records.

TimeTap amounts are documented as "integer" but carry cents (``49.95``); the
connector decodes JSON numbers with fractions to ``Decimal`` so no float is ever
involved. Invoice totals follow TimeTap's invoice fields: ``subtotalAmount`` is net
of line discounts, so the domain subtotal adds the line discounts back, and the
total is subtotal after discounts plus both taxes, the tip and the transaction fee.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
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
from ...numbers import exact_decimal
from ..drift import enum_text

CENT = Decimal("0.01")
DEFAULT_CURRENCY = "USD"

_OPEN_SUB_STATUS = {
    None: InvoiceStatus.OPEN,
    "No Payment": InvoiceStatus.OPEN,
    "Manual": InvoiceStatus.OPEN,
    "Partial Payment": InvoiceStatus.PARTIALLY_PAID,
    "Payment Declined": InvoiceStatus.PAYMENT_FAILED,
}
_ITEM_KINDS = {
    "APPOINTMENT": InvoiceItemKind.CHARGE,
    "RECURRING_APPOINTMENT": InvoiceItemKind.CHARGE,
    "PRODUCT": InvoiceItemKind.CHARGE,
    "PACKAGE": InvoiceItemKind.CHARGE,
    "GIFT_CARD": InvoiceItemKind.CHARGE,
    "FEE": InvoiceItemKind.FEE,
    "REFUND": InvoiceItemKind.REFUND,
}


def decimal_of(value: Any) -> Decimal:
    """An exact amount; TimeTap omits or nulls amounts that are zero."""
    return Decimal(0) if value is None else exact_decimal(value)


def money(value: Any, currency: str) -> Money:
    """Exact money in major units, at least to the cent."""
    amount = decimal_of(value)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        amount = amount.quantize(CENT)
    return Money(amount, currency)


def from_epoch_ms(value: Any) -> datetime | None:
    """A UTC datetime from TimeTap's milliseconds since the epoch."""
    if value is None:
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def client_key(tenant: str, client_id: Any) -> Key:
    """The key of a TimeTap client."""
    return Key(EntityType.CLIENT, Source.TIMETAP, tenant, str(client_id))


def invoice_key(tenant: str, invoice_id: Any) -> Key:
    """The key of a TimeTap invoice."""
    return Key(EntityType.INVOICE, Source.TIMETAP, tenant, str(invoice_id))


def invoice_item_key(tenant: str, invoice_id: Any, item_id: Any) -> Key:
    """The key of a line: ``"{invoiceId}/{invoiceItemId}"``."""
    return Key(EntityType.INVOICE_ITEM, Source.TIMETAP, tenant, f"{invoice_id}/{item_id}")


def invoice_status(
    status: str | None, sub_status: str | None, active: bool = True
) -> InvoiceStatus:
    """The unified status of a TimeTap status and subStatus."""
    if not active or status == "DELETED":
        return InvoiceStatus.DELETED
    if status == "OPEN":
        return _OPEN_SUB_STATUS.get(sub_status, InvoiceStatus.UNKNOWN)
    if status == "CLOSED":
        return InvoiceStatus.PAID
    if status == "VOID":
        return InvoiceStatus.VOID
    return InvoiceStatus.UNKNOWN


def status_raw(status: str | None, sub_status: str | None) -> str:
    """``STATUS/subStatus`` as TimeTap reports them."""
    base = status or ""
    return f"{base}/{sub_status}" if sub_status else base


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def map_client(raw: Mapping[str, Any], tenant: str | None = None) -> ClientRecord:
    """A TimeTap client object; ``tenant`` is used when it lacks ``businessId``."""
    business = raw.get("businessId")
    owner = str(business) if business is not None else (tenant or "")
    first = _text(raw.get("firstName"))
    last = _text(raw.get("lastName"))
    email = _text(raw.get("emailAddress"))
    name = _text(raw.get("fullName")) or " ".join(p for p in (first, last) if p)
    return ClientRecord(
        key=client_key(owner, raw["clientId"]),
        first_name=first,
        last_name=last,
        display_name=name or email or f"Client {raw['clientId']}",
        email=email,
        phone=_text(raw.get("cellPhone"))
        or _text(raw.get("homePhone"))
        or _text(raw.get("workPhone")),
        created_at=from_epoch_ms(raw.get("createdDate")),
        raw=raw,
    )


def _item_kind(raw: Mapping[str, Any]) -> tuple[InvoiceItemKind, str | None]:
    kind_raw = raw.get("itemType")
    if kind_raw is None:
        # Without a type, TimeTap's sign convention still tells refunds apart.
        negative = decimal_of(raw.get("rate")) < 0
        return (InvoiceItemKind.REFUND if negative else InvoiceItemKind.CHARGE), None
    return _ITEM_KINDS.get(str(kind_raw), InvoiceItemKind.UNKNOWN), str(kind_raw)


def _item_discount(raw: Mapping[str, Any], gross: Decimal) -> Decimal:
    if raw.get("grossAmount") is not None and raw.get("netAmount") is not None:
        return decimal_of(raw["grossAmount"]) - decimal_of(raw["netAmount"])
    if raw.get("discountAmount"):
        return decimal_of(raw["discountAmount"])
    if raw.get("discountPercentage"):
        share = gross * decimal_of(raw["discountPercentage"]) / 100
        return share.quantize(CENT, rounding=ROUND_HALF_UP)
    return Decimal(0)


def map_invoice_item(
    raw: Mapping[str, Any], *, tenant: str, position: int, currency: str
) -> InvoiceItemRecord:
    """One ``invoiceItem`` object at ``position`` within its invoice."""
    quantity = decimal_of(raw.get("quantity", 1))
    rate = decimal_of(raw.get("rate"))
    gross = (
        decimal_of(raw["grossAmount"]) if raw.get("grossAmount") is not None else rate * quantity
    )
    discount = _item_discount(raw, gross)
    net = decimal_of(raw["netAmount"]) if raw.get("netAmount") is not None else gross - discount
    tax = decimal_of(raw.get("taxAmount")) + decimal_of(raw.get("tax2Amount"))
    kind, kind_raw = _item_kind(raw)
    invoice_id = raw.get("invoiceId")
    return InvoiceItemRecord(
        key=invoice_item_key(tenant, invoice_id, raw["invoiceItemId"]),
        invoice_key=invoice_key(tenant, invoice_id),
        position=position,
        description=_text(raw.get("description")) or "",
        kind=kind,
        kind_raw=kind_raw,
        quantity=quantity,
        unit_price=money(rate, currency),
        discount=money(discount, currency),
        tax=money(tax, currency),
        total=money(net + tax, currency),
        raw=raw,
    )


def raw_invoice_key(raw: Mapping[str, Any]) -> Key:
    """An invoice's key, read from its raw JSON (lists order and key rows this way)."""
    return invoice_key(str(raw["businessId"]), raw["invoiceId"])


def raw_issued_at(raw: Mapping[str, Any]) -> datetime:
    return from_epoch_ms(raw["invoiceDate"]) or datetime.fromtimestamp(0, UTC)


def raw_due_at(raw: Mapping[str, Any]) -> datetime | None:
    return from_epoch_ms(raw.get("invoiceDueDate"))


def raw_number(raw: Mapping[str, Any]) -> str | None:
    return _text(raw.get("invoiceNumber"))


def map_invoice(raw: Mapping[str, Any]) -> InvoiceRecord:
    """A TimeTap invoice object, with its embedded ``invoiceItem`` lines when present."""
    tenant = str(raw["businessId"])
    currency = _text(raw.get("currency")) or DEFAULT_CURRENCY
    lines = raw.get("invoiceItem")
    items: tuple[InvoiceItemRecord, ...] | None = None
    if lines is not None:
        active = [line for line in lines if line.get("active", True)]
        items = tuple(
            map_invoice_item(line, tenant=tenant, position=i, currency=currency)
            for i, line in enumerate(active)
        )
    discount = sum((i.discount.amount for i in items or ()), Decimal(0))
    if raw.get("subtotalAmount") is not None:
        net = decimal_of(raw["subtotalAmount"])
    else:
        net = sum((i.total.amount - i.tax.amount for i in items or ()), Decimal(0))
    tax = decimal_of(raw.get("taxAmount")) + decimal_of(raw.get("tax2Amount"))
    total = (
        net + tax + decimal_of(raw.get("tipAmount")) + decimal_of(raw.get("transactionFeeAmount"))
    )
    paid = decimal_of(raw.get("paidAmount"))
    if raw.get("balanceAmount") is not None:
        balance = decimal_of(raw["balanceAmount"])
    else:
        balance = total - paid - decimal_of(raw.get("writeOffAmount"))
    client = raw.get("client") or {}
    client_id = client.get("clientId")
    status = enum_text(raw.get("status")) or None
    sub_status = enum_text(raw.get("subStatus")) or None
    return InvoiceRecord(
        key=raw_invoice_key(raw),
        client_key=client_key(tenant, client_id) if client_id is not None else None,
        number=raw_number(raw),
        status=invoice_status(status, sub_status, bool(raw.get("active", True))),
        status_raw=status_raw(status, sub_status),
        currency=currency,
        issued_at=raw_issued_at(raw),
        due_at=raw_due_at(raw),
        paid_at=from_epoch_ms(raw.get("paidOnDate")),
        subtotal=money(net + discount, currency),
        discount=money(discount, currency),
        tax=money(tax, currency),
        total=money(total, currency),
        amount_paid=money(paid, currency),
        balance_due=money(balance, currency),
        subscription_key=None,
        note=_text(raw.get("comments")),
        items=items,
        raw=raw,
    )


def embedded_client(invoice: InvoiceRecord) -> ClientRecord | None:
    """The client object an invoice response embeds, mapped (None when absent)."""
    client = invoice.raw.get("client")
    if not isinstance(client, Mapping) or client.get("clientId") is None:
        return None
    return map_client(client, invoice.key.tenant)
