"""Idempotency keys: a retried mutation returns the first result and writes nothing twice.

A request claims its key with one atomic insert (the row is the lock: of replicas
sharing PostgreSQL, exactly one wins); the claimant runs the write and stores its
outcome, which every later request with the same key gets back, on any replica. A key
used again for a different request (another operation or other input) is a conflict.
A claimant holds its key under a lease it renews while it lives: a key whose holder
died before finishing is taken over by the next request with it, instead of staying
pending for ever. That write is in doubt (the dead holder may have sent it): the new
holder looks for it at the source, by the marker every write carries
(``write_marker``), where the source keeps one, and otherwise answers that it is in
doubt rather than write twice. The keys live in ``storage`` (SQLite by default, see
storage/).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson

from .storage import SQLiteStorage, Storage


class ClaimState(str, Enum):
    NEW = "NEW"  # this request owns the key: run the write, then complete or release
    DONE = "DONE"  # an earlier request finished: ``result`` is its outcome
    PENDING = "PENDING"  # an earlier request with this key is still running
    # This request owns a key whose first holder died mid-write: that write may have
    # reached the source. Look for it there before writing (or say it is in doubt).
    IN_DOUBT = "IN_DOUBT"
    CONFLICT = "CONFLICT"  # the key was used for a different request


@dataclass(frozen=True, slots=True)
class Claim:
    state: ClaimState
    result: Any = None


def fingerprint(operation: str, payload: Any) -> str:
    """A digest of what a request asks for, to tell a retry from a different request."""
    canonical = orjson.dumps([operation, payload], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()


class IdempotencyStore:
    """Keys and outcomes of mutations, per caller scope."""

    def __init__(
        self,
        storage: Storage | str = ":memory:",
        *,
        wait_seconds: float = 5.0,
        lease_seconds: float = 15.0,
    ) -> None:
        # A path: a SQLite database of this store's own, opened and closed with it.
        self._owns = isinstance(storage, str)
        self.storage: Storage = SQLiteStorage(storage) if isinstance(storage, str) else storage
        self._wait = wait_seconds
        self._lease = lease_seconds
        self.owner = uuid.uuid4().hex  # this process, as holder of the keys it claims
        self._held = 0
        self._renewer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._owns:
            await self.storage.start()
        self._renewer = asyncio.create_task(self._renew())

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        if self._owns:
            await self.storage.close()

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            if self._held:
                try:
                    await self.storage.renew_leases(self.owner, time.time() + self._lease)
                except Exception:  # the next round tries again
                    continue

    async def claim(self, scope: str, key: str, operation: str, digest: str) -> Claim:
        """Claim ``key`` for a request, or learn what became of the earlier one.

        A request that finds the key pending waits a little for the first to finish.
        """
        storage = self.storage
        if await storage.claim_key(
            scope, key, operation, digest, self.owner, time.time() + self._lease
        ):
            self._held += 1
            return Claim(ClaimState.NEW)
        deadline = time.monotonic() + self._wait
        while True:
            row = await storage.read_key(scope, key)
            if row is None:  # released meanwhile: try to claim it again
                return await self.claim(scope, key, operation, digest)
            if (row.operation, row.fingerprint) != (operation, digest):
                return Claim(ClaimState.CONFLICT)
            if row.done:
                return Claim(ClaimState.DONE, orjson.loads(row.result or b"null"))
            now = time.time()
            # Its holder stopped renewing (it died mid-write): this request runs it.
            if row.lease_until < now and await storage.take_over_key(
                scope, key, self.owner, now + self._lease, now
            ):
                self._held += 1
                return Claim(ClaimState.IN_DOUBT)
            if time.monotonic() >= deadline:
                return Claim(ClaimState.PENDING)
            await asyncio.sleep(0.05)

    async def complete(self, scope: str, key: str, result: Any) -> None:
        """Store the outcome every later request with ``key`` gets back."""
        self._held -= 1
        await self.storage.complete_key(scope, key, orjson.dumps(result))

    async def reopen(self, scope: str, key: str) -> None:
        """Give up an in-doubt key without settling it: the next request with it takes
        it over and looks again (a failed look must not become an answer)."""
        self._held -= 1
        await self.storage.expire_key(scope, key)

    async def release(self, scope: str, key: str) -> None:
        """Give the key up after a failure that wrote nothing: a retry runs afresh."""
        self._held -= 1
        await self.storage.release_key(scope, key)


# The marker of the write being run now, for the connector to leave at the source.
current_write_marker: ContextVar[str | None] = ContextVar("clubgraph_write_marker", default=None)


def write_marker(scope: str, key: str) -> str:
    """The mark a write guarded by ``key`` leaves at the source, where the source has a
    field for the partner's own id (Tight's ``apiInvoiceId``): how a write whose holder
    died is found again. It names the key without revealing it."""
    return "cg-" + hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()[:29]
