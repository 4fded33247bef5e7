"""ClubCollect lists from the index: every order and direction, every filter.

The expected rows are computed with the shared predicates and sort values from the
full records of the sandbox's data, so the index's SQL must select and order
exactly what ``invoice_matches`` / ``client_matches`` would.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

import services
from clubgraph.connectors.base import (
    ClientFilter,
    InvoiceFilter,
    InvoiceOrder,
    InvoiceSortField,
    Row,
    SortDirection,
    Stream,
    client_matches,
    client_sort_value,
    invoice_matches,
    invoice_sort_value,
    normalize_email,
)
from clubgraph.connectors.clubcollect import DEV_CREDENTIALS, ClubCollectConnector
from clubgraph.connectors.clubcollect.mapping import map_invoice
from clubgraph.domain import ClientRecord, InvoiceRecord, InvoiceStatus
from clubgraph.sandbox.clubcollect.protocol import STATE
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

CO = "cmp_amsterdam_hc"
OTHER = "cmp_utrecht_rc"
ASC, DESC = SortDirection.ASC, SortDirection.DESC


@pytest_asyncio.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["clubcollect"])
    yield running
    await running.stop()


@pytest_asyncio.fixture(scope="module", params=["sqlite", "postgres"])
async def conn(
    request: pytest.FixtureRequest, sandbox: RunningSandbox
) -> AsyncIterator[ClubCollectConnector]:
    """The connector over an index in SQLite (in memory), then in PostgreSQL: the same
    SQL semantics in both."""

    async def opened(index: str) -> AsyncIterator[ClubCollectConnector]:
        connector = ClubCollectConnector(
            sandbox.urls["clubcollect"], DEV_CREDENTIALS, index_path=index
        )
        await connector.start()
        await connector.index.ready()
        yield connector
        await connector.close()

    if request.param == "sqlite":
        async for connector in opened(":memory:"):
            yield connector
        return
    async with services.fresh_database() as url:
        async for connector in opened(url):
            yield connector


def records(sandbox: RunningSandbox, company: str = CO) -> list[InvoiceRecord]:
    """Every invoice of a company, mapped from the sandbox's own data."""
    st = sandbox.apps["clubcollect"][STATE]
    return [
        map_invoice(i, company, "EUR")
        for i in st.invoices.values()
        if st.imports[i["import_id"]]["company_id"] == company
    ]


async def drain(stream: Stream[Any], step: int = 7) -> list[Row[Any]]:
    """Read a whole stream ``step`` rows at a time, resuming after the last row."""
    rows: list[Row[Any]] = []
    start = 0
    while True:
        chunk = await stream.fetch(start, step)
        taken = list(chunk.rows[:step])
        assert all(r.position >= start for r in taken)
        rows += taken
        if chunk.exhausted and len(taken) == len(chunk.rows):
            return rows
        assert taken, "a stream that is not exhausted returned nothing"
        start = taken[-1].position + 1


def strictly_ordered(rows: list[Row[Any]], direction: SortDirection) -> bool:
    keys = [(r.sort, r.tiebreak) for r in rows]
    pairs = itertools.pairwise(keys)
    return all((a > b) if direction is DESC else (a < b) for a, b in pairs)


async def invoice_rows(
    conn: ClubCollectConnector, flt: InvoiceFilter, order: InvoiceOrder
) -> list[Row[InvoiceRecord]]:
    (stream,) = await conn.invoice_streams(flt, order)
    assert stream.descending is (order.direction is DESC)
    return await drain(stream)


@pytest.mark.parametrize("field", list(InvoiceSortField))
async def test_invoice_orders_page_to_the_full_list_and_reverse(
    sandbox: RunningSandbox, conn: ClubCollectConnector, field: InvoiceSortField
) -> None:
    full = {r.key: r for r in records(sandbox)}
    down = await invoice_rows(conn, InvoiceFilter(tenant=CO), InvoiceOrder(field, DESC))
    up = await invoice_rows(conn, InvoiceFilter(tenant=CO), InvoiceOrder(field, ASC))
    assert len(down) == len(full) == len({r.key for r in down})
    assert {r.key for r in down} == set(full)
    assert strictly_ordered(down, DESC)
    assert strictly_ordered(up, ASC)
    assert [r.key for r in up] == [r.key for r in reversed(down)]
    for row in down:
        assert row.tiebreak == row.key.id
        assert row.sort == invoice_sort_value(full[row.key], field)
    if field in (InvoiceSortField.DUE_AT, InvoiceSortField.TOTAL):
        # The seed has many equal due dates and totals: the tiebreak decides there.
        assert len({r.sort for r in down}) < len(down)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def invoice_filters(sandbox: RunningSandbox) -> list[InvoiceFilter]:
    recs = sorted(records(sandbox), key=lambda r: r.issued_at)
    # Bounds that coincide with real rows test inclusive from / exclusive until.
    lo, hi = recs[len(recs) // 4].issued_at, recs[len(recs) // 2].issued_at
    dues = sorted(r.due_at for r in recs if r.due_at is not None)
    return [
        InvoiceFilter(tenant=CO, statuses=frozenset({InvoiceStatus.PAID})),
        InvoiceFilter(tenant=CO, statuses=frozenset({InvoiceStatus.OPEN, InvoiceStatus.VOID})),
        InvoiceFilter(tenant=CO, issued_from=lo),
        InvoiceFilter(tenant=CO, issued_until=hi),
        InvoiceFilter(tenant=CO, issued_from=lo, issued_until=hi),
        InvoiceFilter(tenant=CO, issued_from=_instant("2025-06-01T00:00:00+02:00")),
        InvoiceFilter(tenant=CO, due_from=dues[10], due_until=dues[-10]),
        InvoiceFilter(tenant=CO, due_until=datetime(2025, 3, 1, tzinfo=UTC)),
        InvoiceFilter(tenant=CO, with_balance_due=True),
        InvoiceFilter(
            tenant=CO,
            statuses=frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID}),
            with_balance_due=True,
            issued_from=lo,
            due_until=dues[-1],
        ),
    ]


