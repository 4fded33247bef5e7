"""How seeded invoices got where they are: statuses, payments, fees, retractions."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .ledger import iso, line

_METHODS = ("ideal", "sdd", "sdd", "bank_transfer", "credit_card", "bancontact")


def _hex(rnd: random.Random) -> str:
    return f"{rnd.getrandbits(160):040x}"


def pick_status(rnd: random.Random, age_months: int, total: int) -> str:
    """A seeded invoice's status from its age and total."""
    if total == 0:
        return "credited"
    if total < 0:
        return "refunded" if age_months >= 2 else "transmitted"
    # Older invoices have mostly been settled; recent ones are still open.
    old = (0, 9, 1, 6, 64, 7, 7, 0, 0)
    weights = old if age_months >= 3 else (0, 30, 12, 14, 32, 6, 4, 0, 0)
    return rnd.choices(
        (
            "draft",
            "transmitted",
            "payment_in_progress",
            "partially_paid",
            "paid",
            "chargeback",
            "retracted",
            "credited",
            "refunded",
        ),
        weights,
    )[0]


def settle(
    rnd: random.Random,
    line_id: Callable[[], str],
    inv: dict[str, Any],
    iban: str | None,
    sent: datetime,
    total: int,
) -> None:
    """Add the payment, fee and credit lines the invoice's status implies."""
    lines = inv["invoice_lines"]
    inv["messages"].append(
        {
            "message_id": _hex(rnd)[:24],
            "type": "EMAIL",
            "description": "Factuur",
            "date": iso(sent),
        }
    )
    status = inv["status"]
    paid_on = sent + timedelta(days=rnd.randrange(1, 20), hours=rnd.randrange(0, 10))
    method = "sdd" if iban else rnd.choice(_METHODS)
    if status == "paid":
        if rnd.random() < 0.15:
            lines.append(line(line_id(), "INSTALLMENT-FEE-LINE", 150, sent))
            half = total // 2
            for part, when in ((half, paid_on), (total - half, paid_on + timedelta(days=30))):
                lines.append(line(line_id(), "PAYMENT-LINE", -part, when, payment_method=method))
            lines.append(
                line(
                    line_id(),
                    "INSTALLMENT-FEE-PAYMENT-LINE",
                    -150,
                    paid_on,
                    payment_method=method,
                )
            )
        else:
            lines.append(line(line_id(), "PAYMENT-LINE", -total, paid_on, payment_method=method))
    elif status == "partially_paid":
        part = max(total // 3, 1)
        lines.append(line(line_id(), "PAYMENT-LINE", -part, paid_on, payment_method=method))
    elif status == "chargeback":
        lines.append(line(line_id(), "PAYMENT-LINE", -total, paid_on, payment_method="sdd"))
        back = paid_on + timedelta(days=rnd.randrange(3, 40))
        lines.append(line(line_id(), "CHARGEBACK-LINE", total, back))
        lines.append(line(line_id(), "CHARGEBACK-FEE-LINE", 600, back))
    elif status == "refunded":
        lines.append(
            line(line_id(), "PAYMENT-LINE", -total, paid_on, payment_method="bank_transfer")
        )
    elif status in ("transmitted", "retracted") and rnd.random() < 0.4:
        lines.append(line(line_id(), "LATE-PAYMENT-FEE-LINE", 750, sent + timedelta(days=45)))
        inv["messages"].append(
            {
                "message_id": _hex(rnd)[:24],
                "type": rnd.choice(("EMAIL", "SMS", "LETTER")),
                "description": "Herinnering",
                "date": iso(sent + timedelta(days=30)),
            }
        )
    if status == "retracted":
        when = sent + timedelta(days=rnd.randrange(20, 60))
        reason = rnd.choice(("Lid opgezegd", "Dubbel gefactureerd", "Verhuisd"))
        outstanding = sum(ln["amount_cents"] for ln in lines)
        lines.append(line(line_id(), "CREDIT-LINE", -outstanding, when, reason))
        inv["retracted_at"] = iso(when)
        inv["retraction_reason"] = reason
        inv["show_retraction_reason_to_customer"] = rnd.random() < 0.5
    if status in ("transmitted", "chargeback") and rnd.random() < 0.1:
        inv["tickets"].append(
            {
                "ticket_id": _hex(rnd)[:24],
                "message": "Ik heb al betaald",
                "sender": "CUSTOMER",
                "date": iso(sent + timedelta(days=10)),
            }
        )
