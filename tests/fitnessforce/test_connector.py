"""The FitnessForce connector against the sandbox over loopback, counting requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from clubgraph.connectors.base import (
    ClientFilter,
    InvoiceFilter,
    InvoiceOrder,
    InvoiceSortField,
    SortDirection,
    Stream,
    SubscriptionFilter,
    client_sort_value,
    invoice_sort_value,
)
from clubgraph.connectors.fitnessforce import (
    DEV_CREDENTIALS,
    FitnessForceConnector,
    FitnessForceCredentials,
)
from clubgraph.connectors.fitnessforce.auth import FitnessForceAuth, parse_errors
from clubgraph.domain import (
    EntityType,
    InvoiceStatus,
    Key,
    Source,
    SubscriptionStatus,
)
from clubgraph.errors import UpstreamAuthError
from clubgraph.http import UpstreamHTTP
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

FF = Source.FITNESSFORCE


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["fitnessforce"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def conn(sandbox: RunningSandbox) -> AsyncIterator[FitnessForceConnector]:
    connector = FitnessForceConnector(sandbox.urls["fitnessforce"], DEV_CREDENTIALS, page_size=50)
    await connector.start()
    yield connector
    await connector.close()


class Log:
    """The sandbox's request log."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def clear(self) -> None:
        async with aiohttp.ClientSession() as s:
            await s.delete(self.url + "/__sandbox/requests")

    async def paths(self) -> list[str]:
        async with aiohttp.ClientSession() as s, s.get(self.url + "/__sandbox/requests") as r:
            entries: list[dict[str, Any]] = await r.json()
        return [e["path"] for e in entries]


@pytest.fixture
async def log(sandbox: RunningSandbox, conn: FitnessForceConnector) -> Log:
    await conn.tenants()  # holds a live token before counting starts
    log = Log(sandbox.urls["fitnessforce"])
    await log.clear()
    return log


def key(kind: EntityType, tenant: str, id_: str) -> Key:
    return Key(kind, FF, tenant, id_)


async def drain(stream: Stream[Any], count: int) -> list[Any]:
    rows: list[Any] = []
    start = 0
    while True:
        chunk = await stream.fetch(start, count)
        rows.extend(chunk.rows)
        if chunk.exhausted:
            return rows
        start = chunk.rows[-1].position + 1


def test_credentials_from_env() -> None:
    assert FitnessForceCredentials.from_env({}) is None
    env = {"CLUBGRAPH_FITNESSFORCE_USERNAME": "u", "CLUBGRAPH_FITNESSFORCE_PASSWORD": "p"}
    assert FitnessForceCredentials.from_env(env) == FitnessForceCredentials("u", "p")
    with pytest.raises(ValueError, match="together"):
        FitnessForceCredentials.from_env({"CLUBGRAPH_FITNESSFORCE_USERNAME": "u"})
    assert "sandbox-secret" not in repr(DEV_CREDENTIALS)


async def test_tenants(conn: FitnessForceConnector) -> None:
    assert await conn.tenants() == ["101", "102"]


async def test_invoices_batch_one_request_per_distinct_invoice(
    conn: FitnessForceConnector, log: Log
) -> None:
    [stream] = await conn.invoice_streams(InvoiceFilter(tenant="101"), InvoiceOrder())
    rows = (await stream.fetch(0, 10)).rows[:10]
    await log.clear()
    keys = [r.key for r in rows]
    missing = key(EntityType.INVOICE, "101", f"{keys[0].id.split('/')[0]}/1")
    foreign = Key(EntityType.INVOICE, Source.TIMETAP, "101", keys[0].id)
    got = await conn.invoices([*keys, keys[0], keys[3], missing, foreign])
    assert [r.key if r else None for r in got] == [*keys, keys[0], keys[3], None, None]
    paths = await log.paths()
    assert len(paths) == 11
    assert len(set(paths)) == 11
    assert all(r.items for r in got[:10] if r)
    assert got[0] == rows[0].record


async def test_items_come_from_the_embedded_lines(conn: FitnessForceConnector, log: Log) -> None:
    [stream] = await conn.invoice_streams(InvoiceFilter(tenant="102"), InvoiceOrder())
    rows = (await stream.fetch(0, 3)).rows[:3]
    await log.clear()
    lines = await conn.invoice_items([r.key for r in rows])
    assert [tuple(x) for x in lines] == [r.record.items for r in rows if r.record]
    item_keys = [it.key for it in lines[0]] + [lines[1][0].key]
    bogus = key(EntityType.INVOICE_ITEM, "102", f"{rows[0].key.id}/1")
    items = await conn.invoice_item([*item_keys, bogus])
    assert [i.key if i else None for i in items] == [*item_keys, None]
    assert len(await log.paths()) == 3 + 2


