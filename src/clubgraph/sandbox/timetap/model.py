"""The sandbox's mutable TimeTap state and the JSON views served from it.

Amounts are computed with Decimal and stored as JSON numbers (an int when whole,
otherwise the float whose shortest repr is the two-decimal literal), so that the
wire shows ``49.95`` exactly as TimeTap does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aiohttp import web

CENT = Decimal("0.01")
JSON = dict[str, Any]


def dec(value: Any) -> Decimal:
    """A stored JSON number (or None) as an exact Decimal."""
    if value is None:
        return Decimal(0)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def num(value: Decimal) -> int | float:
    """A Decimal amount as the JSON number TimeTap emits."""
    cents = value.quantize(CENT, rounding=ROUND_HALF_UP)
    if cents == cents.to_integral_value():
        return int(cents)
    return float(cents)


def now_ms() -> int:
    """The wall clock in epoch milliseconds, as TimeTap stamps writes."""
    return int(time.time() * 1000)


@dataclass(slots=True)
class Business:
    """One TimeTap business and the API key that reaches it."""

    business_id: int
    name: str
    api_key: str
    private_key: str
    tax_rate: Decimal
    tax2_rate: Decimal
    location: JSON
    staff: JSON
    currency: str = "USD"

    def view(self) -> JSON:
        """The business object ``GET /business`` answers."""
        return {
            "businessId": self.business_id,
            "businessName": self.name,
            "currency": self.currency,
            "timeZone": "US/Eastern",
        }


@dataclass(slots=True)
class Session:
    """A session token: its business and when it expires."""

    business_id: int
    expires_at: float


@dataclass(slots=True)
class TimeTapState:
    """Everything the sandbox serves; writes mutate it in place."""

    businesses: dict[int, Business] = field(default_factory=dict)
    clients: dict[int, JSON] = field(default_factory=dict)
    # Invoices are stored without their embedded client and items: those are joined
    # on every read so that item writes show up in the invoice.
    invoices: dict[int, JSON] = field(default_factory=dict)
    items: dict[int, JSON] = field(default_factory=dict)
    items_by_invoice: dict[int, list[int]] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    token_ttl_s: float = 3600.0
    next_invoice_id: int = 1
    next_item_id: int = 1
    next_client_id: int = 1

    def business_by_key(self, api_key: str) -> Business | None:
        """The business an API key belongs to."""
        for business in self.businesses.values():
            if business.api_key == api_key:
                return business
        return None

    # --- views ----------------------------------------------------------------

    def item_view(self, item: JSON) -> JSON:
        """An invoice item as served."""
        return dict(item)

    def active_items(self, invoice_id: int) -> list[JSON]:
        """An invoice's lines that are not soft-deleted."""
        ids = self.items_by_invoice.get(invoice_id, [])
        return [self.items[i] for i in ids if self.items[i]["active"]]

    def invoice_view(self, invoice: JSON) -> JSON:
        """An invoice as served, embedding its client and active lines."""
        # inferred: lines embedded in an invoice carry clientId, not a client object.
        out = dict(invoice)
        out["client"] = dict(self.clients[invoice["clientId"]])
        del out["clientId"]
        out["invoiceItem"] = [self.item_view(i) for i in self.active_items(invoice["invoiceId"])]
        return out

    # --- bookkeeping ------------------------------------------------------------

    def add_item(self, item: JSON) -> None:
        """Store a line and index it under its invoice."""
        self.items[item["invoiceItemId"]] = item
        if item.get("invoiceId") is not None:
            self.items_by_invoice.setdefault(item["invoiceId"], []).append(item["invoiceItemId"])

    def price_item(self, item: JSON) -> None:
        """Fill gross, net and tax amounts from rate, quantity, discount and taxability."""
        business = self.businesses[item["businessId"]]
        gross = dec(item["rate"]) * dec(item["quantity"])
        if item.get("discountPercentage"):
            discount = (gross * dec(item["discountPercentage"]) / 100).quantize(
                CENT, rounding=ROUND_HALF_UP
            )
        else:
            discount = dec(item.get("discountAmount"))
        net = gross - discount
        item["grossAmount"] = num(gross)
        item["netAmount"] = num(net)
        # inferred: per-line taxAmount/tax2Amount, which the invoice's taxes sum.
        if item.get("taxable"):
            item["taxAmount"] = num(net * business.tax_rate)
            item["tax2Amount"] = num(net * business.tax2_rate)
        else:
            item["taxAmount"] = 0
            item["tax2Amount"] = 0

    def recompute(self, invoice: JSON) -> None:
        """Recompute an invoice's amounts (and payment subStatus) from its active lines."""
        lines = self.active_items(invoice["invoiceId"])
        subtotal = sum((dec(i["netAmount"]) for i in lines), Decimal(0))
        tax = sum((dec(i["taxAmount"]) for i in lines), Decimal(0))
        tax2 = sum((dec(i["tax2Amount"]) for i in lines), Decimal(0))
        total = (
            subtotal + tax + tax2 + dec(invoice["tipAmount"]) + dec(invoice["transactionFeeAmount"])
        )
        paid = dec(invoice["paidAmount"])
        invoice["subtotalAmount"] = num(subtotal)
        invoice["taxAmount"] = num(tax)
        invoice["tax2Amount"] = num(tax2)
        invoice["balanceAmount"] = num(total - paid - dec(invoice["writeOffAmount"]))
        if invoice["status"] == "OPEN" and invoice["subStatus"] in (
            "No Payment",
            "Partial Payment",
        ):
            invoice["subStatus"] = "No Payment" if paid == 0 else "Partial Payment"


STATE: web.AppKey[TimeTapState] = web.AppKey("timetap_state", TimeTapState)
