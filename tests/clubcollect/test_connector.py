"""The ClubCollect connector against the sandbox over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from clubgraph.connectors.base import (
    ClientFilter,
    InvoiceFilter,
    InvoiceOrder,
    InvoiceSortField,
    SortDirection,
    Stream,
    SubscriptionFilter,
    invoice_sort_value,
)
from clubgraph.connectors.clubcollect import (
    DEV_CREDENTIALS,
    ClubCollectConnector,
    ClubCollectCredentials,
)
from clubgraph.connectors.clubcollect.mapping import map_invoice
from clubgraph.domain import EntityType, InvoiceStatus, Key, Source
from clubgraph.errors import UpstreamAuthError, UpstreamNotFound, UpstreamValidationError
from clubgraph.sandbox.clubcollect.protocol import STATE
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

CO = "cmp_amsterdam_hc"


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


async def requests(sandbox: RunningSandbox, clear: bool = False) -> list[tuple[str, str]]:
    async with aiohttp.ClientSession(sandbox.urls["clubcollect"]) as s:
        async with s.get("/__sandbox/requests") as resp:
            log = await resp.json()
        if clear:
            await s.delete("/__sandbox/requests")
    return [(e["method"], e["path"]) for e in log]


def data(sandbox: RunningSandbox) -> Any:
    return sandbox.apps["clubcollect"][STATE]


def ikey(invoice_id: str, company: str = CO) -> Key:
    return Key(EntityType.INVOICE, Source.CLUBCOLLECT, company, invoice_id)


def seeded(sandbox: RunningSandbox, company: str = CO) -> list[dict[str, Any]]:
    st = data(sandbox)
    return [i for i in st.invoices.values() if st.imports[i["import_id"]]["company_id"] == company]


async def drain(stream: Stream[Any], step: int = 37) -> list[Any]:
    rows: list[Any] = []
    start = 0
    while True:
        chunk = await stream.fetch(start, step)
        taken = list(chunk.rows[:step])
        rows += taken
        if chunk.exhausted and len(taken) == len(chunk.rows):
            return rows
        start = taken[-1].position + 1


def test_credentials_from_env() -> None:
    assert ClubCollectCredentials.from_env({}) is None
    env = {"CLUBGRAPH_CLUBCOLLECT_API_KEY": "k", "CLUBGRAPH_CLUBCOLLECT_COMPANY_IDS": "a, b"}
    assert ClubCollectCredentials.from_env(env) == ClubCollectCredentials("k", ("a", "b"))


async def test_index_crawl_gets_each_invoice_once(sandbox: RunningSandbox) -> None:
    await requests(sandbox, clear=True)
    connector = ClubCollectConnector(sandbox.urls["clubcollect"], DEV_CREDENTIALS, page_size=10)
    await connector.start()
    try:
        assert await connector.tenants() == ["cmp_amsterdam_hc", "cmp_utrecht_rc"]
        await connector.index.ready()
    finally:
        await connector.close()
    log = await requests(sandbox, clear=True)
    invoice_gets = [p for m, p in log if p.startswith("/api/v2/invoices/")]
    assert len(invoice_gets) == len(set(invoice_gets)) == len(data(sandbox).invoices)
    assert sum(p.startswith("/api/v2/imports/") for _, p in log) == len(data(sandbox).imports)
    assert sum(p.endswith("/imports") for _, p in log) == 6  # 22 imports in pages of 10


@pytest.mark.parametrize("field", list(InvoiceSortField))
@pytest.mark.parametrize("direction", list(SortDirection))
async def test_invoice_stream_yields_each_invoice_once_in_order(
    sandbox: RunningSandbox,
    conn: ClubCollectConnector,
    field: InvoiceSortField,
    direction: SortDirection,
) -> None:
    order = InvoiceOrder(field, direction)
    (stream,) = await conn.invoice_streams(InvoiceFilter(tenant=CO), order)
    assert stream.id == f"clubcollect:{CO}"
    assert stream.descending is (direction is SortDirection.DESC)
    rows = await drain(stream)
    assert sorted(r.key.id for r in rows) == sorted(i["invoice_id"] for i in seeded(sandbox))
    assert [r.position for r in rows] == list(range(len(rows)))
    keys = [(r.sort, r.tiebreak) for r in rows]
    assert keys == sorted(keys, reverse=direction is SortDirection.DESC)
    assert len(set(keys)) == len(keys)
    assert all(r.record is None for r in rows)
    # The sort value is what the full record yields.
    top = (await conn.invoices([rows[0].key]))[0]
    assert top is not None
    assert invoice_sort_value(top, field) == rows[0].sort


async def test_status_filter(sandbox: RunningSandbox, conn: ClubCollectConnector) -> None:
    flt = InvoiceFilter(statuses=frozenset({InvoiceStatus.PAYMENT_FAILED, InvoiceStatus.VOID}))
    streams = await conn.invoice_streams(flt, InvoiceOrder())
    assert [s.id for s in streams] == [
        "clubcollect:cmp_amsterdam_hc:PAYMENT_FAILED+VOID",
        "clubcollect:cmp_utrecht_rc:PAYMENT_FAILED+VOID",
    ]
    rows = [r for s in streams for r in await drain(s)]
    expected = [
        i
        for i in data(sandbox).invoices.values()
        if i["status"] in ("chargeback", "retracted", "credited")
    ]
    assert len(rows) == len(expected)
    records = await conn.invoices([r.key for r in rows[:20]])
    assert {r.status for r in records if r} <= flt.statuses


async def test_invoices_batch_one_get_per_distinct_invoice(
    sandbox: RunningSandbox, conn: ClubCollectConnector
) -> None:
    ids = [i["invoice_id"] for i in seeded(sandbox)[:10]]
    keys = [ikey(i) for i in ids] + [ikey(ids[0]), ikey("missing")]
    await requests(sandbox, clear=True)
    records = await conn.invoices(keys)
    log = await requests(sandbox, clear=True)
    assert sorted(log) == sorted(
        [("GET", f"/api/v2/invoices/{i}") for i in ids] + [("GET", "/api/v2/invoices/missing")]
    )
    assert [r.key.id if r else None for r in records] == [*ids, ids[0], None]
    raw = data(sandbox).invoices[ids[3]]
    assert records[3] == map_invoice(raw, CO, "EUR")
    assert records[3] is not None
    assert records[3].items is not None


async def test_items_by_invoice_and_by_key(
    sandbox: RunningSandbox, conn: ClubCollectConnector
) -> None:
    raw = next(i for i in seeded(sandbox) if len(i["invoice_lines"]) >= 3)
    expected = map_invoice(raw, CO, "EUR").items
    assert expected is not None
    await requests(sandbox, clear=True)
    (items, none) = await conn.invoice_items([ikey(raw["invoice_id"]), ikey("missing")])
    assert (list(items), list(none)) == (list(expected), [])
    wanted = [i.key for i in expected] + [
        Key(EntityType.INVOICE_ITEM, Source.CLUBCOLLECT, CO, f"{raw['invoice_id']}/nope")
    ]
    found = await conn.invoice_item(wanted)
    assert list(found) == [*expected, None]
    log = await requests(sandbox, clear=True)
    one = ("GET", f"/api/v2/invoices/{raw['invoice_id']}")
    assert sorted(log) == sorted([one, ("GET", "/api/v2/invoices/missing"), one])


async def test_clients_cost_no_request(sandbox: RunningSandbox, conn: ClubCollectConnector) -> None:
    (stream, _) = await conn.client_streams(ClientFilter())
    rows = await drain(stream)
    assert stream.id == f"clubcollect:{CO}"
    assert not stream.descending
    assert [r.sort for r in rows] == sorted(r.sort for r in rows)
    assert all(r.record is not None and r.record.key == r.key for r in rows)
    await requests(sandbox, clear=True)
    keys = [r.key for r in rows[:5]] + [Key(EntityType.CLIENT, Source.CLUBCOLLECT, CO, "nobody")]
    clients = await conn.clients(keys)
    assert [c.key if c else None for c in clients] == [*keys[:5], None]
    assert await requests(sandbox) == []
    assert len(await conn.client_streams(ClientFilter(tenant="cmp_utrecht_rc"))) == 1


async def test_client_invoices_newest_first(
    sandbox: RunningSandbox, conn: ClubCollectConnector
) -> None:
    (stream, _) = await conn.client_streams(ClientFilter())
    keys = [r.key for r in (await stream.fetch(0, 3)).rows[:3]]
    await requests(sandbox, clear=True)
    per_client = await conn.client_invoices([*keys, keys[0]])
    log = await requests(sandbox, clear=True)
    ids = {r.key.id for invoices in per_client for r in invoices}
    assert len(log) == len(set(log)) == len(ids)
    for key, invoices in zip(keys, per_client, strict=False):
        assert invoices
        assert all(i.client_key == key for i in invoices)
        dates = [i.issued_at for i in invoices]
        assert dates == sorted(dates, reverse=True)


async def test_no_subscriptions(conn: ClubCollectConnector) -> None:
    key = Key(EntityType.SUBSCRIPTION, Source.CLUBCOLLECT, CO, "x")
    assert await conn.subscriptions([key]) == [None]
    assert await conn.client_subscriptions([key]) == [[]]
    assert await conn.subscription_invoices([key]) == [[]]
    assert await conn.subscription_streams(SubscriptionFilter()) == []


async def test_writes_update_the_index(sandbox: RunningSandbox, conn: ClubCollectConnector) -> None:
    imp = await conn.api.create_import("cmp_utrecht_rc", "Extra")
    raw = await conn.api.create_invoice(
        {
            "import_id": imp["import_id"],
            "external_invoice_number": "URC-NEW-1",
            "customer": {
                "name": {"first_name": "Nieuw", "last_name": "Lid"},
                "email": {"email_address": "Nieuw.Lid@example.com"},
            },
            "invoice_lines": [{"amount_cents": 1210, "description": "Inschrijfgeld"}],
            "amount_total_cents": 1210,
        }
    )
    record = map_invoice(raw, "cmp_utrecht_rc", "EUR")
    conn.index.upsert(record)
    client = Key(EntityType.CLIENT, Source.CLUBCOLLECT, "cmp_utrecht_rc", "nieuw.lid@example.com")
    assert (await conn.clients([client]))[0] is not None
    drafts = InvoiceFilter(statuses=frozenset({InvoiceStatus.DRAFT}), tenant="cmp_utrecht_rc")
    (stream,) = await conn.invoice_streams(drafts, InvoiceOrder())
    assert record.key in {r.key for r in await drain(stream)}
    await conn.api.credit_and_retract(raw["invoice_id"], "Per abuis")
    (fresh,) = await conn.invoices([record.key])
    assert fresh is not None
    assert (fresh.status, fresh.balance_due.amount, fresh.note) == (
        InvoiceStatus.VOID,
        0,
        "Per abuis",
    )
    (stream,) = await conn.invoice_streams(drafts, InvoiceOrder())
    assert record.key not in {r.key for r in await drain(stream)}
    counts = await conn.rebuild_index()
    assert counts["cmp_utrecht_rc"].invoices == len(seeded(sandbox, "cmp_utrecht_rc"))
    assert (await conn.clients([client]))[0] is not None


async def test_errors_are_typed_with_source_codes(conn: ClubCollectConnector) -> None:
    with pytest.raises(UpstreamNotFound) as missing:
        await conn.api.invoice("nope")
    assert [d.code for d in missing.value.details] == ["invalid_invoice_id"]
    with pytest.raises(UpstreamValidationError) as invalid:
        await conn.api.create_invoice({"import_id": "nope"})
    assert invalid.value.status == 422
    assert [(d.code, d.field) for d in invalid.value.details] == [
        ("invalid_import_id", "import_id")
    ]


async def test_refused_key(sandbox: RunningSandbox) -> None:
    bad = ClubCollectConnector(sandbox.urls["clubcollect"], ClubCollectCredentials("revoked"))
    await bad.start()
    try:
        # The crawl started by start() fails; the next use retries it.
        await asyncio.gather(bad.index.ready(), return_exceptions=True)
        await requests(sandbox, clear=True)
        with pytest.raises(UpstreamAuthError) as refused:
            await bad.tenants()
    finally:
        await bad.close()
    assert [d.code for d in refused.value.details] == ["unauthorized"]
    # A partner key never expires: the one replay after a 401 is all that is tried.
    assert await requests(sandbox, clear=True) == [("GET", "/api/v2/companies")] * 2


async def test_configured_companies_skip_discovery(sandbox: RunningSandbox) -> None:
    creds = ClubCollectCredentials(DEV_CREDENTIALS.api_key, ("cmp_utrecht_rc",))
    connector = ClubCollectConnector(sandbox.urls["clubcollect"], creds)
    await connector.start()
    try:
        assert await connector.tenants() == ["cmp_utrecht_rc"]
        assert await connector.invoices([ikey("whatever", CO)]) == [None]
    finally:
        await connector.close()
