"""Deterministic seeded data for the Tight sandbox, as Tight's own JSON objects."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from .. import people
from ..people import SEED_NOW, SEED_START
from .amounts import dollars, recompute, to_cents
from .objects import (
    TERMS_DAYS,
    add_period,
    business,
    client_json,
    invoice_json,
    iso_date,
    line_json,
)
from .state import TightState

_CATALOGUE = (
    ("Personal training session", "65.00"),
    ("Drop-in class", "18.50"),
    ("Towel service", "4.25"),
    ("Locker rental", "12.10"),
    ("Protein shake", "6.75"),
    ("Yoga 10-class pack", "150.00"),
    ("Registration fee", "25.00"),
    ("Court booking (hour)", "22.40"),
    ("Swim lesson", "31.35"),
    ("Sports massage 30 min", "45.00"),
    ("Nutrition consult", "80.00"),
    ("Equipment rental", "9.99"),
    ("Late cancellation fee", "15.00"),
    ("Climbing wall day pass", "0.30"),
)
_PLANS = (
    ("Basic membership", "29.99"),
    ("Gold membership", "59.90"),
    ("Platinum membership", "99.00"),
    ("Family membership", "120.10"),
    ("Student membership", "19.95"),
    ("Coaching plan", "180.00"),
)
_TAX_RATES = (0, 0, 6.25, 7.5, 8.875)
_REMINDERS = ("ON_DUE_DATE", "THREE_DAYS_AFTER_DUE_DATE", "EVERY_SEVEN_DAYS_AFTER_DUE_DATE")
_STATES = ("TX", "CO", "MA", "OR")


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(f"tight:{seed}")
        self.state = TightState(
            business=business(),
            clients={},
            invoices={},
            next_client_id=52_300_011,
            next_invoice_id=1_123_100_003,
            next_invoice_no=1001,
            next_line_id=28_868_401,
        )
        self.payment_id = 910_000

    def key(self) -> str:
        return f"{self.rnd.getrandbits(96):024x}"

    def clients(self, seed: int) -> list[dict[str, Any]]:
        out = []
        for person in people.people_for("tight", seed):
            created = SEED_START + timedelta(minutes=self.rnd.randrange(0, 45 * 24 * 60))
            client = client_json(self.state.next_client_id, person, created)
            if self.rnd.random() < 0.1:
                client["phone"] = None
            self.state.clients[client["id"]] = client
            self.state.next_client_id += 13
            out.append(client)
        return out

    def lines(self, count: int, tax: float, catalogue: Any = _CATALOGUE) -> list[dict[str, Any]]:
        out = []
        for description, price in self.rnd.sample(catalogue, count):
            quantity: Any = self.rnd.choice((1, 1, 1, 2, 3, 1.5))
            out.append(line_json(self.state, description, quantity, float(price), tax))
        return out

    def pay(
        self, invoice: dict[str, Any], cents: int, day: date, status: str = "PROCESSED"
    ) -> None:
        self.payment_id += 1
        fee = cents * 29 // 1000 + 30
        invoice["payments"].append(
            {
                "id": self.payment_id,
                "invoiceId": invoice["id"],
                "apiName": "STRIPE",
                "apiPaymentId": f"pi_{self.payment_id:x}sandbox",
                "grossPaymentAmount": dollars(cents),
                "feePaymentAmount": dollars(fee),
                "amountApplied": dollars(cents),
                "paymentSource": self.rnd.choice(("Visa *4747 Charge", "ACH *6789", "Cash")),
                "date": iso_date(day),
                "status": status,
            }
        )

    def settle(self, invoice: dict[str, Any], status: str, today: date) -> None:
        """Send the invoice and give it the payments its status implies."""
        rnd = self.rnd
        day = date.fromisoformat(invoice["date"])
        invoice["status"] = status
        recompute(invoice)
        total = invoice["totalAmountCents"]
        if status in ("DRAFT", "SCHEDULED"):
            return
        invoice["sentDate"] = invoice["date"]
        invoice["emailStatus"] = rnd.choice(("SUCCESS",) * 12 + ("FAILURE_BOUNCED", "SENDING"))
        if invoice["emailStatus"] == "FAILURE_BOUNCED":
            invoice["emailErrors"] = {"bounce": "Mailbox unavailable", "smtpCode": 550}
        if rnd.random() < 0.7:
            invoice["lastViewedDate"] = iso_date(min(day + timedelta(days=rnd.randrange(4)), today))
        paid_day = min(day + timedelta(days=rnd.randrange(0, 20)), today)
        if status in ("CLOSED", "REFUNDED"):
            if rnd.random() < 0.2 and total > 1:
                first = total // 2
                self.pay(invoice, first, day)
                self.pay(invoice, total - first, paid_day)
            else:
                self.pay(invoice, total, paid_day)
            invoice["paidDate"] = iso_date(paid_day)
        elif status == "OPEN":
            roll = rnd.random()
            if roll < 0.3 and total > 1:
                self.pay(invoice, total * rnd.choice((25, 40, 50)) // 100, paid_day)
            elif roll < 0.4 and total > 1:
                self.pay(invoice, total // 3, paid_day, "PENDING")
            elif roll < 0.45:
                self.pay(invoice, total, paid_day, "FAILED")
        if status == "REFUNDED":
            invoice["refundStatus"] = rnd.choice(
                ("SUCCEEDED", "SUCCEEDED", "PENDING", "FAILED", "UNKNOWN")
            )
        if status != "DRAFT" and rnd.random() < 0.08 and total > 300:
            self.installments(invoice)
        recompute(invoice)

    def installments(self, invoice: dict[str, Any]) -> None:
        total = invoice["totalAmountCents"]
        paid = to_cents(invoice["amountPaid"]) if invoice["payments"] else 0
        parts = self.rnd.choice(((50, 50), (25, 25, 50), (40, 30, 30)))
        due = date.fromisoformat(invoice["dueDate"])
        left = total
        for i, pct in enumerate(parts):
            amount = total * pct // 100 if i < len(parts) - 1 else left
            left -= amount
            covered = min(max(paid, 0), amount)
            paid -= covered
            invoice["installments"].append(
                {
                    "name": f"Payment {i + 1}",
                    "dueDate": iso_date(due + timedelta(days=30 * i)),
                    "id": invoice["id"] * 10 + i,
                    "amount": dollars(amount),
                    "percentage": pct,
                    "status": "PAID" if covered == amount else "ACTIVE",
                    "balance": dollars(amount - covered),
                }
            )

    def one_time(self, clients: list[dict[str, Any]], today: date) -> None:
        rnd = self.rnd
        start = SEED_START.date() + timedelta(days=45)
        span = (today - start).days
        client = rnd.choice(clients)
        age = rnd.randrange(span)
        day = today - timedelta(days=age)
        if age > 60:
            status = rnd.choices(("CLOSED", "CANCELLED", "REFUNDED", "OPEN"), (70, 12, 10, 8))[0]
        else:
            status = rnd.choices(
                ("OPEN", "CLOSED", "DRAFT", "SCHEDULED", "CANCELLED", "REFUNDED"),
                (40, 30, 12, 8, 5, 5),
            )[0]
        if status == "SCHEDULED":
            day = today + timedelta(days=rnd.randrange(1, 30))
        cad = rnd.random() < 0.05
        tax = 13 if cad else rnd.choice(_TAX_RATES)
        term = rnd.choice((*TERMS_DAYS, "OTHER"))
        due = day + timedelta(days=TERMS_DAYS.get(term, rnd.randrange(5, 45)))
        fields: dict[str, Any] = {"term": term, "dueDate": iso_date(due)}
        if cad:
            fields["currency"] = "CAD"
        roll = rnd.random()
        if roll < 0.2:
            fields["discountAmount"] = rnd.choice((5, 10, 12.5, 0.1))
        elif roll < 0.35:
            fields["discountPercent"] = rnd.choice((5, 10, 15, 12.5))
        if rnd.random() < 0.3:
            fields["personalNote"] = "Thank you for your business."
        if rnd.random() < 0.15:
            fields["apiName"] = rnd.choice(("QBO", "XERO", "PARTNER_IMPLEMENTATION"))
            fields["apiInvoiceId"] = f"ext-{rnd.randrange(10**6, 10**7)}"
        if rnd.random() < 0.1:
            fields["ccEmails"] = "billing@example.com,office@example.com"
        fields["acceptCash"] = rnd.random() < 0.3
        fields["reminderSchedule"] = rnd.choice(_REMINDERS)
        title = rnd.choice(("Services", "Classes", "Extras"))
        invoice = invoice_json(self.state, client, title, day, self.key(), **fields)
        invoice["name"] = f"{invoice['name']} {day:%b %Y}"
        invoice["lineItems"] = self.lines(rnd.choice((1, 2, 3, 3, 4, 4, 5, 6)), tax)
        self.settle(invoice, status, today)
        self.state.invoices[invoice["id"]] = invoice

    def recurring(self, clients: list[dict[str, Any]], today: date, frequency: str) -> None:
        rnd = self.rnd
        client = rnd.choice(clients)
        weeks = {"WEEKLY": (3, 12), "BI_WEEKLY": (6, 30), "MONTHLY": (8, 48), "YEARLY": (20, 85)}
        low, high = weeks.get(frequency, (0, 2))
        start = today - timedelta(days=7 * rnd.randrange(low, high) + rnd.randrange(7))
        status = rnd.choices(
            ("OPEN", "SCHEDULED", "CANCELLED", "CLOSED", "DRAFT"), (62, 6, 14, 12, 6)
        )[0]
        if status in ("SCHEDULED", "DRAFT"):
            start = today + timedelta(days=rnd.randrange(1, 20))
        plan, price = rnd.choice(_PLANS)
        tax = rnd.choice(_TAX_RATES)
        fields: dict[str, Any] = {
            "frequency": frequency,
            "isRecurringParent": True,
            "term": "NET_10",
            "dueDate": iso_date(start + timedelta(days=10)),
            "reminderSchedule": rnd.choice(_REMINDERS),
        }
        if rnd.random() < 0.2:
            fields["discountPercent"] = rnd.choice((10, 20))
        label = frequency.replace("_", "-").lower()
        parent = invoice_json(self.state, client, f"{plan} ({label})", start, self.key(), **fields)
        parent["lineItems"] = [line_json(self.state, plan, 1, float(price), tax)]
        if rnd.random() < 0.5:
            parent["lineItems"] += self.lines(rnd.choice((1, 2)), tax)
        self.state.invoices[parent["id"]] = parent
        end = today
        if status in ("CANCELLED", "CLOSED"):
            end = start + (today - start) * rnd.randrange(30, 90) // 100
        periods = []
        k = 1
        while status not in ("SCHEDULED", "DRAFT"):
            day = add_period(start, frequency, k)
            if day > end or (frequency == "AFTER_TWO_MINS" and k > 3):
                break
            periods.append(day)
            k += 1
        first_status = "CLOSED" if periods or status == "CLOSED" else "OPEN"
        self.settle(parent, first_status if status not in ("SCHEDULED", "DRAFT") else status, today)
        parent["status"] = status  # the parent carries the plan's state
        recompute(parent)
        for day in periods:
            child_status = "CLOSED"
            if (today - day).days < 20:
                child_status = rnd.choice(("OPEN", "OPEN", "CLOSED"))
            elif rnd.random() < 0.08:
                child_status = rnd.choice(("REFUNDED", "CANCELLED", "OPEN"))
            child = invoice_json(
                self.state,
                client,
                parent["name"],
                day,
                self.key(),
                term=parent["term"],
                dueDate=iso_date(day + timedelta(days=10)),
                parentId=parent["id"],
                discountPercent=parent["discountPercent"],
                reminderSchedule=parent["reminderSchedule"],
            )
            child["lineItems"] = [
                line_json(
                    self.state, ln["description"], ln["quantity"], ln["price"], ln["salesTax"]
                )
                for ln in parent["lineItems"]
            ]
            self.settle(child, child_status, today)
            self.state.invoices[child["id"]] = child
        if periods:
            parent["lastCreatedRecurringInvoice"] = iso_date(periods[-1])


def build(seed: int = 7) -> TightState:
    """The sandbox's initial state; identical for identical seeds."""
    gen = _Generator(seed)
    clients = gen.clients(seed)
    today = SEED_NOW.date()
    frequencies = (
        ["MONTHLY"] * 72
        + ["WEEKLY"] * 16
        + ["BI_WEEKLY"] * 16
        + ["YEARLY"] * 14
        + ["AFTER_TWO_MINS"] * 3
    )
    for frequency in frequencies:
        gen.recurring(clients, today, frequency)
    for _ in range(330):
        gen.one_time(clients, today)
    return gen.state
