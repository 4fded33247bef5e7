"""The shared cache: the memory backend (TTL, LRU bound), exact round-trips of records,
keys that never cross scopes or tenants, and, over real HTTP, fewer upstream reads,
invalidation by mutations and by ClubCollect notifications, nothing cached when off,
and Redis shared by two servers and survived when it goes away."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import orjson
import pytest

import services
from clubgraph import ids
from clubgraph.app import AppState, create_app
from clubgraph.cache import (
    Cache,
    CacheBackend,
    Entry,
    JSONCodec,
    MemoryBackend,
    PickleCodec,
    RedisBackend,
    Uncacheable,
    open_cache,
)
from clubgraph.connectors.base import InvoiceFilter, InvoiceOrder, SubscriptionFilter
from clubgraph.connectors.clubcollect import DEV_CREDENTIALS as CLUBCOLLECT_CREDENTIALS
from clubgraph.connectors.clubcollect import ClubCollectConnector
from clubgraph.domain import (
    ClientRecord,
    EntityType,
    InvoiceItemKind,
    InvoiceItemRecord,
    InvoiceRecord,
    InvoiceStatus,
    Key,
    MappedLater,
    Money,
    Source,
)
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.settings import DEFAULT_CACHE_TTLS, Settings
from support import GraphServer, serve, signed_headers
from test_mutations import W4, _create_input

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# A ClubCollect list read first: a new server's index crawl ends before requests are counted.
WARM_UP = "{ invoices(first: 1, source: [CLUBCOLLECT]) { edges { cursor } } }"
NODES = """query($ids: [ID!]!) { nodes(ids: $ids) {
  id
  ... on Invoice { number status dueAt total { amount currency } client { id name email } }
  ... on Client { name email }
  ... on Subscription { planName subscriptionStatus: status }
} }"""
INVOICE = "query($id: ID!) { invoice(id: $id) { id dueAt raw } }"
UPDATE = """mutation($i: UpdateInvoiceInput!) { updateInvoice(input: $i) {
  userErrors { code message } invoice { id dueAt } } }"""
SOURCES = ("FITNESSFORCE", "TIMETAP", "CLUBCOLLECT", "TIGHT")
# This run's own prefix of Redis keys: only keys under it are deleted at the end.
RUN_NAMESPACE = f"clubgraph-test-{uuid.uuid4().hex[:12]}:v1:"


# --- helpers ------------------------------------------------------------------------


def _same(a: Any, b: Any, path: str = "value") -> None:
    """Equal, and of the same types all the way down (Decimal exponents, tzinfo, fold)."""
    if isinstance(a, MappedLater):
        a = tuple(a)
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, Decimal):
        assert str(a) == str(b), f"{path}: {a} != {b}"
    elif isinstance(a, datetime):
        assert (a, a.fold, a.utcoffset()) == (b, b.fold, b.utcoffset()), f"{path}: {a!r} != {b!r}"
        assert a.tzinfo == b.tzinfo, f"{path}: {a.tzinfo!r} != {b.tzinfo!r}"
        assert a.tzname() == b.tzname(), path
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys differ"
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _invoice(items: Any = None) -> InvoiceRecord:
    key = Key(EntityType.INVOICE, Source.TIMETAP, "5001", "42")
    line = InvoiceItemRecord(
        key=Key(EntityType.INVOICE_ITEM, Source.TIMETAP, "5001", "42/7"),
        invoice_key=key,
        position=0,
        description="Towel service",
        kind=InvoiceItemKind.CHARGE,
        kind_raw=None,
        quantity=Decimal("3"),
        unit_price=Money(Decimal("0.10"), "EUR"),
        discount=Money(Decimal("0E-2"), "EUR"),
        tax=Money(Decimal("-0.00"), "EUR"),
        total=Money(Decimal("0.30"), "EUR"),
        raw={"amount": Decimal("0.1"), "qty": 3},
    )
    return InvoiceRecord(
        key=key,
        client_key=Key(EntityType.CLIENT, Source.TIMETAP, "5001", "c/9"),
        number="INV-0042",
        status=InvoiceStatus.PARTIALLY_PAID,
        status_raw="OPEN",
        currency="EUR",
        # The second 02:30 of the night DST ends in Amsterdam.
        issued_at=datetime(2026, 10, 25, 2, 30, 15, 123456, tzinfo=AMSTERDAM, fold=1),
        due_at=datetime(2026, 11, 1, 9, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        paid_at=datetime(2026, 1, 1, tzinfo=UTC),
        subtotal=Money(Decimal("49.95"), "EUR"),
        discount=Money(Decimal("0.00"), "EUR"),
        tax=Money(Decimal("10.4895"), "EUR"),
        total=Money(Decimal("60.4395"), "EUR"),
        amount_paid=Money(Decimal("1E+1"), "EUR"),
        balance_due=Money(Decimal("50.4395"), "EUR"),
        subscription_key=None,
        note='Handdoek ✓ — "quoted" | piped',
        items=MappedLater([{"n": 1}], lambda i, raw: line) if items is None else items,
        raw={
            "invoiceId": 42,
            "amount": Decimal("60.4395"),
            "big": 2**70,
            "ratio": 0.1,
            "$ref": "#/x",
            "one": {"$d": "not a decimal"},
            "lines": [{"price": Decimal("0.10"), "tags": ["a", None, True]}],
            "day": date(2026, 1, 31),
            "nested": {},
        },
    )


def _ids_of(data: dict[str, Any], field: str) -> list[str]:
    return [n["id"] for n in data[field]["nodes"]]


async def _sample_ids(graph: GraphServer) -> list[str]:
    """Two invoices of each source, two clients and two subscriptions."""
    found: list[str] = []
    for source in SOURCES:
        data = await graph.data(
            "query($s: [Source!]) { invoices(first: 2, source: $s) { nodes { id } } }",
            {"s": [source]},
        )
        found += _ids_of(data, "invoices")
    data = await graph.data(
        """{ clients(first: 2, source: [TIGHT]) { nodes { id } }
             subscriptions(first: 2, source: [FITNESSFORCE]) { nodes { id } } }"""
    )
    return found + _ids_of(data, "clients") + _ids_of(data, "subscriptions")


async def _counted(graph: GraphServer, query: str, variables: dict[str, Any]) -> tuple[Any, int]:
    """The data of a query and how many upstream requests it made."""
    await graph.clear_upstream_requests()
    data = await graph.data(query, variables)
    return data, len(await graph.upstream_requests())


@asynccontextmanager
async def _server(
    sandbox: RunningSandbox, namespace: str | None = None, **options: Any
) -> AsyncIterator[tuple[GraphServer, AppState]]:
    settings = Settings(
        mode="sandbox",
        sources=sandbox.source_settings(),
        cache_enabled=True,
        **options,
    )
    app = create_app(settings)
    state: AppState = app.state.clubgraph
    if namespace is not None:
        state.cache_namespace = namespace
    server, task, url = await serve(app)
    try:
        async with aiohttp.ClientSession() as http:
            graph = GraphServer(url, sandbox, http)
            if "clubcollect" in sandbox.urls:
                await graph.data(WARM_UP)
            yield graph, state
            connector = state.connectors.get(Source.CLUBCOLLECT)
            if isinstance(connector, ClubCollectConnector):
                await connector.notifications_settled()
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def cached(sandbox: RunningSandbox) -> AsyncIterator[tuple[GraphServer, AppState]]:
    """A server with the in-memory cache over the session's sandbox."""
    async with _server(sandbox) as running:
        yield running


