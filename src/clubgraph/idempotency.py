"""Idempotency keys: a retried mutation returns the first result and writes nothing twice.

A request claims its key with one atomic insert; the claimant runs the write and
stores its outcome, which every later request with the same key gets back. A key used
again for a different request (another operation or other input) is a conflict. The
keys live in SQLite (a file survives restarts); the blocking calls run on a worker
thread, one at a time, so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import orjson

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS idempotency (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        operation TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        result BLOB,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (scope, key)
    )""",
]


class ClaimState(str, Enum):
    NEW = "NEW"  # this request owns the key: run the write, then complete or release
    DONE = "DONE"  # an earlier request finished: ``result`` is its outcome
    PENDING = "PENDING"  # an earlier request with this key is still running
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

    def __init__(self, path: str = ":memory:", *, wait_seconds: float = 5.0) -> None:
        self._path = path
        self._wait = wait_seconds
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def start(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        if self._path != ":memory:":
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        db.execute("PRAGMA busy_timeout=5000")
        for statement in _SCHEMA:
            db.execute(statement)
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.to_thread(db.close)

    def _run(self, sql: str, args: tuple[Any, ...]) -> tuple[int, list[tuple[Any, ...]]]:
        if self._db is None:
            raise RuntimeError("idempotency store used before start()")
        with self._lock:
            cursor = self._db.execute(sql, args)
            return cursor.rowcount, cursor.fetchall()

    async def _exec(self, sql: str, *args: Any) -> tuple[int, list[tuple[Any, ...]]]:
        return await asyncio.to_thread(self._run, sql, args)

    async def claim(self, scope: str, key: str, operation: str, digest: str) -> Claim:
        """Claim ``key`` for a request, or learn what became of the earlier one.

        A request that finds the key pending waits a little for the first to finish.
        """
        now = time.time()
        inserted, _ = await self._exec(
            "INSERT INTO idempotency VALUES (?, ?, ?, ?, 'pending', NULL, ?, ?)"
            " ON CONFLICT (scope, key) DO NOTHING",
            scope,
            key,
            operation,
            digest,
            now,
            now,
        )
        if inserted == 1:
            return Claim(ClaimState.NEW)
        deadline = time.monotonic() + self._wait
        while True:
            _, rows = await self._exec(
                "SELECT operation, fingerprint, state, result FROM idempotency"
                " WHERE scope = ? AND key = ?",
                scope,
                key,
            )
            if not rows:  # released meanwhile: try to claim it again
                return await self.claim(scope, key, operation, digest)
            stored_operation, stored_digest, state, result = rows[0]
            if (stored_operation, stored_digest) != (operation, digest):
                return Claim(ClaimState.CONFLICT)
            if state == "done":
                return Claim(ClaimState.DONE, orjson.loads(result))
            if time.monotonic() >= deadline:
                return Claim(ClaimState.PENDING)
            await asyncio.sleep(0.05)

    async def complete(self, scope: str, key: str, result: Any) -> None:
        """Store the outcome every later request with ``key`` gets back."""
        await self._exec(
            "UPDATE idempotency SET state = 'done', result = ?, updated_at = ?"
            " WHERE scope = ? AND key = ?",
            orjson.dumps(result),
            time.time(),
            scope,
            key,
        )

    async def release(self, scope: str, key: str) -> None:
        """Give the key up after a failure that wrote nothing: a retry runs afresh."""
        await self._exec(
            "DELETE FROM idempotency WHERE scope = ? AND key = ? AND state = 'pending'",
            scope,
            key,
        )
