"""The state in SQLite: one process (or the workers of one host sharing the file).

A file survives restarts; ``:memory:`` lives as long as the process. The blocking calls
run on a worker thread, one at a time, so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .base import EventRow, KeyRow

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000  # how long a statement waits for another connection's lock

# Versioned: a version once released is never edited, only followed by another. The
# first creates what earlier releases created without versions, hence IF NOT EXISTS.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
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
            "CREATE INDEX IF NOT EXISTS change_events_unpublished"
            " ON change_events (published, seq)",
            # What a poller saw of each entity last time: a change is another fingerprint.
            """CREATE TABLE IF NOT EXISTS poll_marks (
                source TEXT NOT NULL,
                entity TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                state BLOB,
                PRIMARY KEY (source, entity)
            )""",
        ],
    ),
    (
        2,
        [
            # Who holds a pending key, and until when unless it renews: a key whose
            # holder died is taken over instead of staying pending for ever.
            "ALTER TABLE idempotency ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE idempotency ADD COLUMN lease_until REAL NOT NULL DEFAULT 0",
        ],
    ),
]


class SQLiteStorage:
    """Keys, deliveries, events and poll marks in one SQLite database."""

    kind = "sqlite"

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def start(self) -> None:
        if self._db is None:
            await asyncio.to_thread(self._open)

    def _open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if self.path != ":memory:":
            use_wal(db)  # readers never wait for the writer
            # A delivery's commit is on disk before the webhook is answered.
            db.execute("PRAGMA synchronous=FULL")
        migrate(db)
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.to_thread(db.close)

    async def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            if self._db is None:
                raise RuntimeError("state storage used before start()")
            with self._lock:
                return work(self._db)

        return await asyncio.to_thread(run)

    async def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        return await self._call(run)

    async def _exec(self, sql: str, *args: Any) -> tuple[int, list[tuple[Any, ...]]]:
        def run(db: sqlite3.Connection) -> tuple[int, list[tuple[Any, ...]]]:
            cursor = db.execute(sql, args)
            return cursor.rowcount, cursor.fetchall()

        return await self._call(run)

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
        now = time.time()
        inserted, _ = await self._exec(
            "INSERT INTO idempotency (scope, key, operation, fingerprint, state, result,"
            " created_at, updated_at, owner, lease_until)"
            " VALUES (?, ?, ?, ?, 'pending', NULL, ?, ?, ?, ?)"
            " ON CONFLICT (scope, key) DO NOTHING",
            scope,
            key,
            operation,
            fingerprint,
            now,
            now,
            owner,
            lease_until,
        )
        return inserted == 1

    async def take_over_key(
        self, scope: str, key: str, owner: str, lease_until: float, now: float
    ) -> bool:
        changed, _ = await self._exec(
            "UPDATE idempotency SET owner = ?, lease_until = ?, updated_at = ?"
            " WHERE scope = ? AND key = ? AND state = 'pending' AND lease_until < ?",
            owner,
            lease_until,
            now,
            scope,
            key,
            now,
        )
        return changed == 1

    async def read_key(self, scope: str, key: str) -> KeyRow | None:
        _, rows = await self._exec(
            "SELECT operation, fingerprint, state, result, owner, lease_until FROM idempotency"
            " WHERE scope = ? AND key = ?",
            scope,
            key,
        )
        if not rows:
            return None
        operation, digest, state, result, owner, lease_until = rows[0]
        return KeyRow(operation, digest, state == "done", result, owner, lease_until)

    async def complete_key(self, scope: str, key: str, result: bytes) -> None:
        await self._exec(
            "UPDATE idempotency SET state = 'done', result = ?, updated_at = ?"
            " WHERE scope = ? AND key = ?",
            result,
            time.time(),
            scope,
            key,
        )

    async def release_key(self, scope: str, key: str) -> None:
        await self._exec(
            "DELETE FROM idempotency WHERE scope = ? AND key = ? AND state = 'pending'",
            scope,
            key,
        )

    async def expire_key(self, scope: str, key: str) -> None:
        await self._exec(
            "UPDATE idempotency SET lease_until = 0, owner = ''"
            " WHERE scope = ? AND key = ? AND state = 'pending'",
            scope,
            key,
        )

    async def renew_leases(self, owner: str, lease_until: float) -> None:
        await self._exec(
            "UPDATE idempotency SET lease_until = ? WHERE owner = ? AND state = 'pending'",
            lease_until,
            owner,
        )

    # --- journal ------------------------------------------------------------------

    async def record_delivery(
        self,
        source: str,
        delivery_id: str,
        body: bytes,
        signed_at: int | None,
        events: Sequence[EventRow],
    ) -> list[str] | None:
        now = time.time()

        def run(db: sqlite3.Connection) -> list[str] | None:
            inserted = db.execute(
                "INSERT INTO webhook_deliveries VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (source, delivery_id) DO NOTHING",
                (source, delivery_id, signed_at, now, body),
            ).rowcount
            if inserted != 1:
                return None
            return _insert_events(db, source, delivery_id, events, now)

        return await self._transaction(run)

    async def record_events(self, source: str, events: Sequence[EventRow]) -> list[str]:
        now = time.time()
        return await self._transaction(lambda db: _insert_events(db, source, "poll", events, now))

    async def mark_published(self, ids: Sequence[str]) -> None:
        rows = [(i,) for i in ids]
        await self._call(
            lambda db: db.executemany("UPDATE change_events SET published = 1 WHERE id = ?", rows)
        )

    async def unpublished(self, limit: int) -> list[bytes]:
        _, rows = await self._exec(
            "SELECT event FROM change_events WHERE published = 0 ORDER BY seq LIMIT ?", limit
        )
        return [row[0] for row in rows]

    async def count_deliveries(self, source: str) -> int:
        _, rows = await self._exec(
            "SELECT count(*) FROM webhook_deliveries WHERE source = ?", source
        )
        count: int = rows[0][0]
        return count

    async def prune(self, cutoff: float) -> int:
        def run(db: sqlite3.Connection) -> int:
            gone: int = db.execute(
                "DELETE FROM webhook_deliveries WHERE received_at < ?", (cutoff,)
            ).rowcount
            gone += db.execute(
                "DELETE FROM change_events WHERE published = 1 AND recorded_at < ?", (cutoff,)
            ).rowcount
            return gone

        return await self._call(run)

    async def poll_marks(self, source: str) -> list[tuple[str, str, bytes | None]]:
        _, rows = await self._exec(
            "SELECT entity, fingerprint, state FROM poll_marks WHERE source = ?", source
        )
        return [(entity, digest, state) for entity, digest, state in rows]

    async def set_poll_marks(self, source: str, marks: Sequence[tuple[str, str, bytes]]) -> None:
        rows = [(source, entity, digest, state) for entity, digest, state in marks]
        await self._transaction(
            lambda db: db.executemany(
                "INSERT INTO poll_marks VALUES (?, ?, ?, ?) ON CONFLICT (source, entity)"
                " DO UPDATE SET fingerprint = excluded.fingerprint, state = excluded.state",
                rows,
            )
        )


def _insert_events(
    db: sqlite3.Connection,
    source: str,
    delivery_id: str,
    events: Sequence[EventRow],
    now: float,
) -> list[str]:
    fresh: list[str] = []
    for event in events:
        added = db.execute(
            "INSERT INTO change_events (id, source, delivery_id, event, recorded_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (event.id, source, delivery_id, event.body, now),
        ).rowcount
        if added == 1:
            fresh.append(event.id)
    return fresh


def use_wal(db: sqlite3.Connection) -> None:
    """Switch the file to write-ahead logging, waiting for a replica that holds its lock.

    The switch needs the file to itself, and SQLite answers "database is locked" at once
    instead of calling the busy handler when another connection (a replica starting at
    the same moment, migrating) holds it: so it is retried here, for as long as the busy
    timeout would have waited."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.002
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations this database lacks, in one transaction that holds the
    write lock (BEGIN IMMEDIATE): processes sharing the file apply each once."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        for version, statements in MIGRATIONS:
            if version in applied:
                continue
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
