"""TimeTap writes through the connector against the sandbox over loopback."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest

from clubgraph.commands import (
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
from clubgraph.connectors.timetap import DEV_CREDENTIALS, TimeTapConnector
from clubgraph.connectors.timetap.auth import parse_errors
from clubgraph.connectors.timetap.payloads import wire_amount
from clubgraph.connectors.timetap.rejections import ERRORS, REFUSALS, user_error
from clubgraph.domain import EntityType, InvoiceRecord, InvoiceStatus, Key, Source
from clubgraph.errors import SourceErrorDetail, UpstreamError, UpstreamUnavailable
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.sandbox.timetap.model import STATE, TimeTapState

BUSINESS = 50101
LINE = LineInput("Personal training", Decimal(2), Decimal("49.95"))


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["timetap"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="module")
async def connector(sandbox: RunningSandbox) -> AsyncIterator[TimeTapConnector]:
    conn = TimeTapConnector(sandbox.urls["timetap"], DEV_CREDENTIALS)
    await conn.start()
    await conn.tenants()  # resolve businesses and tokens once, outside the counted calls
    yield conn
    await conn.close()


@pytest.fixture
async def log(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> Log:
    out = Log(http, sandbox.urls["timetap"])
    await out.take()
    await out.clear_faults()
    return out


class Log:
    """The sandbox's request log and fault injection."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url

    async def take(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of the requests served since the last take."""
        async with self.http.get(self.url + "/__sandbox/requests") as resp:
            entries = await resp.json()
        async with self.http.delete(self.url + "/__sandbox/requests"):
            pass
        return [(e["method"], e["path"], e["status"]) for e in entries]

    async def fault(self, **spec: Any) -> None:
        async with self.http.post(self.url + "/__sandbox/faults", json=spec) as resp:
            assert resp.status == 204

    async def clear_faults(self) -> None:
        async with self.http.delete(self.url + "/__sandbox/faults"):
            pass


class Raw:
    """TimeTap over plain HTTP, bypassing the connector and its checks."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        self.http, self.url = http, url
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, headers=self.headers, **kw) as r:
            return r.status, await r.json()

    async def refused(self, method: str, path: str, **kw: Any) -> list[UserError]:
        """The user errors TimeTap's refusal of this call maps to."""
        status, body = await self.call(method, path, **kw)
        assert status in REFUSALS, (status, body)
        details = parse_errors(status, body)
        assert details, body
        return [user_error(d) for d in details]


