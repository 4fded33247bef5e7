"""FitnessForce streams: complete and strictly ordered in every order, filters pushed down
select exactly what the shared predicates select, one request per page."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

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
    subscription_sort_value,
)
from clubgraph.connectors.fitnessforce import DEV_CREDENTIALS, FitnessForceConnector
from clubgraph.connectors.fitnessforce.mapping import map_client, map_invoice, map_subscription
from clubgraph.domain import ClientRecord, InvoiceRecord, InvoiceStatus, SubscriptionStatus
from clubgraph.sandbox.fitnessforce.responses import STATE
from clubgraph.sandbox.fitnessforce.state import FitnessForceState
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

ASC, DESC = SortDirection.ASC, SortDirection.DESC
TENANTS = ("101", "102")


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["fitnessforce"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def conn(sandbox: RunningSandbox) -> AsyncIterator[FitnessForceConnector]:
    connector = FitnessForceConnector(sandbox.urls["fitnessforce"], DEV_CREDENTIALS)
    await connector.start()
    await connector.tenants()
    yield connector
    await connector.close()


@pytest.fixture
def state(sandbox: RunningSandbox) -> FitnessForceState:
    return sandbox.apps["fitnessforce"][STATE]


class Log:
    """The sandbox's request log: (path, query parameters) of each request."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def clear(self) -> None:
        async with aiohttp.ClientSession() as s:
            await s.delete(self.url + "/__sandbox/requests")

    async def requests(self) -> list[tuple[str, dict[str, str]]]:
        async with aiohttp.ClientSession() as s, s.get(self.url + "/__sandbox/requests") as r:
            entries: list[dict[str, Any]] = await r.json()
        return [(e["path"], {k: v[0] for k, v in parse_qs(e["query"]).items()}) for e in entries]


@pytest.fixture
async def log(sandbox: RunningSandbox, conn: FitnessForceConnector) -> Log:
    log = Log(sandbox.urls["fitnessforce"])
    await log.clear()
    return log


async def drain(stream: Stream[Any], count: int = 7) -> list[Row[Any]]:
    """Every row of a stream, read ``count`` at a time, resuming after the last row."""
    rows: list[Row[Any]] = []
    start = 0
    while True:
        chunk = await stream.fetch(start, count)
        assert chunk.exhausted or len(chunk.rows) >= count
        assert all(r.position >= start for r in chunk.rows)
        rows.extend(chunk.rows)
        if chunk.exhausted or not chunk.rows:
            return rows
        start = chunk.rows[-1].position + 1


def assert_strict(rows: Sequence[Row[Any]], direction: SortDirection) -> None:
    keys = [(r.sort, r.tiebreak) for r in rows]
    pairs = list(itertools.pairwise(keys))
    if direction is ASC:
        assert all(a < b for a, b in pairs)
    else:
        assert all(a > b for a, b in pairs)
    assert len({r.key for r in rows}) == len(rows)


def record(row: Row[Any]) -> Any:
    assert row.record is not None
    return row.record


def of_tenant(objects: dict[int, dict[str, Any]], tenant: str) -> list[Any]:
    return [o for o in objects.values() if str(o["tenant_id"]) == tenant]


def ordered(records: Sequence[Any], value: Callable[[Any], Any], desc: bool) -> list[Any]:
    """The oracle: records by (value, upstream id), both reversed when descending."""
    return sorted(records, key=lambda r: (value(r), int(r.key.id.split("/")[-1])), reverse=desc)


async def invoices(conn: FitnessForceConnector, flt: InvoiceFilter) -> list[InvoiceRecord]:
    order = InvoiceOrder(InvoiceSortField.ISSUED_AT, DESC)
    return [record(r) for s in await conn.invoice_streams(flt, order) for r in await drain(s, 50)]


async def clients(conn: FitnessForceConnector, flt: ClientFilter) -> list[ClientRecord]:
    return [record(r) for s in await conn.client_streams(flt) for r in await drain(s, 50)]


# --- order -------------------------------------------------------------------------