async def test_clients_and_their_lists(conn: FitnessForceConnector, log: Log) -> None:
    keys = [key(EntityType.CLIENT, "101", "10001"), key(EntityType.CLIENT, "102", "10001")]
    clients = await conn.clients([*keys, keys[0]])
    assert (clients[0] is None) != (clients[1] is None)
    assert clients[2] == clients[0]
    assert len(await log.paths()) == 2
    real = next(c for c in clients if c is not None)
    assert (real.key.id, real.first_name, real.display_name) == (
        "10001",
        real.raw["first_name"],
        real.raw["full_name"],
    )
    await log.clear()
    [invoices] = await conn.client_invoices([real.key])
    [subs] = await conn.client_subscriptions([real.key])
    assert invoices
    assert subs
    assert {i.client_key for i in invoices} == {real.key}
    issued = [i.issued_at for i in invoices]
    assert issued == sorted(issued, reverse=True)
    assert await log.paths() == [
        f"/tenant/{real.key.tenant}/clients/10001/invoices",
        f"/tenant/{real.key.tenant}/clients/10001/subscriptions",
    ]
    sub = next(s for s in subs if s.status is not SubscriptionStatus.PENDING)
    [again] = await conn.subscriptions([sub.key])
    assert again == sub
    [billed] = await conn.subscription_invoices([sub.key])
    assert billed
    assert {i.subscription_key for i in billed} == {sub.key}
    assert [i for i in invoices if i.subscription_key == sub.key] == list(billed)


@pytest.mark.parametrize(
    ("field", "direction"),
    [
        (InvoiceSortField.ISSUED_AT, SortDirection.DESC),
        (InvoiceSortField.DUE_AT, SortDirection.ASC),
        (InvoiceSortField.TOTAL, SortDirection.DESC),
        (InvoiceSortField.NUMBER, SortDirection.ASC),
    ],
)
async def test_invoice_stream_yields_every_invoice_once_in_order(
    conn: FitnessForceConnector, field: InvoiceSortField, direction: SortDirection
) -> None:
    streams = await conn.invoice_streams(InvoiceFilter(), InvoiceOrder(field, direction))
    assert [s.id for s in streams] == ["fitnessforce:101", "fitnessforce:102"]
    for stream in streams:
        rows = await drain(stream, 37)
        assert [r.position for r in rows] == list(range(len(rows)))
        assert len({r.key for r in rows}) == len(rows) > 400
        sorts = [r.sort for r in rows]
        assert sorts == sorted(sorts, reverse=direction is SortDirection.DESC)
        assert all(r.sort == invoice_sort_value(r.record, field) for r in rows)
        assert stream.descending is (direction is SortDirection.DESC)


async def test_invoice_stream_status_filter(conn: FitnessForceConnector) -> None:
    flt = InvoiceFilter(statuses=frozenset({InvoiceStatus.VOID}), tenant="102")
    [stream] = await conn.invoice_streams(flt, InvoiceOrder())
    assert stream.id == "fitnessforce:102:VOID"
    rows = await drain(stream, 100)
    assert {r.record.status_raw for r in rows} == {"Void", "WrittenOff"}
    unknown = InvoiceFilter(statuses=frozenset({InvoiceStatus.UNKNOWN}), tenant="102")
    [stream] = await conn.invoice_streams(unknown, InvoiceOrder())
    chunk = await stream.fetch(0, 10)
    assert (chunk.rows, chunk.exhausted) == ([], True)


async def test_client_and_subscription_streams(conn: FitnessForceConnector) -> None:
    streams = await conn.client_streams(ClientFilter())
    total = 0
    for stream in streams:
        rows = await drain(stream, 20)
        assert [r.sort for r in rows] == sorted(r.sort for r in rows)
        assert all(r.sort == client_sort_value(r.record) for r in rows)
        total += len(rows)
    assert total == 125
    flt = SubscriptionFilter(statuses=frozenset({SubscriptionStatus.FROZEN}))
    subs = [r for s in await conn.subscription_streams(flt) for r in await drain(s, 50)]
    assert subs
    assert {r.record.status for r in subs} == {SubscriptionStatus.FROZEN}
    [stream] = await conn.subscription_streams(SubscriptionFilter(tenant="101"))
    rows = await drain(stream, 64)
    assert len({r.key for r in rows}) == len(rows) > 150
    assert [r.sort for r in rows] == sorted((r.sort for r in rows), reverse=True)


