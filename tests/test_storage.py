"""The state storage, through its interface, in SQLite and in PostgreSQL alike.

Each test opens several storages on one database, as replicas (or the workers of one
host) do: each has connections of its own, and only the database keeps them apart.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import services
from clubgraph.domain import EntityType, Key, Source
from clubgraph.events.journal import Journal
from clubgraph.events.model import Change, ChangeEvent, EventKind
from clubgraph.idempotency import ClaimState, IdempotencyStore
from clubgraph.storage import SQLiteStorage, Storage

Open = Callable[[], Awaitable[Storage]]


@pytest.fixture(params=["sqlite", "postgres"])
async def open_storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Open]:
    """Opens (and starts) another storage on this test's database."""
    opened: list[Storage] = []

    async def opener(make: Callable[[], Storage]) -> AsyncIterator[Open]:
        async def open_one() -> Storage:
            storage = make()
            await storage.start()
            opened.append(storage)
            return storage

        try:
            yield open_one
        finally:
            for storage in opened:
                await storage.close()

    if request.param == "sqlite":
        path = str(tmp_path / "state.sqlite3")
        async for open_one in opener(lambda: SQLiteStorage(path)):
            yield open_one
        return
    from clubgraph.storage.postgres import PostgresStorage

    async with services.fresh_database() as url:
        async for open_one in opener(lambda: PostgresStorage(url)):
            yield open_one


async def test_of_two_concurrent_claims_of_one_key_exactly_one_is_new(open_storage: Open) -> None:
    one = IdempotencyStore(await open_storage())
    two = IdempotencyStore(await open_storage())

    async def request(store: IdempotencyStore, key: str) -> tuple[ClaimState, object]:
        claim = await store.claim("scope", key, "createInvoice", "digest")
        if claim.state is ClaimState.NEW:
            await store.complete("scope", key, {"by": store.owner})
            return claim.state, {"by": store.owner}
        return claim.state, claim.result

    for n in range(20):
        key = f"key-{n}"
        answers = await asyncio.gather(request(one, key), request(two, key))
        assert sorted(state.value for state, _ in answers) == ["DONE", "NEW"], answers
        assert answers[0][1] == answers[1][1]


async def test_a_waiter_gets_the_first_claimants_result(open_storage: Open) -> None:
    first = IdempotencyStore(await open_storage())
    second = IdempotencyStore(await open_storage(), wait_seconds=5)
    assert (await first.claim("s", "k", "op", "d")).state is ClaimState.NEW

    async def finish() -> None:
        await asyncio.sleep(0.2)
        await first.complete("s", "k", {"invoice": "inv-1"})

    waited, _ = await asyncio.gather(second.claim("s", "k", "op", "d"), finish())
    assert (waited.state, waited.result) == (ClaimState.DONE, {"invoice": "inv-1"})
    assert (await second.claim("s", "k", "other", "d")).state is ClaimState.CONFLICT
    assert (await second.claim("s", "k", "op", "other")).state is ClaimState.CONFLICT
    # Scopes are apart: another caller's key of the same name is its own.
    assert (await second.claim("t", "k", "op", "d")).state is ClaimState.NEW


async def test_a_released_key_runs_afresh_and_a_pending_one_says_so(open_storage: Open) -> None:
    first = IdempotencyStore(await open_storage())
    second = IdempotencyStore(await open_storage(), wait_seconds=0.2)
    assert (await first.claim("s", "k", "op", "d")).state is ClaimState.NEW
    assert (await second.claim("s", "k", "op", "d")).state is ClaimState.PENDING
    await first.release("s", "k")
    assert (await second.claim("s", "k", "op", "d")).state is ClaimState.NEW
    await second.complete("s", "k", None)
    # Release gives back only a pending key: a finished one stays.
    await first.release("s", "k")
    assert (await first.claim("s", "k", "op", "d")).state is ClaimState.DONE