@pytest.fixture(scope="module")
async def raw(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> Raw:
    pair = DEV_CREDENTIALS.keys[0]
    url = sandbox.urls["timetap"]
    params = {
        "apiKey": pair.api_key,
        "timestamp": str(int(time.time())),
        "signature": hashlib.md5((pair.api_key + pair.private_key).encode()).hexdigest(),
    }
    async with http.get(url + "/sessionToken", params=params) as resp:
        token = (await resp.json())["sessionToken"]
    return Raw(http, url, token)


def state_of(sandbox: RunningSandbox) -> TimeTapState:
    return sandbox.apps["timetap"][STATE]


def key(kind: EntityType, ident: object, tenant: str = str(BUSINESS)) -> Key:
    return Key(kind, Source.TIMETAP, tenant, str(ident))


def client_ids(sandbox: RunningSandbox, business: int = BUSINESS) -> list[int]:
    return sorted(c for c, v in state_of(sandbox).clients.items() if v["businessId"] == business)


def seeded(sandbox: RunningSandbox, status: str) -> int:
    """A seeded invoice of business 50101 in ``status`` that has lines."""
    state = state_of(sandbox)
    return next(
        i
        for i, v in sorted(state.invoices.items())
        if v["businessId"] == BUSINESS and v["status"] == status and state.active_items(i)
    )


def codes(exc: WriteRejected) -> list[tuple[tuple[str, ...], ErrorCode, str | None]]:
    return [(e.field, e.code, e.source_code) for e in exc.errors]


def shape(errors: list[UserError]) -> list[tuple[tuple[str, ...], ErrorCode]]:
    return [(e.field, e.code) for e in errors]


async def new_invoice(connector: TimeTapConnector, sandbox: RunningSandbox) -> InvoiceRecord:
    client = key(EntityType.CLIENT, client_ids(sandbox)[1])
    result = await connector.create_invoice(CreateInvoice(lines=[LINE, LINE], client=client))
    assert isinstance(result.invoice, InvoiceRecord)
    return result.invoice


async def read(connector: TimeTapConnector, invoice: Key) -> InvoiceRecord:
    (record,) = await connector.invoices([invoice])
    assert record is not None
    return record


# --- amounts on the wire ---------------------------------------------------------------


def test_amounts_go_out_with_exactly_their_digits() -> None:
    assert orjson.dumps(wire_amount(Decimal("123456789012345.67"))) == b"123456789012345.67"
    assert orjson.dumps(wire_amount(Decimal("0.10"))) == b"0.10"
    assert orjson.dumps(wire_amount(Decimal("-12.5"))) == b"-12.5"
    assert orjson.dumps(wire_amount(Decimal("5.00"))) == b"5"
    assert orjson.dumps(wire_amount(Decimal("1E+2"))) == b"100"


def test_capabilities() -> None:
    assert TimeTapConnector.capabilities == {
        Capability.CREATE_INVOICE,
        Capability.UPDATE_INVOICE,
        Capability.VOID_INVOICE,
        Capability.DELETE_INVOICE,
        Capability.ADD_INVOICE_ITEMS,
        Capability.UPDATE_INVOICE_ITEM,
        Capability.REMOVE_INVOICE_ITEM,
    }


# --- each write, and a later read that sees it -------------------------------------------


async def test_create_invoice_in_one_call(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    client = key(EntityType.CLIENT, client_ids(sandbox)[0])
    lines = [
        LineInput("Ten-class pass", Decimal(1), Decimal("149.95"), discount=Decimal("10.50")),
        LineInput("Towel", Decimal(3), Decimal("0.10"), tax_rate=Decimal("8.25")),
    ]
    result = await connector.create_invoice(CreateInvoice(lines=lines, client=client))
    assert [m for m, _, _ in await log.take()] == ["POST"]
    invoice = result.invoice
    assert isinstance(invoice, InvoiceRecord)
    assert invoice.client_key == client
    assert invoice.status is InvoiceStatus.OPEN
    assert invoice.items is not None
    assert [(i.description, i.quantity, i.unit_price.amount) for i in invoice.items] == [
        ("Ten-class pass", 1, Decimal("149.95")),
        ("Towel", 3, Decimal("0.10")),
    ]
    assert invoice.items[0].discount.amount == Decimal("10.50")
    assert invoice.items[1].total.amount - invoice.items[1].tax.amount == Decimal("0.30")
    assert invoice.items[1].tax.amount > 0
    assert invoice.subtotal.amount == Decimal("150.25")
    assert await read(connector, invoice.key) == invoice
    (listed,) = await connector.client_invoices([client])
    assert invoice.key in [i.key for i in listed]


async def test_create_invoice_with_its_own_properties(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    client = key(EntityType.CLIENT, client_ids(sandbox)[0])
    cmd = CreateInvoice(
        lines=[LINE],
        client=client,
        tenant=str(BUSINESS),
        currency="usd",
        number="API-7",
        issued_on=date(2025, 3, 1),
        due_on=date(2025, 3, 31),
        note="Welcome aboard",
    )
    result = await connector.create_invoice(cmd)
    assert [m for m, _, _ in await log.take()] == ["POST", "PUT"]
    invoice = result.invoice
    assert (invoice.number, invoice.note) == ("API-7", "Welcome aboard")
    assert invoice.issued_at.date() == date(2025, 3, 1)
    assert invoice.due_at is not None
    assert invoice.due_at.date() == date(2025, 3, 31)
    assert invoice.total.amount > 0
    assert await read(connector, invoice.key) == invoice


async def test_update_invoice(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    invoice = await new_invoice(connector, sandbox)
    await log.take()
    cmd = UpdateInvoice(invoice.key, number="N-42", due_on=date(2026, 1, 15), note="Net 30")
    result = await connector.update_invoice(cmd)
    assert [m for m, _, _ in await log.take()] == ["GET", "PUT"]
    assert (result.invoice.number, result.invoice.note) == ("N-42", "Net 30")
    assert result.invoice.due_at.date() == date(2026, 1, 15)
    assert result.invoice.items == invoice.items
    assert await read(connector, invoice.key) == result.invoice
    await log.take()
    # Nothing to change: the invoice as it is, without a PUT.
    same = await connector.update_invoice(UpdateInvoice(invoice.key))
    assert same.invoice == result.invoice
    assert [m for m, _, _ in await log.take()] == ["GET"]


async def test_void_invoice(connector: TimeTapConnector, sandbox: RunningSandbox, log: Log) -> None:
    invoice = await new_invoice(connector, sandbox)
    await log.take()
    result = await connector.void_invoice(invoice.key, None)
    assert [m for m, _, _ in await log.take()] == ["GET", "PUT"]
    assert result.invoice.status is InvoiceStatus.VOID
    assert result.invoice.status_raw == "VOID/Manual"
    assert await read(connector, invoice.key) == result.invoice
    (voided,) = await connector.invoice_items([invoice.key])
    assert tuple(voided) == invoice.items
    with pytest.raises(WriteRejected) as again:
        await connector.void_invoice(invoice.key, None)
    assert codes(again.value) == [((), ErrorCode.ALREADY_DONE, None)]


async def test_delete_invoice(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    invoice = await new_invoice(connector, sandbox)
    await log.take()
    result = await connector.delete_invoice(invoice.key)
    assert [m for m, _, _ in await log.take()] == ["DELETE"]
    assert result.removed == invoice.key
    assert result.invoice.status is InvoiceStatus.DELETED
    assert (await read(connector, invoice.key)).status is InvoiceStatus.DELETED
    (listed,) = await connector.client_invoices([invoice.client_key])
    assert invoice.key not in [i.key for i in listed]


async def test_add_invoice_items(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    invoice = await new_invoice(connector, sandbox)
    await log.take()
    lines = [
        LineInput("Protein bar", Decimal(4), Decimal("2.49")),
        LineInput("Refund", Decimal(1), Decimal("-5.00")),
    ]
    result = await connector.add_invoice_items(invoice.key, lines)
    assert [m for m, _, _ in await log.take()] == ["GET", "POST", "GET"]
    assert result.invoice.items is not None
    assert [i.description for i in result.invoice.items] == [
        "Personal training",
        "Personal training",
        "Protein bar",
        "Refund",
    ]
    assert result.invoice.subtotal.amount == invoice.subtotal.amount + Decimal("4.96")
    assert await read(connector, invoice.key) == result.invoice


async def test_update_invoice_item(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    invoice = await new_invoice(connector, sandbox)
    assert invoice.items is not None
    line = invoice.items[1]
    await log.take()
    change = LineChange(
        description="Duo training", quantity=Decimal(3), unit_price=Decimal("12.10"),
        discount=Decimal("1.30"),
    )  # fmt: skip
    result = await connector.update_invoice_item(line.key, change)
    assert [m for m, _, _ in await log.take()] == ["GET", "PUT", "GET"]
    item = result.item
    assert item.key == line.key
    assert (item.description, item.quantity, item.unit_price.amount, item.discount.amount) == (
        "Duo training",
        3,
        Decimal("12.10"),
        Decimal("1.30"),
    )
    assert item.total.amount == Decimal("35.00")
    assert result.invoice.items[1] == item
    assert result.invoice.subtotal.amount == Decimal("99.90") + Decimal("36.30")
    assert await read(connector, invoice.key) == result.invoice
    (fetched,) = await connector.invoice_item([line.key])
    assert fetched == item


async def test_remove_invoice_item(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    invoice = await new_invoice(connector, sandbox)
    assert invoice.items is not None
    gone = invoice.items[0]
    await log.take()
    result = await connector.remove_invoice_item(gone.key)
    assert [m for m, _, _ in await log.take()] == ["GET", "DELETE", "GET"]
    assert result.removed == gone.key
    assert [i.key for i in result.invoice.items] == [invoice.items[1].key]
    assert result.invoice.subtotal.amount == Decimal("99.90")
    assert await read(connector, invoice.key) == result.invoice
    assert await connector.invoice_item([gone.key]) == [None]
    with pytest.raises(WriteRejected) as again:
        await connector.remove_invoice_item(gone.key)
    assert codes(again.value) == [(("key",), ErrorCode.NOT_FOUND, None)]


# --- state the upstream refuses ------------------------------------------------------------


async def test_writes_on_void_closed_and_deleted_invoices_are_invalid_state(
    connector: TimeTapConnector, sandbox: RunningSandbox
) -> None:
    void = await new_invoice(connector, sandbox)
    await connector.void_invoice(void.key, None)
    closed = await read(connector, key(EntityType.INVOICE, seeded(sandbox, "CLOSED")))
    deleted = await new_invoice(connector, sandbox)
    await connector.delete_invoice(deleted.key)
    not_open = ((), ErrorCode.INVALID_STATE, "INVOICE_NOT_OPEN")
    gone = ((), ErrorCode.INVALID_STATE, "INVOICE_DELETED")
    for invoice in (void, closed, deleted):
        assert invoice.items
        line = invoice.items[0].key
        for write in (
            connector.add_invoice_items(invoice.key, [LINE]),
            connector.update_invoice_item(line, LineChange(quantity=Decimal(5))),
            connector.remove_invoice_item(line),
        ):
            with pytest.raises(WriteRejected) as refused:
                await write
            assert codes(refused.value) == [not_open]
    for invoice, refusal in ((void, not_open), (closed, not_open), (deleted, gone)):
        with pytest.raises(WriteRejected) as refused:
            await connector.update_invoice(UpdateInvoice(invoice.key, number="X-1"))
        assert codes(refused.value) == [refusal]
    with pytest.raises(WriteRejected) as refused:
        await connector.void_invoice(deleted.key, None)
    assert codes(refused.value) == [gone]
    # A CLOSED invoice can still be voided (a status change with subStatus Manual).
    assert (await connector.void_invoice(closed.key, None)).invoice.status is InvoiceStatus.VOID


async def test_unknown_entities_are_not_found(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    missing = key(EntityType.INVOICE, 1)
    for write in (
        connector.update_invoice(UpdateInvoice(missing, number="x")),
        connector.void_invoice(missing, None),
        connector.delete_invoice(missing),
        connector.add_invoice_items(missing, [LINE]),
        connector.update_invoice_item(
            key(EntityType.INVOICE_ITEM, "1/2"), LineChange(quantity=Decimal(1))
        ),
    ):
        with pytest.raises(WriteRejected) as refused:
            await write
        assert codes(refused.value) == [(("key",), ErrorCode.NOT_FOUND, "INVOICE_NOT_FOUND")]
    with pytest.raises(WriteRejected) as refused:
        await connector.create_invoice(CreateInvoice([LINE], client=key(EntityType.CLIENT, 1)))
    assert codes(refused.value) == [(("client",), ErrorCode.NOT_FOUND, "CLIENT_NOT_FOUND")]
    # Another business's client is not this one's.
    other = key(EntityType.CLIENT, client_ids(sandbox, 50102)[0])
    with pytest.raises(WriteRejected) as refused:
        await connector.create_invoice(CreateInvoice([LINE], client=other))
    assert codes(refused.value) == [(("client",), ErrorCode.NOT_FOUND, "CLIENT_NOT_FOUND")]
    await log.take()
    # Keys that cannot name a TimeTap entity never reach it.
    bad_keys = [
        Key(EntityType.INVOICE, Source.TIGHT, str(BUSINESS), "5"),
        key(EntityType.INVOICE, "abc"),
        key(EntityType.INVOICE, "5", tenant="999"),
        key(EntityType.CLIENT, "5"),
    ]
    for bad in bad_keys:
        with pytest.raises(WriteRejected) as refused:
            await connector.delete_invoice(bad)
        assert codes(refused.value) == [(("key",), ErrorCode.NOT_FOUND, None)]
    with pytest.raises(WriteRejected) as refused:
        await connector.remove_invoice_item(key(EntityType.INVOICE_ITEM, "5"))
    assert codes(refused.value) == [(("key",), ErrorCode.NOT_FOUND, None)]
    assert await log.take() == []


# --- pre-checks: zero requests, and the upstream's refusal of the same mistake ---------------

# (LineInput change, raw property change, field, unified code, TimeTap's code)
LINE_MISTAKES: list[tuple[dict[str, Any], dict[str, Any], str, ErrorCode, str]] = [
    ({"quantity": Decimal("1.5")}, {"quantity": 1.5}, "quantity", ErrorCode.INVALID, "INVALID_QUANTITY"),
    ({"quantity": Decimal(0)}, {"quantity": 0}, "quantity", ErrorCode.INVALID, "INVALID_QUANTITY"),
    ({"quantity": Decimal(-2)}, {"quantity": -2}, "quantity", ErrorCode.INVALID, "INVALID_QUANTITY"),
    ({"quantity": None}, {"quantity": None}, "quantity", ErrorCode.REQUIRED, "REQUIRED_FIELD_MISSING"),
    ({"unit_price": Decimal("1.234")}, {"rate": 1.234}, "unit_price", ErrorCode.INVALID, "INVALID_AMOUNT"),
    ({"unit_price": None}, {"rate": None}, "unit_price", ErrorCode.REQUIRED, "REQUIRED_FIELD_MISSING"),
    ({"discount": Decimal("0.001")}, {"discountAmount": 0.001}, "discount", ErrorCode.INVALID, "INVALID_AMOUNT"),
]  # fmt: skip
MISTAKE_IDS = ["fraction", "zero", "negative", "no-qty", "rate", "no-rate", "discount"]


def good_raw(client_id: int, invoice_id: int | None = None) -> dict[str, Any]:
    line = {"businessId": BUSINESS, "clientId": client_id, "active": True, "quantity": 1}
    line |= {"rate": 10, "description": "ok"}
    return line if invoice_id is None else {**line, "invoiceId": invoice_id}


def bad_input(change: dict[str, Any]) -> LineInput:
    fields = {"description": "bad", "quantity": Decimal(1), "unit_price": Decimal(10), **change}
    return LineInput(**fields)


@pytest.mark.parametrize(
    ("change", "raw_change", "field", "code", "source"), LINE_MISTAKES, ids=MISTAKE_IDS
)
async def test_create_line_rules(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log, raw: Raw,
    change: dict[str, Any], raw_change: dict[str, Any], field: str, code: ErrorCode, source: str,
) -> None:  # fmt: skip
    cid = client_ids(sandbox)[2]
    cmd = CreateInvoice(lines=[LINE, bad_input(change)], client=key(EntityType.CLIENT, cid))
    with pytest.raises(WriteRejected) as refused:
        await connector.create_invoice(cmd)
    assert codes(refused.value) == [(("lines", "1", field), code, None)]
    assert await log.take() == []
    body = [good_raw(cid), {**good_raw(cid), **raw_change}]
    upstream = await raw.refused("POST", f"/invoices/client/{cid}?invoiceType=INVOICE", json=body)
    assert shape(upstream) == [(("lines", "1", field), code)]
    assert [e.source_code for e in upstream] == [source]


@pytest.mark.parametrize(
    ("change", "raw_change", "field", "code", "source"), LINE_MISTAKES, ids=MISTAKE_IDS
)
async def test_added_line_rules(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log, raw: Raw,
    change: dict[str, Any], raw_change: dict[str, Any], field: str, code: ErrorCode, source: str,
) -> None:  # fmt: skip
    invoice_id = seeded(sandbox, "OPEN")
    cid = state_of(sandbox).invoices[invoice_id]["clientId"]
    await log.take()
    with pytest.raises(WriteRejected) as refused:
        await connector.add_invoice_items(key(EntityType.INVOICE, invoice_id), [bad_input(change)])
    assert codes(refused.value) == [(("lines", "0", field), code, None)]
    assert await log.take() == []
    body = [{**good_raw(cid, invoice_id), **raw_change}]
    upstream = await raw.refused("POST", "/invoiceItems", json=body)
    assert shape(upstream) == [(("lines", "0", field), code)]
    assert [e.source_code for e in upstream] == [source]


CHANGE_MISTAKES = [m for m in LINE_MISTAKES if None not in m[0].values()]


@pytest.mark.parametrize(("change", "raw_change", "field", "code", "source"), CHANGE_MISTAKES)
async def test_line_change_rules(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log, raw: Raw,
    change: dict[str, Any], raw_change: dict[str, Any], field: str, code: ErrorCode, source: str,
) -> None:  # fmt: skip
    invoice_id = seeded(sandbox, "OPEN")
    item = state_of(sandbox).active_items(invoice_id)[0]
    line_key = key(EntityType.INVOICE_ITEM, f"{invoice_id}/{item['invoiceItemId']}")
    await log.take()
    with pytest.raises(WriteRejected) as refused:
        await connector.update_invoice_item(line_key, LineChange(**change))
    assert codes(refused.value) == [((field,), code, None)]
    assert await log.take() == []
    body = {"invoiceItemId": item["invoiceItemId"], "businessId": BUSINESS, **raw_change}
    upstream = await raw.refused("PUT", "/invoiceItem", json=body)
    assert shape(upstream) == [((field,), code)]
    assert [e.source_code for e in upstream] == [source]


async def test_lines_are_required(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log, raw: Raw
) -> None:
    cid = client_ids(sandbox)[2]
    invoice_id = seeded(sandbox, "OPEN")
    await log.take()
    for write in (
        connector.create_invoice(CreateInvoice(lines=[], client=key(EntityType.CLIENT, cid))),
        connector.add_invoice_items(key(EntityType.INVOICE, invoice_id), []),
    ):
        with pytest.raises(WriteRejected) as refused:
            await write
        assert codes(refused.value) == [(("lines",), ErrorCode.REQUIRED, None)]
    assert await log.take() == []
    for path in (f"/invoices/client/{cid}", "/invoiceItems"):
        upstream = await raw.refused("POST", path, json=[])
        assert shape(upstream) == [(("lines",), ErrorCode.REQUIRED)]
        assert [e.source_code for e in upstream] == ["REQUIRED_FIELD_MISSING"]


async def test_what_timetap_cannot_keep_is_refused_without_a_request(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    client = key(EntityType.CLIENT, client_ids(sandbox)[2])
    invoice = key(EntityType.INVOICE, seeded(sandbox, "OPEN"))
    await log.take()
    cases: list[tuple[Any, list[tuple[tuple[str, ...], ErrorCode, str | None]]]] = [
        (CreateInvoice(lines=[LINE]), [(("client",), ErrorCode.REQUIRED, None)]),
        (
            CreateInvoice(lines=[LINE], client=client, tenant="50102"),
            [(("tenant",), ErrorCode.INVALID, None)],
        ),
        (
            CreateInvoice(
                lines=[LINE], client=client, recipient=Recipient(email="a@b.c"),
                total=Decimal(1), discount_amount=Decimal(1), discount_percent=Decimal(1),
                accept_cash=True, accept_card=True, accept_ach=False, custom_json="{}", send=True,
            ),
            [
                ((name,), ErrorCode.INVALID, None)
                for name in (
                    "recipient", "total", "discount_amount", "discount_percent", "accept_cash",
                    "accept_card", "accept_ach", "custom_json", "send",
                )
            ],
        ),
        (
            CreateInvoice(
                lines=[
                    LineInput("a", Decimal(1), Decimal(1), line_id="mine"),
                    LineInput("b", Decimal(1), Decimal(1), tax_rate=Decimal(-1)),
                ],
                client=client,
            ),
            [
                (("lines", "0", "line_id"), ErrorCode.INVALID, None),
                (("lines", "1", "tax_rate"), ErrorCode.INVALID, None),
            ],
        ),
        (
            CreateInvoice(lines=[LINE], client=client, currency="EUR"),
            [(("currency",), ErrorCode.INVALID, None)],
        ),
        (
            UpdateInvoice(invoice, recipient=Recipient(email="a@b.c"), number="x"),
            [(("recipient",), ErrorCode.INVALID, None)],
        ),
    ]  # fmt: skip

    async def write(cmd: CreateInvoice | UpdateInvoice) -> Any:
        if isinstance(cmd, CreateInvoice):
            return await connector.create_invoice(cmd)
        return await connector.update_invoice(cmd)

    for cmd, expected in cases:
        with pytest.raises(WriteRejected) as refused:
            await write(cmd)
        assert codes(refused.value) == expected
    with pytest.raises(WriteRejected) as refused:
        await connector.void_invoice(invoice, "customer moved away")
    assert codes(refused.value) == [(("reason",), ErrorCode.INVALID, None)]
    assert await log.take() == []


# --- every TimeTap refusal through the table -----------------------------------------------


async def test_every_timetap_error_code_maps(
    connector: TimeTapConnector, sandbox: RunningSandbox, raw: Raw
) -> None:
    cid, other_cid = client_ids(sandbox)[3:5]
    open_id = seeded(sandbox, "OPEN")
    open_client = state_of(sandbox).invoices[open_id]["clientId"]
    void = await new_invoice(connector, sandbox)
    await connector.void_invoice(void.key, None)
    deleted = await new_invoice(connector, sandbox)
    await connector.delete_invoice(deleted.key)
    invoiced = state_of(sandbox).active_items(open_id)[0]["invoiceItemId"]
    line = good_raw(open_client, open_id)
    put = {"invoiceId": open_id, "businessId": BUSINESS}
    cases: list[tuple[str, tuple[str, Any], dict[str, Any], tuple[str, ...], ErrorCode]] = [
        ("REQUIRED_FIELD_MISSING", ("POST", "/invoiceItems"), {"json": [{**line, "rate": None}]}, ("lines", "0", "unit_price"), ErrorCode.REQUIRED),
        ("INVALID_QUANTITY", ("POST", "/invoiceItems"), {"json": [{**line, "quantity": 0}]}, ("lines", "0", "quantity"), ErrorCode.INVALID),
        ("INVALID_AMOUNT", ("POST", "/invoiceItems"), {"json": [{**line, "rate": "ten"}]}, ("lines", "0", "unit_price"), ErrorCode.INVALID),
        ("INVALID_DISCOUNT", ("POST", "/invoiceItems"), {"json": [{**line, "discountPercentage": 150}]}, ("lines", "0", "discount"), ErrorCode.INVALID),
        ("INVALID_BODY", ("POST", "/invoiceItems"), {"json": [5]}, ("lines", "0"), ErrorCode.INVALID),
        ("INVALID_JSON", ("POST", "/invoiceItems"), {"data": b"[{"}, (), ErrorCode.INVALID),
        ("INVALID_INVOICE_TYPE", ("POST", f"/invoices/client/{cid}?invoiceType=TRANSFER_IN"), {"json": [good_raw(cid)]}, (), ErrorCode.INVALID),
        ("INVALID_STATUS", ("PUT", "/invoices"), {"json": {**put, "status": "PAID", "subStatus": "Manual"}}, (), ErrorCode.INVALID),
        ("INVALID_SUB_STATUS", ("PUT", "/invoices"), {"json": {**put, "subStatus": "Lost"}}, (), ErrorCode.INVALID),
        ("SUBSTATUS_MUST_BE_MANUAL", ("PUT", "/invoices"), {"json": {**put, "status": "VOID"}}, (), ErrorCode.INVALID),
        ("CLIENT_MISMATCH", ("POST", "/invoiceItems"), {"json": [{**line, "clientId": other_cid}]}, ("lines", "0"), ErrorCode.INVALID),
        ("INVALID_CLIENT", ("POST", "/invoices"), {"json": {"businessId": BUSINESS, "client": {"clientId": 1}, "invoiceDate": 1, "invoiceType": "INVOICE"}}, ("client",), ErrorCode.NOT_FOUND),
        ("CLIENT_NOT_FOUND", ("POST", "/invoices/client/1"), {"json": [good_raw(1)]}, ("client",), ErrorCode.NOT_FOUND),
        ("INVOICE_NOT_FOUND", ("PUT", "/invoices"), {"json": {**put, "invoiceId": 1}}, ("key",), ErrorCode.NOT_FOUND),
        ("INVOICEITEM_NOT_FOUND", ("DELETE", "/invoiceItem/1"), {}, ("key",), ErrorCode.NOT_FOUND),
        ("INVALID_ID", ("DELETE", "/invoices/abc"), {}, ("key",), ErrorCode.NOT_FOUND),
        ("BUSINESS_ACCESS_DENIED", ("POST", "/invoiceItems"), {"json": [{**line, "businessId": 50102}]}, (), ErrorCode.NOT_FOUND),
        ("INVOICE_NOT_OPEN", ("PUT", "/invoices"), {"json": {"invoiceId": int(void.key.id), "businessId": BUSINESS, "invoiceNumber": "late"}}, (), ErrorCode.INVALID_STATE),
        ("INVOICE_DELETED", ("PUT", "/invoices"), {"json": {"invoiceId": int(deleted.key.id), "businessId": BUSINESS, "comments": "x"}}, (), ErrorCode.INVALID_STATE),
        ("ITEM_ALREADY_INVOICED", ("POST", f"/invoices/client/{open_client}"), {"json": [{"invoiceItemId": invoiced}]}, ("lines", "0"), ErrorCode.INVALID_STATE),
    ]  # fmt: skip
    assert {c[0] for c in cases} == set(ERRORS)
    for source, (method, path), kw, field, code in cases:
        errors = await raw.refused(method, path, **kw)
        assert (errors[0].source_code, errors[0].field, errors[0].code) == (source, field, code)
        assert errors[0].message


def test_unknown_codes_keep_the_raw_code() -> None:
    error = user_error(SourceErrorDetail("RATE_FROZEN", "rates are frozen", "[3].rate"))
    assert error == UserError(
        ("lines", "3", "unit_price"), ErrorCode.UNKNOWN, "rates are frozen", "RATE_FROZEN"
    )
    assert user_error(SourceErrorDetail("X", "", "invoiceNumber")).field == ("number",)
    assert user_error(SourceErrorDetail("X", "", "somethingElse")).field == ()


# --- several calls: complete or undo -------------------------------------------------------


def newest_invoice(sandbox: RunningSandbox) -> dict[str, Any]:
    state = state_of(sandbox)
    return state.invoices[max(state.invoices)]


async def test_failed_completion_of_a_create_is_undone(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    client = key(EntityType.CLIENT, client_ids(sandbox)[5])
    cmd = CreateInvoice(lines=[LINE], client=client, number="HALF-1")
    await log.fault(path="^/invoices$", method="PUT", status=503)
    with pytest.raises(UpstreamUnavailable):
        await connector.create_invoice(cmd)
    calls = await log.take()
    created = newest_invoice(sandbox)
    assert calls == [
        ("POST", f"/invoices/client/{client.id}", 200),
        ("PUT", "/invoices", 503),
        ("DELETE", f"/invoices/{created['invoiceId']}", 200),
    ]
    assert (created["active"], created["status"], created["invoiceNumber"]) == (
        False,
        "DELETED",
        None,
    )
    # A refusal of the completion is undone too, and reported as the refusal it is.
    body = {"errors": [{"errorCode": "NUMBER_TAKEN", "errorMessage": "taken", "fieldName": "invoiceNumber"}]}  # fmt: skip
    await log.fault(path="^/invoices$", method="PUT", status=400, body=body)
    with pytest.raises(WriteRejected) as refused:
        await connector.create_invoice(cmd)
    assert codes(refused.value) == [(("number",), ErrorCode.UNKNOWN, "NUMBER_TAKEN")]
    assert newest_invoice(sandbox)["active"] is False
    assert [m for m, _, _ in await log.take()] == ["POST", "PUT", "DELETE"]


async def test_a_create_that_cannot_be_undone_is_a_partial_write(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    client = key(EntityType.CLIENT, client_ids(sandbox)[5])
    await log.fault(path="^/invoices$", method="PUT", status=500)
    await log.fault(path=r"^/invoices/\d+$", method="DELETE", status=500)
    with pytest.raises(PartialWrite) as partial:
        await connector.create_invoice(CreateInvoice(lines=[LINE], client=client, note="n"))
    created = newest_invoice(sandbox)
    assert partial.value.created == (key(EntityType.INVOICE, created["invoiceId"]),)
    assert isinstance(partial.value.cause, UpstreamError)
    assert partial.value.cause.status == 500
    assert [(m, s) for m, _, s in await log.take()] == [
        ("POST", 200),
        ("PUT", 500),
        ("DELETE", 500),
    ]
    assert created["active"] is True
    assert (await read(connector, partial.value.created[0])).status is InvoiceStatus.OPEN


async def test_failures_are_not_refusals(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    invoice = await new_invoice(connector, sandbox)
    await log.fault(path=r"^/invoices/\d+$", method="DELETE", status=502)
    with pytest.raises(UpstreamUnavailable):
        await connector.delete_invoice(invoice.key)
    assert (await read(connector, invoice.key)).status is InvoiceStatus.OPEN


# --- what TimeTap cannot do ----------------------------------------------------------------


async def test_unsupported_writes_never_reach_timetap(
    connector: TimeTapConnector, sandbox: RunningSandbox, log: Log
) -> None:
    invoice = key(EntityType.INVOICE, seeded(sandbox, "OPEN"))
    subscription = key(EntityType.SUBSCRIPTION, 1)
    await log.take()
    calls = [
        (connector.send_invoice(invoice), Capability.SEND_INVOICE),
        (
            connector.send_invoice_balance_link(invoice, [Channel.EMAIL]),
            Capability.SEND_INVOICE_BALANCE_LINK,
        ),
    ]
    calls += [
        (connector.change_subscription(SubscriptionCommand(subscription, op)), capability)
        for op, capability in (
            (SubscriptionOp.CANCEL, Capability.CANCEL_SUBSCRIPTION),
            (SubscriptionOp.FREEZE, Capability.FREEZE_SUBSCRIPTION),
            (SubscriptionOp.VOID, Capability.VOID_SUBSCRIPTION),
        )
    ]
    for call, capability in calls:
        with pytest.raises(NotSupported) as refused:
            await call
        assert refused.value.capability is capability
        assert capability not in connector.capabilities
        assert codes(refused.value) == [((), ErrorCode.NOT_SUPPORTED, None)]
    assert await log.take() == []
