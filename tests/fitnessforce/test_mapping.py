"""UFP JSON to domain records, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson

from clubgraph.connectors.fitnessforce.mapping import (
    decimal,
    map_client,
    map_invoice,
    map_subscription,
    parse_datetime,
)
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

FF = Source.FITNESSFORCE
CET = timezone(timedelta(hours=1))


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


# Decoded the way the HTTP client decodes it, so amounts arrive as floats.
INVOICE = orjson.loads(
    b"""{
  "invoice_id": 7100123, "invoice_number": "AMS-000042", "tenant_id": 101,
  "client_id": 10007, "subscription_id": 30011,
  "invoice_date": "2026-03-02T06:15:00+01:00", "due_date": "2026-03-16",
  "paid_date": null, "status": "PartiallyPaid", "currency_code": "EUR",
  "gross_amount": 0.3, "discount_amount": 0.0, "tax_amount": 12.1,
  "net_amount": 12.4, "paid_amount": 0.1, "refunded_amount": 0.0,
  "balance_amount": 12.3, "remarks": null,
  "invoice_details": [
    {"invoice_detail_id": 9000001, "line_number": 1, "charge_name": "Locker rental",
     "charge_type": "Service", "quantity": 1, "unit_price": 0.1, "discount_amount": 0,
     "tax_group": {"tax_group_id": 1, "tax_group_name": "BTW 21%", "tax_percentage": 21.0},
     "tax_amount": 12.1, "net_amount": 12.2},
    {"invoice_detail_id": 9000002, "line_number": 2, "charge_name": "Towel service",
     "charge_type": "Laundry", "quantity": 2, "unit_price": 0.1, "discount_amount": 0.0,
     "tax_group": null, "tax_amount": 0.0, "net_amount": 0.2}
  ]
}"""
)


def test_invoice_maps_whole_record_with_exact_money_and_embedded_lines() -> None:
    record = map_invoice(INVOICE, "101")
    key = Key(EntityType.INVOICE, FF, "101", "10007/7100123")
    expected = InvoiceRecord(
        key=key,
        client_key=Key(EntityType.CLIENT, FF, "101", "10007"),
        number="AMS-000042",
        status=InvoiceStatus.PARTIALLY_PAID,
        status_raw="PartiallyPaid",
        currency="EUR",
        issued_at=datetime(2026, 3, 2, 6, 15, tzinfo=CET),
        due_at=datetime(2026, 3, 16, tzinfo=UTC),
        paid_at=None,
        subtotal=eur("0.30"),
        discount=eur("0.00"),
        tax=eur("12.10"),
        total=eur("12.40"),
        amount_paid=eur("0.10"),
        balance_due=eur("12.30"),
        subscription_key=Key(EntityType.SUBSCRIPTION, FF, "101", "10007/30011"),
        note=None,
        items=(
            InvoiceItemRecord(
                key=Key(EntityType.INVOICE_ITEM, FF, "101", "10007/7100123/9000001"),
                invoice_key=key,
                position=0,
                description="Locker rental",
                kind=InvoiceItemKind.CHARGE,
                kind_raw="Service",
                quantity=Decimal(1),
                unit_price=eur("0.10"),
                discount=eur("0.00"),
                tax=eur("12.10"),
                total=eur("12.20"),
                raw={},
            ),
            InvoiceItemRecord(
                key=Key(EntityType.INVOICE_ITEM, FF, "101", "10007/7100123/9000002"),
                invoice_key=key,
                position=1,
                description="Towel service",
                kind=InvoiceItemKind.UNKNOWN,
                kind_raw="Laundry",
                quantity=Decimal(2),
                unit_price=eur("0.10"),
                discount=eur("0.00"),
                tax=eur("0.00"),
                total=eur("0.20"),
                raw={},
            ),
        ),
        raw={},
    )
    assert record == expected
    assert record.raw is INVOICE
    assert record.items is not None
    assert record.items[1].raw is INVOICE["invoice_details"][1]
    # 0.1 + 0.2 is exactly 0.3 once no float is involved.
    assert record.items[0].unit_price.amount + record.items[1].total.amount == Decimal("0.30")
    assert str(record.tax.amount) == "12.10"
    assert record.issued_at.utcoffset() == timedelta(hours=1)


def test_invoice_unknown_status_and_missing_optionals() -> None:
    raw = {
        "invoice_id": 5,
        "client_id": 9,
        "invoice_date": "2026-01-05T10:00:00Z",
        "status": "OnHold",
        "currency_code": "GBP",
        "net_amount": 10,
    }
    record = map_invoice(raw, "102")
    gbp0 = Money(Decimal("0.00"), "GBP")
    assert record == InvoiceRecord(
        key=Key(EntityType.INVOICE, FF, "102", "9/5"),
        client_key=Key(EntityType.CLIENT, FF, "102", "9"),
        number=None,
        status=InvoiceStatus.UNKNOWN,
        status_raw="OnHold",
        currency="GBP",
        issued_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
        due_at=None,
        paid_at=None,
        subtotal=gbp0,
        discount=gbp0,
        tax=gbp0,
        total=Money(Decimal("10.00"), "GBP"),
        amount_paid=gbp0,
        balance_due=gbp0,
        subscription_key=None,
        note=None,
        items=None,
        raw={},
    )
    assert record.raw is raw


def test_every_seeded_status_maps_to_a_unified_status() -> None:
    statuses = {
        "Draft": InvoiceStatus.DRAFT,
        "Unpaid": InvoiceStatus.OPEN,
        "PaymentFailed": InvoiceStatus.PAYMENT_FAILED,
        "WrittenOff": InvoiceStatus.VOID,
        "PartiallyRefunded": InvoiceStatus.REFUNDED,
    }
    for raw_status, unified in statuses.items():
        raw = dict(INVOICE, status=raw_status)
        assert map_invoice(raw, "101").status is unified


def test_client_maps_whole_record() -> None:
    raw = {
        "client_id": 10007,
        "tenant_id": 101,
        "first_name": "Emma",
        "last_name": "de Jong",
        "full_name": "Emma de Jong",
        "email": "emma@example.com",
        "mobile_number": None,
        "created_date": "2025-06-01T09:30:00+02:00",
    }
    assert map_client(raw, "101") == ClientRecord(
        key=Key(EntityType.CLIENT, FF, "101", "10007"),
        first_name="Emma",
        last_name="de Jong",
        display_name="Emma de Jong",
        email="emma@example.com",
        phone=None,
        created_at=datetime(2025, 6, 1, 9, 30, tzinfo=timezone(timedelta(hours=2))),
        raw={},
    )
    bare = map_client({"client_id": 3, "first_name": "Kofi", "last_name": None}, "102")
    assert (bare.display_name, bare.email, bare.created_at) == ("Kofi", None, None)
    assert bare.raw == {"client_id": 3, "first_name": "Kofi", "last_name": None}


def test_subscription_maps_whole_record() -> None:
    raw = orjson.loads(
        b"""{"subscription_id": 30011, "client_id": 10007, "tenant_id": 101, "plan_id": 502,
        "plan_name": "Premium Monthly", "subscription_status": "PendingCancellation",
        "billing_frequency": "Fortnightly", "recurring_amount": 49.95, "currency_code": "EUR",
        "start_date": "2026-02-01", "end_date": "2026-11-30", "next_billing_date": null,
        "freezes": []}"""
    )
    assert map_subscription(raw, "101") == SubscriptionRecord(
        key=Key(EntityType.SUBSCRIPTION, FF, "101", "10007/30011"),
        client_key=Key(EntityType.CLIENT, FF, "101", "10007"),
        kind=SubscriptionKind.MEMBERSHIP,
        plan_name="Premium Monthly",
        plan_id="502",
        status=SubscriptionStatus.ACTIVE,
        status_raw="PendingCancellation",
        interval=BillingInterval.BI_WEEKLY,
        interval_raw="Fortnightly",
        price=eur("49.95"),
        starts_at=datetime(2026, 2, 1, tzinfo=UTC),
        ends_at=datetime(2026, 11, 30, tzinfo=UTC),
        next_billing_at=None,
        raw={},
    )


def test_subscription_unknown_values_keep_raw() -> None:
    raw = {
        "subscription_id": 1,
        "client_id": 2,
        "plan_name": "Trial",
        "subscription_status": "Suspended",
        "billing_frequency": "Daily",
        "currency_code": "GBP",
    }
    record = map_subscription(raw, "102")
    assert (record.status, record.status_raw) == (SubscriptionStatus.UNKNOWN, "Suspended")
    assert (record.interval, record.interval_raw) == (BillingInterval.UNKNOWN, "Daily")
    assert (record.price, record.starts_at, record.plan_id) == (None, None, None)
    assert record.raw is raw


def test_decimal_and_datetime_helpers() -> None:
    assert decimal(orjson.loads(b"12.1")) == Decimal("12.1")
    assert decimal(orjson.loads(b"1499.00")) == Decimal("1499.0")
    assert decimal(orjson.loads(b"0.30000000000000004")) == Decimal("0.30000000000000004")
    assert parse_datetime("2026-03-16") == datetime(2026, 3, 16, tzinfo=UTC)
    assert parse_datetime("2026-03-16T10:00:00") == datetime(2026, 3, 16, 10, tzinfo=UTC)
    assert parse_datetime(None) is None