@pytest.mark.parametrize("field", list(InvoiceSortField))
async def test_invoice_streams_page_whole_in_both_directions(
    conn: FitnessForceConnector, state: FitnessForceState, field: InvoiceSortField
) -> None:
    for tenant in TENANTS:
        flt = InvoiceFilter(tenant=tenant)
        [asc] = await conn.invoice_streams(flt, InvoiceOrder(field, ASC))
        [desc] = await conn.invoice_streams(flt, InvoiceOrder(field, DESC))
        up, down = await drain(asc), await drain(desc)
        assert (asc.descending, desc.descending) == (False, True)
        assert [r.position for r in up] == list(range(len(up)))
        assert_strict(up, ASC)
        assert_strict(down, DESC)
        assert [r.key for r in down] == [r.key for r in reversed(up)]
        assert all(r.sort == invoice_sort_value(record(r), field) for r in up)
        assert all(r.tiebreak == int(r.key.id.split("/")[1]) for r in up)
        upstream = [map_invoice(i, tenant) for i in of_tenant(state.invoices, tenant)]
        want = ordered(upstream, lambda r: invoice_sort_value(r, field), False)
        assert [r.key for r in up] == [r.key for r in want]
    if field in (InvoiceSortField.DUE_AT, InvoiceSortField.TOTAL):
        # The order is only proven where sort values repeat.
        sorts = [r.sort for r in up]
        assert len(set(sorts)) < len(sorts)


@pytest.mark.parametrize("direction", [ASC, DESC])
async def test_client_and_subscription_streams_page_whole(
    conn: FitnessForceConnector, state: FitnessForceState, direction: SortDirection
) -> None:
    desc = direction is DESC
    for tenant in TENANTS:
        [cstream] = await conn.client_streams(ClientFilter(tenant=tenant), direction)
        rows = await drain(cstream)
        assert cstream.descending is desc
        assert_strict(rows, direction)
        assert all(r.sort == client_sort_value(record(r)) for r in rows)
        upstream = [map_client(c, tenant) for c in of_tenant(state.clients, tenant)]
        want = ordered(upstream, client_sort_value, desc)
        assert [r.key for r in rows] == [r.key for r in want]

        [sstream] = await conn.subscription_streams(SubscriptionFilter(tenant=tenant), direction)
        subs = await drain(sstream)
        assert sstream.descending is desc
        assert_strict(subs, direction)
        assert all(r.sort == subscription_sort_value(record(r)) for r in subs)
        subscriptions = [
            map_subscription(s, tenant) for s in of_tenant(state.subscriptions, tenant)
        ]
        want = ordered(subscriptions, subscription_sort_value, desc)
        assert [r.key for r in subs] == [r.key for r in want]
        sorts = [r.sort for r in subs]
        assert len(set(sorts)) < len(sorts)
    [up] = await conn.subscription_streams(SubscriptionFilter(tenant="101"), ASC)
    [down] = await conn.subscription_streams(SubscriptionFilter(tenant="101"), DESC)
    assert [r.key for r in await drain(down)] == [r.key for r in reversed(await drain(up))]


async def test_order_holds_for_ties_made_at_run_time(conn: FitnessForceConnector) -> None:
    [stream] = await conn.subscription_streams(SubscriptionFilter(tenant="102"), ASC)
    before = await drain(stream)
    editable = [record(r) for r in before if record(r).status_raw in ("Pending", "Active")]
    target = editable[-1]
    # Move the newest editable membership onto the start date of the oldest one.
    day = record(before[0]).raw["start_date"]
    client_id, sub_id = target.key.id.split("/")
    path = f"/tenant/102/clients/{client_id}/subscriptions/{sub_id}/start_date"
    await conn.http.request("PUT", path, json={"start_date": day})
    after = await drain(stream)
    assert_strict(after, ASC)
    assert {r.key for r in after} == {r.key for r in before}
    tied = [r for r in after if r.sort == after[0].sort]
    assert target.key in {r.key for r in tied}
    assert len(tied) >= 2


# --- filters: pushed down or not, exactly what the shared predicate selects ----------


def _amsterdam_midnight(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=ZoneInfo("Europe/Amsterdam"))


