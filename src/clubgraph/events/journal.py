"""The journal: every webhook delivery and the events it announced, kept durably.

A delivery is recorded, with its events, in one transaction before the webhook is
answered 2xx: a platform that got 2xx may forget the change, and it is not lost. The
delivery's id is the record's key, so a redelivered webhook (the platform retries when
it did not hear 2xx in time) records nothing new; an event's id is unique too, so a
change a poller finds again is recorded once. Events are published after they are
recorded; what was recorded but not yet published when the process stopped is
published at the next start. The journal lives in ``storage`` (SQLite by default; in
PostgreSQL replicas share it, and a webhook redelivered to another replica is a
redelivery there too).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from ..storage import EventRow, SQLiteStorage, Storage
from .model import ChangeEvent


class Journal:
    """Deliveries, events and poll marks, kept in ``storage``."""

    def __init__(self, storage: Storage | str = ":memory:") -> None:
        # A path: a SQLite database of this journal's own, opened and closed with it.
        self._owns = isinstance(storage, str)
        self.storage: Storage = SQLiteStorage(storage) if isinstance(storage, str) else storage

    async def start(self) -> None:
        if self._owns:
            await self.storage.start()

    async def close(self) -> None:
        if self._owns:
            await self.storage.close()

    # --- deliveries ------------------------------------------------------------------

    async def record(
        self,
        source: str,
        delivery_id: str,
        body: bytes,
        events: Sequence[ChangeEvent],
        *,
        signed_at: int | None = None,
    ) -> list[ChangeEvent] | None:
        """Record a delivery and its events; the events recorded now (those not seen
        before), or None when this delivery was recorded already (a redelivery)."""
        fresh = await self.storage.record_delivery(
            source, delivery_id, body, signed_at, _rows(events)
        )
        return None if fresh is None else _chosen(events, fresh)

    async def record_found(self, source: str, events: Sequence[ChangeEvent]) -> list[ChangeEvent]:
        """Record events a poller found (no delivery); those not recorded before."""
        return _chosen(events, await self.storage.record_events(source, _rows(events)))

    async def published(self, events: Sequence[ChangeEvent]) -> None:
        """Mark events as handed to the broker."""
        if events:
            await self.storage.mark_published([e.id for e in events])

    async def unpublished(self, limit: int = 1000) -> list[ChangeEvent]:
        """Events recorded but not yet published (the process stopped in between), oldest
        first."""
        rows = await self.storage.unpublished(limit)
        return [ChangeEvent.from_json(orjson.loads(row)) for row in rows]

    async def deliveries(self, source: str) -> int:
        """How many deliveries of ``source`` are recorded (for tests and operators)."""
        return await self.storage.count_deliveries(source)

    async def prune(self, older_than_s: float) -> int:
        """Forget deliveries and published events older than ``older_than_s`` seconds
        (far longer than any signature's window, so no replay gets through)."""
        return await self.storage.prune(time.time() - older_than_s)

    # --- poll marks ------------------------------------------------------------------

    async def marks(self, source: str) -> dict[str, tuple[str, Any]]:
        """What the poller of ``source`` saw last: entity -> (fingerprint, state)."""
        rows = await self.storage.poll_marks(source)
        return {
            entity: (digest, None if state is None else orjson.loads(state))
            for entity, digest, state in rows
        }

    async def mark(self, source: str, seen: dict[str, tuple[str, Any]]) -> None:
        """Remember what the poller of ``source`` saw now."""
        marks = [(entity, digest, orjson.dumps(state)) for entity, (digest, state) in seen.items()]
        await self.storage.set_poll_marks(source, marks)


def _rows(events: Sequence[ChangeEvent]) -> list[EventRow]:
    return [EventRow(e.id, orjson.dumps(e.to_json())) for e in events]


def _chosen(events: Sequence[ChangeEvent], fresh: list[str]) -> list[ChangeEvent]:
    """The events whose ids the storage recorded now; an id twice in ``events`` once."""
    wanted = set(fresh)
    chosen: list[ChangeEvent] = []
    for event in events:
        if event.id in wanted:
            wanted.discard(event.id)
            chosen.append(event)
    return chosen
