"""Tight streams: keyset order in every direction, filters pushed down or applied locally,
one upstream request per stream fetch, and resumes that survive upstream writes."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
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
    SubscriptionFilter,
    client_matches,
    client_sort_value,
    invoice_matches,
    invoice_sort_value,
    subscription_matches,
)
from clubgraph.connectors.tight import DEV_CREDENTIALS, TightConnector
from clubgraph.domain import ClientRecord, InvoiceRecord, InvoiceStatus, SubscriptionStatus
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.sandbox.tight.state import STATE

ASC, DESC = SortDirection.ASC, SortDirection.DESC
FIELDS = list(InvoiceSortField)


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["tight"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def tight(sandbox: RunningSandbox) -> AsyncIterator[TightConnector]:
    connector = TightConnector(sandbox.urls["tight"], DEV_CREDENTIALS)
    await connector.start()
    await connector.tenants()
    yield connector
    await connector.close()


@pytest.fixture(scope="module")
async def control(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.urls["tight"]) as session:
        yield session


async def requests(control: aiohttp.ClientSession) -> list[tuple[str, dict[str, list[str]]]]:
    """The requests served since the last call (then forgotten): path and query."""
    async with control.get("/__sandbox/requests") as resp:
        log: list[dict[str, Any]] = await resp.json()
    async with control.delete("/__sandbox/requests"):
        pass
    return [(e["path"], parse_qs(e["query"])) for e in log]


def state(sandbox: RunningSandbox) -> Any:
    return sandbox.apps["tight"][STATE]


async def drain(stream: Stream[Any], step: int = 7) -> list[Row[Any]]:
    """Every row, reading ``step`` at a time and resuming after the last row's position."""
    rows: list[Row[Any]] = []
    start = 0
    while True:
        chunk = await stream.fetch(start, step)
        rows.extend(chunk.rows)
        if chunk.exhausted:
            return rows
        start = chunk.rows[-1].position + 1


def keyset(rows: list[Row[Any]]) -> list[tuple[Any, Any]]:
    return [(r.sort, r.tiebreak) for r in rows]


def assert_strict(rows: list[Row[Any]], direction: SortDirection) -> None:
    keys = keyset(rows)
    pairs = list(itertools.pairwise(keys))
    if direction is ASC:
        assert all(a < b for a, b in pairs)
    else:
        assert all(a > b for a, b in pairs)


async def one(streams: Any) -> Stream[Any]:
    [stream] = await streams
    assert isinstance(stream, Stream)
    return stream


# --- order ------------------------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
async def test_invoice_streams_in_both_directions(
    tight: TightConnector, sandbox: RunningSandbox, field: InvoiceSortField
) -> None:
    by_direction = {}
    for direction in (ASC, DESC):
        stream = await one(tight.invoice_streams(InvoiceFilter(), InvoiceOrder(field, direction)))
        assert stream.descending is (direction is DESC)
        rows = await drain(stream)
        assert_strict(rows, direction)
        assert all(isinstance(r.tiebreak, int) for r in rows)
        assert all(r.sort == invoice_sort_value(r.record, field) for r in rows)
        assert all(r.tiebreak == int(r.key.id) for r in rows)
        by_direction[direction] = rows
    asc, desc = by_direction[ASC], by_direction[DESC]
    assert {int(r.key.id) for r in asc} == set(state(sandbox).invoices)
    assert len(asc) == len(state(sandbox).invoices)
    assert [r.key for r in desc] == [r.key for r in reversed(asc)]


async def test_invoice_number_order_is_the_number_text(tight: TightConnector) -> None:
    order = InvoiceOrder(InvoiceSortField.NUMBER, ASC)
    rows = await drain(await one(tight.invoice_streams(InvoiceFilter(), order)), 250)
    numbers = [r.record.number for r in rows]
    assert numbers == sorted(numbers)
    assert numbers[0] == "TFS-1001"


@pytest.mark.parametrize("direction", [ASC, DESC])
async def test_client_streams_in_both_directions(
    tight: TightConnector, sandbox: RunningSandbox, direction: SortDirection
) -> None:
    stream = await one(tight.client_streams(ClientFilter(), direction))
    assert stream.descending is (direction is DESC)
    rows = await drain(stream)
    assert_strict(rows, direction)
    assert {int(r.key.id) for r in rows} == set(state(sandbox).clients)
    assert len(rows) == len(state(sandbox).clients)
    assert all(r.sort == client_sort_value(r.record) for r in rows)
    other = await drain(
        await one(tight.client_streams(ClientFilter(), DESC if direction is ASC else ASC))
    )
    assert [r.key for r in other] == [r.key for r in reversed(rows)]