# --- the memory backend -------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    backend = MemoryBackend(clock=clock)
    await backend.set_many([Entry("a", b"1"), Entry("b", b"2")], ttl=30)
    await backend.set_many([Entry("c", b"3")], ttl=60)
    clock.now += 29.9
    assert await backend.get_many(["a", "b", "c", "x"]) == [b"1", b"2", b"3", None]
    clock.now += 0.1
    assert await backend.get_many(["a", "b", "c"]) == [None, None, b"3"]
    assert len(backend) == 1
    clock.now += 30
    assert await backend.get_many(["c"]) == [None]
    assert len(backend) == 0
    assert backend.size_bytes == 0
    await backend.set_many([Entry("d", b"4")], ttl=0)
    assert await backend.get_many(["d"]) == [None]


async def test_memory_backend_evicts_the_least_recently_used() -> None:
    backend = MemoryBackend(max_entries=3, max_bytes=10)
    await backend.set_many([Entry("a", b"1"), Entry("b", b"2"), Entry("c", b"3")], ttl=60)
    assert await backend.get_many(["a"]) == [b"1"]  # a is now the most recently used
    await backend.set_many([Entry("d", b"4")], ttl=60)
    assert await backend.get_many(["a", "b", "c", "d"]) == [b"1", None, b"3", b"4"]
    assert len(backend) == 3
    # The byte bound too: 9 bytes more leave room for only one of a, c, d (read in that
    # order), so the two least recently used go.
    await backend.set_many([Entry("e", b"123456789")], ttl=60)
    assert await backend.get_many(["a", "c", "d", "e"]) == [None, None, b"4", b"123456789"]
    assert backend.size_bytes == 10
    # An entry larger than the whole cache is not kept, and evicts nothing.
    await backend.set_many([Entry("huge", b"x" * 11)], ttl=60)
    assert await backend.get_many(["huge", "d", "e"]) == [None, b"4", b"123456789"]


