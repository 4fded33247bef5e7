"""Pure mapping of Tight JSON to domain records: whole records, exact money, UTC dates."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from clubgraph.connectors.tight import mapping
from clubgraph.domain import (
    BillingInterval,
    ClientRecord,
    EntityType,
    InvoiceItemKind,
    InvoiceItemRecord,
    InvoiceRecord,
    InvoiceStatus,
    Key,
    Money,
    Source,
    SubscriptionKind,
    SubscriptionRecord,
    SubscriptionStatus,
)


def key(kind: EntityType, ident: str) -> Key:
    return Key(kind, Source.TIGHT, "7001", ident)


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


# Decoded from text with orjson, as the connector receives it: amounts are floats.
INVOICE_TEXT = b"""{
  "id": 1123144594, "apiInvoiceId": null, "clientId": 52300011, "businessId": 7001,
  "date": "2026-03-02", "name": "Classes Mar 2026", "invoiceNo": 1042,
  "invoicePrefix": "TFS-", "totalAmount": 21.72, "totalAmountCents": 2172,
  "balance": 11.72, "discountAmount": 0.1, "discountPercent": null, "term": "NET_15",
  "dueDate": "2026-03-17", "personalNote": "Thank you for your business.",
  "frequency": "ONE_TIME", "status": "OPEN", "parentId": null, "isRecurringParent": false,
  "amountPaid": 10.0, "paidDate": null, "salesTax": 1.52, "currency": "USD",
  "lineItems": [
    {"id": 28868401, "description": "Towel service", "quantity": 2, "price": 0.1,
     "salesTax": 8.875, "amount": 0.2},
    {"id": 28868402, "description": "Drop-in class", "quantity": 1.5, "price": 13.4,
     "salesTax": 7.5, "amount": 20.1}
  ]
}"""


def invoice_raw(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = orjson.loads(INVOICE_TEXT)
    raw.update(changes)
    return raw


def test_invoice_whole_record_with_exact_money() -> None:
    raw = invoice_raw()
    inv = key(EntityType.INVOICE, "1123144594")
    expected_items = (
        InvoiceItemRecord(
            key=key(EntityType.INVOICE_ITEM, "1123144594/28868401"),
            invoice_key=inv,
            position=0,
            description="Towel service",
            kind=InvoiceItemKind.CHARGE,
            kind_raw=None,
            quantity=Decimal("2"),
            unit_price=usd("0.10"),
            discount=usd("0.00"),
            tax=usd("0.02"),
            total=usd("0.22"),
            raw=raw["lineItems"][0],
        ),
        InvoiceItemRecord(
            key=key(EntityType.INVOICE_ITEM, "1123144594/28868402"),
            invoice_key=inv,
            position=1,
            description="Drop-in class",
            kind=InvoiceItemKind.CHARGE,
            kind_raw=None,
            quantity=Decimal("1.5"),
            unit_price=usd("13.40"),
            discount=usd("0.00"),
            tax=usd("1.51"),
            total=usd("21.61"),
            raw=raw["lineItems"][1],
        ),
    )
    record = mapping.map_invoice(raw, "ignored")
    assert record == InvoiceRecord(
        key=inv,
        client_key=key(EntityType.CLIENT, "52300011"),
        number="TFS-1042",
        status=InvoiceStatus.PARTIALLY_PAID,
        status_raw="OPEN",
        currency="USD",
        issued_at=datetime(2026, 3, 2, tzinfo=UTC),
        due_at=datetime(2026, 3, 17, tzinfo=UTC),
        paid_at=None,
        subtotal=usd("20.30"),
        discount=usd("0.10"),
        tax=usd("1.52"),
        total=usd("21.72"),
        amount_paid=usd("10.00"),
        balance_due=usd("11.72"),
        subscription_key=None,
        note="Thank you for your business.",
        items=expected_items,
        raw=raw,
    )
    assert record.raw is raw
    assert record.items is not None
    assert record.items[0].raw is raw["lineItems"][0]
    assert record.issued_at.tzinfo is UTC
    assert str(record.subtotal.amount) == "20.30"


def test_amounts_never_go_through_float_arithmetic() -> None:
    # 0.1 + 0.2 as floats is 0.30000000000000004; the mapped amounts stay exact.
    raw = invoice_raw(amountPaid=0.1 + 0.2, balance=12.1, totalAmountCents=1240)
    record = mapping.map_invoice(raw, "7001")
    assert record.amount_paid == usd("0.30")
    assert record.balance_due == usd("12.10")
    assert record.total == usd("12.40")
    assert mapping.money(12.1, "USD") == usd("12.10")
    assert mapping.decimal_of(8.875) == Decimal("8.875")


def test_total_falls_back_to_dollars_and_percent_discount() -> None:
    raw = invoice_raw(totalAmountCents=None, totalAmount=19.79, discountAmount=None)
    raw["discountPercent"] = 12.5
    record = mapping.map_invoice(raw, "7001")
    assert (record.total, record.discount, record.subtotal) == (
        usd("19.79"),
        usd("2.54"),  # 12.5% of 20.30 = 2.5375, rounded half-up
        usd("20.30"),
    )


def test_status_mapping_and_unknown_status() -> None:
    cases = {
        ("OPEN", 0.0, 21.72): InvoiceStatus.OPEN,
        ("OPEN", 21.72, 0.0): InvoiceStatus.PAID,
        ("CLOSED", 21.72, 0.0): InvoiceStatus.PAID,
        ("CANCELLED", 0.0, 0.0): InvoiceStatus.VOID,
        ("REFUNDED", 21.72, 0.0): InvoiceStatus.REFUNDED,
        ("DRAFT", 0.0, 21.72): InvoiceStatus.DRAFT,
        ("SCHEDULED", 0.0, 21.72): InvoiceStatus.SCHEDULED,
        ("PAST_DUE", 0.0, 21.72): InvoiceStatus.UNKNOWN,
    }
    for (status, paid, balance), unified in cases.items():
        raw = invoice_raw(status=status, amountPaid=paid, balance=balance)
        record = mapping.map_invoice(raw, "7001")
        assert (record.status, record.status_raw) == (unified, status)


def test_missing_optional_fields() -> None:
    raw = {
        "id": 5,
        "date": "2026-01-05",
        "totalAmountCents": 1000,
        "status": "OPEN",
    }
    record = mapping.map_invoice(raw, "7001")  # type: ignore[arg-type]
    assert record == InvoiceRecord(
        key=key(EntityType.INVOICE, "5"),
        client_key=None,
        number=None,
        status=InvoiceStatus.OPEN,
        status_raw="OPEN",
        currency="USD",
        issued_at=datetime(2026, 1, 5, tzinfo=UTC),
        due_at=None,
        paid_at=None,
        subtotal=usd("10.00"),
        discount=usd("0.00"),
        tax=usd("0.00"),
        total=usd("10.00"),
        amount_paid=usd("0.00"),
        balance_due=usd("10.00"),
        subscription_key=None,
        note=None,
        items=None,
        raw=raw,
    )


def test_child_and_parent_point_to_their_plan() -> None:
    child = mapping.map_invoice(invoice_raw(parentId=1123100003), "7001")
    parent = mapping.map_invoice(
        invoice_raw(isRecurringParent=True, frequency="MONTHLY", currency="CAD"), "7001"
    )
    assert child.subscription_key == key(EntityType.SUBSCRIPTION, "1123100003")
    assert parent.subscription_key == key(EntityType.SUBSCRIPTION, "1123144594")
    assert parent.total == Money(Decimal("21.72"), "CAD")


def plan_raw(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "isRecurringParent": True,
        "frequency": "MONTHLY",
        "date": "2026-01-31",
        "lastCreatedRecurringInvoice": "2026-09-30",
        "name": "Gold membership (monthly)",
    }
    return invoice_raw(**{**fields, **changes})


def test_subscription_whole_record() -> None:
    raw = plan_raw()
    record = mapping.map_subscription(raw, "7001")
    assert record == SubscriptionRecord(
        key=key(EntityType.SUBSCRIPTION, "1123144594"),
        client_key=key(EntityType.CLIENT, "52300011"),
        kind=SubscriptionKind.RECURRING_INVOICE,
        plan_name="Gold membership (monthly)",
        plan_id=None,
        status=SubscriptionStatus.ACTIVE,
        status_raw="OPEN",
        interval=BillingInterval.MONTHLY,
        interval_raw="MONTHLY",
        price=usd("21.72"),
        starts_at=datetime(2026, 1, 31, tzinfo=UTC),
        ends_at=None,
        # September 30th plus a month.
        next_billing_at=datetime(2026, 10, 30, tzinfo=UTC),
        raw=raw,
    )
    assert record.raw is raw


def test_subscription_status_interval_and_dates() -> None:
    closed = mapping.map_subscription(plan_raw(status="CLOSED"), "7001")
    assert (closed.status, closed.ends_at, closed.next_billing_at) == (
        SubscriptionStatus.EXPIRED,
        datetime(2026, 9, 30, tzinfo=UTC),
        None,
    )
    assert mapping.map_subscription(plan_raw(status="CANCELLED"), "7001").status is (
        SubscriptionStatus.CANCELLED
    )
    assert mapping.map_subscription(plan_raw(status="DRAFT"), "7001").status is (
        SubscriptionStatus.PENDING
    )
    scheduled = mapping.map_subscription(plan_raw(status="SCHEDULED"), "7001")
    assert (scheduled.status, scheduled.next_billing_at) == (
        SubscriptionStatus.ACTIVE,
        datetime(2026, 1, 31, tzinfo=UTC),
    )
    odd = mapping.map_subscription(plan_raw(status="PAUSED", frequency="FORTNIGHTLY"), "7001")
    assert (odd.status, odd.status_raw, odd.interval, odd.interval_raw) == (
        SubscriptionStatus.UNKNOWN,
        "PAUSED",
        BillingInterval.UNKNOWN,
        "FORTNIGHTLY",
    )
    fast = mapping.map_subscription(plan_raw(frequency="AFTER_TWO_MINS"), "7001")
    assert fast.interval is BillingInterval.OTHER
    assert fast.next_billing_at == datetime(2026, 9, 30, 0, 2, tzinfo=UTC)
    assert mapping.is_subscription(plan_raw())
    assert not mapping.is_subscription(plan_raw(frequency="ONE_TIME"))


def test_client_whole_record_keeps_offset() -> None:
    raw = {
        "id": 52300011,
        "businessId": 7001,
        "name": "Ava Kim",
        "firstName": "Ava",
        "lastName": "Kim",
        "email": "ava.kim3@example.com",
        "phone": None,
        "createdDate": "2025-01-14T09:30:00-06:00",
    }
    record = mapping.map_client(raw, "other")  # type: ignore[arg-type]
    assert record == ClientRecord(
        key=key(EntityType.CLIENT, "52300011"),
        first_name="Ava",
        last_name="Kim",
        display_name="Ava Kim",
        email="ava.kim3@example.com",
        phone=None,
        created_at=datetime.fromisoformat("2025-01-14T09:30:00-06:00"),
        raw=raw,
    )
    assert record.created_at is not None
    assert record.created_at.utcoffset() is not None
    assert record.raw is raw


def test_a_raw_invoice_sorts_as_its_mapped_record() -> None:
    """Lists map rows lazily and order them by the raw JSON: the order must be the one
    the mapped records give, for every sort field and every seeded invoice."""
    from clubgraph.connectors.base import InvoiceSortField, invoice_sort_value
    from clubgraph.sandbox.tight.data import build

    state = build(7)
    raws = [orjson.loads(orjson.dumps(raw)) for raw in state.invoices.values()]
    assert len(raws) > 50
    for raw in raws:
        record = mapping.map_invoice(raw, "1")
        assert mapping.raw_invoice_key(raw, "1") == record.key
        for field in InvoiceSortField:
            assert mapping.invoice_sort_raw(raw, field) == invoice_sort_value(record, field)


def test_a_period_later_is_the_same_day_or_the_month_s_last() -> None:
    at = datetime(2026, 5, 5, 9, 30, tzinfo=UTC)
    assert mapping.add_period(at, "MONTHLY") == datetime(2026, 6, 5, 9, 30, tzinfo=UTC)
    assert mapping.add_period(at, "YEARLY") == datetime(2027, 5, 5, 9, 30, tzinfo=UTC)
    assert mapping.add_period(datetime(2026, 12, 31, tzinfo=UTC), "MONTHLY") == datetime(
        2027, 1, 31, tzinfo=UTC
    )
    assert mapping.add_period(datetime(2027, 1, 31, tzinfo=UTC), "MONTHLY") == datetime(
        2027, 2, 28, tzinfo=UTC
    )
    assert mapping.add_period(datetime(2028, 2, 29, tzinfo=UTC), "YEARLY") == datetime(
        2029, 2, 28, tzinfo=UTC
    )
    assert mapping.add_period(at, "WEEKLY") == datetime(2026, 5, 12, 9, 30, tzinfo=UTC)
    assert mapping.add_period(at, "FORTNIGHTLY") is None
