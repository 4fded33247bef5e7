"""Request bodies for TimeTap writes, built from commands.

Amounts go out as JSON numbers written with exactly the command's digits: an int when
whole, otherwise the Decimal's own fixed-point literal spliced in as an
``orjson.Fragment``. No float is ever involved, so ``0.10`` or a 17-digit amount
arrive as written (TimeTap refuses amounts sent as strings, so a string is no option).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from ...commands import LineChange, LineInput

WireAmount = int | orjson.Fragment


def wire_amount(value: Decimal | int) -> WireAmount:
    """An exact amount as a JSON number."""
    if isinstance(value, int):
        return value
    if value == value.to_integral_value():
        return int(value)
    return orjson.Fragment(format(value, "f").encode())


def epoch_ms(day: date) -> int:
    """A calendar day as TimeTap's epoch milliseconds (midnight UTC)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


def new_line(
    line: LineInput, business_id: int, client_id: int, invoice_id: int | None = None
) -> dict[str, Any]:
    """An invoiceItem object for a new line (every property the seed marks required)."""
    body: dict[str, Any] = {
        "businessId": business_id,
        "clientId": client_id,
        "active": True,
        "quantity": int(line.quantity),
        "rate": wire_amount(line.unit_price),
        "description": line.description,
        # TimeTap taxes a taxable line at the business's own rates: a rate marks it taxable.
        "taxable": bool(line.tax_rate),
    }
    if invoice_id is not None:
        body["invoiceId"] = invoice_id
    if line.discount:
        body["discountAmount"] = wire_amount(line.discount)
    return body


def invoice_identity(current: Mapping[str, Any]) -> dict[str, Any]:
    """The properties a PUT /invoices must carry whatever it changes (the seed's required)."""
    return {
        "invoiceId": current["invoiceId"],
        "businessId": current["businessId"],
        "client": {"clientId": current["client"]["clientId"]},
        "invoiceDate": current["invoiceDate"],
        "invoiceType": current["invoiceType"],
    }


def invoice_changes(
    *,
    number: str | None = None,
    due_on: date | None = None,
    note: str | None = None,
    issued_on: date | None = None,
) -> dict[str, Any]:
    """The invoice properties a command sets (None leaves a property as it is)."""
    out: dict[str, Any] = {}
    if number is not None:
        out["invoiceNumber"] = number
    if due_on is not None:
        out["invoiceDueDate"] = epoch_ms(due_on)
    if note is not None:
        out["comments"] = note
    if issued_on is not None:
        out["invoiceDate"] = epoch_ms(issued_on)
    return out


def line_update(current: Mapping[str, Any], change: LineChange) -> dict[str, Any]:
    """A PUT /invoiceItem body: the line's required properties with the change applied."""
    body: dict[str, Any] = {
        "invoiceItemId": current["invoiceItemId"],
        "invoiceId": current["invoiceId"],
        "businessId": current["businessId"],
        "clientId": current["clientId"],
        "active": True,
        "quantity": wire_amount(current["quantity"]),
        "rate": wire_amount(current["rate"]),
    }
    if change.description is not None:
        body["description"] = change.description
    if change.quantity is not None:
        body["quantity"] = int(change.quantity)
    if change.unit_price is not None:
        body["rate"] = wire_amount(change.unit_price)
    if change.discount is not None:
        # An amount replaces any percentage, which TimeTap would otherwise apply first.
        body["discountAmount"] = wire_amount(change.discount)
        body["discountPercentage"] = None
    return body


def has_change(change: LineChange) -> bool:
    """Whether a line change changes anything."""
    return any(
        v is not None
        for v in (change.description, change.quantity, change.unit_price, change.discount)
    )