async def test_memory_backend_invalidates_by_tag_and_deletes_by_key() -> None:
    backend = MemoryBackend()
    await backend.set_many(
        [Entry("k1", b"1", "t"), Entry("k2", b"2", "t"), Entry("k3", b"3", "u")], ttl=60
    )
    await backend.invalidate(["t"])
    assert await backend.get_many(["k1", "k2", "k3"]) == [None, None, b"3"]
    await backend.delete_many(["k3"])
    assert await backend.get_many(["k3"]) == [None]
    assert len(backend) == 0


# --- values -------------------------------------------------------------------------


@pytest.mark.parametrize("codec", [PickleCodec(), JSONCodec()], ids=["pickle", "json"])
def test_records_round_trip_exactly(codec: Any) -> None:
    record = _invoice()
    back = codec.loads(codec.dumps(record))
    _same(record, back)
    assert str(back.total.amount) == "60.4395"
    assert str(back.amount_paid.amount) == "1E+1"
    assert back.issued_at.tzinfo is AMSTERDAM
    assert back.issued_at.fold == 1
    assert back.issued_at.utcoffset() == timedelta(hours=1)
    assert back.paid_at.tzinfo is UTC
    assert type(back.raw["invoiceId"]) is int
    assert back.raw["big"] == 2**70
    assert back.raw["one"] == {"$d": "not a decimal"}
    # Reference data holds zones and tuples.
    reference = (9e9, ({"5001": 0}, {"5001": "EUR"}, {"t1": AMSTERDAM, "t2": None}))
    _same(reference, codec.loads(codec.dumps(reference)))


@pytest.mark.parametrize("codec", [PickleCodec(), JSONCodec()], ids=["pickle", "json"])
def test_a_record_whose_lines_do_not_map_is_not_cached(codec: Any) -> None:
    def broken(index: int, raw: Any) -> Any:
        raise KeyError("amount")

    with pytest.raises(Uncacheable):
        codec.dumps(_invoice(items=MappedLater([{}], broken)))


def test_the_json_codec_refuses_what_it_cannot_restore_and_ignores_other_versions() -> None:
    codec = JSONCodec()
    with pytest.raises(Uncacheable):
        codec.dumps({"when": object()})
    with pytest.raises(Uncacheable):
        codec.dumps({1: "not a string key"})
    with pytest.raises(ValueError, match="version"):
        codec.loads(b'[2, {"$d": "1"}]')
    with pytest.raises(ValueError, match="undecodable"):
        codec.loads(b'[1, {"$r": ["os.system", {}]}]')


