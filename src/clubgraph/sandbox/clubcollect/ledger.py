"""Invoice money and lifecycle rules shared by the seed data and the write endpoints."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

# ClubCollect is a Dutch service: its timestamps carry the Amsterdam offset.
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

# Lines that move money rather than bill it.
PAYMENT_TYPES = frozenset(
    {
        "PAYMENT-LINE",
        "CHARGEBACK-LINE",
        "CHARGEBACK-FEE-PAYMENT-LINE",
        "LATE-PAYMENT-FEE-PAYMENT-LINE",
        "INSTALLMENT-FEE-PAYMENT-LINE",
    }
)

# inferred: the lifecycle states the sandbox serves in the invoice's "status".
STATUSES = (
    "draft",
    "transmitted",
    "payment_in_progress",
    "partially_paid",
    "paid",
    "chargeback",
    "retracted",
    "credited",
    "refunded",
)


def iso(moment: datetime) -> str:
    """ISO 8601 with the Amsterdam offset, to the second."""
    return moment.astimezone(AMSTERDAM).isoformat(timespec="seconds")


def new_id() -> str:
    """A 40-hex-digit id, the shape ClubCollect's ids have."""
    return secrets.token_hex(20)


def line(
    line_id: str,
    type_: str,
    amount_cents: int,
    when: datetime,
    description: str | None = None,
    *,
    subtype: str | None = None,
    payment_method: str | None = None,
) -> dict[str, Any]:
    """One invoice line as the API serves it."""
    out: dict[str, Any] = {
        "invoice_line_id": line_id,
        "type": type_,
        "amount_cents": amount_cents,
        "description": description,
        "date": iso(when),
    }
    if subtype is not None:
        out["subtype"] = subtype
    if payment_method is not None:
        out["payment_method"] = payment_method
    return out


def recompute(invoice: dict[str, Any]) -> None:
    """Refresh the amounts derived from the lines (inferred fields)."""
    lines = invoice["invoice_lines"]
    invoice["amount_paid_cents"] = -sum(
        ln["amount_cents"] for ln in lines if ln["type"] in PAYMENT_TYPES
    )
    invoice["amount_open_cents"] = sum(ln["amount_cents"] for ln in lines)


def status_after_transmit(invoice: dict[str, Any]) -> str:
    """The status a draft takes when its import is transmitted."""
    if invoice["amount_total_cents"] == 0:
        return "credited"
    return "transmitted"
