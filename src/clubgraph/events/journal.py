"""The journal: every webhook delivery and the events it announced, kept durably.

A delivery is recorded, with its events, in one transaction before the webhook is
answered 2xx: a platform that got 2xx may forget the change, and it is not lost. The
delivery's id is the record's key, so a redelivered webhook (the platform retries when
it did not hear 2xx in time) records nothing new; an event's id is unique too, so a
change a poller finds again is recorded once. Events are published after they are
recorded; what was recorded but not yet published when the process stopped is
published at the next start. SQLite (a file survives restarts), with the blocking
calls on a worker thread, one at a time, as the idempotency store does.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from .model import ChangeEvent

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS webhook_deliveries (
        source TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        signed_at INTEGER,
        received_at REAL NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (source, delivery_id)
    )""",
    """CREATE TABLE IF NOT EXISTS change_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        event BLOB NOT NULL,
        recorded_at REAL NOT NULL,
        published INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX IF NOT EXISTS change_events_unpublished ON change_events (published, seq)",
    # What a poller saw of each entity last time: a change is a different fingerprint.
    """CREATE TABLE IF NOT EXISTS poll_marks (
        source TEXT NOT NULL,
        entity TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state BLOB,
        PRIMARY KEY (source, entity)
    )""",
]


class Journal:
    """Deliveries, events and poll marks in one SQLite database."""

    def __init__(self, path: str = ":memory:") -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def start(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        if self._path != ":memory:":
            db.execute("PRAGMA journal_mode=WAL")
            # A commit is on disk before the webhook is answered.
            db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=5000")
        for statement in _SCHEMA:
            db.execute(statement)
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.to_thread(db.close)

    def _database(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("journal used before start()")
        return self._db

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
        return await asyncio.to_thread(self._record, source, delivery_id, body, events, signed_at)

    def _record(
        self,
        source: str,
        delivery_id: str,
        body: bytes,
        events: Sequence[ChangeEvent],
        signed_at: int | None,
    ) -> list[ChangeEvent] | None:
        db = self._database()
        now = time.time()
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                inserted = db.execute(
                    "INSERT INTO webhook_deliveries VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (source, delivery_id) DO NOTHING",
                    (source, delivery_id, signed_at, now, body),
                ).rowcount
                if inserted != 1:
                    db.execute("ROLLBACK")
                    return None
                fresh = self._insert_events(db, source, delivery_id, events, now)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return fresh

    @staticmethod
    def _insert_events(
        db: sqlite3.Connection,
        source: str,
        delivery_id: str,
        events: Sequence[ChangeEvent],
        now: float,
    ) -> list[ChangeEvent]:
        fresh: list[ChangeEvent] = []
        for event in events:
            added = db.execute(
                "INSERT INTO change_events (id, source, delivery_id, event, recorded_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (event.id, source, delivery_id, orjson.dumps(event.to_json()), now),
            ).rowcount
            if added == 1:
                fresh.append(event)
        return fresh

    async def record_found(self, source: str, events: Sequence[ChangeEvent]) -> list[ChangeEvent]:
        """Record events a poller found (no delivery); those not recorded before."""

        def run() -> list[ChangeEvent]:
            db = self._database()
            with self._lock:
                db.execute("BEGIN IMMEDIATE")
                try:
                    fresh = self._insert_events(db, source, "poll", events, time.time())
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            return fresh

        return await asyncio.to_thread(run)

    async def published(self, events: Sequence[ChangeEvent]) -> None:
        """Mark events as handed to the broker."""
        if not events:
            return
        ids = [(e.id,) for e in events]

        def run() -> None:
            with self._lock:
                self._database().executemany(
                    "UPDATE change_events SET published = 1 WHERE id = ?", ids
                )

        await asyncio.to_thread(run)

    async def unpublished(self, limit: int = 1000) -> list[ChangeEvent]:
        """Events recorded but not yet published (the process stopped in between), oldest
        first."""

        def run() -> list[tuple[Any, ...]]:
            with self._lock:
                cursor = self._database().execute(
                    "SELECT event FROM change_events WHERE published = 0 ORDER BY seq LIMIT ?",
                    (limit,),
                )
                return cursor.fetchall()

        rows = await asyncio.to_thread(run)
        return [ChangeEvent.from_json(orjson.loads(row[0])) for row in rows]

    async def deliveries(self, source: str) -> int:
        """How many deliveries of ``source`` are recorded (for tests and operators)."""

        def run() -> int:
            with self._lock:
                cursor = self._database().execute(
                    "SELECT count(*) FROM webhook_deliveries WHERE source = ?", (source,)
                )
                count: int = cursor.fetchone()[0]
                return count

        return await asyncio.to_thread(run)

    async def prune(self, older_than_s: float) -> int:
        """Forget deliveries and published events older than ``older_than_s`` seconds
        (far longer than any signature's window, so no replay gets through)."""
        cutoff = time.time() - older_than_s

        def run() -> int:
            db = self._database()
            with self._lock:
                gone = db.execute(
                    "DELETE FROM webhook_deliveries WHERE received_at < ?", (cutoff,)
                ).rowcount
                gone += db.execute(
                    "DELETE FROM change_events WHERE published = 1 AND recorded_at < ?",
                    (cutoff,),
                ).rowcount
                return gone

        return await asyncio.to_thread(run)

    # --- poll marks ------------------------------------------------------------------

    async def marks(self, source: str) -> dict[str, tuple[str, Any]]:
        """What the poller of ``source`` saw last: entity -> (fingerprint, state)."""

        def run() -> list[tuple[Any, ...]]:
            with self._lock:
                cursor = self._database().execute(
                    "SELECT entity, fingerprint, state FROM poll_marks WHERE source = ?",
                    (source,),
                )
                return cursor.fetchall()

        rows = await asyncio.to_thread(run)
        return {
            entity: (fingerprint, None if state is None else orjson.loads(state))
            for entity, fingerprint, state in rows
        }

    async def mark(self, source: str, seen: dict[str, tuple[str, Any]]) -> None:
        """Remember what the poller of ``source`` saw now."""
        rows = [
            (source, entity, fingerprint, orjson.dumps(state))
            for entity, (fingerprint, state) in seen.items()
        ]

        def run() -> None:
            db = self._database()
            with self._lock:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany(
                        "INSERT INTO poll_marks VALUES (?, ?, ?, ?) ON CONFLICT (source, entity)"
                        " DO UPDATE SET fingerprint = excluded.fingerprint, state = excluded.state",
                        rows,
                    )
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise

        await asyncio.to_thread(run)
