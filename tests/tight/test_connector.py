"""The Tight connector against the sandbox over loopback, counting upstream requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from clubgraph.connectors.base import (
    ClientFilter,
    InvoiceFilter,
    InvoiceOrder,
    InvoiceSortField,
    SortDirection,
    Stream,
    SubscriptionFilter,
)
from clubgraph.connectors.tight import DEV_CREDENTIALS, TightConnector, TightCredentials
from clubgraph.domain import EntityType, InvoiceStatus, Key, Source, SubscriptionStatus
from clubgraph.errors import UpstreamAuthError, UpstreamConflict, UpstreamValidationError
from clubgraph.http import loads_exact
from clubgraph.sandbox.core import RECORDER
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.sandbox.tight.app import create_app
from clubgraph.sandbox.tight.state import STATE


def key(kind: EntityType, ident: object, tenant: str = "7001") -> Key:
    return Key(kind, Source.TIGHT, tenant, str(ident))


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["tight"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def tight(sandbox: RunningSandbox) -> AsyncIterator[TightConnector]:
    connector = TightConnector(sandbox.urls["tight"], DEV_CREDENTIALS, page_size=100)
    await connector.start()
    await connector.tenants()
    yield connector
    await connector.close()


@pytest.fixture(scope="module")
async def control(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.urls["tight"]) as session:
        yield session


async def clear(control: aiohttp.ClientSession) -> None:
    async with control.delete("/__sandbox/requests"):
        pass


async def requests(control: aiohttp.ClientSession) -> list[tuple[str, str, str]]:
    async with control.get("/__sandbox/requests") as resp:
        log: list[dict[str, Any]] = await resp.json()
    return [(e["method"], e["path"], e["query"]) for e in log]


def state(sandbox: RunningSandbox) -> Any:
    return sandbox.apps["tight"][STATE]


async def drain(stream: Stream[Any], step: int) -> list[Any]:
    rows: list[Any] = []
    start = 0
    while True:
        chunk = await stream.fetch(start, step)
        rows.extend(chunk.rows)
        if chunk.exhausted:
            return rows
        start = chunk.rows[-1].position + 1


async def test_tenants(tight: TightConnector, control: aiohttp.ClientSession) -> None:
    await clear(control)
    assert await tight.tenants() == ("7001",)
    assert await requests(control) == []  # cached since the fixture asked


async def test_invoices_by_key_one_request_per_distinct_invoice(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    ids = sorted(state(sandbox).invoices)[:10]
    keys = [key(EntityType.INVOICE, i) for i in ids]
    await clear(control)
    records = await tight.invoices([*keys, keys[0], key(EntityType.INVOICE, 42)])
    log = await requests(control)
    assert sorted(path for _, path, _ in log) == sorted(
        [f"/v5/invoicing/invoices/{i}" for i in ids] + ["/v5/invoicing/invoices/42"]
    )
    assert [r.key if r else None for r in records] == [*keys, keys[0], None]
    first = records[0]
    assert first is not None
    assert first.items is not None
    assert first.items
    raw = state(sandbox).invoices[ids[0]]
    # raw is the upstream JSON decoded exactly: the same document, numbers as Decimals.
    assert first.raw == loads_exact(orjson.dumps(raw))
    assert first.total.minor == raw["totalAmountCents"]
    assert [i.key.id for i in first.items] == [f"{ids[0]}/{ln['id']}" for ln in raw["lineItems"]]
    assert await tight.invoices([key(EntityType.INVOICE, ids[0], tenant="9999")]) == [None]


async def test_invoice_items_and_single_items(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    ids = sorted(state(sandbox).invoices)[:3]
    invoice_keys = [key(EntityType.INVOICE, i) for i in ids]
    await clear(control)
    lines = await tight.invoice_items([*invoice_keys, key(EntityType.INVOICE, 1)])
    assert len(await requests(control)) == 4
    assert [len(x) for x in lines[:3]] == [
        len(state(sandbox).invoices[i]["lineItems"]) for i in ids
    ]
    assert not lines[3]
    wanted = [
        lines[0][0].key,
        lines[0][-1].key,
        lines[1][0].key,
        key(EntityType.INVOICE_ITEM, f"{ids[0]}/1"),
    ]
    await clear(control)
    found = await tight.invoice_item(wanted)
    assert len(await requests(control)) == 2  # two distinct invoices
    assert found == [lines[0][0], lines[0][-1], lines[1][0], None]


async def test_clients_by_key(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    ids = sorted(state(sandbox).clients)[:3]
    await clear(control)
    records = await tight.clients(
        [key(EntityType.CLIENT, ids[0]), key(EntityType.CLIENT, ids[1]),
         key(EntityType.CLIENT, ids[0]), key(EntityType.CLIENT, 5)]
    )  # fmt: skip
    # Three distinct clients: the client list (one page) finds two, and the unknown
    # one is asked for by id.
    assert len(await requests(control)) == 2
    assert records[0] is not None
    assert records[0] == records[2]
    raw = state(sandbox).clients[ids[0]]
    assert (records[0].display_name, records[0].email) == (raw["name"], raw["email"])
    assert records[3] is None


async def test_subscriptions_and_their_invoices(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    invoices = state(sandbox).invoices
    parent = next(
        i for i in invoices.values() if i["isRecurringParent"] and i["lastCreatedRecurringInvoice"]
    )
    child = next(i for i in invoices.values() if i["parentId"] == parent["id"])
    sub_key = key(EntityType.SUBSCRIPTION, parent["id"])
    [sub, not_a_plan] = await tight.subscriptions(
        [sub_key, key(EntityType.SUBSCRIPTION, child["id"])]
    )
    assert not_a_plan is None
    assert sub is not None
    assert sub.plan_name == parent["name"]
    assert sub.price is not None
    assert sub.price.minor == parent["totalAmountCents"]
    await clear(control)
    [billed] = await tight.subscription_invoices([sub_key])
    assert len(await requests(control)) == 2  # the children, and the parent itself
    children = [i for i in invoices.values() if i["parentId"] == parent["id"]]
    assert len(billed) == len(children) + 1
    assert billed[-1].key.id == str(parent["id"])
    assert all(r.subscription_key == sub_key for r in billed)
    dates = [r.issued_at for r in billed]
    assert dates == sorted(dates, reverse=True)
    client = key(EntityType.CLIENT, parent["clientId"])
    await clear(control)
    [plans] = await tight.client_subscriptions([client])
    assert len(await requests(control)) == 1
    assert sub_key in {p.key for p in plans}
    assert all(p.client_key == client for p in plans)


async def test_client_invoices_newest_first(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    ids = sorted(state(sandbox).clients)[:4]
    await clear(control)
    result = await tight.client_invoices([key(EntityType.CLIENT, i) for i in [*ids, ids[0]]])
    assert len(await requests(control)) == 4
    for client_id, records in zip(ids, result, strict=False):
        expected = [i for i in state(sandbox).invoices.values() if i["clientId"] == client_id]
        assert len(records) == len(expected)
        assert all(r.items is not None for r in records)
        dates = [r.issued_at for r in records]
        assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize(
    ("field", "direction"),
    [
        (InvoiceSortField.ISSUED_AT, SortDirection.DESC),
        (InvoiceSortField.TOTAL, SortDirection.ASC),
        (InvoiceSortField.DUE_AT, SortDirection.DESC),
        (InvoiceSortField.NUMBER, SortDirection.ASC),
    ],
)
async def test_invoice_stream_yields_every_invoice_once_in_order(
    tight: TightConnector, field: InvoiceSortField, direction: SortDirection
) -> None:
    [stream] = await tight.invoice_streams(InvoiceFilter(), InvoiceOrder(field, direction))
    assert stream.id == "tight:7001"
    assert stream.descending is (direction is SortDirection.DESC)
    rows = await drain(stream, 130)
    total = (await stream.fetch(0, 1)).total
    assert len(rows) == total
    assert len({r.key for r in rows}) == total
    assert [r.position for r in rows] == list(range(total))
    sorts = [r.sort for r in rows]
    assert sorts == sorted(sorts, reverse=direction is SortDirection.DESC)
    assert all(r.record is not None and r.record.items is not None for r in rows)


async def test_invoice_stream_status_filter(tight: TightConnector, sandbox: RunningSandbox) -> None:
    wanted = frozenset({InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.VOID})
    [stream] = await tight.invoice_streams(InvoiceFilter(statuses=wanted), InvoiceOrder())
    assert stream.id == "tight:7001:PARTIALLY_PAID+VOID"
    rows = await drain(stream, 50)
    assert {r.record.status for r in rows} == wanted
    raw = state(sandbox).invoices.values()
    cancelled = sum(1 for i in raw if i["status"] == "CANCELLED")
    partial = sum(
        1 for i in raw if i["status"] == "OPEN" and i["amountPaid"] > 0 and i["balance"] > 0
    )
    assert len(rows) == cancelled + partial
    assert (
        await tight.invoice_streams(
            InvoiceFilter(statuses=frozenset({InvoiceStatus.DELETED})), InvoiceOrder()
        )
        == []
    )
    assert await tight.invoice_streams(InvoiceFilter(tenant="1"), InvoiceOrder()) == []


async def test_client_stream(tight: TightConnector, sandbox: RunningSandbox) -> None:
    [stream] = await tight.client_streams(ClientFilter())
    rows = await drain(stream, 40)
    assert len(rows) == len(state(sandbox).clients)
    sorts = [r.sort for r in rows]
    assert sorts == sorted(sorts)
    assert not stream.descending


async def test_subscription_stream(tight: TightConnector, sandbox: RunningSandbox) -> None:
    [stream] = await tight.subscription_streams(SubscriptionFilter())
    rows = await drain(stream, 45)
    parents = [i for i in state(sandbox).invoices.values() if i["isRecurringParent"]]
    assert len(rows) == len(parents)
    assert len({r.key for r in rows}) == len(parents)
    sorts = [r.sort for r in rows]
    assert sorts == sorted(sorts, reverse=True)
    active = frozenset({SubscriptionStatus.ACTIVE})
    [only] = await tight.subscription_streams(SubscriptionFilter(statuses=active))
    live = await drain(only, 200)
    assert live
    assert {r.record.status for r in live} == {SubscriptionStatus.ACTIVE}
    assert sum(1 for p in parents if p["status"] in ("OPEN", "SCHEDULED")) == len(live)


async def test_invoice_by_client_key(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    raw = next(i for i in state(sandbox).invoices.values() if i["status"] == "OPEN")
    await clear(control)
    record = await tight.invoice_by_client_key(raw["clientInvoiceKey"])
    assert record is not None
    assert record.key == key(EntityType.INVOICE, raw["id"])
    assert await tight.invoice_by_client_key("not-a-key") is None
    assert [p for _, p, _ in await requests(control)] == ["/v5/invoicing/clientInvoiceKey"] * 2


async def test_refused_token_is_refreshed(
    tight: TightConnector, control: aiohttp.ClientSession
) -> None:
    async with control.post("/__sandbox/tokens/expire"):
        pass
    await clear(control)
    [record] = await tight.clients([key(EntityType.CLIENT, 52_300_011)])
    assert record is not None
    log = await requests(control)
    assert [p for _, p, _ in log] == [
        "/v5/invoicing/clients/52300011",
        "/v5/auth/token",
        "/v5/invoicing/clients/52300011",
    ]


async def test_short_lived_tokens_are_renewed_before_use() -> None:
    app = create_app(token_ttl_s=1)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    connector = TightConnector(url, DEV_CREDENTIALS)
    await connector.start()
    try:
        await connector.tenants()
        await asyncio.sleep(1.0)
        connector._tenants = None
        await connector.tenants()
        paths = [e["path"] for e in app[RECORDER].entries]
        # A 1 s token is renewed (refresh grant) before the second call, not refused.
        assert paths == ["/v5/auth/token", "/v5/businesses", "/v5/auth/token", "/v5/businesses"]
    finally:
        await connector.close()
        await runner.cleanup()


async def test_errors_are_typed_with_source_codes(
    tight: TightConnector, sandbox: RunningSandbox
) -> None:
    bad = TightConnector(sandbox.urls["tight"], TightCredentials("clubgraph-dev", "wrong"))
    await bad.start()
    try:
        with pytest.raises(UpstreamAuthError) as refused:
            await bad.tenants()
        assert refused.value.details[0].code == "invalid_client"
    finally:
        await bad.close()
    client_id = sorted(state(sandbox).clients)[0]
    body = {
        "clientId": client_id,
        "discountAmount": 1,
        "discountPercent": 5,
        "acceptCredit": False,
        "acceptACH": False,
        "lineItems": [{"description": "x", "quantity": 1, "price": 1}],
    }
    with pytest.raises(UpstreamValidationError) as invalid:
        await tight.http.request("POST", "/v5/invoicing/invoice", json=body)
    assert [d.code for d in invalid.value.details] == [
        "DISCOUNT_AMOUNT_AND_PERCENT",
        "PAYMENT_METHOD_REQUIRED",
    ]
    done = next(i for i in state(sandbox).invoices.values() if i["status"] == "CLOSED")
    with pytest.raises(UpstreamConflict) as conflict:
        await tight.http.request("POST", "/v5/invoicing/invoice/send", json={"id": done["id"]})
    assert [(d.code, d.field) for d in conflict.value.details] == [("INVOICE_NOT_DRAFT", None)]


def test_credentials_from_env() -> None:
    assert TightCredentials.from_env({}) is None
    env = {"CLUBGRAPH_TIGHT_CLIENT_ID": "a", "CLUBGRAPH_TIGHT_CLIENT_SECRET": "b"}
    assert TightCredentials.from_env(env) == TightCredentials("a", "b")
    scoped = {**env, "CLUBGRAPH_TIGHT_USER_ID": "u1"}
    assert TightCredentials.from_env(scoped) == TightCredentials("a", "b", "u1")
    with pytest.raises(ValueError, match="together"):
        TightCredentials.from_env({"CLUBGRAPH_TIGHT_CLIENT_ID": "a"})