@pytest.mark.parametrize("direction", [ASC, DESC])
async def test_subscription_streams_in_both_directions(
    tight: TightConnector, sandbox: RunningSandbox, direction: SortDirection
) -> None:
    stream = await one(tight.subscription_streams(SubscriptionFilter(), direction))
    assert stream.descending is (direction is DESC)
    rows = await drain(stream)
    assert_strict(rows, direction)
    parents = {i for i, raw in state(sandbox).invoices.items() if raw["isRecurringParent"]}
    assert {int(r.key.id) for r in rows} == parents
    assert len(rows) == len(parents)
    opposite = DESC if direction is ASC else ASC
    other = await drain(await one(tight.subscription_streams(SubscriptionFilter(), opposite)))
    assert [r.key for r in other] == [r.key for r in reversed(rows)]


async def test_equal_sort_values_are_ordered_by_id(tight: TightConnector) -> None:
    order = InvoiceOrder(InvoiceSortField.ISSUED_AT, DESC)
    rows = await drain(await one(tight.invoice_streams(InvoiceFilter(), order)), 500)
    sorts = [r.sort for r in rows]
    assert len(set(sorts)) < len(sorts)  # the seed has many invoices per day
    for day in set(sorts):
        ids = [r.tiebreak for r in rows if r.sort == day]
        assert ids == sorted(ids, reverse=True)


# --- filters: pushed down or applied locally, the rows are the predicate's --------


def moment(text: str, tz: timezone = UTC) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


PLUS_5 = timezone(timedelta(hours=5))
MINUS_7 = timezone(timedelta(hours=-7))
INVOICE_FILTERS = [
    InvoiceFilter(statuses=frozenset({InvoiceStatus.VOID})),
    InvoiceFilter(statuses=frozenset({InvoiceStatus.PARTIALLY_PAID})),
    InvoiceFilter(statuses=frozenset({InvoiceStatus.PAID})),
    InvoiceFilter(statuses=frozenset({InvoiceStatus.OPEN, InvoiceStatus.DRAFT})),
    InvoiceFilter(
        statuses=frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID})
    ),
    InvoiceFilter(statuses=frozenset({InvoiceStatus.UNKNOWN, InvoiceStatus.REFUNDED})),
    InvoiceFilter(tenant="7001"),
    InvoiceFilter(issued_from=moment("2026-09-01T00:00:00")),
    InvoiceFilter(issued_until=moment("2026-08-15T00:00:00")),
    InvoiceFilter(
        issued_from=moment("2026-07-03T12:30:00"), issued_until=moment("2026-09-20T08:00:00")
    ),
    InvoiceFilter(
        issued_from=moment("2026-07-03T02:00:00", PLUS_5),
        issued_until=moment("2026-08-01T20:00:00", MINUS_7),
    ),
    InvoiceFilter(due_from=moment("2026-08-10T00:00:00"), due_until=moment("2026-10-01T00:00:01")),
    InvoiceFilter(due_from=moment("2026-09-30T23:59:59", MINUS_7)),
    InvoiceFilter(due_until=moment("2026-07-01T00:00:00", PLUS_5)),
    InvoiceFilter(with_balance_due=True),
    InvoiceFilter(
        statuses=frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID}),
        issued_from=moment("2026-08-01T06:00:00"),
        due_until=moment("2026-11-01T00:00:00"),
        with_balance_due=True,
    ),
    InvoiceFilter(
        issued_from=moment("2026-09-01T00:00:00"), issued_until=moment("2026-09-01T00:00:00")
    ),
]


@pytest.fixture(scope="module")
async def all_invoices(tight: TightConnector) -> list[Row[InvoiceRecord]]:
    order = InvoiceOrder(InvoiceSortField.DUE_AT, ASC)
    return await drain(await one(tight.invoice_streams(InvoiceFilter(), order)), 500)