async def test_real_records_of_every_source_round_trip_exactly(
    cached: tuple[GraphServer, AppState],
) -> None:
    _, state = cached
    records: list[Any] = []
    for connector in state.connectors.values():
        keys: list[Key] = []
        for stream in await connector.invoice_streams(InvoiceFilter(), InvoiceOrder()):
            keys += [row.key for row in (await stream.fetch(0, 3)).rows]
            if len(keys) >= 3:
                break
        # Read by key, as the loaders read what the cache keeps.
        records += [r for r in await connector.invoices(keys[:3]) if r is not None]
    memberships = state.connectors[Source.FITNESSFORCE]
    first = (await memberships.subscription_streams(SubscriptionFilter()))[0]
    records += [r.record for r in (await first.fetch(0, 2)).rows if r.record is not None]
    clients = [r.client_key for r in records if isinstance(r, InvoiceRecord) and r.client_key]
    for source in Source:
        mine = [k for k in clients if k.source is source][:2]
        records += [r for r in await state.connectors[source].clients(mine) if r]
    kinds = {type(r).__name__ for r in records}
    assert kinds == {"InvoiceRecord", "SubscriptionRecord", "ClientRecord"}
    assert {r.key.source for r in records} == set(Source)
    for codec in (PickleCodec(), JSONCodec()):
        for record in records:
            _same(record, codec.loads(codec.dumps(record)), repr(record.key))


# --- scopes -------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[CacheBackend]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    url = request.getfixturevalue("redis_url")
    redis = RedisBackend(url)
    yield redis
    await redis.close()


async def test_a_record_is_served_only_to_its_own_scope_and_tenant(
    backend: CacheBackend,
) -> None:
    namespace = f"{RUN_NAMESPACE}unit:"
    cache = Cache(backend, DEFAULT_CACHE_TTLS, {Source.TIGHT: "acct1"}, namespace=namespace)
    key = Key(EntityType.CLIENT, Source.TIGHT, "biz-1", "77")
    record = ClientRecord(key, "Ada", "L", "Ada L", "ada@example.org", None, None, {"id": 77})
    await cache.put_records("alice", [(key, record)])

    _same(record, (await cache.get_records("alice", [key]))[key])
    assert await cache.get_records("bob", [key]) == {}
    assert await cache.get_records("anonymous", [key]) == {}
    other_tenant = dataclasses.replace(key, tenant="biz-2")
    assert await cache.get_records("alice", [other_tenant]) == {}
    other_source = dataclasses.replace(key, source=Source.TIMETAP)
    assert await cache.get_records("alice", [other_source]) == {}
    # The same source reached with other credentials is another account.
    elsewhere = Cache(backend, DEFAULT_CACHE_TTLS, {Source.TIGHT: "acct2"}, namespace=namespace)
    assert await elsewhere.get_records("alice", [key]) == {}
    # Scopes that look alike once joined stay apart.
    await cache.put_records("a:b", [(key, record)])
    assert await cache.get_records("a", [dataclasses.replace(key, tenant="b:biz-1")]) == {}

    # A change drops the entity for every scope at once.
    await cache.put_records("bob", [(key, record)])
    await cache.invalidate([key])
    assert await cache.get_records("alice", [key]) == {}
    assert await cache.get_records("bob", [key]) == {}


async def test_kinds_with_a_zero_ttl_are_not_cached() -> None:
    ttls = dict(DEFAULT_CACHE_TTLS) | {"client": 0.0, "reference": 0.0}
    cache = Cache(MemoryBackend(), ttls)
    key = Key(EntityType.CLIENT, Source.TIGHT, "biz-1", "77")
    record = ClientRecord(key, None, None, "X", None, None, None, {})
    await cache.put_records("anonymous", [(key, record)])
    assert await cache.get_records("anonymous", [key]) == {}
    assert cache.reference(Source.TIGHT) is None
    assert await open_cache(Settings(), ()) is None