INVOICE_FILTERS = {
    "status": InvoiceFilter(statuses=frozenset({InvoiceStatus.OPEN, InvoiceStatus.VOID})),
    "unknown status": InvoiceFilter(statuses=frozenset({InvoiceStatus.UNKNOWN})),
    "unknown or paid": InvoiceFilter(
        statuses=frozenset({InvoiceStatus.UNKNOWN, InvoiceStatus.PAID})
    ),
    "issued, local midnights": InvoiceFilter(
        issued_from=_amsterdam_midnight("2025-03-01"),
        issued_until=_amsterdam_midnight("2025-06-01"),
    ),
    "issued, any instants": InvoiceFilter(
        issued_from=datetime(2025, 3, 1, 7, 30, tzinfo=UTC),
        issued_until=datetime(2025, 6, 1, 11, 15, tzinfo=UTC),
    ),
    # Midnight in Amsterdam (pushed exactly), 23:00 in London (kept locally).
    "issued from only": InvoiceFilter(issued_from=datetime(2025, 9, 1, 22, 0, tzinfo=UTC)),
    "due, any instants": InvoiceFilter(
        due_from=datetime(2025, 4, 2, 12, 0, tzinfo=UTC),
        due_until=datetime(2025, 8, 3, 0, 0, tzinfo=UTC),
    ),
    "due until only": InvoiceFilter(due_until=datetime(2025, 6, 30, 22, 0, tzinfo=UTC)),
    "balance due": InvoiceFilter(with_balance_due=True),
    "combined": InvoiceFilter(
        statuses=frozenset({InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID}),
        issued_from=datetime(2025, 1, 1, tzinfo=UTC),
        due_until=datetime(2026, 1, 1, tzinfo=UTC),
        with_balance_due=True,
    ),
}


@pytest.mark.parametrize("name", list(INVOICE_FILTERS))
async def test_invoice_filters_select_what_the_predicate_selects(
    conn: FitnessForceConnector, name: str
) -> None:
    flt = INVOICE_FILTERS[name]
    everything = await invoices(conn, InvoiceFilter())
    want = [r.key for r in everything if invoice_matches(r, flt)]
    got = [r.key for r in await invoices(conn, flt)]
    assert got == want
    if name not in ("unknown status",):
        assert want


async def test_tenant_filter(conn: FitnessForceConnector) -> None:
    everything = await invoices(conn, InvoiceFilter())
    only = await invoices(conn, InvoiceFilter(tenant="102"))
    assert [r.key for r in only] == [r.key for r in everything if r.key.tenant == "102"]
    assert [s.id for s in await conn.client_streams(ClientFilter(tenant="101"))] == [
        "fitnessforce:101"
    ]


async def test_what_is_pushed_down_and_what_is_kept_locally(
    conn: FitnessForceConnector, log: Log
) -> None:
    async def first_page(flt: InvoiceFilter) -> tuple[int | None, dict[str, str]]:
        [stream] = await conn.invoice_streams(flt, InvoiceOrder())
        await log.clear()
        chunk = await stream.fetch(0, 20)
        return chunk.total, (await log.requests())[0][1]

    # Everything pushed: the upstream's total stands.
    exact = INVOICE_FILTERS["issued, local midnights"]
    total, query = await first_page(InvoiceFilter(tenant="101", **_fields(exact)))
    assert total is not None
    assert (query["from_date"], query["to_date"]) == ("2025-03-01", "2025-05-31")
    total, query = await first_page(
        InvoiceFilter(tenant="101", **_fields(INVOICE_FILTERS["due, any instants"]))
    )
    assert total is not None
    assert (query["due_from_date"], query["due_to_date"]) == ("2025-04-03", "2025-08-02")
    total, query = await first_page(InvoiceFilter(tenant="102", with_balance_due=True))
    assert (total is not None, query["outstanding_only"]) == (True, "true")
    # Instants inside a local day: the day range is pushed, the exact bounds kept locally.
    total, query = await first_page(
        InvoiceFilter(tenant="101", **_fields(INVOICE_FILTERS["issued, any instants"]))
    )
    assert total is None
    assert (query["from_date"], query["to_date"]) == ("2025-03-01", "2025-06-01")
    total, query = await first_page(
        InvoiceFilter(tenant="102", statuses=frozenset({InvoiceStatus.UNKNOWN}))
    )
    assert total is None
    assert "status" not in query


def _fields(flt: InvoiceFilter) -> dict[str, Any]:
    names = ("issued_from", "issued_until", "due_from", "due_until", "with_balance_due")
    return {n: getattr(flt, n) for n in names}


