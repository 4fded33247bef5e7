"""Seeded FitnessForce UFP data: tenants, clients, memberships and invoices as UFP JSON.

Amounts are computed in integer cents and written as JSON decimal numbers in major
units (``cents / 100``), whose shortest representation is exact, as UFP sends them.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from .. import people
from ..people import SEED_NOW, SEED_START
from .billing import adhoc_invoice, bill_lines, invoice, number_invoices
from .state import JSON, FitnessForceState, money, stamp

_TENANTS: tuple[JSON, ...] = (
    {
        "tenant_id": 101,
        "tenant_name": "FitForce Amsterdam Centrum",
        "company_id": 11,
        "company_name": "FitForce Benelux B.V.",
        "currency_code": "EUR",
        "time_zone": "Europe/Amsterdam",
        "country_code": "NL",
        "invoice_prefix": "AMS",
        "is_active": True,
        "tax_groups": [
            {"tax_group_id": 1, "tax_group_name": "BTW 21%", "tax_percentage": 21.0},
            {"tax_group_id": 2, "tax_group_name": "BTW 9%", "tax_percentage": 9.0},
        ],
    },
    {
        "tenant_id": 102,
        "tenant_name": "FitForce Leeds City",
        "company_id": 12,
        "company_name": "FitForce UK Ltd",
        "currency_code": "GBP",
        "time_zone": "Europe/London",
        "country_code": "GB",
        "invoice_prefix": "LDS",
        "is_active": True,
        "tax_groups": [
            {"tax_group_id": 4, "tax_group_name": "VAT 20%", "tax_percentage": 20.0},
            {"tax_group_id": 5, "tax_group_name": "Zero rated", "tax_percentage": 0.0},
        ],
    },
)

# (name, billing frequency, price in cents, fixed duration in months or None)
_PLANS = (
    ("Basic Monthly", "Monthly", 2995, None),
    ("Premium Monthly", "Monthly", 4995, None),
    ("Student Fortnightly", "Fortnightly", 1795, None),
    ("Off-Peak Weekly", "Weekly", 995, None),
    ("Quarterly Flex", "Quarterly", 12900, 3),
    ("Half-Year Commit", "HalfYearly", 23900, 6),
    ("Annual All-Access", "Yearly", 44900, 12),
    ("10-Visit Pass", "OneTime", 9900, 3),
)
_STEP_DAYS = {"Weekly": 7, "Fortnightly": 14}
_STEP_MONTHS = {"Monthly": 1, "Quarterly": 3, "HalfYearly": 6, "Yearly": 12, "OneTime": 1200}
_STAFF = (
    (101, "Sanne Visser"),
    (102, "Joost Bakker"),
    (103, "Emma de Wit"),
    (201, "Oliver Hughes"),
    (202, "Amelia Wright"),
)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the month's last day."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def next_bill(day: date, frequency: str) -> date:
    """The billing date after ``day`` for a plan billed at ``frequency``."""
    if frequency in _STEP_DAYS:
        return day + timedelta(days=_STEP_DAYS[frequency])
    return add_months(day, _STEP_MONTHS.get(frequency, 1))


def build_state(seed: int = 7) -> FitnessForceState:
    """The seeded world, identical for identical seeds."""
    rnd = random.Random(f"fitnessforce:{seed}")
    state = FitnessForceState(
        tenants={t["tenant_id"]: dict(t) for t in _TENANTS},
        staff={},
        plans={},
        clients={},
        subscriptions={},
        invoices={},
        counters={"freeze": 60000, "payment": 800000, "refund": 850000, "communication": 0},
    )
    for staff_id, name in _STAFF:
        home = 101 if staff_id < 200 else 102
        state.staff[staff_id] = {"staff_id": staff_id, "staff_name": name, "tenant_id": home}
    plan_id = 500
    for tenant in _TENANTS:
        for name, freq, cents, months in _PLANS:
            plan_id += 1
            # GBP prices run slightly lower; keep them exact in cents.
            price = cents if tenant["currency_code"] == "EUR" else cents - cents // 10
            state.plans[plan_id] = {
                "plan_id": plan_id,
                "tenant_id": tenant["tenant_id"],
                "plan_name": name,
                "billing_frequency": freq,
                "price": money(price),
                "currency_code": tenant["currency_code"],
                "duration_months": months,
                "joining_fee": money(2500 if tenant["currency_code"] == "EUR" else 1995),
                "tax_group_id": tenant["tax_groups"][0]["tax_group_id"],
                "is_active": name != "Student Fortnightly" or tenant["tenant_id"] == 101,
            }
    drafts: list[JSON] = []
    for i, person in enumerate(people.people_for("fitnessforce", seed)):
        tenant = _TENANTS[0] if rnd.random() < 0.58 else _TENANTS[1]
        client = _client(rnd, 10001 + i, person, tenant)
        state.clients[client["client_id"]] = client
        for _ in range(rnd.choice((1, 2, 2, 3, 3, 3, 4))):
            sub_id = 30001 + len(state.subscriptions)
            sub, bills = _subscription(rnd, state, sub_id, client, tenant)
            state.subscriptions[sub_id] = sub
            drafts.extend(bills)
        for _ in range(rnd.choice((0, 1, 1, 2, 3))):
            drafts.append(adhoc_invoice(rnd, state, client, tenant))
    number_invoices(state, drafts)
    return state


def _client(rnd: random.Random, client_id: int, person: people.Person, tenant: JSON) -> JSON:
    tz = tenant["time_zone"]
    span = (SEED_NOW - SEED_START).total_seconds() * 0.6
    created = SEED_START + timedelta(seconds=rnd.uniform(0, span))
    missing_email = rnd.random() < 0.05
    missing_mobile = rnd.random() < 0.08
    rep = rnd.choice([s for s in _STAFF if (s[0] < 200) == (tenant["tenant_id"] == 101)])
    return {
        "client_id": client_id,
        "tenant_id": tenant["tenant_id"],
        "member_id": f"{tenant['invoice_prefix']}{client_id}",
        "first_name": person.first_name,
        "last_name": person.last_name,
        "full_name": person.name,
        "email": None if missing_email else person.email,
        "mobile_number": None if missing_mobile else person.phone,
        "date_of_birth": person.birth_date,
        "gender": rnd.choice(("Male", "Female", "Other", None)),
        "address": {
            "address_line1": f"{person.street} {person.house_number}",
            "city": person.city,
            "zip_code": person.zip_code,
            "country_code": person.country_code,
        },
        "client_status": rnd.choice(("Active", "Active", "Active", "Inactive")),
        "client_representative": {"staff_id": rep[0], "staff_name": rep[1]},
        "created_date": stamp(created, tz),
    }


def _subscription(
    rnd: random.Random, state: FitnessForceState, sub_id: int, client: JSON, tenant: JSON
) -> tuple[JSON, list[JSON]]:
    plans = [p for p in state.plans.values() if p["tenant_id"] == tenant["tenant_id"]]
    plan = rnd.choice(plans)
    freq = plan["billing_frequency"]
    today = SEED_NOW.date()
    periods_back = rnd.randint(-1, 11)
    start = today
    for _ in range(max(periods_back, 0)):
        start = _prev_bill(start, freq)
    start -= timedelta(days=rnd.randrange(0, 7))
    if periods_back < 0:
        start = today + timedelta(days=rnd.randrange(3, 40))
    start = max(start, SEED_START.date() + timedelta(days=rnd.randrange(0, 20)))
    end: date | None = None
    if plan["duration_months"] is not None:
        end = add_months(start, plan["duration_months"]) - timedelta(days=1)
    roll = rnd.random()
    status = "Active"
    cancellation: JSON | None = None
    void: JSON | None = None
    freezes: list[JSON] = []
    if start > today:
        status = "Pending"
    elif end is not None and end < today:
        status = "Expired"
    elif roll < 0.06:
        status = "Void"
        void = {"void_date": start.isoformat(), "void_reason": "Signed up in error"}
    elif roll < 0.20 and start < today - timedelta(days=20):
        status = "Cancelled"
        end = start + timedelta(days=rnd.randrange(14, (today - start).days))
        cancellation = {"cancellation_date": end.isoformat(), "reason": "Moved away"}
    elif roll < 0.26:
        status = "PendingCancellation"
        end = today + timedelta(days=rnd.randrange(5, 30))
        cancellation = {"cancellation_date": end.isoformat(), "reason": "Too expensive"}
    elif roll < 0.36 and start < today - timedelta(days=10):
        status = "Frozen"
        f_start = today - timedelta(days=rnd.randrange(1, 10))
        freezes.append(_freeze(state, f_start, f_start + timedelta(days=30), "Active", "Injury"))
    if status in ("Active", "Frozen") and rnd.random() < 0.3 and start < today - timedelta(60):
        f_start = start + timedelta(days=20)
        kind = rnd.choice(("Completed", "Stopped", "Cancelled"))
        freezes.insert(0, _freeze(state, f_start, f_start + timedelta(days=14), kind, "Holiday"))
    if status == "Active" and rnd.random() < 0.1:
        f_start = today + timedelta(days=rnd.randrange(5, 25))
        freezes.append(_freeze(state, f_start, f_start + timedelta(days=21), "Scheduled", "Travel"))
    bill_days: list[date] = []
    day = start
    while day <= today and (end is None or day <= end) and status != "Pending":
        bill_days.append(day)
        if freq == "OneTime":
            break
        day = next_bill(day, freq)
    upcoming = day if status in ("Active", "Frozen", "PendingCancellation", "Pending") else None
    if upcoming is not None and end is not None and upcoming > end:
        upcoming = None
    rep = client["client_representative"]
    sub: JSON = {
        "subscription_id": sub_id,
        "client_id": client["client_id"],
        "tenant_id": tenant["tenant_id"],
        "plan_id": plan["plan_id"],
        "plan_name": plan["plan_name"],
        "subscription_status": status,
        "billing_frequency": freq,
        "recurring_amount": plan["price"],
        "currency_code": tenant["currency_code"],
        "start_date": start.isoformat(),
        "end_date": end.isoformat() if end else None,
        "next_billing_date": upcoming.isoformat() if upcoming else None,
        "auto_renew": plan["duration_months"] is None,
        "cancellation": cancellation,
        "void": void,
        "freezes": freezes,
        "sales_rep": dict(rep),
        "created_date": stamp(
            datetime.combine(min(start, today), time(9), tzinfo=UTC)
            - timedelta(days=rnd.randrange(0, 5)),
            tenant["time_zone"],
        ),
    }
    price = round(plan["price"] * 100)
    bills = [
        invoice(
            rnd,
            client,
            tenant,
            bill_lines(rnd, plan, price, n == 0, tenant),
            day,
            sub_id=sub_id,
            void=status == "Void",
        )
        for n, day in enumerate(bill_days)
    ]
    return sub, bills


def _prev_bill(day: date, frequency: str) -> date:
    if frequency in _STEP_DAYS:
        return day - timedelta(days=_STEP_DAYS[frequency])
    return add_months(day, -min(_STEP_MONTHS.get(frequency, 1), 12))


def _freeze(state: FitnessForceState, start: date, end: date, status: str, reason: str) -> JSON:
    return {
        "freeze_id": state.new_id("freeze"),
        "freeze_start_date": start.isoformat(),
        "freeze_end_date": end.isoformat(),
        "status": status,
        "reason": reason,
    }
