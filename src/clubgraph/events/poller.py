"""Pollers: the sources without webhooks (TimeTap, Tight) are read for changes.

Every ``interval`` seconds a poller reads the newest invoices of each of the source's
lists (and its subscriptions or recurring plans), and compares each with what it saw
the round before (a fingerprint of the fields a change shows in, kept in the journal,
so a restart does not announce everything again). A record not seen before is
created, a different fingerprint updated, and a larger amount paid also a payment
received: the same events webhooks give. The first round only takes note. An event's
id is derived from the record and its fingerprint, so the same change found twice is
recorded once. With Redis, one replica at a time polls (a lease it renews), so that
replicas do not each read the upstreams and announce the same change.

Only the ``DEPTH`` newest records of each list are compared: a change to an older
record shows when it is read, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..connectors.base import (
    Connector,
    InvoiceFilter,
    InvoiceOrder,
    Stream,
    SubscriptionFilter,
)
from ..domain import InvoiceRecord, Key, Money, Source, SubscriptionRecord
from ..errors import for_log
from .hub import EventHub
from .model import Change, ChangeEvent, EventKind

log = logging.getLogger("clubgraph.events")

# The sources that announce nothing themselves.
POLLED = (Source.TIMETAP, Source.TIGHT)
# The newest records of each list a round compares.
DEPTH = 100

# Whether this process may poll a source now (a lease across replicas); None: always.
Lease = Callable[[str, float], Awaitable[bool]]


def _invoice_state(record: InvoiceRecord) -> tuple[str, dict[str, Any]]:
    state = {
        "status": record.status_raw,
        "number": record.number,
        "total": str(record.total.amount),
        "paid": str(record.amount_paid.amount),
        "balance": str(record.balance_due.amount),
        "due": record.due_at.isoformat() if record.due_at else None,
        "lines": None if record.items is None else len(record.items),
    }
    return _fingerprint(state), state


def _subscription_state(record: SubscriptionRecord) -> tuple[str, dict[str, Any]]:
    state = {
        "status": record.status_raw,
        "price": None if record.price is None else str(record.price.amount),
        "start": record.starts_at.isoformat() if record.starts_at else None,
        "end": record.ends_at.isoformat() if record.ends_at else None,
        "next": record.next_billing_at.isoformat() if record.next_billing_at else None,
    }
    return _fingerprint(state), state


def _fingerprint(state: dict[str, Any]) -> str:
    text = repr(sorted(state.items()))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _entity(key: Key) -> str:
    return f"{key.type.value}|{key.tenant}|{key.id}"


class Poller:
    """Finds the changes of one source."""

    def __init__(self, source: Source, connector: Connector, hub: EventHub) -> None:
        self.source = source
        self.connector = connector
        self.hub = hub

    async def _records(self) -> list[InvoiceRecord | SubscriptionRecord]:
        invoice_streams, subscription_streams = await asyncio.gather(
            self.connector.invoice_streams(InvoiceFilter(), InvoiceOrder()),
            self.connector.subscription_streams(SubscriptionFilter()),
        )
        streams: list[Stream[Any]] = [*invoice_streams, *subscription_streams]
        chunks = await asyncio.gather(*(s.fetch(0, DEPTH) for s in streams))
        records: list[InvoiceRecord | SubscriptionRecord] = []
        for chunk in chunks:
            for row in chunk.rows:
                with contextlib.suppress(Exception):  # a drifted row is read when shown
                    record = row.record
                    if isinstance(record, InvoiceRecord | SubscriptionRecord):
                        records.append(record)
        return records

    async def poll(self) -> list[ChangeEvent]:
        """One round: the changes found (recorded and announced)."""
        records = await self._records()
        before = await self.hub.journal.marks(self.source.value)
        first_round = not before
        now = datetime.now(UTC)
        seen: dict[str, tuple[str, Any]] = {}
        events: list[ChangeEvent] = []
        for record in records:
            if isinstance(record, InvoiceRecord):
                fingerprint, state = _invoice_state(record)
                kind = EventKind.INVOICE
            else:
                fingerprint, state = _subscription_state(record)
                kind = EventKind.SUBSCRIPTION
            entity = _entity(record.key)
            seen[entity] = (fingerprint, state)
            previous = before.get(entity)
            if first_round or (previous is not None and previous[0] == fingerprint):
                continue
            change = Change.CREATED if previous is None else Change.UPDATED
            base = f"poll:{self.source.value}:{entity}:{fingerprint}"
            events.append(
                ChangeEvent(base, kind, change, record.key, record.client_key, now, "poll")
            )
            if isinstance(record, InvoiceRecord):
                paid_before = Decimal(previous[1]["paid"]) if previous else Decimal(0)
                received = record.amount_paid.amount - paid_before
                if received > 0:
                    events.append(
                        ChangeEvent(
                            f"{base}:payment",
                            EventKind.PAYMENT,
                            Change.RECEIVED,
                            record.key,
                            record.client_key,
                            now,
                            "poll",
                            Money(received, record.amount_paid.currency),
                        )
                    )
        await self.hub.journal.mark(self.source.value, seen)
        recorded = await self.hub.journal.record_found(self.source.value, events)
        await self.hub.announce(recorded)
        return recorded


class Pollers:
    """A poller per polled source, each on its own schedule."""

    def __init__(
        self,
        connectors: Mapping[Source, Connector],
        hub: EventHub,
        interval_s: float,
        *,
        lease: Lease | None = None,
    ) -> None:
        self.interval_s = interval_s
        self.lease = lease
        self.pollers = {
            source: Poller(source, connector, hub)
            for source, connector in connectors.items()
            if source in POLLED
        }
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self.interval_s <= 0:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(p)) for p in self.pollers.values()]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def poll(self, sources: Sequence[Source] | None = None) -> list[ChangeEvent]:
        """One round of each poller now (tests, operators); the changes found."""
        found: list[ChangeEvent] = []
        for source, poller in self.pollers.items():
            if sources is None or source in sources:
                found += await poller.poll()
        return found

    async def _run(self, poller: Poller) -> None:
        while True:
            try:
                if self.lease is None or await self.lease(poller.source.value, self.interval_s):
                    await poller.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an upstream down now is polled again next round
                log.warning("polling %s failed: %s", poller.source.value, for_log(exc))
            # A little jitter, so that sources and replicas do not all poll at once.
            await asyncio.sleep(self.interval_s * random.uniform(0.9, 1.1))