async def test_token_refresh_after_expiry(
    sandbox: RunningSandbox, conn: FitnessForceConnector, log: Log
) -> None:
    async with aiohttp.ClientSession() as s:
        await s.post(sandbox.urls["fitnessforce"] + "/__sandbox/tokens/expire")
    # Tenants are cached reference data: read a client to make a call after expiry.
    key = Key(EntityType.CLIENT, Source.FITNESSFORCE, "101", "10002")
    assert [c.key for c in await conn.clients([key]) if c] == [key]
    path = "/tenant/101/clients/10002"
    assert await log.paths() == [path, "/authentication/refresh_token", path]


async def test_generates_a_new_token_when_refresh_is_refused(sandbox: RunningSandbox) -> None:
    url = sandbox.urls["fitnessforce"]
    conn = FitnessForceConnector(url, DEV_CREDENTIALS)
    await conn.start()
    try:
        await conn.tenants()
        async with aiohttp.ClientSession() as s:
            await s.post(url + "/__sandbox/tokens/expire")
        conn.http.auth._refresh = "revoked"  # type: ignore[attr-defined]
        log = Log(url)
        await log.clear()
        key = Key(EntityType.CLIENT, Source.FITNESSFORCE, "101", "10002")
        assert [c.key for c in await conn.clients([key]) if c] == [key]
        path = "/tenant/101/clients/10002"
        assert await log.paths() == [
            path,
            "/authentication/refresh_token",
            "/authentication/token",
            path,
        ]
    finally:
        await conn.close()


async def test_bad_credentials_raise_auth_error(sandbox: RunningSandbox) -> None:
    conn = FitnessForceConnector(
        sandbox.urls["fitnessforce"], FitnessForceCredentials("sandbox", "wrong")
    )
    await conn.start()
    try:
        with pytest.raises(UpstreamAuthError) as info:
            await conn.tenants()
        assert [d.code for d in info.value.details] == ["InvalidCredentials"]
    finally:
        await conn.close()


async def test_concurrent_calls_refused_after_expiry_renew_the_token_once(
    sandbox: RunningSandbox, conn: FitnessForceConnector, log: Log
) -> None:
    [stream] = await conn.invoice_streams(InvoiceFilter(tenant="101"), InvoiceOrder())
    invoices = [row.key for row in (await stream.fetch(0, 30)).rows[:30]]
    await log.clear()
    async with aiohttp.ClientSession() as s:
        await s.post(sandbox.urls["fitnessforce"] + "/__sandbox/tokens/expire")
    found = await conn.invoices(invoices)  # one read per invoice: 30 concurrent calls
    assert all(found)
    paths = await log.paths()
    # Every call was refused once with the old token, but a late refusal never throws
    # away the token another call just renewed: one refresh serves all 30 replays.
    assert paths.count("/authentication/refresh_token") == 1
    assert "/authentication/token" not in paths
    assert len(paths) == 30 + 1 + 30


async def test_a_late_refusal_of_an_old_token_keeps_the_renewed_one(
    sandbox: RunningSandbox,
) -> None:
    url = sandbox.urls["fitnessforce"]
    auth = FitnessForceAuth(DEV_CREDENTIALS)
    http = UpstreamHTTP("fitnessforce", url, auth=auth, error_parser=parse_errors)
    await http.start()
    try:
        old: dict[str, str] = {}
        await auth.apply(http, old, {})
        async with aiohttp.ClientSession() as s:
            await s.post(url + "/__sandbox/tokens/expire")
        await http.request("GET", "/tenants")  # refused, renewed, replayed
        renewed: dict[str, str] = {}
        await auth.apply(http, renewed, {})
        assert renewed != old
        log = Log(url)
        await log.clear()
        auth.invalidate(old)  # another call's refusal of the old token, arriving late
        after: dict[str, str] = {}
        await auth.apply(http, after, {})
        assert after == renewed
        assert await log.paths() == []
    finally:
        await http.close()
