"""Tight's money as the sandbox computes it: integer cents inside, JSON dollars outside."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

_ONE = Decimal(1)


def decimal_of(value: Any) -> Decimal:
    """A JSON number (or numeric string) as the exact decimal it was written as."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    # repr gives the shortest text that reads back as the same float, which is the
    # text the JSON carried for any amount with fewer than 16 significant digits.
    text = repr(value) if isinstance(value, float) else str(value)
    try:
        result = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return result


def round_cents(value: Decimal) -> int:
    """Round a (fractional) number of cents half-up, as invoices do."""
    return int(value.quantize(_ONE, rounding=ROUND_HALF_UP))


def to_cents(value: Any) -> int:
    """Cents of a dollar amount given as a JSON number."""
    return round_cents(decimal_of(value) * 100)


def dollars(cents: int) -> float:
    """Dollars as a JSON number, the way Tight writes amounts (``50.01``)."""
    return cents / 100


def json_number(value: Decimal) -> int | float:
    """A quantity or rate as a JSON number."""
    return int(value) if value == value.to_integral_value() else float(value)


def line_amounts(line: Mapping[str, Any]) -> tuple[int, int]:
    """(amount, sales tax) of one line item, in cents."""
    amount = round_cents(decimal_of(line["quantity"]) * to_cents(line["price"]))
    rate = decimal_of(line.get("salesTax") or 0)
    return amount, round_cents(amount * rate / 100)


def recompute(invoice: dict[str, Any]) -> None:
    """Derive every amount of an invoice from its lines, discount and payments."""
    subtotal = tax = 0
    for line in invoice["lineItems"]:
        amount, line_tax = line_amounts(line)
        line["amount"] = dollars(amount)
        subtotal += amount
        tax += line_tax
    if invoice.get("discountAmount") is not None:
        discount = to_cents(invoice["discountAmount"])
    elif invoice.get("discountPercent") is not None:
        discount = round_cents(subtotal * decimal_of(invoice["discountPercent"]) / 100)
    else:
        discount = 0
    total = subtotal - discount + tax
    paid = sum(
        to_cents(p["amountApplied"]) for p in invoice["payments"] if p["status"] == "PROCESSED"
    )
    pending = sum(
        to_cents(p["amountApplied"]) for p in invoice["payments"] if p["status"] == "PENDING"
    )
    closed = invoice["status"] in ("CANCELLED", "REFUNDED")
    invoice["salesTax"] = dollars(tax)
    invoice["totalAmount"] = dollars(total)
    invoice["totalAmountCents"] = total
    invoice["amountPaid"] = dollars(paid)
    invoice["pendingPaymentAmount"] = dollars(pending)
    invoice["balance"] = dollars(0 if closed else max(total - paid, 0))
