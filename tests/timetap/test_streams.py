"""TimeTap streams: strict (sort, id) order both ways, filters equal to the shared predicates,
one upstream request per page of the graph."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest

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
)
from clubgraph.connectors.timetap import DEV_CREDENTIALS, TimeTapConnector
from clubgraph.connectors.timetap.mapping import map_client, map_invoice
from clubgraph.connectors.timetap.streams import MAX_PAGE_SIZE
from clubgraph.domain import ClientRecord, InvoiceRecord, InvoiceStatus
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.sandbox.timetap.model import STATE, TimeTapState

BUSINESSES = ("50101", "50102")
STATUSES = ("OPEN", "CLOSED", "VOID")
ASC, DESC = SortDirection.ASC, SortDirection.DESC


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["timetap"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def connector(sandbox: RunningSandbox) -> AsyncIterator[TimeTapConnector]:
    conn = TimeTapConnector(sandbox.urls["timetap"], DEV_CREDENTIALS)
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


async def served(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> list[dict[str, Any]]:
    """The requests served since the last call (path and parsed query); the log is cleared."""
    url = sandbox.urls["timetap"] + "/__sandbox/requests"
    async with http.get(url) as resp:
        entries = await resp.json()
    async with http.delete(url):
        pass
    return [{"path": e["path"], **parse_qs(e["query"])} for e in entries]


async def write(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, method: str, path: str, body: Any
) -> Any:
    """One write through the sandbox's own endpoints, as business 50101."""
    url = sandbox.urls["timetap"]
    pair = DEV_CREDENTIALS.keys[0]
    sig = hashlib.md5((pair.api_key + pair.private_key).encode()).hexdigest()
    params = {"apiKey": pair.api_key, "timestamp": str(int(time.time())), "signature": sig}
    async with http.get(url + "/sessionToken", params=params) as resp:
        token = (await resp.json())["sessionToken"]
    headers = {"Authorization": f"Bearer {token}"}
    async with http.request(method, url + path, json=body, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def drain(stream: Stream[Any], step: int = 7) -> list[Row[Any]]:
    """The whole stream, read ``step`` rows at a time, resuming after the last position."""
    rows: list[Row[Any]] = []
    start = 0
    while True:
        chunk = await stream.fetch(start, step)
        rows.extend(chunk.rows)
        if chunk.exhausted:
            return rows
        assert chunk.rows
        start = chunk.rows[-1].position + 1


def assert_strict(rows: Sequence[Row[Any]], descending: bool) -> None:
    """Strictly ordered by (sort, tiebreak) in the direction; positions increase."""
    keys = [(r.sort, r.tiebreak) for r in rows]
    for a, b in pairwise(keys):
        assert (a > b) if descending else (a < b), (a, b)
    positions = [r.position for r in rows]
    assert positions == sorted(set(positions))
    assert len({r.key for r in rows}) == len(rows)


def invoices_in(
    sandbox: RunningSandbox, business: str, status: str, order: InvoiceOrder
) -> list[InvoiceRecord]:
    """What a status endpoint holds, mapped and ordered here by (sort value, id)."""
    state = state_of(sandbox)
    records = [
        map_invoice(state.invoice_view(i))
        for i in state.invoices.values()
        if str(i["businessId"]) == business and i["active"] and i["status"] == status
    ]
    records.sort(
        key=lambda r: (invoice_sort_value(r, order.field), int(r.key.id)),
        reverse=order.direction is DESC,
    )
    return records


def clients_in(
    sandbox: RunningSandbox, business: str, direction: SortDirection
) -> list[ClientRecord]:
    state = state_of(sandbox)
    records = [
        map_client(c)
        for c in state.clients.values()
        if str(c["businessId"]) == business and c["active"]
    ]
    records.sort(key=lambda r: (client_sort_value(r), int(r.key.id)), reverse=direction is DESC)
    return records


async def invoice_lists(
    connector: TimeTapConnector, flt: InvoiceFilter, order: InvoiceOrder, step: int
) -> dict[str, list[Row[InvoiceRecord]]]:
    streams = await connector.invoice_streams(flt, order)
    return {s.id: await drain(s, step) for s in streams}


# --- order ------------------------------------------------------------------------


@pytest.mark.parametrize("field", list(InvoiceSortField))
async def test_invoice_streams_are_strictly_ordered_both_ways(
    sandbox: RunningSandbox, connector: TimeTapConnector, field: InvoiceSortField
) -> None:
    lists: dict[SortDirection, dict[str, list[Row[InvoiceRecord]]]] = {}
    for direction in (ASC, DESC):
        order = InvoiceOrder(field, direction)
        streams = await connector.invoice_streams(InvoiceFilter(), order)
        assert [s.id for s in streams] == [f"timetap:{b}:{s}" for b in BUSINESSES for s in STATUSES]
        lists[direction] = {}
        for stream in streams:
            assert stream.descending is (direction is DESC)
            rows = await drain(stream)
            _, business, status = stream.id.split(":")
            expected = invoices_in(sandbox, business, status, order)
            assert [r.key for r in rows] == [r.key for r in expected]
            assert all(r.record and r.sort == invoice_sort_value(r.record, field) for r in rows)
            assert all(r.tiebreak == int(r.key.id) for r in rows)
            assert_strict(rows, stream.descending)
            lists[direction][stream.id] = rows
    for stream_id, rows in lists[ASC].items():
        assert [r.key for r in rows] == [r.key for r in reversed(lists[DESC][stream_id])]
    # Totals and (missing) numbers repeat in the seed, so the id really breaks ties there;
    # test_rows_written_at_run_time_keep_the_order makes ties in every field.
    if field in (InvoiceSortField.TOTAL, InvoiceSortField.NUMBER):
        assert any(len({r.sort for r in rows}) < len(rows) for rows in lists[ASC].values())


async def test_rows_written_at_run_time_keep_the_order(
    sandbox: RunningSandbox, connector: TimeTapConnector, http: aiohttp.ClientSession
) -> None:
    state = state_of(sandbox)
    model = next(
        i
        for i in state.invoices.values()
        if i["businessId"] == 50101
        and i["status"] == "OPEN"
        and i["active"]
        and i["invoiceNumber"]
        and i["invoiceDueDate"]
    )
    line = {"businessId": 50101, "active": True, "quantity": 1, "rate": 42.5, "taxable": False}
    body = {
        "businessId": 50101,
        "client": {"clientId": model["clientId"]},
        "invoiceType": "INVOICE",
        "invoiceDate": model["invoiceDate"],
        "invoiceDueDate": model["invoiceDueDate"],
        "invoiceNumber": model["invoiceNumber"],
        "invoiceItem": [line],
    }
    # Two new invoices equal to each other in every sort value, and to ``model`` in three.
    created = [await write(http, sandbox, "POST", "/invoices", body) for _ in range(2)]
    ids = [c["invoiceId"] for c in created]
    try:
        for field in InvoiceSortField:
            for direction in (ASC, DESC):
                order = InvoiceOrder(field, direction)
                flt = InvoiceFilter(tenant="50101", statuses=frozenset({InvoiceStatus.OPEN}))
                (stream,) = await connector.invoice_streams(flt, order)
                rows = await drain(stream, 11)
                assert_strict(rows, direction is DESC)
                got = [int(r.key.id) for r in rows]
                assert (
                    got.index(ids[0]) < got.index(ids[1])
                    if direction is ASC
                    else (got.index(ids[0]) > got.index(ids[1]))
                )
                expected = [
                    r for r in invoices_in(sandbox, "50101", "OPEN", order)
                    if r.status is InvoiceStatus.OPEN
                ]  # fmt: skip
                assert [r.key for r in rows] == [r.key for r in expected]
    finally:
        for invoice_id in ids:
            await write(http, sandbox, "DELETE", f"/invoices/{invoice_id}", None)


async def test_client_streams_are_strictly_ordered_both_ways(
    sandbox: RunningSandbox, connector: TimeTapConnector
) -> None:
    state = state_of(sandbox)
    # Namesakes of an existing client (TimeTap has no client write here): ties by id.
    twin = next(c for c in state.clients.values() if c["businessId"] == 50101)
    extra = [max(state.clients) + 1, max(state.clients) + 2]
    for client_id in extra:
        state.clients[client_id] = {**twin, "clientId": client_id, "fullName": twin["fullName"]}
    try:
        lists: dict[SortDirection, list[list[Row[ClientRecord]]]] = {}
        for direction in (ASC, DESC):
            streams = await connector.client_streams(ClientFilter(), direction)
            assert [s.id for s in streams] == [f"timetap:{b}:clients" for b in BUSINESSES]
            lists[direction] = []
            for business, stream in zip(BUSINESSES, streams, strict=True):
                assert stream.descending is (direction is DESC)
                rows = await drain(stream)
                expected = clients_in(sandbox, business, direction)
                assert [r.key for r in rows] == [r.key for r in expected]
                assert all(r.record and r.sort == client_sort_value(r.record) for r in rows)
                assert all(r.tiebreak == int(r.key.id) for r in rows)
                assert_strict(rows, stream.descending)
                assert (await stream.fetch(0, 1)).total == len(rows)
                lists[direction].append(rows)
        for asc, desc in zip(lists[ASC], lists[DESC], strict=True):
            assert [r.key for r in asc] == [r.key for r in reversed(desc)]
        names = [r.sort for r in lists[ASC][0]]
        assert len(set(names)) < len(names)
    finally:
        for client_id in extra:
            del state.clients[client_id]
    only = await connector.client_streams(ClientFilter(tenant="50102"))
    assert [s.id for s in only] == ["timetap:50102:clients"]


# --- filters: what the streams give equals the shared predicate over the full list ----


def _instants(sandbox: RunningSandbox) -> list[datetime]:
    return sorted(
        map_invoice(state_of(sandbox).invoice_view(i)).issued_at
        for i in state_of(sandbox).invoices.values()
        if i["active"]
    )


def invoice_filters(sandbox: RunningSandbox) -> list[InvoiceFilter]:
    issued = _instants(sandbox)
    lo, hi = issued[len(issued) // 4], issued[len(issued) * 3 // 4]
    east = timezone(timedelta(hours=9, minutes=30))
    west = timezone(timedelta(hours=-11))
    odd_lo = (lo + timedelta(hours=5, minutes=7)).astimezone(east)
    odd_hi = (hi - timedelta(hours=3, seconds=1)).astimezone(west)
    s = frozenset
    return [
        InvoiceFilter(statuses=s({InvoiceStatus.PARTIALLY_PAID})),
        InvoiceFilter(statuses=s({InvoiceStatus.PAID, InvoiceStatus.VOID})),
        InvoiceFilter(statuses=s({InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED})),
        InvoiceFilter(tenant="50102"),
        # Bounds at an invoice's own instant: from includes it, until excludes it.
        InvoiceFilter(issued_from=lo, issued_until=hi),
        InvoiceFilter(issued_from=odd_lo, issued_until=odd_hi),
        InvoiceFilter(issued_from=odd_lo),
        InvoiceFilter(issued_until=odd_hi),
        InvoiceFilter(issued_from=hi, issued_until=lo),
        InvoiceFilter(due_from=lo, due_until=hi),
        InvoiceFilter(due_from=odd_lo.astimezone(UTC)),
        InvoiceFilter(due_until=odd_hi),
        InvoiceFilter(with_balance_due=True),
        InvoiceFilter(
            statuses=s({InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.VOID}),
            tenant="50101",
            issued_from=odd_lo,
            due_until=odd_hi + timedelta(days=20),
            with_balance_due=True,
        ),
        # Bounds a day from the calendar's ends, or in years before 1000.
        InvoiceFilter(
            issued_from=datetime(1, 1, 1, tzinfo=UTC),
            issued_until=datetime(9999, 12, 31, 23, tzinfo=UTC),
        ),
        InvoiceFilter(issued_from=datetime(5, 1, 2, tzinfo=UTC)),
    ]


@pytest.mark.parametrize(
    "order",
    [
        InvoiceOrder(InvoiceSortField.ISSUED_AT, DESC),
        InvoiceOrder(InvoiceSortField.DUE_AT, ASC),
        InvoiceOrder(InvoiceSortField.TOTAL, DESC),
    ],
    ids=lambda o: f"{o.field.value}-{o.direction.value}",
)
async def test_invoice_filters_equal_the_shared_predicate(
    sandbox: RunningSandbox, connector: TimeTapConnector, order: InvoiceOrder
) -> None:
    full = await invoice_lists(connector, InvoiceFilter(), order, MAX_PAGE_SIZE)
    empty = 0
    for flt in invoice_filters(sandbox):
        got = await invoice_lists(connector, flt, order, 60)
        for stream_id, rows in full.items():
            tenant = stream_id.split(":")[1]
            want = [
                r.key
                for r in rows
                if r.record is not None
                and invoice_matches(r.record, flt)
                and flt.tenant in (None, tenant)
            ]
            assert [r.key for r in got.get(stream_id, [])] == want, (stream_id, flt)
        empty += not any(got.values())
        for rows in got.values():
            assert_strict(rows, order.direction is DESC)
    assert empty == 1  # only the reversed range selects nothing


async def test_issued_range_is_pushed_down_as_widened_days(
    sandbox: RunningSandbox, connector: TimeTapConnector, http: aiohttp.ClientSession
) -> None:
    flt = InvoiceFilter(
        tenant="50101",
        statuses=frozenset({InvoiceStatus.PAID}),
        issued_from=datetime(2026, 3, 1, 2, 30, tzinfo=UTC),
        issued_until=datetime(2026, 3, 10, tzinfo=UTC),
    )
    await served(http, sandbox)
    for field in InvoiceSortField:
        (stream,) = await connector.invoice_streams(flt, InvoiceOrder(field))
        await stream.fetch(0, 5)
    log = await served(http, sandbox)
    assert {e["path"] for e in log} == {"/invoices/status/CLOSED"}
    # A day more each side (TimeTap may read dates in the business's zone), end included.
    assert all(e["invoiceStartDate"] == ["2026-02-28"] for e in log)
    assert all(e["invoiceEndDate"] == ["2026-03-10"] for e in log)


async def test_exact_status_needs_no_local_filter(
    sandbox: RunningSandbox, connector: TimeTapConnector
) -> None:
    # PAID is all CLOSED holds: no local check, so a sorted-here list knows its total.
    flt = InvoiceFilter(tenant="50102", statuses=frozenset({InvoiceStatus.PAID}))
    (stream,) = await connector.invoice_streams(flt, InvoiceOrder(InvoiceSortField.TOTAL))
    chunk = await stream.fetch(0, 10)
    assert chunk.total == len(invoices_in(sandbox, "50102", "CLOSED", InvoiceOrder()))
    none = InvoiceFilter(statuses=frozenset({InvoiceStatus.DELETED}))
    assert list(await connector.invoice_streams(none, InvoiceOrder())) == []


def client_filters(sandbox: RunningSandbox) -> list[ClientFilter]:
    state = state_of(sandbox)
    some = next(c for c in state.clients.values() if c["emailAddress"])
    email = some["emailAddress"]
    return [
        ClientFilter(search="an"),
        ClientFilter(search="  AN "),
        ClientFilter(search=some["lastName"].upper()),
        ClientFilter(search=email.split("@")[1]),
        ClientFilter(search="zzqx"),
        ClientFilter(search="   "),
        ClientFilter(email=f"  {email.upper()} "),
        ClientFilter(email=email, search=some["firstName"][:2]),
        ClientFilter(email="nobody@nowhere.invalid"),
        ClientFilter(email="  "),  # only clients without an email
        ClientFilter(tenant="50101", search="e"),
    ]


@pytest.mark.parametrize("direction", [ASC, DESC])
async def test_client_filters_equal_the_shared_predicate(
    sandbox: RunningSandbox, connector: TimeTapConnector, direction: SortDirection
) -> None:
    full = {s.id: await drain(s, MAX_PAGE_SIZE) for s in await connector.client_streams(
        ClientFilter(), direction
    )}  # fmt: skip
    for flt in client_filters(sandbox):
        streams = await connector.client_streams(flt, direction)
        got = {s.id: await drain(s, 5) for s in streams}
        matched = 0
        for stream_id, rows in full.items():
            tenant = stream_id.split(":")[1]
            want = [
                r.key
                for r in rows
                if r.record is not None
                and client_matches(r.record, flt)
                and flt.tenant in (None, tenant)
            ]
            assert [r.key for r in got.get(stream_id, [])] == want, (stream_id, flt)
            matched += len(want)
        assert matched or flt.search == "zzqx" or flt.email == "nobody@nowhere.invalid"
        for rows in got.values():
            assert_strict(rows, direction is DESC)


async def test_client_search_and_email_are_pushed_down(
    sandbox: RunningSandbox, connector: TimeTapConnector, http: aiohttp.ClientSession
) -> None:
    await served(http, sandbox)
    flt = ClientFilter(tenant="50101", search=" Ann ", email=" Someone@Example.COM ")
    (stream,) = await connector.client_streams(flt)
    await stream.fetch(0, 10)
    (entry,) = await served(http, sandbox)
    assert entry["searchString"] == ["Ann"]
    assert entry["emailAddress"] == ["someone@example.com"]
    (plain,) = await connector.client_streams(ClientFilter(tenant="50101"))
    chunk = await plain.fetch(0, 10)
    assert chunk.total is not None  # nothing filtered here: TimeTap's count holds
    (entry,) = await served(http, sandbox)
    assert "searchString" not in entry
    assert "emailAddress" not in entry


# --- request counts -------------------------------------------------------------------


@pytest.mark.parametrize("field", list(InvoiceSortField))
async def test_a_graph_page_costs_one_request_per_stream(
    sandbox: RunningSandbox,
    connector: TimeTapConnector,
    http: aiohttp.ClientSession,
    field: InvoiceSortField,
) -> None:
    streams = await connector.invoice_streams(InvoiceFilter(), InvoiceOrder(field))
    await served(http, sandbox)
    for stream in streams:
        chunk = await stream.fetch(0, MAX_PAGE_SIZE)
        assert chunk.exhausted  # no status list of the seed outgrows one page
    for stream in streams:
        await stream.fetch(37, 51)
    log = await served(http, sandbox)
    if field is InvoiceSortField.TOTAL:
        # Read whole once per stream, then served from memory.
        assert len(log) == len(streams)
    else:
        assert len(log) == 2 * len(streams)
        assert all(e["pageSize"] == [str(MAX_PAGE_SIZE)] for e in log[: len(streams)])


async def test_any_page_size_up_to_the_maximum_is_one_request(
    sandbox: RunningSandbox, connector: TimeTapConnector, http: aiohttp.ClientSession
) -> None:
    (invoices,) = await connector.invoice_streams(
        InvoiceFilter(tenant="50101", statuses=frozenset({InvoiceStatus.PAID})),
        InvoiceOrder(InvoiceSortField.DUE_AT, ASC),
    )
    (clients,) = await connector.client_streams(ClientFilter(tenant="50102"), DESC)
    whole_invoices = await drain(invoices, MAX_PAGE_SIZE)
    whole_clients = await drain(clients, MAX_PAGE_SIZE)
    await served(http, sandbox)
    for start, count in [(0, 1), (0, 7), (5, 20), (123, 77), (199, 2), (40, 60), (1, 13)]:
        for stream, whole in ((invoices, whole_invoices), (clients, whole_clients)):
            chunk = await stream.fetch(start, count)
            assert [r.key for r in chunk.rows[:count]] == [
                r.key for r in whole[start : start + count]
            ]
            assert len(await served(http, sandbox)) == 1, (start, count)
