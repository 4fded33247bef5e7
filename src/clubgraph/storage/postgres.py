"""The state in PostgreSQL, shared by every replica (asyncpg, a small pool).

Each operation is one statement or one transaction, and every guarantee is the
database's: a claim is an insert that a primary key lets only one replica win, a
redelivered webhook collides with the delivery's primary key wherever it lands.
Migrations run at start under a transaction-scoped advisory lock, so replicas that
start together apply each version once, in order, and wait for each other.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import asyncpg

from .base import EventRow, KeyRow, StorageError

# Any constant: the advisory lock every clubgraph replica takes to migrate.
MIGRATION_LOCK = 0x636C756267726170  # "clubgrap"

# Versioned: a version once released is never edited, only followed by another.
MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE idempotency (
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                operation TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                state TEXT NOT NULL,
                result BYTEA,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                owner TEXT NOT NULL,
                lease_until DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (scope, key)
            )""",
            """CREATE TABLE webhook_deliveries (
                source TEXT NOT NULL,
                delivery_id TEXT NOT NULL,
                signed_at BIGINT,
                received_at DOUBLE PRECISION NOT NULL,
                body BYTEA NOT NULL,
                PRIMARY KEY (source, delivery_id)
            )""",
            """CREATE TABLE change_events (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                source TEXT NOT NULL,
                delivery_id TEXT NOT NULL,
                event BYTEA NOT NULL,
                recorded_at DOUBLE PRECISION NOT NULL,
                published BOOLEAN NOT NULL DEFAULT FALSE
            )""",
            "CREATE INDEX change_events_unpublished ON change_events (seq) WHERE NOT published",
            """CREATE TABLE poll_marks (
                source TEXT NOT NULL,
                entity TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                state BYTEA,
                PRIMARY KEY (source, entity)
            )""",
        ],
    ),
]


class PostgresStorage:
    """Keys, deliveries, events and poll marks in one PostgreSQL database."""

    kind = "postgres"

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        if self._pool is not None:
            return
        try:
            pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=self._pool_size, command_timeout=30
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise StorageError(f"cannot connect to the state database: {exc}") from exc
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("state storage used before start()")
        return self._pool

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
        status = await self.pool.execute(
            "INSERT INTO idempotency (scope, key, operation, fingerprint, state, result,"
            " created_at, updated_at, owner, lease_until)"
            " VALUES ($1, $2, $3, $4, 'pending', NULL, $5, $5, $6, $7)"
            " ON CONFLICT (scope, key) DO NOTHING",
            scope,
            key,
            operation,
            fingerprint,
            now,
            owner,
            lease_until,
        )
        return bool(status == "INSERT 0 1")

    async def take_over_key(
        self, scope: str, key: str, owner: str, lease_until: float, now: float
    ) -> bool:
        status = await self.pool.execute(
            "UPDATE idempotency SET owner = $1, lease_until = $2, updated_at = $3"
            " WHERE scope = $4 AND key = $5 AND state = 'pending' AND lease_until < $3",
            owner,
            lease_until,
            now,
            scope,
            key,
        )
        return bool(status == "UPDATE 1")

    async def read_key(self, scope: str, key: str) -> KeyRow | None:
        row = await self.pool.fetchrow(
            "SELECT operation, fingerprint, state, result, owner, lease_until FROM idempotency"
            " WHERE scope = $1 AND key = $2",
            scope,
            key,
        )
        if row is None:
            return None
        return KeyRow(
            row["operation"],
            row["fingerprint"],
            row["state"] == "done",
            row["result"],
            row["owner"],
            row["lease_until"],
        )

    async def complete_key(self, scope: str, key: str, result: bytes) -> None:
        await self.pool.execute(
            "UPDATE idempotency SET state = 'done', result = $1, updated_at = $2"
            " WHERE scope = $3 AND key = $4",
            result,
            time.time(),
            scope,
            key,
        )

    async def release_key(self, scope: str, key: str) -> None:
        await self.pool.execute(
            "DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'pending'",
            scope,
            key,
        )

    async def expire_key(self, scope: str, key: str) -> None:
        await self.pool.execute(
            "UPDATE idempotency SET lease_until = 0, owner = ''"
            " WHERE scope = $1 AND key = $2 AND state = 'pending'",
            scope,
            key,
        )

    async def renew_leases(self, owner: str, lease_until: float) -> None:
        await self.pool.execute(
            "UPDATE idempotency SET lease_until = $1 WHERE owner = $2 AND state = 'pending'",
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
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "INSERT INTO webhook_deliveries VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (source, delivery_id) DO NOTHING",
                source,
                delivery_id,
                signed_at,
                now,
                body,
            )
            if status != "INSERT 0 1":
                return None
            return await _insert_events(conn, source, delivery_id, events, now)

    async def record_events(self, source: str, events: Sequence[EventRow]) -> list[str]:
        async with self.pool.acquire() as conn, conn.transaction():
            return await _insert_events(conn, source, "poll", events, time.time())

    async def mark_published(self, ids: Sequence[str]) -> None:
        await self.pool.execute(
            "UPDATE change_events SET published = TRUE WHERE id = ANY($1::text[])", list(ids)
        )

    async def unpublished(self, limit: int) -> list[bytes]:
        rows = await self.pool.fetch(
            "SELECT event FROM change_events WHERE NOT published ORDER BY seq LIMIT $1", limit
        )
        return [row["event"] for row in rows]

    async def count_deliveries(self, source: str) -> int:
        count = await self.pool.fetchval(
            "SELECT count(*) FROM webhook_deliveries WHERE source = $1", source
        )
        return int(count)

    async def prune(self, cutoff: float) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            deliveries = await conn.execute(
                "DELETE FROM webhook_deliveries WHERE received_at < $1", cutoff
            )
            events = await conn.execute(
                "DELETE FROM change_events WHERE published AND recorded_at < $1", cutoff
            )
        return _count(deliveries) + _count(events)

    async def poll_marks(self, source: str) -> list[tuple[str, str, bytes | None]]:
        rows = await self.pool.fetch(
            "SELECT entity, fingerprint, state FROM poll_marks WHERE source = $1", source
        )
        return [(row["entity"], row["fingerprint"], row["state"]) for row in rows]

    async def set_poll_marks(self, source: str, marks: Sequence[tuple[str, str, bytes]]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO poll_marks VALUES ($1, $2, $3, $4) ON CONFLICT (source, entity)"
                " DO UPDATE SET fingerprint = excluded.fingerprint, state = excluded.state",
                [(source, entity, digest, state) for entity, digest, state in marks],
            )


async def _insert_events(
    conn: asyncpg.Connection,
    source: str,
    delivery_id: str,
    events: Sequence[EventRow],
    now: float,
) -> list[str]:
    fresh: list[str] = []
    for event in events:
        added = await conn.fetchval(
            "INSERT INTO change_events (id, source, delivery_id, event, recorded_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING id",
            event.id,
            source,
            delivery_id,
            event.body,
            now,
        )
        if added is not None:
            fresh.append(event.id)
    return fresh


def _count(status: str) -> int:
    """The row count of a command status ("DELETE 3")."""
    return int(status.rpartition(" ")[2] or 0)


async def migrate(conn: asyncpg.Connection) -> None:
    """Apply the migrations this database lacks, in one transaction holding the
    migration lock: replicas starting together wait, and find them applied."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, statements in MIGRATIONS:
            if version in applied:
                continue
            for statement in statements:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
