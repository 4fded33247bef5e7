"""Deterministic seeded TimeTap data: two businesses, their clients, invoices and lines."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from decimal import Decimal

from ...connectors.timetap.credentials import DEV_CREDENTIALS
from .. import people
from .model import JSON, Business, TimeTapState, dec, num

DAY_MS = 86_400_000
_START_MS = int(people.SEED_START.timestamp() * 1000)
_NOW_MS = int(people.SEED_NOW.timestamp() * 1000)
INVOICES_PER_BUSINESS = 480

# (itemType, description, rate, taxable)
_CATALOG: tuple[tuple[str, str, str, bool], ...] = (
    ("APPOINTMENT", "Private Pilates Session with {staff}", "85.00", False),
    ("APPOINTMENT", "Reformer Group Class", "32.50", False),
    ("APPOINTMENT", "Yoga Drop-in Class", "22.00", False),
    ("APPOINTMENT", "Massage 60 min with {staff}", "109.95", True),
    ("APPOINTMENT", "Personal Training with {staff}", "74.99", False),
    ("APPOINTMENT", "Nutrition Consult", "60.00", False),
    ("RECURRING_APPOINTMENT", "Beginner Yoga Course (6 weeks)", "149.00", False),
    ("PRODUCT", "Water Bottle", "14.95", True),
    ("PRODUCT", "Yoga Mat", "49.95", True),
    ("PRODUCT", "Grip Socks", "12.10", True),
    ("PRODUCT", "Resistance Band", "8.30", True),
    ("PRODUCT", "Protein Bar", "0.10", True),
    ("PACKAGE", "10-Class Pack", "250.00", False),
    ("PACKAGE", "5 Session Package", "399.95", False),
    ("GIFT_CARD", "Gift Card", "50.00", False),
    ("FEE", "Late Cancellation Fee", "15.00", False),
    ("FEE", "No-show Fee", "25.00", False),
)
# (status, subStatus, weight): every documented status and subStatus appears.
_STATUSES: tuple[tuple[str, str, int], ...] = (
    ("CLOSED", "Paid", 40),
    ("CLOSED", "Manual", 7),
    ("OPEN", "No Payment", 16),
    ("OPEN", "Partial Payment", 12),
    ("OPEN", "Payment Declined", 7),
    ("OPEN", "Manual", 3),
    ("VOID", "Manual", 6),
    ("VOID", "No Payment", 3),
    ("DELETED", "No Payment", 6),
)


def _businesses() -> list[Business]:
    first, second = DEV_CREDENTIALS.keys
    return [
        Business(
            50101,
            "Northside Pilates Studio",
            first.api_key,
            first.private_key,
            Decimal("0.0825"),
            Decimal(0),
            {"locationId": 61001, "locationName": "Northside Main Street"},
            {"professionalId": 71001, "fullName": "Dana Whitfield"},
        ),
        Business(
            50102,
            "Harbor Yoga & Wellness",
            second.api_key,
            second.private_key,
            Decimal("0.0625"),
            Decimal("0.02"),
            {"locationId": 62001, "locationName": "Harbor Pier Studio"},
            {"professionalId": 72001, "fullName": "Marco Reyes"},
        ),
    ]


def _client(client_id: int, business_id: int, person: people.Person, rnd: random.Random) -> JSON:
    created = _START_MS - rnd.randrange(1, 400) * DAY_MS
    no_cell = rnd.random() < 0.12
    return {
        "clientId": client_id,
        "businessId": business_id,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "fullName": person.name,
        "emailAddress": None if rnd.random() < 0.04 else person.email,
        "cellPhone": None if no_cell else person.phone,
        "homePhone": person.phone if no_cell else None,
        "address1": f"{person.house_number} {person.street}",
        "city": person.city,
        "state": None,
        "zip": person.zip_code,
        "country": person.country_code,
        "createdDate": created,
        "active": True,
        "status": "ACTIVE",
    }


def _item(
    state: TimeTapState,
    business: Business,
    invoice: JSON | None,
    client_id: int,
    created: int,
    rnd: random.Random,
) -> JSON:
    kind, description, rate, taxable = rnd.choice(_CATALOG)
    quantity = rnd.choice((1, 1, 1, 1, 2, 3)) if kind == "PRODUCT" else 1
    item: JSON = {
        "invoiceItemId": state.next_item_id,
        "invoiceId": invoice["invoiceId"] if invoice else None,
        "businessId": business.business_id,
        "clientId": client_id,
        "active": True,
        # inferred: TimeTap's item JSON has no documented line type.
        "itemType": kind,
        "description": description.format(staff=business.staff["fullName"]),
        "quantity": quantity,
        "rate": num(Decimal(rate)),
        "discountAmount": None,
        "discountPercentage": None,
        "taxable": taxable,
        "calendarId": None,
        "productId": None,
        "packageSoldId": None,
        "recurringAppointmentId": None,
        "giftCardUUId": None,
        "reasonId": None,
        "depositAmount": None,
        "createdDate": created,
        "createdUser": "WebClient" if rnd.random() < 0.3 else "frontdesk",
        "modifiedUser": None,
    }
    state.next_item_id += 1
    ref = rnd.randrange(100_000, 999_999)
    ref_field = {
        "APPOINTMENT": "calendarId",
        "RECURRING_APPOINTMENT": "recurringAppointmentId",
        "PRODUCT": "productId",
        "PACKAGE": "packageSoldId",
        "GIFT_CARD": "giftCardUUId",
        "FEE": "reasonId",
    }[kind]
    item[ref_field] = ref
    roll = rnd.random()
    if roll < 0.10:
        item["discountAmount"] = rnd.choice((5, 10, 2.5))
    elif roll < 0.20:
        item["discountPercentage"] = rnd.choice((10, 15, 20, 25))
    state.price_item(item)
    return item


def _refund(state: TimeTapState, business: Business, of: JSON, created: int) -> JSON:
    rate = -dec(of["netAmount"]) / dec(of["quantity"])
    item: JSON = {
        **of,
        "invoiceItemId": state.next_item_id,
        "itemType": "REFUND",
        "description": f"Refund: {of['description']}",
        "rate": num(rate),
        "discountAmount": None,
        "discountPercentage": None,
        "createdDate": created,
        "modifiedUser": None,
    }
    state.next_item_id += 1
    state.price_item(item)
    return item


def _settle(invoice: JSON, state: TimeTapState, rnd: random.Random, status: str, sub: str) -> None:
    """Set payment amounts so that the invoice is in ``status``/``sub``."""
    state.recompute(invoice)
    total = dec(invoice["balanceAmount"])
    paid = Decimal(0)
    write_off = Decimal(0)
    if status == "CLOSED" and sub == "Paid":
        paid = total
    elif status == "CLOSED":
        paid = (total * Decimal(rnd.choice((0, 50, 80))) / 100).quantize(Decimal("0.01"))
        write_off = total - paid
    elif sub == "Partial Payment" or (status == "DELETED" and rnd.random() < 0.3):
        paid = (total * Decimal(rnd.randrange(10, 90)) / 100).quantize(Decimal("0.01"))
        if paid <= 0:
            paid = min(total, Decimal("0.01"))
    if paid > 0 and rnd.random() < 0.3:
        invoice["depositAmount"] = num(min(paid, Decimal(rnd.choice((10, 20, 25)))))
    invoice["paidAmount"] = num(paid)
    invoice["writeOffAmount"] = num(write_off)
    invoice["status"] = status
    invoice["subStatus"] = sub
    if paid > 0:
        invoice["paidOnDate"] = invoice["invoiceDate"] + rnd.randrange(0, 20) * DAY_MS
    if status == "DELETED":
        invoice["active"] = False
    state.recompute(invoice)
    if status == "OPEN" and sub == "Partial Payment" and dec(invoice["balanceAmount"]) <= 0:
        invoice["paidAmount"] = 0
        invoice["depositAmount"] = None
        invoice["subStatus"] = "No Payment"
        state.recompute(invoice)
        invoice["subStatus"] = "Partial Payment"


def _invoice(
    state: TimeTapState, business: Business, client_id: int, seq: int, rnd: random.Random
) -> None:
    issued = rnd.randrange(_START_MS, _NOW_MS) // 60_000 * 60_000
    status, sub, _ = rnd.choices(_STATUSES, weights=[w for _, _, w in _STATUSES])[0]
    invoice_id = state.next_invoice_id
    state.next_invoice_id += 1
    due = None if rnd.random() < 0.05 else issued + rnd.choice((0, 14, 30)) * DAY_MS
    invoice: JSON = {
        "invoiceId": invoice_id,
        "businessId": business.business_id,
        "clientId": client_id,
        "invoiceNumber": None if rnd.random() < 0.03 else f"{business.business_id}-{seq:05d}",
        "invoiceType": "QUOTE" if rnd.random() < 0.03 else "INVOICE",
        "invoiceHash": hashlib.md5(f"{business.business_id}:{invoice_id}".encode()).hexdigest(),
        "status": "OPEN",
        "subStatus": "No Payment",
        "active": True,
        "currency": business.currency,
        "invoiceDate": issued,
        "invoiceDueDate": due,
        "chargeDate": issued if rnd.random() < 0.5 else None,
        "createdDate": issued,
        "lastStatusDate": issued + rnd.randrange(0, 10) * DAY_MS,
        "paidOnDate": None,
        "createdUser": "WebClient" if rnd.random() < 0.3 else "frontdesk",
        "modifiedUser": None,
        "comments": rnd.choice((None, None, None, "Thanks for visiting!", "Paid at front desk")),
        "preAuthPayment": rnd.random() < 0.2,
        "billingLocationId": business.location["locationId"],
        "billingStaffId": business.staff["professionalId"],
        "location": dict(business.location),
        "staff": dict(business.staff),
        "subtotalAmount": 0,
        "taxAmount": 0,
        "tax2Amount": 0,
        "tipAmount": num(Decimal(rnd.choice((5, 10, "7.50", 15)))) if rnd.random() < 0.15 else 0,
        "transactionFeeAmount": 0,
        "depositAmount": None,
        "paidAmount": 0,
        "writeOffAmount": 0,
        "balanceAmount": 0,
    }
    state.invoices[invoice_id] = invoice
    lines = rnd.choices((2, 3, 4, 5, 6), weights=(25, 30, 22, 13, 10))[0]
    for _ in range(lines):
        state.add_item(_item(state, business, invoice, client_id, issued, rnd))
    if status == "CLOSED" and rnd.random() < 0.12:
        first = state.items[state.items_by_invoice[invoice_id][0]]
        state.add_item(_refund(state, business, first, issued + 7 * DAY_MS))
    if rnd.random() < 0.1:
        net = sum(dec(i["netAmount"]) for i in state.active_items(invoice_id))
        invoice["transactionFeeAmount"] = num(max(net * Decimal("0.029"), Decimal(0)))
    _settle(invoice, state, rnd, status, sub)


def build_state(seed: int = 7, *, token_ttl_s: float = 3600.0) -> TimeTapState:
    """The sandbox's seeded state, identical for identical seeds."""
    rnd = random.Random(f"timetap:{seed}")
    state = TimeTapState(
        token_ttl_s=token_ttl_s, next_invoice_id=810001, next_item_id=930001, next_client_id=710001
    )
    for business in _businesses():
        state.businesses[business.business_id] = business
    pool = people.people_for("timetap", seed)
    # Both businesses bill some of the same people, as separate client records.
    split = {50101: pool[:62], 50102: pool[44:]}
    clients_of: dict[int, list[int]] = {}
    for business_id, persons in split.items():
        for person in persons:
            client = _client(state.next_client_id, business_id, person, rnd)
            state.clients[client["clientId"]] = client
            clients_of.setdefault(business_id, []).append(client["clientId"])
            state.next_client_id += 1
    for business in state.businesses.values():
        ids = clients_of[business.business_id]
        for seq in range(1, INVOICES_PER_BUSINESS + 1):
            _invoice(state, business, rnd.choice(ids), seq, rnd)
        # Appointment lines booked but not invoiced yet.
        for client_id in ids[:12]:
            created = _NOW_MS - rnd.randrange(1, 20) * DAY_MS
            state.add_item(_item(state, business, None, client_id, created, rnd))
    return state


def seed_window() -> tuple[int, int]:
    """The seeded history's bounds, in epoch milliseconds."""
    return _START_MS, _NOW_MS + int(timedelta(days=31).total_seconds() * 1000)
