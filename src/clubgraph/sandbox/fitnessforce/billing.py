"""Seeded UFP invoices: lines, taxes, discounts, payments, refunds and numbering."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..people import SEED_NOW
from .state import JSON, FitnessForceState, money, stamp

# (charge name, charge type, unit price in cents)
_ADDONS = (
    ("Locker rental", "Service", 500),
    ("Towel service", "Service", 300),
    ("Sauna access", "Service", 750),
    ("Card processing fee", "Fee", 35),
)
_PRODUCTS = (
    ("Protein shake", "Product", 350),
    ("Mineral water", "Product", 150),
    ("Personal training session", "Service", 4500),
    ("Club T-shirt", "Product", 2495),
    ("Boxing gloves", "Product", 3999),
)
# name, type, quantity, unit price in cents, discount in cents, tax group
Line = tuple[str, str, int, int, int, JSON | None]


def bill_lines(rnd: random.Random, plan: JSON, price: int, first: bool, tenant: JSON) -> list[Line]:
    """The lines of one membership bill; the first bill carries the joining fee."""
    std = tenant["tax_groups"][0]
    disc = price // 10 if rnd.random() < 0.15 else 0
    lines: list[Line] = [(plan["plan_name"], "Membership", 1, price, disc, std)]
    if first:
        lines.append(("Joining fee", "Fee", 1, round(plan["joining_fee"] * 100), 0, std))
    for name, kind, cents in rnd.sample(_ADDONS, rnd.choice((1, 1, 2, 2, 3))):
        lines.append((name, kind, 1, cents, 0, std))
    if rnd.random() < 0.08:
        lines.append(("Referral coupon", "Discount", 1, -500, 0, None))
    return lines


def adhoc_invoice(rnd: random.Random, state: FitnessForceState, client: JSON, tenant: JSON) -> JSON:
    """A front-desk sale of products and personal training."""
    reduced = tenant["tax_groups"][1]
    lines: list[Line] = []
    for name, kind, cents in rnd.sample(_PRODUCTS, rnd.choice((1, 2, 2, 3))):
        qty = 5 if kind == "Service" else rnd.choice((1, 1, 2, 3))
        disc = (qty * cents) // 20 if kind == "Service" else 0
        lines.append((name, kind, qty, cents, disc, reduced if kind == "Product" else None))
    created = datetime.fromisoformat(client["created_date"]).date()
    day = created + timedelta(days=rnd.randrange(0, max((SEED_NOW.date() - created).days, 1)))
    return invoice(rnd, client, tenant, lines, day, sub_id=None, void=False)


def invoice(
    rnd: random.Random,
    client: JSON,
    tenant: JSON,
    lines: list[Line],
    day: date,
    *,
    sub_id: int | None,
    void: bool,
) -> JSON:
    """One UFP invoice with its lines, totals and a status fitting its age."""
    tz = tenant["time_zone"]
    local = datetime.combine(day, time(6 if sub_id else 10), tzinfo=ZoneInfo(tz))
    issued = local + timedelta(minutes=rnd.randrange(0, 600))
    details: list[JSON] = []
    gross = discount = tax = 0
    for pos, (name, kind, qty, unit, disc, group) in enumerate(lines, start=1):
        line_gross = qty * unit
        rate = round(group["tax_percentage"] * 100) if group else 0
        line_tax = (line_gross - disc) * rate // 10000 if line_gross > 0 else 0
        net = line_gross - disc + line_tax
        if line_gross > 0:
            gross += line_gross
            discount += disc
        else:
            discount -= line_gross
        tax += line_tax
        details.append(
            {
                "invoice_detail_id": 0,
                "line_number": pos,
                "charge_name": name,
                "charge_type": kind,
                "quantity": qty,
                "unit_price": money(unit),
                "discount_amount": money(disc),
                "tax_group": None
                if group is None
                else {k: group[k] for k in ("tax_group_id", "tax_group_name", "tax_percentage")},
                "tax_amount": money(line_tax),
                "net_amount": money(net),
            }
        )
    net_total = gross - discount + tax
    age = (SEED_NOW.date() - day).days
    status = "Void" if void else _pick_status(rnd, age)
    paid = refunded = written_off = 0
    paid_at: datetime | None = None
    if status in ("Paid", "Refunded", "PartiallyRefunded"):
        paid = net_total
        paid_at = issued + timedelta(days=rnd.randrange(0, 9), minutes=rnd.randrange(0, 300))
        paid_at = min(paid_at, SEED_NOW - timedelta(minutes=5))
    elif status in ("PartiallyPaid", "WrittenOff"):
        paid = net_total * rnd.choice((25, 40, 50, 60)) // 100
    if status == "Refunded":
        refunded = net_total
    elif status == "PartiallyRefunded":
        refunded = net_total // 2
    if status == "WrittenOff":
        written_off = net_total - paid
    balance = (
        net_total - paid if status in ("Unpaid", "PartiallyPaid", "PaymentFailed", "Draft") else 0
    )
    rep = client["client_representative"]
    return {
        "invoice_id": 0,
        "invoice_number": None,
        "tenant_id": tenant["tenant_id"],
        "client_id": client["client_id"],
        "subscription_id": sub_id,
        "invoice_date": stamp(issued, tz),
        "due_date": None if status == "Draft" else (day + timedelta(days=14)).isoformat(),
        "paid_date": stamp(paid_at, tz) if paid_at else None,
        "status": status,
        "currency_code": tenant["currency_code"],
        "gross_amount": money(gross),
        "discount_amount": money(discount),
        "tax_amount": money(tax),
        "net_amount": money(net_total),
        "paid_amount": money(paid),
        "refunded_amount": money(refunded),
        "written_off_amount": money(written_off),
        "balance_amount": money(balance),
        "sales_rep": dict(rep),
        "remarks": rnd.choice((None, None, None, "Paid at front desk", "Direct debit")),
        "void_reason": "Duplicate charge" if status == "Void" else None,
        "communication_log": [],
        "invoice_details": details,
    }


def _pick_status(rnd: random.Random, age_days: int) -> str:
    r = rnd.random()
    if age_days > 45:
        table = (
            (0.78, "Paid"),
            (0.82, "Refunded"),
            (0.86, "PartiallyRefunded"),
            (0.89, "WrittenOff"),
            (0.93, "Void"),
            (0.96, "PaymentFailed"),
        )
        rest = "PartiallyPaid"
    else:
        table = (
            (0.38, "Unpaid"),
            (0.70, "Paid"),
            (0.80, "PartiallyPaid"),
            (0.88, "PaymentFailed"),
            (0.93, "Draft"),
            (0.96, "Void"),
        )
        rest = "Refunded"
    for cut, status in table:
        if r < cut:
            return status
    return rest


def number_invoices(state: FitnessForceState, drafts: list[JSON]) -> None:
    """Give ids and per-tenant numbers in issue order, as UFP allocates them."""
    drafts.sort(key=lambda inv: (datetime.fromisoformat(inv["invoice_date"]), inv["client_id"]))
    seq = dict.fromkeys(state.tenants, 0)
    line_id = 9000000
    for n, inv in enumerate(drafts):
        inv["invoice_id"] = 7100001 + n
        seq[inv["tenant_id"]] += 1
        prefix = state.tenants[inv["tenant_id"]]["invoice_prefix"]
        inv["invoice_number"] = f"{prefix}-{seq[inv['tenant_id']]:06d}"
        for line in inv["invoice_details"]:
            line_id += 1
            line["invoice_detail_id"] = line_id
        state.invoices[inv["invoice_id"]] = inv
