"""What the server keeps between requests, behind one small interface.

Mutations' idempotency keys and the webhook journal (deliveries, events, poll marks)
live in SQLite for one process (``sqlite.py``) or in PostgreSQL shared by replicas
(``postgres.py``). Each operation is one atomic step in the database: a claim is an
insert that only one caller wins, a delivery and its events commit together. What
the steps mean (waiting for a claim, decoding events) stays with their users
(``idempotency.py``, ``events/journal.py``); values cross this boundary as bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class StorageError(Exception):
    """The state database could not be opened or migrated."""


@dataclass(frozen=True, slots=True)
class KeyRow:
    """An idempotency key as stored."""

    operation: str
    fingerprint: str
    done: bool
    result: bytes | None
    owner: str
    lease_until: float


@dataclass(frozen=True, slots=True)
class EventRow:
    """An event to record: its unique id and its JSON."""

    id: str
    body: bytes


class Storage(Protocol):
    """The state of one server, or of every replica sharing the database."""

    kind: str  # "sqlite" or "postgres"

    async def start(self) -> None:
        """Connect and apply the migrations not applied yet."""

    async def close(self) -> None: ...

    # --- idempotency keys ---------------------------------------------------------

    async def claim_key(
        self,
        scope: str,
        key: str,
        operation: str,
        fingerprint: str,
        owner: str,
        lease_until: float,
    ) -> bool:
        """Insert ``key`` as pending for ``owner``; False when it exists already."""

    async def take_over_key(
        self, scope: str, key: str, owner: str, lease_until: float, now: float
    ) -> bool:
        """Make a pending key whose lease ended ``owner``'s; False when it is not one."""

    async def read_key(self, scope: str, key: str) -> KeyRow | None: ...

    async def complete_key(self, scope: str, key: str, result: bytes) -> None:
        """Store the outcome of the write ``key`` guarded."""

    async def release_key(self, scope: str, key: str) -> None:
        """Forget a pending key (its write failed and wrote nothing)."""

    async def expire_key(self, scope: str, key: str) -> None:
        """End a pending key's lease now: the next request with it takes it over (still
        in doubt), instead of waiting while this process renews it."""

    async def renew_leases(self, owner: str, lease_until: float) -> None:
        """Extend the leases of every key ``owner`` holds pending (it is alive)."""

    # --- journal ------------------------------------------------------------------

    async def record_delivery(
        self,
        source: str,
        delivery_id: str,
        body: bytes,
        signed_at: int | None,
        events: Sequence[EventRow],
    ) -> list[str] | None:
        """Insert a delivery and its events in one transaction; the ids of the events
        not recorded before, or None when the delivery was recorded already."""

    async def record_events(self, source: str, events: Sequence[EventRow]) -> list[str]:
        """Insert events found without a delivery; the ids not recorded before."""

    async def mark_published(self, ids: Sequence[str]) -> None: ...

    async def unpublished(self, limit: int) -> list[bytes]:
        """Events recorded and not published, oldest first."""

    async def count_deliveries(self, source: str) -> int: ...

    async def prune(self, cutoff: float) -> int:
        """Delete deliveries and published events recorded before ``cutoff``."""

    async def poll_marks(self, source: str) -> list[tuple[str, str, bytes | None]]:
        """(entity, fingerprint, state) of what the poller of ``source`` saw last."""

    async def set_poll_marks(self, source: str, marks: Sequence[tuple[str, str, bytes]]) -> None:
        """Insert or replace (entity, fingerprint, state) marks of ``source``."""