async def test_filters_follow_writes(conn: FitnessForceConnector) -> None:
    flt = InvoiceFilter(tenant="101", with_balance_due=True)
    before = await invoices(conn, flt)
    target = next(r for r in before if r.amount_paid.amount == 0)
    await conn.void_invoice(target.key, "duplicate")
    after = await invoices(conn, flt)
    assert [r.key for r in after] == [r.key for r in before if r.key != target.key]


def _email_of(records: Sequence[ClientRecord]) -> str:
    return next(r.email for r in records if r.email)


@pytest.mark.parametrize(
    "make",
    [
        lambda cs: ClientFilter(search="an"),
        lambda cs: ClientFilter(search="  MA "),
        lambda cs: ClientFilter(search=cs[3].display_name.split()[-1].upper()),
        lambda cs: ClientFilter(search="@" + _email_of(cs).split("@")[1][:5]),
        lambda cs: ClientFilter(search="no such member"),
        lambda cs: ClientFilter(search="   "),
        lambda cs: ClientFilter(email=" " + _email_of(cs).upper() + " "),
        lambda cs: ClientFilter(email="nobody@example.invalid"),
        lambda cs: ClientFilter(email="  "),
        lambda cs: ClientFilter(search="e", email=_email_of(cs[10:])),
        lambda cs: ClientFilter(tenant="102", search="o"),
    ],
)
async def test_client_search_selects_what_the_predicate_selects(
    conn: FitnessForceConnector, make: Callable[[list[ClientRecord]], ClientFilter]
) -> None:
    everything = await clients(conn, ClientFilter())
    flt = make(everything)
    want = [
        r.key
        for r in everything
        if client_matches(r, flt) and (flt.tenant is None or r.key.tenant == flt.tenant)
    ]
    assert [r.key for r in await clients(conn, flt)] == want


async def test_client_search_uses_the_search_endpoint(
    conn: FitnessForceConnector, log: Log
) -> None:
    [stream] = await conn.client_streams(ClientFilter(tenant="101", search="an"), DESC)
    chunk = await stream.fetch(0, 30)
    assert chunk.total is not None
    assert_strict(chunk.rows, DESC)
    [(path, query)] = await log.requests()
    assert path == "/tenant/101/clients/search"
    assert (query["search_text"], query["sort_order"]) == ("an", "desc")


@pytest.mark.parametrize(
    "statuses",
    [
        frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.FROZEN}),
        frozenset({SubscriptionStatus.UNKNOWN, SubscriptionStatus.EXPIRED}),
    ],
)
async def test_subscription_status_filter(
    conn: FitnessForceConnector, statuses: frozenset[SubscriptionStatus]
) -> None:
    async def read(flt: SubscriptionFilter) -> list[Any]:
        return [record(r) for s in await conn.subscription_streams(flt) for r in await drain(s)]

    everything = await read(SubscriptionFilter())
    flt = SubscriptionFilter(statuses=statuses)
    want = [r.key for r in everything if subscription_matches(r, flt)]
    assert want
    assert [r.key for r in await read(flt)] == want


# --- request counts --------------------------------------------------------------------


async def test_a_fetch_up_to_the_page_maximum_costs_one_request(
    conn: FitnessForceConnector, log: Log
) -> None:
    [stream] = await conn.invoice_streams(InvoiceFilter(tenant="101"), InvoiceOrder())
    for start, count in ((0, 200), (0, 51), (37, 51), (150, 100), (400, 7)):
        await log.clear()
        chunk = await stream.fetch(start, count)
        assert len(chunk.rows) >= min(count, (chunk.total or 0) - start)
        [(path, query)] = await log.requests()
        assert path == "/tenant/101/invoices"
        assert int(query["page_size"]) <= 200
    [clients_stream] = await conn.client_streams(ClientFilter(tenant="102"))
    [subs] = await conn.subscription_streams(SubscriptionFilter(tenant="102"))
    await log.clear()
    assert (await clients_stream.fetch(0, 200)).exhausted
    await subs.fetch(0, 101)
    assert len(await log.requests()) == 2


async def test_pages_wider_than_the_maximum_are_split(
    conn: FitnessForceConnector, log: Log
) -> None:
    [stream] = await conn.invoice_streams(InvoiceFilter(tenant="101"), InvoiceOrder())
    chunk = await stream.fetch(0, 350)
    assert [r.position for r in chunk.rows[:350]] == list(range(350))
    assert len(await log.requests()) == 2
