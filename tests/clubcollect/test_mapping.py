"""Pure mapping of ClubCollect JSON to domain records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from clubgraph.connectors.clubcollect.api import parse_errors
from clubgraph.connectors.clubcollect.mapping import (
    cents,
    customer_key,
    map_client,
    map_invoice,
    parse_datetime,
)
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
from clubgraph.errors import SourceErrorDetail, UpstreamBadResponse

CET_SUMMER = timezone(timedelta(hours=2))
CO = "cmp_amsterdam_hc"


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def ikey(invoice_id: str) -> Key:
    return Key(EntityType.INVOICE, Source.CLUBCOLLECT, CO, invoice_id)


def customer() -> dict[str, Any]:
    return {
        "name": {
            "prefix": "Mr",
            "first_name": "Daan",
            "infix": "van den",
            "last_name": "Berg",
            "organization": None,
        },
        "address": {
            "address1": "Kerkstraat",
            "house_number": "12",
            "zipcode": "1017 GB",
            "city": "Amsterdam",
            "country_code": "NL",
        },
        "email": {"email_address": "Daan.Berg@Example.com"},
        "phone": {"phone_number": "+31 6 12345678", "country_code": "NL"},
    }


def ln(line_id: str, type_: str, cents_: int, description: str | None = None, **extra: Any) -> Any:
    return {
        "invoice_line_id": line_id,
        "type": type_,
        "amount_cents": cents_,
        "description": description,
        "date": "2026-06-03T10:15:00+02:00",
        **extra,
    }


def raw_invoice() -> dict[str, Any]:
    return {
        "invoice_id": "inv1",
        "import_id": "imp1",
        "external_invoice_number": "AHC-202606-0001",
        "invoice_number": "100001",
        "club_membership_number": "AHC-00001",
        "customer": customer(),
        "invoice_lines": [
            ln("l1", "INVOICE-LINE", 10, "Afronding"),
            ln("l2", "INVOICE-LINE", 20, "Botenfonds"),
            ln("l3", "CREDIT-LINE", -5, "Korting"),
            ln("l4", "INVOICE-LINE", 35, "Transactiekosten", subtype="surcharge"),
            ln("l5", "PAYMENT-LINE", -25, payment_method="ideal"),
            ln("l6", "LATE-PAYMENT-FEE-LINE", 750),
        ],
        "amount_total_cents": 60,
        "retracted_at": None,
        "retraction_reason": None,
        "status": "partially_paid",
        "created_at": "2026-06-01T09:00:00+02:00",
        "transmitted_at": "2026-06-03T10:15:00+02:00",
        "due_date": "2026-06-17",
    }


def item(position: int, line_id: str, kind: InvoiceItemKind, kind_raw: str, amount: str, desc: str):
    return InvoiceItemRecord(
        key=Key(EntityType.INVOICE_ITEM, Source.CLUBCOLLECT, CO, f"inv1/{line_id}"),
        invoice_key=ikey("inv1"),
        position=position,
        description=desc,
        kind=kind,
        kind_raw=kind_raw,
        quantity=Decimal(1),
        unit_price=eur(amount),
        discount=eur("0.00"),
        tax=eur("0.00"),
        total=eur(amount),
        raw={},
    )


def test_invoice_maps_whole_record_with_exact_money() -> None:
    raw = raw_invoice()
    record = map_invoice(raw, CO, "EUR")
    assert record == InvoiceRecord(
        key=ikey("inv1"),
        client_key=Key(EntityType.CLIENT, Source.CLUBCOLLECT, CO, "AHC-00001"),
        number="AHC-202606-0001",
        status=InvoiceStatus.PARTIALLY_PAID,
        status_raw="partially_paid",
        currency="EUR",
        issued_at=datetime(2026, 6, 3, 10, 15, tzinfo=CET_SUMMER),
        due_at=datetime(2026, 6, 17, tzinfo=UTC),
        paid_at=None,
        subtotal=eur("8.15"),
        discount=eur("0.05"),
        tax=eur("0.00"),
        total=eur("8.10"),
        amount_paid=eur("0.25"),
        balance_due=eur("7.85"),
        subscription_key=None,
        note=None,
        items=(
            item(0, "l1", InvoiceItemKind.CHARGE, "INVOICE-LINE", "0.10", "Afronding"),
            item(1, "l2", InvoiceItemKind.CHARGE, "INVOICE-LINE", "0.20", "Botenfonds"),
            item(2, "l3", InvoiceItemKind.DISCOUNT, "CREDIT-LINE", "-0.05", "Korting"),
            item(3, "l4", InvoiceItemKind.FEE, "INVOICE-LINE", "0.35", "Transactiekosten"),
            item(
                4,
                "l6",
                InvoiceItemKind.FEE,
                "LATE-PAYMENT-FEE-LINE",
                "7.50",
                "LATE-PAYMENT-FEE-LINE",
            ),
        ),
        raw={},
    )
    assert record.raw is raw
    assert record.items is not None
    assert [i.raw for i in record.items] == [raw["invoice_lines"][i] for i in (0, 1, 2, 3, 5)]
    # 0.10 + 0.20 is exactly 0.30, never 0.30000000000000004.
    assert record.items[0].total.amount + record.items[1].total.amount == Decimal("0.30")
    assert record.issued_at.utcoffset() == timedelta(hours=2)


def test_paid_invoice_with_installments_and_chargebacks() -> None:
    raw = raw_invoice()
    raw["status"] = "paid"
    raw["invoice_lines"] = [
        ln("a", "INVOICE-LINE", 4250, "Contributie"),
        ln("b", "INSTALLMENT-FEE-LINE", 150),
        ln("c", "PAYMENT-LINE", -4250, payment_method="sdd"),
        ln("d", "CHARGEBACK-LINE", 4250),
        ln("e", "CHARGEBACK-FEE-LINE", 600),
        {**ln("f", "PAYMENT-LINE", -4850, payment_method="ideal"), "date": "2026-07-01T08:00:00Z"},
        ln("g", "INSTALLMENT-FEE-PAYMENT-LINE", -150, payment_method="ideal"),
    ]
    record = map_invoice(raw, CO, "EUR")
    assert (record.total, record.amount_paid, record.balance_due) == (
        eur("50.00"),
        eur("50.00"),
        eur("0.00"),
    )
    assert [i.kind for i in record.items or ()] == [
        InvoiceItemKind.CHARGE,
        InvoiceItemKind.FEE,
        InvoiceItemKind.FEE,
    ]
    assert record.paid_at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def test_unknown_status_and_line_type_map_to_unknown_keeping_raw() -> None:
    raw = raw_invoice()
    raw["status"] = "on_hold"
    raw["invoice_lines"] = [
        ln("x", "MYSTERY-LINE", 100, "?"),
        ln("y", "INVOICE-LINE", -300, "Restitutie"),
    ]
    record = map_invoice(raw, CO, "EUR")
    assert (record.status, record.status_raw) == (InvoiceStatus.UNKNOWN, "on_hold")
    assert [(i.kind, i.kind_raw) for i in record.items or ()] == [
        (InvoiceItemKind.UNKNOWN, "MYSTERY-LINE"),
        (InvoiceItemKind.REFUND, "INVOICE-LINE"),
    ]
    assert record.total == eur("-2.00")


@pytest.mark.parametrize(
    ("status", "unified"),
    [
        ("draft", InvoiceStatus.DRAFT),
        ("transmitted", InvoiceStatus.OPEN),
        ("payment_in_progress", InvoiceStatus.OPEN),
        ("partially_paid", InvoiceStatus.PARTIALLY_PAID),
        ("paid", InvoiceStatus.PAID),
        ("chargeback", InvoiceStatus.PAYMENT_FAILED),
        ("retracted", InvoiceStatus.VOID),
        ("credited", InvoiceStatus.VOID),
        ("refunded", InvoiceStatus.REFUNDED),
    ],
)
def test_every_status(status: str, unified: InvoiceStatus) -> None:
    raw = {**raw_invoice(), "status": status}
    assert (map_invoice(raw, CO, "EUR").status, map_invoice(raw, CO, "EUR").status_raw) == (
        unified,
        status,
    )


def test_missing_optional_fields() -> None:
    raw: dict[str, Any] = {
        "invoice_id": "inv2",
        "import_id": "imp1",
        "external_invoice_number": None,
        "invoice_number": "100002",
        "customer": {
            "name": {"last_name": "Okafor"},
            "address": {"address1": "Main", "city": "Leeds"},
        },
        "invoice_lines": [ln("l1", "INVOICE-LINE", 1995, "Contributie")],
        "amount_total_cents": "1995",
        "created_at": "2026-02-01T09:00:00",
        "retracted_at": "2026-03-01T09:00:00+01:00",
        "retraction_reason": "Lid opgezegd",
    }
    record = map_invoice(raw, CO, "EUR")
    key = customer_key(raw)
    assert key.startswith("h-")
    assert len(key) == 18
    assert record == InvoiceRecord(
        key=ikey("inv2"),
        client_key=Key(EntityType.CLIENT, Source.CLUBCOLLECT, CO, key),
        number="100002",
        status=InvoiceStatus.VOID,
        status_raw="",
        currency="EUR",
        issued_at=datetime(2026, 2, 1, 9, 0, tzinfo=UTC),
        due_at=None,
        paid_at=None,
        subtotal=eur("19.95"),
        discount=eur("0.00"),
        tax=eur("0.00"),
        total=eur("19.95"),
        amount_paid=eur("0.00"),
        balance_due=eur("19.95"),
        subscription_key=None,
        note="Lid opgezegd",
        items=record.items,
        raw={},
    )
    assert record.issued_at.tzinfo is not None


def test_customer_key_prefers_membership_then_email_then_hash() -> None:
    raw = raw_invoice()
    assert customer_key(raw) == "AHC-00001"
    raw["club_membership_number"] = None
    assert customer_key(raw) == "daan.berg@example.com"
    raw["customer"]["email"] = None
    first = customer_key(raw)
    assert first.startswith("h-")
    assert customer_key(raw) == first
    raw["customer"]["address"]["house_number"] = "14"
    assert customer_key(raw) != first


def test_client_from_customer() -> None:
    raw = customer()
    assert map_client(raw, CO, "AHC-00001") == ClientRecord(
        key=Key(EntityType.CLIENT, Source.CLUBCOLLECT, CO, "AHC-00001"),
        first_name="Daan",
        last_name="van den Berg",
        display_name="Daan van den Berg",
        email="Daan.Berg@Example.com",
        phone="+31 6 12345678",
        created_at=None,
        raw={},
    )
    assert map_client(raw, CO, "x").raw is raw
    org = map_client({"name": {"last_name": "Bos", "organization": "Bos BV"}}, CO, "x")
    assert (org.display_name, org.email, org.phone, org.first_name) == ("Bos BV", None, None, None)


def test_cents_never_accepts_fractions() -> None:
    assert cents(1200) == 1200
    assert cents("-1500") == -1500
    assert cents(1200.0) == 1200
    for bad in (12.1, True, "12.10", None):
        with pytest.raises(UpstreamBadResponse):
            cents(bad)


def test_datetimes_are_aware() -> None:
    assert parse_datetime("2026-06-17") == datetime(2026, 6, 17, tzinfo=UTC)
    assert parse_datetime("2017-05-16T08:57:02+00:00") == datetime(
        2017, 5, 16, 8, 57, 2, tzinfo=UTC
    )
    assert parse_datetime("2026-01-05T10:00:00+01:00").utcoffset() == timedelta(hours=1)  # type: ignore[union-attr]
    assert parse_datetime(None) is None


def test_error_bodies_become_details_with_source_codes() -> None:
    assert parse_errors(422, {"error": "invalid_customer_email"}) == (
        SourceErrorDetail(
            "invalid_customer_email",
            "Email address may not be empty if no phone number is provided.",
            "customer.email.email_address",
        ),
    )
    assert [d.code for d in parse_errors(404, {"errors": "invalid_import_id"})] == [
        "invalid_import_id"
    ]
    assert [d.code for d in parse_errors(422, {"errors": ["a_b", "c"]})] == ["a_b", "c"]
    assert parse_errors(500, "oops") == ()