@pytest.mark.parametrize("flt", INVOICE_FILTERS)
async def test_invoice_filters_select_what_the_predicate_selects(
    tight: TightConnector,
    control: aiohttp.ClientSession,
    all_invoices: list[Row[InvoiceRecord]],
    flt: InvoiceFilter,
) -> None:
    expected = [r.key for r in all_invoices if invoice_matches(r.record, flt)]
    assert expected or flt.issued_from == flt.issued_until
    stream = await one(tight.invoice_streams(flt, InvoiceOrder(InvoiceSortField.DUE_AT, ASC)))
    await requests(control)
    rows = await drain(stream, 11)
    assert [r.key for r in rows] == expected
    assert_strict(rows, ASC)
    # What the upstream can apply is applied upstream.
    [(_, query), *_] = await requests(control)
    if flt.statuses and InvoiceStatus.UNKNOWN not in flt.statuses:
        assert "status" in query
    for param, value in (
        ("startDate", flt.issued_from), ("endDate", flt.issued_until),
        ("dueStartDate", flt.due_from), ("dueEndDate", flt.due_until),
    ):  # fmt: skip
        assert (param in query) is (value is not None)
    assert ("hasBalance" in query) is flt.with_balance_due
    total = (await stream.fetch(0, 1)).total
    if total is not None:
        assert total == len(expected)


async def test_exact_pushdown_keeps_the_upstream_total(tight: TightConnector) -> None:
    for flt in (
        InvoiceFilter(statuses=frozenset({InvoiceStatus.VOID, InvoiceStatus.REFUNDED})),
        InvoiceFilter(with_balance_due=True),
    ):
        stream = await one(tight.invoice_streams(flt, InvoiceOrder()))
        assert (await stream.fetch(0, 1)).total == len(await drain(stream, 100))
    # A filter the upstream applies only by whole days is finished locally: no total.
    dated = InvoiceFilter(issued_from=moment("2026-09-01T12:00:00"))
    stream = await one(tight.invoice_streams(dated, InvoiceOrder()))
    assert (await stream.fetch(0, 1)).total is None


async def test_invoice_filters_that_cannot_match(tight: TightConnector) -> None:
    assert await tight.invoice_streams(InvoiceFilter(tenant="1"), InvoiceOrder()) == []
    deleted = InvoiceFilter(statuses=frozenset({InvoiceStatus.DELETED}))
    assert await tight.invoice_streams(deleted, InvoiceOrder()) == []


