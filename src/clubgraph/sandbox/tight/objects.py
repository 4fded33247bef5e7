"""Tight's JSON objects as the sandbox stores them: business, clients, invoices, lines."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from .. import people
from .state import TightState

BUSINESS_ID = 7001
TERMS_DAYS = {"DUE_NOW": 0, "NET_10": 10, "NET_15": 15, "NET_30": 30, "NET_60": 60}
PERIOD_DAYS = {"WEEKLY": 7, "BI_WEEKLY": 14}


def iso_date(d: date) -> str:
    return d.isoformat()


def iso_datetime(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def add_period(d: date, frequency: str, times: int = 1) -> date:
    """The date ``times`` billing periods after ``d`` (months clamp to month end)."""
    if frequency in PERIOD_DAYS:
        return d + timedelta(days=PERIOD_DAYS[frequency] * times)
    if frequency == "AFTER_TWO_MINS":
        return d
    months = times * (12 if frequency == "YEARLY" else 1)
    year, month = divmod(d.month - 1 + months, 12)
    year += d.year
    for day in range(d.day, 27, -1):
        try:
            return date(year, month + 1, day)
        except ValueError:
            continue
    return date(year, month + 1, min(d.day, 28))


def business() -> dict[str, Any]:
    """The one business the sandbox's partner user runs."""
    return {
        "id": BUSINESS_ID,
        "name": "Tight Fit Studio",
        "address1": "400 Congress Ave",
        "address2": "Suite 120",
        "city": "Austin",
        "state": "TX",
        "zip": "78701",
        "phoneNumber": "+1 512 555 0142",
        "logoUrl": "https://cdn.sandbox.tight.com/logos/7001.png",
        "invoicePrefix": "TFS-",
        "currency": "USD",
    }


def client_json(client_id: int, person: people.Person, created: datetime) -> dict[str, Any]:
    return {
        "id": client_id,
        "businessId": BUSINESS_ID,
        "name": person.name,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "email": person.email,
        "phone": person.phone,
        "address1": f"{person.house_number} {person.street}",
        "city": person.city,
        "zip": person.zip_code,
        "country": person.country_code,
        "createdDate": iso_datetime(created),
        "status": "ACTIVE",
    }


def invoice_json(
    state: TightState,
    client: dict[str, Any],
    name: str,
    day: date,
    client_key: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A new invoice object with every field Tight returns, before amounts are derived."""
    biz = state.business
    invoice_id = state.next_invoice_id
    state.next_invoice_id += 7
    number = state.next_invoice_no
    state.next_invoice_no += 1
    key = client_key or secrets.token_hex(12)
    invoice: dict[str, Any] = {
        "id": invoice_id,
        "apiInvoiceId": None,
        "clientId": client["id"],
        "date": iso_date(day),
        "name": name,
        "invoiceNo": number,
        "invoicePrefix": biz["invoicePrefix"],
        "totalAmount": 0.0,
        "totalAmountCents": 0,
        "balance": 0.0,
        "discountAmount": None,
        "discountPercent": None,
        "term": "DUE_NOW",
        "dueDate": iso_date(day),
        "personalNote": None,
        "frequency": "ONE_TIME",
        "status": "DRAFT",
        "emailStatus": "NOT_SENT",
        "sendEmail": True,
        "sentDate": None,
        "lastViewedDate": None,
        "reminderSchedule": "ON_DUE_DATE",
        "lastCreatedRecurringInvoice": None,
        "parentId": None,
        "isRecurringParent": False,
        "refundStatus": None,
        "emailErrors": {},
        "invoicePdfUrl": f"https://cdn.sandbox.tight.com/invoices/{invoice_id}.pdf",
        "invoicePaymentUrl": f"https://pay.sandbox.tight.com/i/{key}",
        "lineItems": [],
        "installments": [],
        "payments": [],
        "pendingPaymentAmount": 0.0,
        "clientName": client["name"],
        "email": client["email"],
        "ccEmails": "",
        "bccEmails": "",
        "businessId": biz["id"],
        "businessName": biz["name"],
        "businessAddress1": biz["address1"],
        "businessAddress2": biz["address2"],
        "businessCity": biz["city"],
        "businessState": biz["state"],
        "businessZip": biz["zip"],
        "businessLogoUrl": biz["logoUrl"],
        "businessPhoneNumber": biz["phoneNumber"],
        "clientInvoiceKey": key,
        "amountPaid": 0.0,
        "paidDate": None,
        "acceptACH": True,
        "acceptCredit": True,
        "acceptCash": False,
        "salesTax": 0.0,
        "v6InvoiceId": f"inv_{invoice_id}",
        "customData": {},
        "apiName": "USER_ENTRY",
        "currency": biz["currency"],
    }
    invoice.update(fields)
    return invoice


def line_json(
    state: TightState,
    description: str,
    quantity: Any,
    price: Any,
    tax: Any,
    *,
    api_item_id: str | None = None,
) -> dict[str, Any]:
    line_id = state.next_line_id
    state.next_line_id += 1
    return {
        "id": line_id,
        "description": description,
        "quantity": quantity,
        "price": price,
        "salesTax": tax,
        "amount": 0.0,
        "expenseId": None,
        "glAccountId": 4000,
        "apiItemId": api_item_id,
        "customData": {},
    }