@pytest.mark.parametrize("n", range(10))
@pytest.mark.parametrize("direction", [ASC, DESC])
async def test_invoice_filters_select_what_the_shared_predicate_selects(
    sandbox: RunningSandbox, conn: ClubCollectConnector, n: int, direction: SortDirection
) -> None:
    flt = invoice_filters(sandbox)[n]
    expected = {r.key for r in records(sandbox) if invoice_matches(r, flt)}
    assert expected, "a filter that selects nothing proves little"
    for field in (InvoiceSortField.ISSUED_AT, InvoiceSortField.TOTAL):
        rows = await invoice_rows(conn, flt, InvoiceOrder(field, direction))
        assert [r.key for r in rows if r.key in expected] == [r.key for r in rows]
        assert {r.key for r in rows} == expected
        assert len(rows) == len(expected)
        assert strictly_ordered(rows, direction)


async def test_tenant_filter_and_status_stream_ids(
    sandbox: RunningSandbox, conn: ClubCollectConnector
) -> None:
    (stream,) = await conn.invoice_streams(InvoiceFilter(tenant=OTHER), InvoiceOrder())
    assert stream.id == f"clubcollect:{OTHER}"
    assert {r.key for r in await drain(stream)} == {r.key for r in records(sandbox, OTHER)}
    assert await conn.invoice_streams(InvoiceFilter(tenant="cmp_nope"), InvoiceOrder()) == []
    flt = InvoiceFilter(statuses=frozenset({InvoiceStatus.PAID, InvoiceStatus.OPEN}))
    assert [s.id for s in await conn.invoice_streams(flt, InvoiceOrder())] == [
        f"clubcollect:{CO}:OPEN+PAID",
        f"clubcollect:{OTHER}:OPEN+PAID",
    ]


async def client_rows(
    conn: ClubCollectConnector, flt: ClientFilter, direction: SortDirection = ASC
) -> list[Row[ClientRecord]]:
    (stream,) = await conn.client_streams(flt, direction)
    assert stream.descending is (direction is DESC)
    return await drain(stream)


async def test_clients_page_to_the_full_list_by_name_and_reverse(
    sandbox: RunningSandbox, conn: ClubCollectConnector
) -> None:
    up = await client_rows(conn, ClientFilter(tenant=CO), ASC)
    down = await client_rows(conn, ClientFilter(tenant=CO), DESC)
    assert {r.key for r in up} == {r.client_key for r in records(sandbox)}
    assert len(up) == len({r.key for r in up})
    assert strictly_ordered(up, ASC)
    assert strictly_ordered(down, DESC)
    assert [r.key for r in down] == [r.key for r in reversed(up)]
    for row in up:
        assert row.record is not None
        assert row.record.key == row.key
        assert (row.sort, row.tiebreak) == (client_sort_value(row.record), row.key.id)


def client_filters(everyone: list[ClientRecord]) -> list[ClientFilter]:
    emailed = [c for c in everyone if c.email]
    someone = emailed[len(emailed) // 2]
    assert someone.email is not None
    return [
        ClientFilter(tenant=CO, search="van"),
        ClientFilter(tenant=CO, search="  EXAMPLE "),
        ClientFilter(tenant=CO, search=someone.display_name.split()[-1].upper()),
        ClientFilter(tenant=CO, search=someone.email.split("@")[0][2:]),
        ClientFilter(tenant=CO, email=f"  {someone.email.upper()} "),
        ClientFilter(tenant=CO, email="nobody@example.com"),
        ClientFilter(tenant=CO, search="e", email=someone.email),
    ]


@pytest.mark.parametrize("n", range(7))
async def test_client_filters_select_what_the_shared_predicate_selects(
    conn: ClubCollectConnector, n: int
) -> None:
    everyone = [r.record for r in await client_rows(conn, ClientFilter(tenant=CO))]
    assert all(c is not None for c in everyone)
    full = [c for c in everyone if c is not None]
    flt = client_filters(full)[n]
    expected = [c.key for c in full if client_matches(c, flt)]
    for direction in (ASC, DESC):
        rows = await client_rows(conn, flt, direction)
        want = expected if direction is ASC else expected[::-1]
        assert [r.key for r in rows] == want
    if flt.email and normalize_email(flt.email) != "nobody@example.com":
        assert len(expected) >= 1


async def test_lists_cost_no_upstream_request(
    sandbox: RunningSandbox, conn: ClubCollectConnector
) -> None:
    url = sandbox.urls["clubcollect"] + "/__sandbox/requests"
    async with aiohttp.ClientSession() as http:
        await http.delete(url)
        (stream,) = await conn.invoice_streams(
            InvoiceFilter(tenant=CO, with_balance_due=True), InvoiceOrder()
        )
        chunk = await stream.fetch(0, 500)
        (clients,) = await conn.client_streams(ClientFilter(tenant=CO, search="a"))
        await clients.fetch(3, 100)
        async with http.get(url) as resp:
            assert await resp.json() == []
    # One fetch covers the whole span asked for, and tells the list's size.
    assert len(chunk.rows) == chunk.total
    assert chunk.exhausted
