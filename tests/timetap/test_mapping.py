"""TimeTap JSON -> domain records, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from clubgraph.connectors.timetap import mapping
from clubgraph.domain import (
    ClientRecord,
    EntityType,
    InvoiceItemKind,
    InvoiceItemRecord,
    InvoiceRecord,
    InvoiceStatus,
    Key,
    Money,
    Source,
)
from clubgraph.http import loads_exact as loads

T0 = 1767225600000  # 2026-01-01T00:00:00Z


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def key(kind: EntityType, ident: str, tenant: str = "50101") -> Key:
    return Key(kind, Source.TIMETAP, tenant, ident)


CLIENT_TEXT = """{"clientId": 710001, "businessId": 50101, "firstName": "Emma", "lastName": "de Jong",
 "fullName": "Emma de Jong", "emailAddress": "emma@example.com", "cellPhone": "+1 555 1234567",
 "homePhone": null, "createdDate": 1767225600000, "active": true, "status": "ACTIVE"}"""

INVOICE_TEXT = (
    """{"invoiceId": 810001, "businessId": 50101, "invoiceNumber": "50101-00001",
 "invoiceType": "INVOICE", "status": "OPEN", "subStatus": "Partial Payment", "active": true,
 "currency": "USD", "invoiceDate": 1767225600000, "invoiceDueDate": 1768435200000,
 "paidOnDate": 1767312000000, "comments": "Thanks!",
 "subtotalAmount": 72.3, "taxAmount": 1.99, "tax2Amount": 0.48, "tipAmount": 5,
 "transactionFeeAmount": 0.1, "depositAmount": 10, "paidAmount": 20.2, "writeOffAmount": 0,
 "balanceAmount": 59.67, "client": """
    + CLIENT_TEXT
    + """,
 "invoiceItem": [
  {"invoiceItemId": 930001, "invoiceId": 810001, "businessId": 50101, "clientId": 710001,
   "active": true, "itemType": "APPOINTMENT", "description": "Yoga Drop-in Class",
   "quantity": 1, "rate": 22, "grossAmount": 22, "discountAmount": null,
   "discountPercentage": 10, "netAmount": 19.8, "taxable": false, "taxAmount": 0,
   "tax2Amount": 0},
  {"invoiceItemId": 930002, "invoiceId": 810001, "businessId": 50101, "clientId": 710001,
   "active": true, "itemType": "PRODUCT", "description": "Yoga Mat", "quantity": 1,
   "rate": 49.95, "grossAmount": 49.95, "discountAmount": 2.5, "discountPercentage": null,
   "netAmount": 47.45, "taxable": true, "taxAmount": 1.99, "tax2Amount": 0.48},
  {"invoiceItemId": 930003, "invoiceId": 810001, "businessId": 50101, "clientId": 710001,
   "active": true, "itemType": "PRODUCT", "description": "Grip Socks", "quantity": 3,
   "rate": 0.1, "grossAmount": 0.3, "netAmount": 0.3, "taxable": false}
 ]}"""
)


def test_invoice_maps_whole_record_with_embedded_lines() -> None:
    raw = loads(INVOICE_TEXT)
    inv_key = key(EntityType.INVOICE, "810001")
    expected_items = (
        InvoiceItemRecord(
            key=key(EntityType.INVOICE_ITEM, "810001/930001"),
            invoice_key=inv_key,
            position=0,
            description="Yoga Drop-in Class",
            kind=InvoiceItemKind.CHARGE,
            kind_raw="APPOINTMENT",
            quantity=Decimal(1),
            unit_price=usd("22.00"),
            discount=usd("2.20"),
            tax=usd("0.00"),
            total=usd("19.80"),
            raw={},
        ),
        InvoiceItemRecord(
            key=key(EntityType.INVOICE_ITEM, "810001/930002"),
            invoice_key=inv_key,
            position=1,
            description="Yoga Mat",
            kind=InvoiceItemKind.CHARGE,
            kind_raw="PRODUCT",
            quantity=Decimal(1),
            unit_price=usd("49.95"),
            discount=usd("2.50"),
            tax=usd("2.47"),
            total=usd("49.92"),
            raw={},
        ),
        InvoiceItemRecord(
            key=key(EntityType.INVOICE_ITEM, "810001/930003"),
            invoice_key=inv_key,
            position=2,
            description="Grip Socks",
            kind=InvoiceItemKind.CHARGE,
            kind_raw="PRODUCT",
            quantity=Decimal(3),
            unit_price=usd("0.10"),
            discount=usd("0.00"),
            tax=usd("0.00"),
            total=usd("0.30"),
            raw={},
        ),
    )
    expected = InvoiceRecord(
        key=inv_key,
        client_key=key(EntityType.CLIENT, "710001"),
        number="50101-00001",
        status=InvoiceStatus.PARTIALLY_PAID,
        status_raw="OPEN/Partial Payment",
        currency="USD",
        issued_at=datetime(2026, 1, 1, tzinfo=UTC),
        due_at=datetime(2026, 1, 15, tzinfo=UTC),
        paid_at=datetime(2026, 1, 2, tzinfo=UTC),
        subtotal=usd("77.00"),
        discount=usd("4.70"),
        tax=usd("2.47"),
        total=usd("79.87"),
        amount_paid=usd("20.20"),
        balance_due=usd("59.67"),
        subscription_key=None,
        note="Thanks!",
        items=expected_items,
        raw={},
    )
    record = mapping.map_invoice(raw)
    assert record == expected
    assert record.raw is raw
    assert record.items is not None
    assert [i.raw for i in record.items] == raw["invoiceItem"]
    assert record.issued_at.tzinfo is UTC


def test_amounts_are_exact_decimals_never_floats() -> None:
    raw = loads('{"a": 0.1, "b": 0.2, "c": 12.1, "d": 50}')
    assert raw == {"a": Decimal("0.1"), "b": Decimal("0.2"), "c": Decimal("12.1"), "d": 50}
    total = mapping.money(raw["a"], "USD").amount + mapping.money(raw["b"], "USD").amount
    assert total == Decimal("0.30")
    assert str(mapping.money(raw["c"], "USD").amount) == "12.10"
    # A float handed in by a caller that decoded JSON itself keeps its literal value.
    assert mapping.decimal_of(12.1) == Decimal("12.1")
    assert mapping.decimal_of(0.1) + mapping.decimal_of(0.2) == Decimal("0.3")


@pytest.mark.parametrize(
    ("status", "sub", "active", "expected"),
    [
        ("OPEN", "No Payment", True, InvoiceStatus.OPEN),
        ("OPEN", "Partial Payment", True, InvoiceStatus.PARTIALLY_PAID),
        ("OPEN", "Payment Declined", True, InvoiceStatus.PAYMENT_FAILED),
        ("OPEN", "Manual", True, InvoiceStatus.OPEN),
        ("CLOSED", "Paid", True, InvoiceStatus.PAID),
        ("CLOSED", "Manual", True, InvoiceStatus.PAID),
        ("VOID", "Manual", True, InvoiceStatus.VOID),
        ("DELETED", "No Payment", False, InvoiceStatus.DELETED),
        ("OPEN", "No Payment", False, InvoiceStatus.DELETED),
        ("OPEN", "Awaiting Bank", True, InvoiceStatus.UNKNOWN),
        ("ARCHIVED", None, True, InvoiceStatus.UNKNOWN),
    ],
)
def test_status_mapping(
    status: str, sub: str | None, active: bool, expected: InvoiceStatus
) -> None:
    assert mapping.invoice_status(status, sub, active) is expected


def test_unknown_status_keeps_raw_and_missing_optionals_are_none() -> None:
    raw: dict[str, Any] = {
        "invoiceId": 5,
        "businessId": 50102,
        "status": "ARCHIVED",
        "subStatus": "Frozen",
        "invoiceDate": T0,
        "invoiceType": "INVOICE",
    }
    expected = InvoiceRecord(
        key=key(EntityType.INVOICE, "5", "50102"),
        client_key=None,
        number=None,
        status=InvoiceStatus.UNKNOWN,
        status_raw="ARCHIVED/Frozen",
        currency="USD",
        issued_at=datetime(2026, 1, 1, tzinfo=UTC),
        due_at=None,
        paid_at=None,
        subtotal=usd("0.00"),
        discount=usd("0.00"),
        tax=usd("0.00"),
        total=usd("0.00"),
        amount_paid=usd("0.00"),
        balance_due=usd("0.00"),
        subscription_key=None,
        note=None,
        items=None,
        raw={},
    )
    assert mapping.map_invoice(raw) == expected


def test_item_kinds_unknown_and_refund_by_sign() -> None:
    base: dict[str, Any] = {"invoiceItemId": 1, "invoiceId": 2, "quantity": 1}
    odd = mapping.map_invoice_item(
        {**base, "itemType": "MEMBERSHIP", "rate": Decimal("30")},
        tenant="50101",
        position=0,
        currency="USD",
    )
    assert (odd.kind, odd.kind_raw) == (InvoiceItemKind.UNKNOWN, "MEMBERSHIP")
    refund = mapping.map_invoice_item(
        {**base, "rate": Decimal("-19.99"), "description": None},
        tenant="50101",
        position=3,
        currency="USD",
    )
    assert refund == InvoiceItemRecord(
        key=key(EntityType.INVOICE_ITEM, "2/1"),
        invoice_key=key(EntityType.INVOICE, "2"),
        position=3,
        description="",
        kind=InvoiceItemKind.REFUND,
        kind_raw=None,
        quantity=Decimal(1),
        unit_price=usd("-19.99"),
        discount=usd("0.00"),
        tax=usd("0.00"),
        total=usd("-19.99"),
        raw={},
    )
    fee = mapping.map_invoice_item(
        {**base, "itemType": "FEE", "rate": 15, "discountPercentage": 15},
        tenant="50101",
        position=0,
        currency="USD",
    )
    assert (fee.kind, fee.discount, fee.total) == (InvoiceItemKind.FEE, usd("2.25"), usd("12.75"))


def test_client_maps_whole_record() -> None:
    raw = loads(CLIENT_TEXT)
    assert mapping.map_client(raw) == ClientRecord(
        key=key(EntityType.CLIENT, "710001"),
        first_name="Emma",
        last_name="de Jong",
        display_name="Emma de Jong",
        email="emma@example.com",
        phone="+1 555 1234567",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        raw={},
    )


def test_client_with_missing_fields_falls_back() -> None:
    raw = {"clientId": 9, "emailAddress": "x@example.org", "homePhone": "+1 555 7654321"}
    record = mapping.map_client(raw, "50102")
    assert record == ClientRecord(
        key=key(EntityType.CLIENT, "9", "50102"),
        first_name=None,
        last_name=None,
        display_name="x@example.org",
        email="x@example.org",
        phone="+1 555 7654321",
        created_at=None,
        raw={},
    )
    assert record.raw is raw


def test_embedded_client_comes_from_invoice_raw() -> None:
    invoice = mapping.map_invoice(loads(INVOICE_TEXT))
    client = mapping.embedded_client(invoice)
    assert client == mapping.map_client(loads(CLIENT_TEXT))
    assert client is not None
    assert client.raw is invoice.raw["client"]
    bare = mapping.map_invoice({"invoiceId": 1, "businessId": 1, "invoiceDate": T0})
    assert mapping.embedded_client(bare) is None