async def test_reference_data_is_read_once_until_it_expires() -> None:
    cache = Cache(MemoryBackend(), DEFAULT_CACHE_TTLS)
    reference = cache.reference(Source.FITNESSFORCE)
    assert reference is not None
    calls = 0

    async def fetch() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return {"1": AMSTERDAM}

    results = await asyncio.gather(*(reference.get("tenants", fetch) for _ in range(5)))
    assert calls == 1
    assert all(r == {"1": AMSTERDAM} for r in results)
    # Another replica's process copy is empty: it reads the shared entry, not the upstream.
    replica = cache.reference(Source.FITNESSFORCE)
    assert replica is not None
    assert await replica.get("tenants", fetch) == {"1": AMSTERDAM}
    assert calls == 1
    cache.ttls["reference"] = 0.05
    await cache.backend.delete_many([cache.reference_key(Source.FITNESSFORCE, "tenants")])
    reference.forget()
    await reference.get("tenants", fetch)
    assert calls == 2
    await asyncio.sleep(0.06)
    await reference.get("tenants", fetch)
    assert calls == 3


# --- over HTTP, in memory -----------------------------------------------------------


async def test_a_repeated_query_reaches_the_upstream_less(
    cached: tuple[GraphServer, AppState],
) -> None:
    graph, _ = cached
    wanted = await _sample_ids(graph)
    first, before = await _counted(graph, NODES, {"ids": wanted})
    second, after = await _counted(graph, NODES, {"ids": wanted})
    assert second == first
    assert all(node is not None for node in first["nodes"])
    assert before > 0
    assert after == 0


async def test_a_key_that_is_not_found_is_not_cached(
    cached: tuple[GraphServer, AppState],
) -> None:
    graph, _ = cached
    missing = ids.encode(Key(EntityType.INVOICE, Source.TIGHT, "1", "999999999"))
    for _ in range(2):
        data, count = await _counted(graph, NODES, {"ids": [missing]})
        assert data["nodes"] == [None]
        assert count > 0


async def test_with_the_cache_off_every_read_reaches_the_upstream(graph: GraphServer) -> None:
    wanted = await _sample_ids(graph)
    first, before = await _counted(graph, NODES, {"ids": wanted})
    second, after = await _counted(graph, NODES, {"ids": wanted})
    assert second == first
    assert before == after > 0


async def test_a_mutation_invalidates_the_invoice_it_changed(
    cached: tuple[GraphServer, AppState],
) -> None:
    graph, _ = cached
    created = await graph.data(W4, {"input": await _create_input(graph, "TIMETAP")})
    invoice_id = created["createInvoice"]["invoice"]["id"]
    before, _ = await _counted(graph, INVOICE, {"id": invoice_id})
    again, count = await _counted(graph, INVOICE, {"id": invoice_id})
    assert (again, count) == (before, 0)

    change = {"idempotencyKey": uuid.uuid4().hex, "invoiceId": invoice_id, "dueOn": "2027-01-31"}
    updated = (await graph.data(UPDATE, {"i": change}))["updateInvoice"]
    assert updated["userErrors"] == []
    after, count = await _counted(graph, INVOICE, {"id": invoice_id})
    assert count > 0
    assert after["invoice"]["dueAt"].startswith("2027-01-3")
    assert after["invoice"]["dueAt"] != before["invoice"]["dueAt"]