async def test_a_key_whose_holder_died_is_taken_over_once_its_lease_ends(
    open_storage: Open,
) -> None:
    holder = IdempotencyStore(await open_storage(), lease_seconds=0.6)
    await holder.start()
    assert (await holder.claim("s", "k", "op", "d")).state is ClaimState.NEW
    # While the holder lives it renews its lease: the key stays pending past it.
    other = IdempotencyStore(await open_storage(), wait_seconds=1.0, lease_seconds=0.6)
    assert (await other.claim("s", "k", "op", "d")).state is ClaimState.PENDING
    await holder.close()  # it dies: no more renewals, no complete
    takers = [IdempotencyStore(await open_storage(), wait_seconds=2.0) for _ in range(3)]
    claims = await asyncio.gather(*(t.claim("s", "k", "op", "d") for t in takers))
    # Exactly one takes it over, knowing the dead holder's write is in doubt.
    assert sorted(c.state.value for c in claims) == ["IN_DOUBT", "PENDING", "PENDING"]
    # A look that failed gives it up again: the next request takes it over, in doubt.
    winner = takers[[c.state for c in claims].index(ClaimState.IN_DOUBT)]
    await winner.reopen("s", "k")
    again = IdempotencyStore(await open_storage(), wait_seconds=1.0)
    assert (await again.claim("s", "k", "op", "d")).state is ClaimState.IN_DOUBT


def event(n: int) -> ChangeEvent:
    return ChangeEvent(
        id=f"test:{n}",
        kind=EventKind.INVOICE,
        change=Change.UPDATED,
        key=Key(EntityType.INVOICE, Source.FITNESSFORCE, "101", "7/9001"),
        client_key=Key(EntityType.CLIENT, Source.FITNESSFORCE, "101", "7"),
        occurred_at=datetime(2026, 12, 1, 9, 30, n % 60, tzinfo=UTC),
        raw="invoice.updated",
    )


async def test_a_delivery_redelivered_to_another_replica_records_nothing(
    open_storage: Open,
) -> None:
    one, two = Journal(await open_storage()), Journal(await open_storage())
    results = await asyncio.gather(
        one.record("fitnessforce", "d-1", b"{}", [event(1), event(2)], signed_at=1),
        two.record("fitnessforce", "d-1", b"{}", [event(1), event(2)], signed_at=1),
    )
    assert sorted(results, key=lambda r: r is None) == [[event(1), event(2)], None]
    assert await two.record("fitnessforce", "d-2", b"{}", [event(2), event(3)]) == [event(3)]
    assert await one.record_found("timetap", [event(3), event(4), event(4)]) == [event(4)]
    assert await one.deliveries("fitnessforce") == 2
    assert await two.unpublished() == [event(1), event(2), event(3), event(4)]
    await one.published([event(1), event(3)])
    assert await two.unpublished() == [event(2), event(4)]
    # Only published events and old deliveries go.
    assert await two.prune(-60) == 4
    assert await one.unpublished() == [event(2), event(4)]
    await one.mark("timetap", {"invoice|1|2": ("abc", {"paid": "1.00"})})
    await two.mark("timetap", {"invoice|1|2": ("def", None), "invoice|1|3": ("x", [1])})
    assert await one.marks("timetap") == {"invoice|1|2": ("def", None), "invoice|1|3": ("x", [1])}


async def test_replicas_starting_together_apply_each_migration_once(open_storage: Open) -> None:
    storages = await asyncio.gather(*(open_storage() for _ in range(4)))
    again = await open_storage()  # a later start finds them applied
    assert {s.kind for s in storages} == {again.kind}


async def test_a_sqlite_replica_waits_for_the_lock_another_holds_while_it_starts(
    tmp_path: Path,
) -> None:
    # Switching a file to WAL fails at once, without SQLite's busy handler, while another
    # connection holds its lock: a replica starting beside one that migrates waits instead.
    path = tmp_path / "state.db"
    holder = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    holder.execute("CREATE TABLE held (x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO held VALUES (1)")
    released = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    released.start()
    storage = SQLiteStorage(str(path))
    try:
        await storage.start()
        assert not released.is_alive()  # it started only once the lock was let go
        assert await storage.poll_marks("timetap") == []
    finally:
        released.join()
        await storage.close()
        holder.close()
