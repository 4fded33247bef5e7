"""The journal records each delivery once and keeps what was not published; the broker
delivers in order, never waits for a slow subscriber, and spans processes over Redis."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

import services
from clubgraph.domain import EntityType, Key, Money, Source
from clubgraph.events.broker import Broker, FellBehind, RedisBroker
from clubgraph.events.journal import Journal
from clubgraph.events.model import Change, ChangeEvent, EventKind

INVOICE = Key(EntityType.INVOICE, Source.FITNESSFORCE, "101", "7/9001")
CLIENT = Key(EntityType.CLIENT, Source.FITNESSFORCE, "101", "7")


def event(n: int, kind: EventKind = EventKind.INVOICE) -> ChangeEvent:
    return ChangeEvent(
        id=f"test:{n}",
        kind=kind,
        change=Change.UPDATED if kind is EventKind.INVOICE else Change.RECEIVED,
        key=INVOICE,
        client_key=CLIENT,
        occurred_at=datetime(2026, 12, 1, 9, 30, n % 60, tzinfo=UTC),
        raw="invoice.updated",
        amount=Money(Decimal("12.50"), "EUR") if kind is EventKind.PAYMENT else None,
    )


def test_an_event_round_trips_through_json_exactly() -> None:
    for original in (event(1), event(2, EventKind.PAYMENT)):
        again = ChangeEvent.from_json(original.to_json())
        assert again == original
        if again.amount is not None:
            assert str(again.amount.amount) == "12.50"
    with pytest.raises(ValueError, match="offset"):
        ChangeEvent.from_json({**event(1).to_json(), "at": "2026-12-01T09:30:00"})


async def test_a_delivery_is_recorded_once_and_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite3")
    journal = Journal(path)
    await journal.start()
    first = await journal.record("fitnessforce", "d-1", b"{}", [event(1)], signed_at=1)
    assert first == [event(1)]
    # The same delivery again (a redelivery): nothing new.
    assert await journal.record("fitnessforce", "d-1", b"{}", [event(1)]) is None
    # Another delivery announcing an event recorded already: the delivery, not the event.
    assert await journal.record("fitnessforce", "d-2", b"{}", [event(1), event(2)]) == [event(2)]
    assert await journal.deliveries("fitnessforce") == 2
    await journal.published([event(1)])
    await journal.close()

    # The process stopped before event 2 was published: the next start finds it.
    again = Journal(path)
    await again.start()
    assert await again.unpublished() == [event(2)]
    assert await again.record("fitnessforce", "d-2", b"{}", [event(2)]) is None
    assert await again.record_found("timetap", [event(3), event(3)]) == [event(3)]
    await again.mark("timetap", {"invoice|1|2": ("abc", {"paid": "1.00"})})
    assert await again.marks("timetap") == {"invoice|1|2": ("abc", {"paid": "1.00"})}
    await again.close()


async def test_events_arrive_in_order_and_a_slow_subscriber_holds_up_no_one() -> None:
    broker = Broker(inbox_size=8)
    fast, slow = broker.open(), broker.open()
    received: list[str] = []

    async def read() -> None:
        while len(received) < 50:
            received.append((await fast.next()).id)

    reader = asyncio.create_task(read())
    for n in range(50):
        await broker.publish([event(n)])  # never waits for ``slow``
        await asyncio.sleep(0.001)
    await asyncio.wait_for(reader, 5)
    assert received == [f"test:{n}" for n in range(50)]
    # The slow one overflowed: it is told, and stops, instead of missing events silently.
    with pytest.raises(FellBehind, match="fell behind"):
        await slow.next()
    slow.close()
    fast.close()
    assert broker.subscribers == 0


async def test_over_redis_an_event_published_in_one_process_reaches_another() -> None:
    url = services.redis_url()
    channel = f"clubgraph-test-{uuid.uuid4().hex[:12]}:v1:events"
    one, two = RedisBroker(url, channel=channel), RedisBroker(url, channel=channel)
    await one.start()
    await two.start()
    try:
        assert one.available
        assert two.available
        here, there = one.open(), two.open()
        await one.publish([event(1), event(2, EventKind.PAYMENT)])
        got_there = [await asyncio.wait_for(there.next(), 5) for _ in range(2)]
        got_here = [await asyncio.wait_for(here.next(), 5) for _ in range(2)]
        assert got_there == got_here == [event(1), event(2, EventKind.PAYMENT)]
    finally:
        await one.close()
        await two.close()


async def test_without_redis_events_still_reach_this_process() -> None:
    # Nothing listens on this port: the broker says so and delivers locally.
    broker = RedisBroker(f"redis://127.0.0.1:{services.free_port()}/0", retry_s=0.2)
    await broker.start()
    try:
        assert not broker.available
        inbox = broker.open()
        await broker.publish([event(1)])
        assert await asyncio.wait_for(inbox.next(), 2) == event(1)
    finally:
        await broker.close()


async def test_one_replica_at_a_time_holds_the_polling_lease() -> None:
    url = services.redis_url()
    channel = f"clubgraph-test-{uuid.uuid4().hex[:12]}:v1:events"
    one, two = RedisBroker(url, channel=channel), RedisBroker(url, channel=channel)
    await one.start()
    await two.start()
    try:
        assert await one.lease("timetap", 0.5)
        assert not await two.lease("timetap", 0.5)
        assert await one.lease("timetap", 0.5)  # renewed by its holder
        assert await two.lease("tight", 0.5)  # another source's lease is another's
        await asyncio.sleep(1.7)  # the holder stopped renewing (3 x 0.5 s)
        assert await two.lease("timetap", 0.5)
        assert not await one.lease("timetap", 0.5)
    finally:
        await one.close()
        await two.close()