async def test_a_clubcollect_notification_invalidates_the_invoice() -> None:
    # A ClubCollect sandbox of its own: this test changes an invoice upstream.
    sandbox = await start_sandbox(port_base=None, sources=["clubcollect"])
    try:
        async with _server(sandbox) as (graph, _):
            listed = await graph.data(
                "{ invoices(first: 1, source: [CLUBCOLLECT]) { nodes { id } } }"
            )
            invoice_id = listed["invoices"]["nodes"][0]["id"]
            upstream_id = ids.decode(invoice_id).id

            def email(data: dict[str, Any]) -> str | None:
                address: str | None = (data["invoice"]["raw"]["customer"].get("email") or {}).get(
                    "email_address"
                )
                return address

            first, _ = await _counted(graph, INVOICE, {"id": invoice_id})
            headers = {"Authorization": f"ApiKey {CLUBCOLLECT_CREDENTIALS.api_key}"}
            new = f"changed-{uuid.uuid4().hex[:6]}@example.org"
            async with graph.http.put(
                f"{sandbox.urls['clubcollect']}/api/v2/invoices/{upstream_id}",
                json={"customer": {"email": {"email_address": new}}},
                headers=headers,
            ) as resp:
                assert resp.status == 200, await resp.text()
            # Changed upstream behind clubgraph's back: the cache still serves the old one.
            stale, count = await _counted(graph, INVOICE, {"id": invoice_id})
            assert (email(stale), count) == (email(first), 0)
            assert email(first) != new

            body = orjson.dumps(
                {"api_key": CLUBCOLLECT_CREDENTIALS.api_key, "invoice_ids": [upstream_id]}
            )
            async with graph.http.post(
                graph.url + "/webhooks/clubcollect",
                data=body,
                headers=signed_headers("clubcollect", body),
            ) as resp:
                assert resp.status == 200
            fresh, count = await _counted(graph, INVOICE, {"id": invoice_id})
            assert email(fresh) == new
            assert count > 0
    finally:
        await sandbox.stop()


