"""The TimeTap connector against the sandbox over loopback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from clubgraph.connectors.base import (
    InvoiceFilter,
    InvoiceOrder,
    Row,
    Stream,
    SubscriptionFilter,
)
from clubgraph.connectors.timetap import (
    DEV_CREDENTIALS,
    ApiKeyPair,
    TimeTapConnector,
    TimeTapCredentials,
)
from clubgraph.connectors.timetap.auth import TimeTapKeyAuth, parse_errors
from clubgraph.domain import EntityType, InvoiceRecord, InvoiceStatus, Key, Source
from clubgraph.errors import UpstreamAuthError, UpstreamNotFound, UpstreamValidationError
from clubgraph.http import UpstreamHTTP
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.sandbox.timetap.model import STATE, TimeTapState


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["timetap"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def connector(sandbox: RunningSandbox) -> AsyncIterator[TimeTapConnector]:
    conn = TimeTapConnector(sandbox.urls["timetap"], DEV_CREDENTIALS, page_size=40)
    await conn.start()
    await conn.tenants()  # resolve businesses once, outside the counted calls
    yield conn
    await conn.close()


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def state_of(sandbox: RunningSandbox) -> TimeTapState:
    return sandbox.apps["timetap"][STATE]


async def requests(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> list[tuple[str, int]]:
    """The requests served since the last call, as (path, status); the log is cleared."""
    url = sandbox.urls["timetap"] + "/__sandbox/requests"
    async with http.get(url) as resp:
        entries = await resp.json()
    async with http.delete(url):
        pass
    return [(e["path"], e["status"]) for e in entries]


def key(kind: EntityType, ident: object, tenant: str = "50101") -> Key:
    return Key(kind, Source.TIMETAP, tenant, str(ident))


def invoice_ids(sandbox: RunningSandbox, business: int, status: str | None = None) -> list[int]:
    return [
        i["invoiceId"]
        for i in state_of(sandbox).invoices.values()
        if i["businessId"] == business and (status is None or i["status"] == status)
    ]


async def test_tenants(connector: TimeTapConnector) -> None:
    assert list(await connector.tenants()) == ["50101", "50102"]


async def test_clients_by_key_one_request_per_distinct_client(
    sandbox: RunningSandbox, connector: TimeTapConnector, http: aiohttp.ClientSession
) -> None:
    state = state_of(sandbox)
    mine = [c for c in state.clients.values() if c["businessId"] == 50101][:3]
    other = next(c for c in state.clients.values() if c["businessId"] == 50102)
    await requests(http, sandbox)
    keys = [key(EntityType.CLIENT, c["clientId"]) for c in mine]
    keys += [keys[0], key(EntityType.CLIENT, 42), key(EntityType.CLIENT, other["clientId"])]
    records = await connector.clients(keys)
    assert [r.key if r else None for r in records] == [*keys[:4], None, None]
    first = records[0]
    assert first is not None
    assert first.display_name == mine[0]["fullName"]
    assert first.email == mine[0]["emailAddress"]
    assert first.created_at is not None
    assert first.created_at.tzinfo is not None
    served = await requests(http, sandbox)
    assert sorted(served) == sorted(
        [(f"/clients/{c['clientId']}", 200) for c in mine]
        + [("/clients/42", 404), (f"/clients/{other['clientId']}", 404)]
    )


async def test_invoices_by_key_embed_lines_and_client(
    sandbox: RunningSandbox, connector: TimeTapConnector, http: aiohttp.ClientSession
) -> None:
    ids = invoice_ids(sandbox, 50102)[:10]
    keys = [key(EntityType.INVOICE, i, "50102") for i in ids]
    await requests(http, sandbox)
    records = await connector.invoices(keys + keys[:4])
    served = await requests(http, sandbox)
    assert sorted(served) == sorted((f"/invoices/{i}", 200) for i in ids)
    assert [r.key if r else None for r in records] == keys + keys[:4]
    state = state_of(sandbox)
    for record in records:
        assert record is not None
        raw = state.invoices[int(record.key.id)]
        assert record.items is not None
        assert [i.key.id.split("/")[1] for i in record.items] == [
            str(i["invoiceItemId"]) for i in state.active_items(raw["invoiceId"])
        ]
        assert record.client_key == key(EntityType.CLIENT, raw["clientId"], "50102")
        client = connector.embedded_client(record)
        assert client is not None
        assert client.key == record.client_key
        assert record.issued_at.tzinfo is not None
        _assert_amounts_add_up(record)
    # The embedded client is the same record the client endpoint gives.
    first = records[0]
    assert first is not None
    assert first.client_key is not None
    assert connector.embedded_client(first) == (await connector.clients([first.client_key]))[0]


def _assert_amounts_add_up(record: InvoiceRecord) -> None:
    raw = record.raw
    assert all(isinstance(v, int | Decimal) for v in (raw["subtotalAmount"], raw["paidAmount"]))
    assert record.items is not None
    lines = sum((i.total.amount for i in record.items), Decimal(0))
    extras = Decimal(raw["tipAmount"]) + Decimal(raw["transactionFeeAmount"])
    assert record.subtotal.amount - record.discount.amount + record.tax.amount == lines
    assert lines + extras == record.total.amount
    written_off = Decimal(raw["writeOffAmount"])
    assert record.total.amount - record.amount_paid.amount - written_off == (
        record.balance_due.amount
    )


async def test_deleted_invoice_reads_as_deleted_and_unknown_as_none(
    sandbox: RunningSandbox, connector: TimeTapConnector
) -> None:
    deleted = invoice_ids(sandbox, 50101, "DELETED")[0]
    other = invoice_ids(sandbox, 50102)[0]
    records = await connector.invoices(
        [
            key(EntityType.INVOICE, deleted),
            key(EntityType.INVOICE, 1),
            key(EntityType.INVOICE, other),  # lives in the other business
            key(EntityType.INVOICE, other, "99999"),  # a business no key reaches
        ]
    )
    assert records[0] is not None
    assert records[0].status is InvoiceStatus.DELETED
    assert records[1:] == [None, None, None]


async def test_invoice_items_and_single_items_share_invoice_reads(
    sandbox: RunningSandbox, connector: TimeTapConnector, http: aiohttp.ClientSession
) -> None:
    a, b = invoice_ids(sandbox, 50101)[:2]
    whole = await connector.invoices([key(EntityType.INVOICE, a), key(EntityType.INVOICE, b)])
    await requests(http, sandbox)
    lists = await connector.invoice_items(
        [key(EntityType.INVOICE, a), key(EntityType.INVOICE, 1), key(EntityType.INVOICE, a)]
    )
    assert [list(x) for x in lists] == [
        list(whole[0].items or ()) if whole[0] else None,
        [],
        list(whole[0].items or ()) if whole[0] else None,
    ]
    assert sorted(await requests(http, sandbox)) == [("/invoices/1", 404), (f"/invoices/{a}", 200)]
    items_a = whole[0].items if whole[0] else None
    items_b = whole[1].items if whole[1] else None
    assert items_a is not None
    assert items_b is not None
    wanted = [
        items_a[1].key,
        items_b[0].key,
        items_a[0].key,
        key(EntityType.INVOICE_ITEM, f"{a}/1"),
    ]
    found = await connector.invoice_item(wanted)
    assert found == [items_a[1], items_b[0], items_a[0], None]
    assert sorted(await requests(http, sandbox)) == [
        (f"/invoices/{a}", 200),
        (f"/invoices/{b}", 200),
    ]


async def test_client_invoices_newest_first(
    sandbox: RunningSandbox, connector: TimeTapConnector, http: aiohttp.ClientSession
) -> None:
    state = state_of(sandbox)
    client = next(c for c in state.clients.values() if c["businessId"] == 50101)
    ckey = key(EntityType.CLIENT, client["clientId"])
    await requests(http, sandbox)
    lists = await connector.client_invoices([ckey, ckey, key(EntityType.CLIENT, 5)])
    assert sorted(await requests(http, sandbox)) == [
        ("/invoices/client/5", 404),
        (f"/invoices/client/{client['clientId']}", 200),
    ]
    mine = lists[0]
    expected = {
        i["invoiceId"]
        for i in state.invoices.values()
        if i["clientId"] == client["clientId"] and i["active"]
    }
    assert {int(r.key.id) for r in mine} == expected
    assert [r.issued_at for r in mine] == sorted((r.issued_at for r in mine), reverse=True)
    assert lists[1] == mine
    assert lists[2] == []


async def test_no_subscriptions_and_no_requests_for_them(
    sandbox: RunningSandbox, connector: TimeTapConnector, http: aiohttp.ClientSession
) -> None:
    await requests(http, sandbox)
    skey = Key(EntityType.SUBSCRIPTION, Source.TIMETAP, "50101", "1")
    assert list(await connector.subscriptions([skey])) == [None]
    assert [list(x) for x in await connector.client_subscriptions([skey])] == [[]]
    assert [list(x) for x in await connector.subscription_invoices([skey])] == [[]]
    assert list(await connector.subscription_streams(SubscriptionFilter())) == []
    assert await requests(http, sandbox) == []


async def drain(stream: Stream[Any], step: int = 37) -> list[Row[Any]]:
    rows: list[Row[Any]] = []
    start = 0
    while True:
        chunk = await stream.fetch(start, step)
        rows.extend(chunk.rows)
        if chunk.exhausted:
            return rows
        assert chunk.rows
        start = chunk.rows[-1].position + 1


def assert_ordered(rows: list[Row[Any]], descending: bool) -> None:
    values = [r.sort for r in rows]
    assert values == sorted(values, reverse=descending)
    positions = [r.position for r in rows]
    assert positions == sorted(set(positions))


async def test_status_filter_picks_endpoints_and_filters_sub_status(
    sandbox: RunningSandbox, connector: TimeTapConnector
) -> None:
    flt = InvoiceFilter(statuses=frozenset({InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.VOID}))
    streams = await connector.invoice_streams(flt, InvoiceOrder())
    assert [s.id for s in streams] == [
        "timetap:50101:OPEN",
        "timetap:50101:VOID",
        "timetap:50102:OPEN",
        "timetap:50102:VOID",
    ]
    state = state_of(sandbox)
    for stream in streams:
        business, status = int(stream.id.split(":")[1]), stream.id.split(":")[2]
        rows = await drain(stream, 25)
        sub = "Partial Payment" if status == "OPEN" else None
        expected = {
            i["invoiceId"]
            for i in state.invoices.values()
            if i["businessId"] == business
            and i["status"] == status
            and (sub is None or i["subStatus"] == sub)
        }
        assert {int(r.key.id) for r in rows} == expected
        assert len(rows) == len(expected)
        assert_ordered(rows, True)
    paid = await connector.invoice_streams(
        InvoiceFilter(statuses=frozenset({InvoiceStatus.PAID}), tenant="50102"), InvoiceOrder()
    )
    assert [s.id for s in paid] == ["timetap:50102:CLOSED"]
    first = await paid[0].fetch(0, 10)
    assert all(r.record.status is InvoiceStatus.PAID for r in first.rows if r.record)
    none = InvoiceFilter(statuses=frozenset({InvoiceStatus.DELETED}))
    assert list(await connector.invoice_streams(none, InvoiceOrder())) == []


async def test_stream_pages_are_requested_once(
    sandbox: RunningSandbox, connector: TimeTapConnector, http: aiohttp.ClientSession
) -> None:
    streams = await connector.invoice_streams(
        InvoiceFilter(tenant="50102", statuses=frozenset({InvoiceStatus.PAID})), InvoiceOrder()
    )
    await requests(http, sandbox)
    chunk = await streams[0].fetch(30, 50)  # rows 30..79: pages 1 and 2 of 40 rows
    assert [r.position for r in chunk.rows] == list(range(30, 80))
    assert chunk.exhausted is False
    assert sorted(await requests(http, sandbox)) == [
        ("/invoices/status/CLOSED", 200),
        ("/invoices/status/CLOSED", 200),
    ]


async def test_expired_token_is_replaced(
    sandbox: RunningSandbox, connector: TimeTapConnector, http: aiohttp.ClientSession
) -> None:
    invoice = invoice_ids(sandbox, 50101)[5]
    await connector.invoices([key(EntityType.INVOICE, invoice)])
    for session in state_of(sandbox).sessions.values():
        session.expires_at = time.time() - 1
    await requests(http, sandbox)
    records = await connector.invoices([key(EntityType.INVOICE, invoice)])
    assert records[0] is not None
    assert await requests(http, sandbox) == [
        (f"/invoices/{invoice}", 401),
        ("/sessionToken", 200),
        (f"/invoices/{invoice}", 200),
    ]


async def test_errors_are_typed_with_timetap_codes(sandbox: RunningSandbox) -> None:
    upstream = UpstreamHTTP(
        "timetap",
        sandbox.urls["timetap"],
        auth=TimeTapKeyAuth(DEV_CREDENTIALS.keys[0]),
        error_parser=parse_errors,
        exact_decimals=True,
    )
    await upstream.start()
    try:
        with pytest.raises(UpstreamNotFound) as missing:
            await upstream.request("GET", "/invoices/7")
        assert [d.code for d in missing.value.details] == ["INVOICE_NOT_FOUND"]
        with pytest.raises(UpstreamValidationError) as invalid:
            await upstream.request("GET", "/invoices/status/OPEN", params={"order_mode": "up"})
        assert [(d.code, d.field) for d in invalid.value.details] == [
            ("INVALID_ORDER_MODE", "order_mode")
        ]
        assert invalid.value.status == 400
    finally:
        await upstream.close()
    wrong = TimeTapCredentials((ApiKeyPair(DEV_CREDENTIALS.keys[0].api_key, "not-the-key"),))
    bad = TimeTapConnector(sandbox.urls["timetap"], wrong)
    await bad.start()
    try:
        with pytest.raises(UpstreamAuthError) as refused:
            await bad.tenants()
        assert [d.code for d in refused.value.details] == ["INVALID_SIGNATURE"]
    finally:
        await bad.close()


def test_credentials_from_env() -> None:
    assert TimeTapCredentials.from_env({}) is None
    creds = TimeTapCredentials.from_env({"CLUBGRAPH_TIMETAP_API_KEYS": "a:b, c:d"})
    assert creds == TimeTapCredentials((ApiKeyPair("a", "b"), ApiKeyPair("c", "d")))
    with pytest.raises(ValueError, match="apiKey:privateKey"):
        TimeTapCredentials.from_env({"CLUBGRAPH_TIMETAP_API_KEYS": "lonely"})