def client_filters(clients: list[ClientRecord]) -> list[ClientFilter]:
    someone = clients[len(clients) // 2]
    assert someone.email is not None
    surname = (someone.last_name or someone.display_name)[1:4]
    domain = someone.email.partition("@")[2]
    return [
        ClientFilter(search=surname.upper()),
        ClientFilter(search=f"  {surname.lower()} "),
        ClientFilter(search=domain),
        ClientFilter(search=someone.email.partition("@")[0].title()),
        ClientFilter(search="a"),
        ClientFilter(search="   "),
        ClientFilter(search="no such client anywhere"),
        ClientFilter(email=f"  {someone.email.upper()} "),
        ClientFilter(email=someone.email, search=surname),
        ClientFilter(email=someone.email, search="no such client anywhere"),
        ClientFilter(email="nobody@nowhere.example"),
        ClientFilter(email="   "),
        ClientFilter(tenant="7001", search=surname),
    ]


async def test_client_filters_select_what_the_predicate_selects(
    tight: TightConnector, control: aiohttp.ClientSession
) -> None:
    everyone = await drain(await one(tight.client_streams(ClientFilter())), 500)
    clients = [r.record for r in everyone]
    for flt in client_filters(clients):
        expected = [r.key for r in everyone if client_matches(r.record, flt)]
        for direction in (ASC, DESC):
            stream = await one(tight.client_streams(flt, direction))
            await requests(control)
            rows = await drain(stream, 5)
            wanted = expected if direction is ASC else expected[::-1]
            assert [r.key for r in rows] == wanted, flt
            [(_, query), *_] = await requests(control)
            assert ("search" in query) is bool((flt.search or "").strip())
            if flt.email is not None and flt.email.strip():
                assert query["email"] == [flt.email.strip().lower()]
                assert (await stream.fetch(0, 1)).total == len(expected)
    assert any(client_matches(c, ClientFilter(search="a")) for c in clients)
    assert await tight.client_streams(ClientFilter(tenant="1")) == []


async def test_subscription_status_filters(tight: TightConnector) -> None:
    everything = await drain(await one(tight.subscription_streams(SubscriptionFilter())), 500)
    for wanted in (
        {SubscriptionStatus.ACTIVE},
        {SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED},
        {SubscriptionStatus.PENDING},
        {SubscriptionStatus.UNKNOWN, SubscriptionStatus.ACTIVE},
    ):
        flt = SubscriptionFilter(statuses=frozenset(wanted))
        expected = [r.key for r in everything if subscription_matches(r.record, flt)]
        assert expected
        for direction in (DESC, ASC):
            rows = await drain(await one(tight.subscription_streams(flt, direction)), 9)
            assert [r.key for r in rows] == (expected if direction is DESC else expected[::-1])
    frozen = SubscriptionFilter(statuses=frozenset({SubscriptionStatus.FROZEN}))
    assert await tight.subscription_streams(frozen) == []


# --- cost: one upstream request per stream fetch up to Tight's largest page -------


async def test_a_fetch_up_to_the_largest_page_costs_one_request(
    tight: TightConnector, control: aiohttp.ClientSession
) -> None:
    streams = [
        await one(tight.invoice_streams(InvoiceFilter(), InvoiceOrder())),
        await one(tight.invoice_streams(InvoiceFilter(with_balance_due=True), InvoiceOrder())),
        await one(tight.client_streams(ClientFilter(search="e"))),
        await one(tight.subscription_streams(SubscriptionFilter())),
    ]
    for stream in streams:
        for start, count in ((0, 500), (0, 1), (3, 200), (150, 100), (499, 1), (20, 480)):
            await requests(control)
            chunk = await stream.fetch(start, count)
            log = await requests(control)
            assert len(log) == 1, (stream.id, start, count)
            assert int(log[0][1]["pageSize"][0]) <= 500
            if not chunk.exhausted:
                assert len(chunk.rows) >= count
            assert all(r.position >= start for r in chunk.rows)
    await requests(control)
    await streams[0].fetch(0, 501)
    assert len(await requests(control)) == 2


# --- keyset resumes across upstream writes --------------------------------------


async def resume(
    stream: Stream[Any], last: Row[Any], count: int, direction: SortDirection, slack: int = 5
) -> list[Row[Any]]:
    """What a cursor resume reads: from a little before the hint, rows after the last key."""
    chunk = await stream.fetch(max(0, last.position + 1 - slack), count + 2 * slack)
    after = (last.sort, last.tiebreak)
    if direction is ASC:
        rows = [r for r in chunk.rows if (r.sort, r.tiebreak) > after]
    else:
        rows = [r for r in chunk.rows if (r.sort, r.tiebreak) < after]
    return rows[:count]


async def test_resume_after_rows_inserted_and_removed_upstream(
    tight: TightConnector, control: aiohttp.ClientSession
) -> None:
    order = InvoiceOrder(InvoiceSortField.ISSUED_AT, ASC)
    flt = InvoiceFilter(statuses=frozenset({InvoiceStatus.DRAFT}))
    stream = await one(tight.invoice_streams(flt, order))
    before = await drain(stream, 50)
    first = before[:6]
    last = first[-1]
    # Before the cursor: a new draft on the last row's day (a tie, later id) and the
    # removal (cancellation) of an earlier draft; both move later rows' positions.
    await requests(control)
    created = await tight.http.request(
        "POST",
        "/v5/invoicing/invoice",
        json={
            "clientId": int(last.record.client_key.id),
            "date": last.record.raw["date"],
            "lineItems": [{"description": "Tie", "quantity": 1, "price": 5}],
        },
    )
    await tight.http.request(
        "POST", "/v5/invoicing/invoice/cancel", json={"id": int(first[0].key.id)}
    )
    after = await drain(stream, 50)
    new_key = f"{created['invoiceId']}"
    assert any(r.key.id == new_key for r in after)
    expected = [r.key for r in after if (r.sort, r.tiebreak) > (last.sort, last.tiebreak)][:10]
    assert new_key in {k.id for k in expected}  # same day as the last row, higher id
    assert [r.key for r in await resume(stream, last, 10, ASC)] == expected


async def test_rows_created_at_run_time_keep_the_order(
    tight: TightConnector, sandbox: RunningSandbox
) -> None:
    everyone = await drain(await one(tight.client_streams(ClientFilter())), 500)
    twin = everyone[len(everyone) // 3].record
    body = {"name": twin.display_name.upper(), "email": "twin.of.someone@example.com"}
    reply = await tight.http.request("POST", "/v5/invoicing/client", json=body)
    for direction in (ASC, DESC):
        rows = await drain(await one(tight.client_streams(ClientFilter(), direction)), 9)
        assert_strict(rows, direction)
        ties = [r.key.id for r in rows if r.sort == client_sort_value(twin)]
        assert str(reply["clientId"]) in ties
        assert len(ties) >= 2
    for field in FIELDS:
        for direction in (ASC, DESC):
            stream = await one(
                tight.invoice_streams(InvoiceFilter(), InvoiceOrder(field, direction))
            )
            rows = await drain(stream, 97)
            assert_strict(rows, direction)
            assert len(rows) == len(state(sandbox).invoices)
