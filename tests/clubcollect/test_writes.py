"""ClubCollect writes against the sandbox over loopback: results, rules, errors, undo."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from clubgraph.commands import (
    Address,
    Capability,
    Channel,
    CreateInvoice,
    ErrorCode,
    LineChange,
    LineInput,
    NotSupported,
    PartialWrite,
    Recipient,
    SubscriptionCommand,
    SubscriptionOp,
    UpdateInvoice,
    UserError,
    WriteRejected,
)
from clubgraph.connectors.base import InvoiceFilter, InvoiceOrder, Stream
from clubgraph.connectors.clubcollect import DEV_CREDENTIALS, ClubCollectConnector
from clubgraph.connectors.clubcollect.codes import CODES, rejection
from clubgraph.connectors.clubcollect.payloads import invoice_changes, new_invoice
from clubgraph.domain import EntityType, InvoiceStatus, Key, Source
from clubgraph.errors import UpstreamError, UpstreamUnavailable
from clubgraph.sandbox.clubcollect.protocol import STATE
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

CO = "cmp_amsterdam_hc"
Expect = tuple[ErrorCode, tuple[str, ...]]


@pytest_asyncio.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["clubcollect"])
    yield running
    await running.stop()


@pytest_asyncio.fixture(scope="module")
async def conn(sandbox: RunningSandbox) -> AsyncIterator[ClubCollectConnector]:
    connector = ClubCollectConnector(sandbox.urls["clubcollect"], DEV_CREDENTIALS)
    await connector.start()
    await connector.index.ready()
    yield connector
    await connector.close()


@pytest_asyncio.fixture
async def http(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(sandbox.urls["clubcollect"]) as session:
        await session.delete("/__sandbox/requests")
        yield session
        await session.delete("/__sandbox/faults")


async def requests(http: aiohttp.ClientSession) -> list[tuple[str, str]]:
    """The upstream requests since the last call (the log is cleared)."""
    async with http.get("/__sandbox/requests") as resp:
        log = await resp.json()
    await http.delete("/__sandbox/requests")
    return [(e["method"], e["path"]) for e in log]


async def fault(http: aiohttp.ClientSession, path: str, method: str, **spec: Any) -> None:
    async with http.post("/__sandbox/faults", json={"path": path, "method": method, **spec}) as r:
        assert r.status == 204


def state(sandbox: RunningSandbox) -> Any:
    return sandbox.apps["clubcollect"][STATE]


def ikey(invoice_id: str, company: str = CO) -> Key:
    return Key(EntityType.INVOICE, Source.CLUBCOLLECT, company, invoice_id)


def seeded(sandbox: RunningSandbox, *, transmitted: bool) -> str:
    """A seeded invoice of CO in a (not) transmitted import."""
    st = state(sandbox)
    for inv in st.invoices.values():
        imp = st.imports[inv["import_id"]]
        usable = not inv["retracted_at"] and inv["status"] != "payment_in_progress"
        if imp["company_id"] == CO and imp["transmitted"] is transmitted and usable:
            return str(inv["invoice_id"])
    raise AssertionError("no such seeded invoice")


ANNA = Recipient(first_name="Anna", last_name="de Vries", email="anna@example.nl")


def new(**changes: Any) -> CreateInvoice:
    cmd = CreateInvoice(
        lines=[
            LineInput("Contributie 2026", Decimal(1), Decimal("42.50")),
            LineInput("Bardienst", Decimal(2), Decimal("12.50"), discount=Decimal("5.00")),
        ],
        tenant=CO,
        recipient=ANNA,
        number="CG-0001",
        total=Decimal("62.50"),
        due_on=date(2026, 12, 1),
    )
    return dataclasses.replace(cmd, **changes)


def first(exc: pytest.ExceptionInfo[WriteRejected]) -> UserError:
    assert len(exc.value.errors) == 1, exc.value.errors
    return exc.value.errors[0]


async def drain(stream: Stream[Any]) -> list[Key]:
    keys: list[Key] = []
    start = 0
    while True:
        chunk = await stream.fetch(start, 100)
        keys += [r.key for r in chunk.rows]
        if chunk.exhausted:
            return keys
        start = chunk.rows[-1].position + 1


async def listed(conn: ClubCollectConnector, status: InvoiceStatus) -> list[Key]:
    flt = InvoiceFilter(statuses=frozenset({status}), tenant=CO)
    (stream,) = await conn.invoice_streams(flt, InvoiceOrder())
    return await drain(stream)


# --- what the connector offers --------------------------------------------------------


def test_capabilities_are_the_invoice_writes() -> None:
    assert ClubCollectConnector.capabilities == {
        Capability.CREATE_INVOICE,
        Capability.UPDATE_INVOICE,
        Capability.SEND_INVOICE,
        Capability.VOID_INVOICE,
        Capability.DELETE_INVOICE,
    }


async def test_unsupported_writes_never_reach_the_upstream(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    key = ikey(seeded(sandbox, transmitted=False))
    item = Key(EntityType.INVOICE_ITEM, Source.CLUBCOLLECT, CO, f"{key.id}/x")
    line = LineInput("Extra", Decimal(1), Decimal(1))
    sub = Key(EntityType.SUBSCRIPTION, Source.CLUBCOLLECT, CO, "s")
    calls = [
        (Capability.ADD_INVOICE_ITEMS, conn.add_invoice_items(key, [line])),
        (Capability.UPDATE_INVOICE_ITEM, conn.update_invoice_item(item, LineChange("x"))),
        (Capability.REMOVE_INVOICE_ITEM, conn.remove_invoice_item(item)),
        (
            Capability.SEND_INVOICE_BALANCE_LINK,
            conn.send_invoice_balance_link(key, [Channel.EMAIL]),
        ),
        (
            Capability.CANCEL_SUBSCRIPTION,
            conn.change_subscription(SubscriptionCommand(sub, SubscriptionOp.CANCEL)),
        ),
    ]
    for capability, call in calls:
        with pytest.raises(NotSupported) as exc:
            await call
        assert exc.value.capability is capability
        assert capability not in conn.capabilities
        assert first(exc).code is ErrorCode.NOT_SUPPORTED
    with pytest.raises(NotSupported) as exc:
        await conn.add_invoice_items(key, [line])
    assert "cannot be changed after creation" in first(exc).message
    assert await requests(http) == []


# --- create ---------------------------------------------------------------------------


async def test_create_invoice_makes_an_import_for_it_and_returns_it_fresh(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    result = await conn.create_invoice(new(number="CG-1001"))
    log = await requests(http)
    assert [m for m, _ in log] == ["POST", "POST"]
    assert [p for _, p in log] == ["/api/v2/imports", "/api/v2/invoices"]
    record = result.invoice
    assert record.key.tenant == CO
    assert record.status is InvoiceStatus.DRAFT
    assert record.number == "CG-1001"
    assert record.total.amount == Decimal("62.50")
    assert record.balance_due.amount == Decimal("62.50")
    assert record.due_at is not None
    assert record.due_at.date() == date(2026, 12, 1)
    assert [(i.description, i.total.amount) for i in record.items] == [
        ("Contributie 2026", Decimal("42.50")),
        ("Bardienst", Decimal("20.00")),
    ]
    raw = state(sandbox).invoices[record.key.id]
    assert state(sandbox).imports[raw["import_id"]]["invoice_ids"] == [record.key.id]
    assert raw["customer"]["email"] == {"email_address": "anna@example.nl"}
    (again,) = await conn.invoices([record.key])
    assert again == record
    assert record.key in await listed(conn, InvoiceStatus.DRAFT)
    (client,) = await conn.clients([record.client_key])
    assert client is not None
    assert client.email == "anna@example.nl"


async def test_create_for_a_client_uses_its_company_and_customer(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    member = next(i for i in state(sandbox).invoices.values() if i["club_membership_number"])
    company = state(sandbox).imports[member["import_id"]]["company_id"]
    client = Key(EntityType.CLIENT, Source.CLUBCOLLECT, company, member["club_membership_number"])
    cmd = new(tenant=None, recipient=None, client=client, number="CG-1002")
    result = await conn.create_invoice(cmd)
    assert result.invoice.key.tenant == company
    assert result.invoice.client_key == client
    assert [m for m, _ in await requests(http)] == ["POST", "POST"]
    (invoices,) = await conn.client_invoices([client])
    assert result.invoice.key in [i.key for i in invoices]


async def test_create_and_send_transmits_its_own_import(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    result = await conn.create_invoice(new(number="CG-1003", send=True))
    log = await requests(http)
    import_id = state(sandbox).invoices[result.invoice.key.id]["import_id"]
    assert log == [
        ("POST", "/api/v2/imports"),
        ("POST", "/api/v2/invoices"),
        ("PUT", f"/api/v2/imports/{import_id}/transmit"),
        ("GET", f"/api/v2/invoices/{result.invoice.key.id}"),
    ]
    assert result.invoice.status is InvoiceStatus.OPEN
    assert result.at is not None
    assert result.invoice.key in await listed(conn, InvoiceStatus.OPEN)


# --- update ---------------------------------------------------------------------------


async def test_update_changes_recipient_and_number(
    conn: ClubCollectConnector, http: aiohttp.ClientSession
) -> None:
    key = (await conn.create_invoice(new(number="CG-2001"))).invoice.key
    await requests(http)
    change = Recipient(last_name="Jansen", phone="+31 6 1234 5678", membership_number="AHC-9")
    result = await conn.update_invoice(UpdateInvoice(key, recipient=change, number="CG-2001b"))
    assert await requests(http) == [("PUT", f"/api/v2/invoices/{key.id}")]
    record = result.invoice
    assert record.number == "CG-2001b"
    assert record.raw["customer"]["name"] == {"first_name": "Anna", "last_name": "Jansen"}
    assert record.raw["customer"]["phone"] == {"phone_number": "+31 6 1234 5678"}
    assert record.client_key == Key(EntityType.CLIENT, Source.CLUBCOLLECT, CO, "AHC-9")
    (again,) = await conn.invoices([key])
    assert again == record
    (client,) = await conn.clients([record.client_key])
    assert client is not None
    assert client.last_name == "Jansen"


async def test_update_refusals_before_and_by_the_upstream_agree(
    conn: ClubCollectConnector, http: aiohttp.ClientSession
) -> None:
    key = (await conn.create_invoice(new(number="CG-2002"))).invoice.key
    await requests(http)
    cases: list[tuple[UpdateInvoice, Expect, str | None]] = [
        (
            UpdateInvoice(key, number=" "),
            (ErrorCode.REQUIRED, ("number",)),
            "invalid_external_invoice_number",
        ),
        (
            UpdateInvoice(key, recipient=Recipient(last_name="")),
            (ErrorCode.REQUIRED, ("recipient", "last_name")),
            "invalid_customer_last_name",
        ),
        (
            UpdateInvoice(key, recipient=Recipient(email="anna-at-home")),
            (ErrorCode.INVALID, ("recipient", "email")),
            "invalid_customer_email",
        ),
        (UpdateInvoice(key, due_on=date(2027, 1, 1)), (ErrorCode.INVALID, ("due_on",)), None),
        (UpdateInvoice(key, note="hi"), (ErrorCode.INVALID, ("note",)), None),
    ]
    for cmd, expected, source_code in cases:
        with pytest.raises(WriteRejected) as exc:
            await conn.update_invoice(cmd)
        error = first(exc)
        assert (error.code, error.field, error.source_code) == (*expected, None)
        assert await requests(http) == []
        if source_code is None:
            continue
        with pytest.raises(UpstreamError) as upstream:
            await conn.api.update_invoice(key.id, invoice_changes(cmd))
        await requests(http)
        mapped = rejection(upstream.value, cmd)
        assert mapped is not None
        assert [(e.code, e.field, e.source_code) for e in mapped.errors] == [
            (*expected, source_code)
        ]


async def test_update_contact_rule_is_the_upstreams_and_maps_the_same(
    conn: ClubCollectConnector, http: aiohttp.ClientSession
) -> None:
    key = (await conn.create_invoice(new(number="CG-2003"))).invoice.key
    with pytest.raises(WriteRejected) as exc:
        await conn.update_invoice(UpdateInvoice(key, recipient=Recipient(email="")))
    error = first(exc)
    assert (error.code, error.field, error.source_code) == (
        ErrorCode.CONTACT_REQUIRED,
        ("recipient", "email"),
        "invalid_customer_email",
    )


async def test_unknown_upstream_code_is_unknown_with_the_code_kept(
    conn: ClubCollectConnector, http: aiohttp.ClientSession
) -> None:
    key = (await conn.create_invoice(new(number="CG-2004"))).invoice.key
    await fault(http, "^/api/v2/invoices/", "PUT", status=422, body={"error": "brand_new_rule"})
    with pytest.raises(WriteRejected) as exc:
        await conn.update_invoice(UpdateInvoice(key, number="CG-2004b"))
    error = first(exc)
    assert (error.code, error.field, error.source_code) == (ErrorCode.UNKNOWN, (), "brand_new_rule")


# --- send -----------------------------------------------------------------------------


async def test_send_transmits_the_invoices_own_import(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    key = (await conn.create_invoice(new(number="CG-3001"))).invoice.key
    import_id = state(sandbox).invoices[key.id]["import_id"]
    await requests(http)
    result = await conn.send_invoice(key)
    assert await requests(http) == [
        ("GET", f"/api/v2/imports/{import_id}"),
        ("PUT", f"/api/v2/imports/{import_id}/transmit"),
        ("GET", f"/api/v2/invoices/{key.id}"),
    ]
    assert result.invoice.status is InvoiceStatus.OPEN
    assert result.at == result.invoice.issued_at
    (again,) = await conn.invoices([key])
    assert again is not None
    assert again.status is InvoiceStatus.OPEN
    assert key in await listed(conn, InvoiceStatus.OPEN)
    assert key not in await listed(conn, InvoiceStatus.DRAFT)
    await requests(http)
    # Sent is final: the index knows it without asking.
    with pytest.raises(WriteRejected) as exc:
        await conn.send_invoice(key)
    assert (first(exc).code, first(exc).source_code) == (ErrorCode.INVALID_STATE, None)
    assert await requests(http) == []
    with pytest.raises(UpstreamError) as upstream:
        await conn.api.transmit_import(import_id)
    mapped = rejection(upstream.value)
    assert mapped is not None
    assert [(e.code, e.field, e.source_code) for e in mapped.errors] == [
        (ErrorCode.INVALID_STATE, (), "import_already_transmitted")
    ]


async def test_send_refuses_an_invoice_that_shares_its_import(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    invoice_id = seeded(sandbox, transmitted=False)
    import_id = state(sandbox).invoices[invoice_id]["import_id"]
    with pytest.raises(WriteRejected) as exc:
        await conn.send_invoice(ikey(invoice_id))
    error = first(exc)
    assert error.code is ErrorCode.INVALID_STATE
    assert "whole import" in error.message
    assert await requests(http) == [("GET", f"/api/v2/imports/{import_id}")]
    assert state(sandbox).imports[import_id]["transmitted"] is False


# --- void -----------------------------------------------------------------------------


async def test_void_credits_and_retracts_with_the_reason(
    conn: ClubCollectConnector, http: aiohttp.ClientSession
) -> None:
    key = (await conn.create_invoice(new(number="CG-4001", send=True))).invoice.key
    await requests(http)
    result = await conn.void_invoice(key, "Lid opgezegd")
    assert await requests(http) == [("POST", f"/api/v2/invoices/{key.id}/credit_and_retract")]
    record = result.invoice
    assert record.status is InvoiceStatus.VOID
    assert record.note == "Lid opgezegd"
    assert record.balance_due.amount == 0
    assert result.at is not None
    (again,) = await conn.invoices([key])
    assert again is not None
    assert again.status is InvoiceStatus.VOID
    assert key in await listed(conn, InvoiceStatus.VOID)
    await requests(http)
    # Retracted is final: the index knows it without asking.
    with pytest.raises(WriteRejected) as exc:
        await conn.void_invoice(key, "again")
    assert (first(exc).code, first(exc).field, first(exc).source_code) == (
        ErrorCode.ALREADY_DONE,
        (),
        None,
    )
    assert await requests(http) == []
    with pytest.raises(UpstreamError) as upstream:
        await conn.api.credit_and_retract(key.id, "again")
    mapped = rejection(upstream.value)
    assert mapped is not None
    assert [(e.code, e.field, e.source_code) for e in mapped.errors] == [
        (ErrorCode.ALREADY_DONE, (), "already_retracted")
    ]


async def test_void_needs_a_reason(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    key = ikey(seeded(sandbox, transmitted=True))
    for reason in (None, "  "):
        with pytest.raises(WriteRejected) as exc:
            await conn.void_invoice(key, reason)
        assert (first(exc).code, first(exc).field, first(exc).source_code) == (
            ErrorCode.REQUIRED,
            ("reason",),
            None,
        )
    assert await requests(http) == []
    with pytest.raises(UpstreamError) as upstream:
        await conn.api.credit_and_retract(key.id, " ")
    mapped = rejection(upstream.value)
    assert mapped is not None
    assert [(e.code, e.field, e.source_code) for e in mapped.errors] == [
        (ErrorCode.REQUIRED, ("reason",), "invalid_description")
    ]


async def test_void_during_a_payment_is_refused(
    conn: ClubCollectConnector, sandbox: RunningSandbox
) -> None:
    invoice_id = seeded(sandbox, transmitted=True)
    state(sandbox).invoices[invoice_id]["status"] = "payment_in_progress"
    with pytest.raises(WriteRejected) as exc:
        await conn.void_invoice(ikey(invoice_id), "Lid opgezegd")
    assert (first(exc).code, first(exc).field, first(exc).source_code) == (
        ErrorCode.PAYMENT_IN_PROGRESS,
        (),
        "payment_in_progress",
    )
    assert state(sandbox).invoices[invoice_id]["retracted_at"] is None


# --- delete ---------------------------------------------------------------------------


async def test_delete_removes_a_draft_everywhere(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    key = (await conn.create_invoice(new(number="CG-5001"))).invoice.key
    assert key in await listed(conn, InvoiceStatus.DRAFT)
    await requests(http)
    result = await conn.delete_invoice(key)
    assert result.removed == key
    assert await requests(http) == [("DELETE", f"/api/v2/invoices/{key.id}")]
    assert key.id not in state(sandbox).invoices
    assert key not in await listed(conn, InvoiceStatus.DRAFT)
    assert await conn.invoices([key]) == [None]
    with pytest.raises(WriteRejected) as exc:
        await conn.delete_invoice(key)
    assert (first(exc).code, first(exc).field, first(exc).source_code) == (
        ErrorCode.NOT_FOUND,
        ("key",),
        "invalid_invoice_id",
    )


async def test_delete_refuses_a_transmitted_invoice(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    invoice_id = seeded(sandbox, transmitted=True)
    with pytest.raises(WriteRejected) as exc:
        await conn.delete_invoice(ikey(invoice_id))
    assert (first(exc).code, first(exc).field, first(exc).source_code) == (
        ErrorCode.INVALID_STATE,
        (),
        None,
    )
    assert await requests(http) == []
    with pytest.raises(UpstreamError) as upstream:
        await conn.api.delete_invoice(invoice_id)
    mapped = rejection(upstream.value)
    assert mapped is not None
    assert [(e.code, e.field, e.source_code) for e in mapped.errors] == [
        (ErrorCode.INVALID_STATE, (), "invoice_already_transmitted")
    ]
    assert invoice_id in state(sandbox).invoices


# --- keys -----------------------------------------------------------------------------


async def test_unknown_invoices_are_not_found(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    elsewhere = ikey(seeded(sandbox, transmitted=True), "cmp_utrecht_rc")
    for key in (
        ikey("x", "cmp_nowhere"),
        Key(EntityType.CLIENT, Source.CLUBCOLLECT, CO, "x"),
        Key(EntityType.INVOICE, Source.TIGHT, CO, "x"),
        elsewhere,
    ):
        with pytest.raises(WriteRejected) as exc:
            await conn.void_invoice(key, "x")
        assert (first(exc).code, first(exc).field) == (ErrorCode.NOT_FOUND, ("key",))
    assert await requests(http) == []
    for call in (
        conn.void_invoice(ikey("0" * 40), "x"),
        conn.update_invoice(UpdateInvoice(ikey("0" * 40), number="1")),
        conn.send_invoice(ikey("0" * 40)),
    ):
        with pytest.raises(WriteRejected) as exc:
            await call
        assert (first(exc).code, first(exc).field, first(exc).source_code) == (
            ErrorCode.NOT_FOUND,
            ("key",),
            "invalid_invoice_id",
        )


# --- create: the documented rules, before and by the upstream --------------------------

NO_CONTACT = Recipient(last_name="de Vries")
ADDRESS = Address("Nieuwe Kalfjeslaan", "21", "1182 AA", "Amstelveen", "NL")
TWO_WITH_ONE_ID = [
    LineInput("a", Decimal(1), Decimal(1), line_id="cg-line-1"),
    LineInput("b", Decimal(1), Decimal(2), line_id="cg-line-1"),
]

DOCUMENTED: list[tuple[str, dict[str, Any], Expect, str]] = [
    (
        "number missing",
        {"number": None},
        (ErrorCode.REQUIRED, ("number",)),
        "invalid_external_invoice_number",
    ),
    (
        "number blank",
        {"number": " "},
        (ErrorCode.REQUIRED, ("number",)),
        "invalid_external_invoice_number",
    ),
    (
        "last name blank",
        {"recipient": dataclasses.replace(ANNA, last_name=" ")},
        (ErrorCode.REQUIRED, ("recipient", "last_name")),
        "invalid_customer_last_name",
    ),
    (
        "no channel",
        {"recipient": NO_CONTACT},
        (ErrorCode.CONTACT_REQUIRED, ("recipient", "address")),
        "invalid_customer_address",
    ),
    (
        "address incomplete",
        {"recipient": dataclasses.replace(NO_CONTACT, address=Address(city="Utrecht"))},
        (ErrorCode.CONTACT_REQUIRED, ("recipient", "address")),
        "invalid_customer_address",
    ),
    (
        "email empty, no phone",
        {"recipient": dataclasses.replace(NO_CONTACT, email="")},
        (ErrorCode.CONTACT_REQUIRED, ("recipient", "email")),
        "invalid_customer_email",
    ),
    (
        "phone empty, no email",
        {"recipient": dataclasses.replace(NO_CONTACT, phone=" ")},
        (ErrorCode.CONTACT_REQUIRED, ("recipient", "phone")),
        "invalid_customer_phone",
    ),
    (
        "email malformed",
        {"recipient": dataclasses.replace(ANNA, email="anna-at-home")},
        (ErrorCode.INVALID, ("recipient", "email")),
        "invalid_customer_email",
    ),
    (
        "phone malformed",
        {"recipient": dataclasses.replace(NO_CONTACT, phone="12")},
        (ErrorCode.INVALID, ("recipient", "phone")),
        "invalid_customer_phone",
    ),
    (
        "total differs",
        {"total": Decimal("62.49")},
        (ErrorCode.AMOUNT_MISMATCH, ("total",)),
        "invalid_amount_total_cents",
    ),
    (
        "line id twice",
        {"lines": TWO_WITH_ONE_ID, "total": None},
        (ErrorCode.DUPLICATE, ("lines", "1", "line_id")),
        "duplicate_invoice_line_id",
    ),
    (
        "no lines",
        {"lines": [], "total": None},
        (ErrorCode.REQUIRED, ("lines",)),
        "invalid_invoice_lines",
    ),
    (
        "line undescribed",
        {"lines": [LineInput(" ", Decimal(1), Decimal(5))], "total": None},
        (ErrorCode.REQUIRED, ("lines", "0", "description")),
        "invalid_invoice_lines",
    ),
]


@pytest.mark.parametrize(
    ("changes", "expected", "source_code"),
    [case[1:] for case in DOCUMENTED],
    ids=[case[0] for case in DOCUMENTED],
)
async def test_create_rules_before_and_by_the_upstream_agree(
    conn: ClubCollectConnector,
    http: aiohttp.ClientSession,
    changes: dict[str, Any],
    expected: Expect,
    source_code: str,
) -> None:
    cmd = new(**changes)
    with pytest.raises(WriteRejected) as exc:
        await conn.create_invoice(cmd)
    error = first(exc)
    assert (error.code, error.field, error.source_code) == (*expected, None)
    assert error.message
    assert await requests(http) == []
    # The same mistake sent straight to the sandbox maps to the same code and field.
    imp = await conn.api.create_import(CO)
    with pytest.raises(UpstreamError) as upstream:
        await conn.api.create_invoice(new_invoice(cmd, imp["import_id"]))
    mapped = rejection(upstream.value, cmd)
    assert mapped is not None
    assert [(e.code, e.field, e.source_code) for e in mapped.errors] == [(*expected, source_code)]
    assert source_code in CODES


async def test_a_line_id_used_on_another_invoice_is_a_duplicate(
    conn: ClubCollectConnector, sandbox: RunningSandbox
) -> None:
    used = state(sandbox).invoices[seeded(sandbox, transmitted=True)]["invoice_lines"][0]
    lines = [
        LineInput("a", Decimal(1), Decimal(1)),
        LineInput("b", Decimal(1), Decimal(2), line_id=used["invoice_line_id"]),
    ]
    with pytest.raises(WriteRejected) as exc:
        await conn.create_invoice(new(lines=lines, total=None))
    assert (first(exc).code, first(exc).field, first(exc).source_code) == (
        ErrorCode.DUPLICATE,
        ("lines", "1", "line_id"),
        "duplicate_invoice_line_id",
    )


OWN: list[tuple[str, dict[str, Any], Expect]] = [
    ("other currency", {"currency": "USD"}, (ErrorCode.INVALID, ("currency",))),
    ("note", {"note": "thanks"}, (ErrorCode.INVALID, ("note",))),
    ("issue date", {"issued_on": date(2026, 1, 1)}, (ErrorCode.INVALID, ("issued_on",))),
    (
        "tight discount",
        {"discount_percent": Decimal(5)},
        (ErrorCode.INVALID, ("discount_percent",)),
    ),
    (
        "tax",
        {"lines": [LineInput("a", Decimal(1), Decimal(1), tax_rate=Decimal(21))], "total": None},
        (ErrorCode.INVALID, ("lines", "0", "tax_rate")),
    ),
    (
        "fraction of a cent",
        {"lines": [LineInput("a", Decimal(3), Decimal("0.333"))], "total": None},
        (ErrorCode.INVALID, ("lines", "0", "unit_price")),
    ),
    ("unknown company", {"tenant": "cmp_nowhere"}, (ErrorCode.NOT_FOUND, ("tenant",))),
    (
        "unknown client",
        {
            "tenant": None,
            "recipient": None,
            "client": Key(EntityType.CLIENT, Source.CLUBCOLLECT, CO, "nobody"),
        },
        (ErrorCode.NOT_FOUND, ("client",)),
    ),
    (
        "client elsewhere",
        {"client": Key(EntityType.CLIENT, Source.CLUBCOLLECT, "cmp_utrecht_rc", "x")},
        (ErrorCode.INVALID, ("tenant",)),
    ),
    ("no company", {"tenant": None}, (ErrorCode.REQUIRED, ("tenant",))),
]


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in OWN], ids=[c[0] for c in OWN])
async def test_create_checks_of_clubgraphs_own_cost_nothing_upstream(
    conn: ClubCollectConnector,
    http: aiohttp.ClientSession,
    changes: dict[str, Any],
    expected: Expect,
) -> None:
    with pytest.raises(WriteRejected) as exc:
        await conn.create_invoice(new(**changes))
    error = first(exc)
    assert (error.code, error.field, error.source_code) == (*expected, None)
    assert await requests(http) == []


async def test_every_mistake_is_reported_at_once(
    conn: ClubCollectConnector, http: aiohttp.ClientSession
) -> None:
    cmd = new(number="", recipient=Recipient(last_name=""), total=Decimal(1), note="x")
    with pytest.raises(WriteRejected) as exc:
        await conn.create_invoice(cmd)
    assert [(e.code, e.field) for e in exc.value.errors] == [
        (ErrorCode.REQUIRED, ("number",)),
        (ErrorCode.REQUIRED, ("recipient", "last_name")),
        (ErrorCode.CONTACT_REQUIRED, ("recipient", "address")),
        (ErrorCode.AMOUNT_MISMATCH, ("total",)),
        (ErrorCode.INVALID, ("note",)),
    ]
    assert await requests(http) == []


async def test_the_other_documented_codes_map(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    cmd = new()
    with pytest.raises(UpstreamError) as upstream:
        await conn.api.create_invoice(new_invoice(cmd, "imp_nowhere"))
    mapped = rejection(upstream.value, cmd)
    assert mapped is not None
    assert [(e.code, e.field, e.source_code) for e in mapped.errors] == [
        (ErrorCode.NOT_FOUND, (), "invalid_import_id")
    ]
    with pytest.raises(UpstreamError) as upstream:
        await conn.api.create_import("cmp_nowhere")
    mapped = rejection(upstream.value, cmd)
    assert mapped is not None
    assert [(e.code, e.field, e.source_code) for e in mapped.errors] == [
        (ErrorCode.NOT_FOUND, ("tenant",), "invalid_company_id")
    ]
    with pytest.raises(UpstreamError) as upstream:
        await conn.http.request("POST", "/api/v2/invoices", form={"import_id": "x"})
    mapped = rejection(upstream.value, cmd)
    assert mapped is not None
    assert [(e.code, e.source_code) for e in mapped.errors] == [
        (ErrorCode.UPSTREAM_FAILED, "invalid_content_type")
    ]


# --- several calls: completed or undone ------------------------------------------------


async def test_a_failed_invoice_call_deletes_the_import_made_for_it(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    imports = set(state(sandbox).imports)
    invoices = set(state(sandbox).invoices)
    drafts = await listed(conn, InvoiceStatus.DRAFT)
    await requests(http)
    await fault(http, "^/api/v2/invoices$", "POST", status=503)
    with pytest.raises(UpstreamUnavailable):
        await conn.create_invoice(new(number="CG-6001"))
    log = await requests(http)
    assert [(m, p.rsplit("/", 1)[0]) for m, p in log] == [
        ("POST", "/api/v2"),
        ("POST", "/api/v2"),
        ("DELETE", "/api/v2/imports"),
    ]
    assert set(state(sandbox).imports) == imports
    assert set(state(sandbox).invoices) == invoices
    assert await listed(conn, InvoiceStatus.DRAFT) == drafts


async def test_an_invoice_refused_midway_is_undone_and_reported_as_data(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    imports = set(state(sandbox).imports)
    body = {"error": "invalid_amount_total_cents"}
    await fault(http, "^/api/v2/invoices$", "POST", status=422, body=body)
    with pytest.raises(WriteRejected) as exc:
        await conn.create_invoice(new(number="CG-6002"))
    assert (first(exc).code, first(exc).field, first(exc).source_code) == (
        ErrorCode.AMOUNT_MISMATCH,
        ("total",),
        "invalid_amount_total_cents",
    )
    assert set(state(sandbox).imports) == imports


async def test_an_undo_that_fails_is_a_partial_write_naming_the_import(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    imports = set(state(sandbox).imports)
    await fault(http, "^/api/v2/invoices$", "POST", status=500)
    await fault(http, "^/api/v2/imports/", "DELETE", status=500)
    with pytest.raises(PartialWrite) as exc:
        await conn.create_invoice(new(number="CG-6003"))
    (left,) = set(state(sandbox).imports) - imports
    assert left in str(exc.value)
    assert exc.value.created == ()
    assert isinstance(exc.value.cause, UpstreamUnavailable)
    assert state(sandbox).imports[left]["invoice_ids"] == []


async def test_a_failed_send_deletes_the_new_invoice_and_its_import(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    imports = set(state(sandbox).imports)
    invoices = set(state(sandbox).invoices)
    await fault(http, "/transmit$", "PUT", status=502)
    with pytest.raises(UpstreamUnavailable):
        await conn.create_invoice(new(number="CG-6004", send=True))
    assert [m for m, _ in await requests(http)] == ["POST", "POST", "PUT", "DELETE"]
    assert set(state(sandbox).imports) == imports
    assert set(state(sandbox).invoices) == invoices


async def test_a_failed_send_that_cannot_be_undone_names_the_invoice(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    invoices = set(state(sandbox).invoices)
    await fault(http, "/transmit$", "PUT", status=502)
    await fault(http, "^/api/v2/imports/", "DELETE", status=500)
    with pytest.raises(PartialWrite) as exc:
        await conn.create_invoice(new(number="CG-6005", send=True))
    (left,) = set(state(sandbox).invoices) - invoices
    assert exc.value.created == (ikey(left),)


async def test_a_write_done_but_not_read_back_is_partial(
    conn: ClubCollectConnector, http: aiohttp.ClientSession, sandbox: RunningSandbox
) -> None:
    key = (await conn.create_invoice(new(number="CG-6006"))).invoice.key
    await fault(http, "^/api/v2/invoices/", "GET", status=500)
    with pytest.raises(PartialWrite) as exc:
        await conn.send_invoice(key)
    assert exc.value.created == (key,)
    assert state(sandbox).invoices[key.id]["status"] == "transmitted"