# --- Redis --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis for these tests (``services.redis_url``); at the end, this run's keys
    (under ``RUN_NAMESPACE``) are deleted, and a redis-server started for it stopped."""
    from redis import Redis

    url = services.redis_url()
    yield url
    client = Redis.from_url(url)
    try:
        doomed = list(client.scan_iter(match=f"{RUN_NAMESPACE}*", count=500))
        if doomed:
            client.delete(*doomed)
    finally:
        client.close()
        services.stop_started()


@pytest.fixture(scope="module")
async def redis_pair(
    sandbox: RunningSandbox, redis_url: str
) -> AsyncIterator[tuple[tuple[GraphServer, AppState], tuple[GraphServer, AppState]]]:
    """Two servers, as two replicas, sharing one Redis."""
    namespace = f"{RUN_NAMESPACE}pair:"
    async with (
        _server(sandbox, namespace, redis_url=redis_url) as one,
        _server(sandbox, namespace, redis_url=redis_url) as two,
    ):
        yield one, two


async def test_two_servers_share_cached_entities_and_reference_data(
    redis_pair: tuple[tuple[GraphServer, AppState], tuple[GraphServer, AppState]],
) -> None:
    (one, one_state), (two, _) = redis_pair
    assert isinstance(one_state.cache and one_state.cache.backend, RedisBackend)
    wanted = await _sample_ids(one)
    first, before = await _counted(one, NODES, {"ids": wanted})
    assert before > 0
    shared, count = await _counted(two, NODES, {"ids": wanted})
    assert shared == first
    assert count == 0

    # The second server lists without asking for the tenants and businesses again.
    await two.clear_upstream_requests()
    await two.data(
        "{ invoices(first: 5, source: [FITNESSFORCE, TIMETAP, TIGHT]) { nodes { id } } }"
    )
    paths = {r["path"] for r in await two.upstream_requests()}
    assert paths
    assert not paths & {"/tenants", "/business", "/v5/businesses"}


async def test_a_mutation_on_one_server_is_seen_by_the_other(
    redis_pair: tuple[tuple[GraphServer, AppState], tuple[GraphServer, AppState]],
) -> None:
    (one, _), (two, _) = redis_pair
    created = await one.data(W4, {"input": await _create_input(one, "TIGHT")})
    invoice_id = created["createInvoice"]["invoice"]["id"]
    before, _ = await _counted(two, INVOICE, {"id": invoice_id})
    again, count = await _counted(one, INVOICE, {"id": invoice_id})
    assert (again, count) == (before, 0)

    change = {"idempotencyKey": uuid.uuid4().hex, "invoiceId": invoice_id, "dueOn": "2027-01-31"}
    updated = (await one.data(UPDATE, {"i": change}))["updateInvoice"]
    assert updated["userErrors"] == []
    after, count = await _counted(two, INVOICE, {"id": invoice_id})
    assert after["invoice"]["dueAt"].startswith("2027-01-3")
    assert count > 0


async def test_an_unreachable_redis_means_no_caching_and_no_errors(
    sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    closed = f"redis://127.0.0.1:{services.free_port()}/0"
    with caplog.at_level("WARNING", logger="clubgraph.cache"):
        async with _server(
            sandbox, RUN_NAMESPACE, redis_url=closed, rate_limit_per_minute=1000
        ) as (graph, state):
            wanted = await _sample_ids(graph)
            counts = []
            for _ in range(3):
                body = await graph.query(NODES, {"ids": wanted})
                assert "errors" not in body
                assert all(node is not None for node in body["data"]["nodes"])
                _, count = await _counted(graph, NODES, {"ids": wanted})
                counts.append(count)
            assert counts[0] > 0
            assert len(set(counts)) == 1
            assert state.cache is not None
            assert isinstance(state.cache.backend, RedisBackend)
            assert not state.cache.backend.available
            # Still ready (every part runs on local behaviour), and saying so.
            async with graph.http.get(graph.url + "/readyz") as resp:
                assert resp.status == 200
                ready = await resp.json()
            assert ready["redis"] == dict.fromkeys(("cache", "events", "rate_limit"), "unavailable")
            async with graph.http.get(graph.url + "/metrics") as resp:
                metrics = await resp.text()
            for part in ("cache", "events", "rate_limit"):
                assert f'clubgraph_redis_available{{part="{part}"}} 0.0' in metrics
    unavailable = [
        r for r in caplog.records if r.name == "clubgraph.cache" and "unavailable" in r.getMessage()
    ]
    assert len(unavailable) == 1


async def test_caching_resumes_when_redis_comes_back(
    sandbox: RunningSandbox, redis_url: str
) -> None:
    target = urlsplit(redis_url)
    proxy = services.TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    proxied = services.with_address(redis_url, "127.0.0.1", proxy.port)
    namespace = f"{RUN_NAMESPACE}resume:"
    try:
        async with _server(sandbox, namespace, redis_url=proxied) as (graph, state):
            assert state.cache is not None
            assert isinstance(state.cache.backend, RedisBackend)
            state.cache.backend.retry_after_s = 0.1
            wanted = await _sample_ids(graph)
            await _counted(graph, NODES, {"ids": wanted})
            assert (await _counted(graph, NODES, {"ids": wanted}))[1] == 0

            await proxy.stop()
            await state.cache.invalidate([ids.decode(i) for i in wanted])  # lost: Redis is away
            down = [await _counted(graph, NODES, {"ids": wanted}) for _ in range(2)]
            assert all(count > 0 for _, count in down)
            assert not state.cache.backend.available
            assert (await _ready_redis(graph))["cache"] == "unavailable"

            await proxy.start()
            await asyncio.sleep(0.15)
            _, count = await _counted(graph, NODES, {"ids": wanted})
            # Entries stored before the outage are still there: invalidations made during
            # it were lost, and the entries last until their TTL.
            assert count == 0
            assert state.cache.backend.available
            assert (await _ready_redis(graph))["cache"] == "connected"
            await state.cache.invalidate([ids.decode(i) for i in wanted])
            assert (await _counted(graph, NODES, {"ids": wanted}))[1] > 0
            assert (await _counted(graph, NODES, {"ids": wanted}))[1] == 0
    finally:
        await proxy.stop()


async def _ready_redis(graph: GraphServer) -> dict[str, str]:
    async with graph.http.get(graph.url + "/readyz") as resp:
        assert resp.status == 200
        parts: dict[str, str] = (await resp.json())["redis"]
        return parts
