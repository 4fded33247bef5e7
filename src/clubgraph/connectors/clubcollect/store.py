"""The invoice index on disk: SQLite tables that lists are sorted and filtered in.

One file holds every company the partner key reaches, keyed by company id. All
database work runs on one dedicated thread, in submission order, so the event loop
never blocks on SQLite and a write is visible to every read submitted after it.
The file is only valid for the upstream it was built from: opened for another base
URL, it starts empty. Each invoice keeps its raw JSON, so that a later schema can
derive new columns without crawling again.

``IndexBackend`` is what the index uses of a store; ``pgstore.py`` is the same store
in PostgreSQL, shared by replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

from ...domain import ClientRecord, InvoiceRecord, Key
from ..base import (
    ClientFilter,
    InvoiceFilter,
    InvoiceSortField,
    SortDirection,
    normalize_email,
)
from .mapping import invoice_key, map_client
from .types import CompanyJSON, CustomerJSON

log = logging.getLogger("clubgraph.clubcollect")

T = TypeVar("T")
MEMORY = ":memory:"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

# Schema migrations, applied in order; ``schema_version`` records how many ran.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE companies (
        company_id TEXT PRIMARY KEY,
        raw BLOB NOT NULL,
        crawled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE imports (import_id TEXT PRIMARY KEY, company_id TEXT NOT NULL);
    CREATE TABLE invoices (
        company_id TEXT NOT NULL,
        invoice_id TEXT NOT NULL,
        import_id TEXT,
        client_id TEXT NOT NULL,
        status TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        due_at INTEGER,
        due_sort INTEGER NOT NULL,
        total INTEGER NOT NULL,
        balance INTEGER NOT NULL,
        number TEXT NOT NULL,
        customer BLOB NOT NULL,
        raw BLOB NOT NULL,
        PRIMARY KEY (company_id, invoice_id)
    );
    CREATE INDEX invoices_id ON invoices (invoice_id);
    CREATE INDEX invoices_import ON invoices (import_id);
    CREATE INDEX invoices_client ON invoices (company_id, client_id, issued_at);
    CREATE INDEX invoices_issued ON invoices (company_id, issued_at, invoice_id);
    CREATE INDEX invoices_due ON invoices (company_id, due_sort, invoice_id);
    CREATE INDEX invoices_total ON invoices (company_id, total, invoice_id);
    CREATE INDEX invoices_number ON invoices (company_id, number, invoice_id);
    CREATE TABLE clients (
        company_id TEXT NOT NULL,
        client_id TEXT NOT NULL,
        name_key TEXT NOT NULL,
        email_fold TEXT NOT NULL,
        email_norm TEXT,
        customer BLOB NOT NULL,
        PRIMARY KEY (company_id, client_id)
    );
    CREATE INDEX clients_name ON clients (company_id, name_key, client_id);
    """,
)

# Sort columns by field: fixed names, so no caller text reaches the SQL.
_SORT_COLUMNS: Mapping[InvoiceSortField, str] = {
    InvoiceSortField.ISSUED_AT: "issued_at",
    InvoiceSortField.DUE_AT: "due_sort",
    InvoiceSortField.TOTAL: "total",
    InvoiceSortField.NUMBER: "number",
}


def micros(moment: datetime) -> int:
    """An aware instant as integer microseconds since the epoch (exact, sortable)."""
    return (moment - _EPOCH) // _MICRO


def instant(value: int) -> datetime:
    return _EPOCH + value * _MICRO


@dataclass(frozen=True, slots=True)
class StoredCompany:
    raw: CompanyJSON
    crawled: bool


@dataclass(frozen=True, slots=True)
class Counts:
    invoices: int
    clients: int


def _invoice_row(record: InvoiceRecord) -> tuple[Any, ...]:
    if record.client_key is None:
        raise ValueError(f"invoice {record.key.id} has no customer")
    due = micros(record.due_at) if record.due_at is not None else None
    issued = micros(record.issued_at)
    return (
        record.key.tenant,
        record.key.id,
        record.raw.get("import_id"),
        record.client_key.id,
        record.status.value,
        issued,
        due,
        due if due is not None else issued,
        record.total.minor,
        record.balance_due.minor,
        record.number or "",
        orjson.dumps(record.raw.get("customer") or {}),
        orjson.dumps(record.raw),
    )


def _client_row(company: str, client_id: str, customer: bytes) -> tuple[Any, ...]:
    client = map_client(orjson.loads(customer), company, client_id)
    return (
        company,
        client_id,
        client.display_name.casefold(),
        (client.email or "").casefold(),
        normalize_email(client.email),
        customer,
    )


class IndexBackend(Protocol):
    """What the index uses of its store. Writes are queued (``put_invoice``,
    ``delete_invoice``, ``remember_import`` return at once) and every call made after
    one sees it."""

    kind: str  # "sqlite" or "postgres"

    async def close(self) -> None: ...

    def crawl_lock(self) -> AbstractAsyncContextManager[None]:
        """Held while crawling: one crawler at a time among those sharing the store."""

    async def load_companies(self) -> dict[str, StoredCompany]: ...

    async def save_companies(self, companies: Sequence[CompanyJSON], prune: bool) -> None: ...

    async def replace_company(
        self, company: str, records: Sequence[InvoiceRecord], import_ids: Sequence[str]
    ) -> None: ...

    def put_invoice(self, record: InvoiceRecord) -> None: ...

    def delete_invoice(self, key: Key) -> None: ...

    def remember_import(self, import_id: str, company: str) -> None: ...

    async def settled(self) -> None:
        """Return once the writes queued so far are in the database."""

    async def invoice_page(
        self,
        company: str,
        flt: InvoiceFilter,
        field: InvoiceSortField,
        direction: SortDirection,
        start: int,
        count: int,
    ) -> tuple[list[tuple[str, Any]], int]: ...

    async def client_page(
        self, company: str, flt: ClientFilter, direction: SortDirection, start: int, count: int
    ) -> tuple[list[ClientRecord], int]: ...

    async def clients_by_key(self, keys: Sequence[Key]) -> list[ClientRecord | None]: ...

    async def client_invoice_keys(self, keys: Sequence[Key]) -> list[list[Key]]: ...

    async def company_of(self, invoice_id: str | None, import_id: str | None) -> str | None: ...

    async def stored_invoices(self, invoice_id: str) -> list[tuple[str, Any]]: ...

    async def invoice_keys_of_import(self, import_id: str) -> list[Key]: ...

    async def invoice_keys_by_id(self, invoice_ids: Sequence[str]) -> list[Key]: ...

    async def counts(self) -> dict[str, Counts]: ...


class IndexStore:
    """SQLite access on one worker thread; the connection opens on first use."""

    kind = "sqlite"

    def __init__(self, path: str, upstream: str) -> None:
        self.path = path
        self.upstream = upstream
        self._conn: sqlite3.Connection | None = None
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="clubcollect-index")

    # --- running work on the worker ------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._worker.submit(self._call, fn, *args))

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue a write without waiting; later reads still see it (one thread, FIFO)."""
        self._worker.submit(self._call, fn, *args).add_done_callback(_log_failure)

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(self._db(), *args)

    async def close(self) -> None:
        def shut(_: sqlite3.Connection) -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._conn is not None:
            await self.run(shut)
        await asyncio.to_thread(self._worker.shutdown, wait=True)

    # --- the backend's operations (the functions below, on the worker) --------------

    def crawl_lock(self) -> AbstractAsyncContextManager[None]:
        # One process uses the file: its index crawls one build at a time already.
        return contextlib.nullcontext()

    async def load_companies(self) -> dict[str, StoredCompany]:
        return await self.run(load_companies)

    async def save_companies(self, companies: Sequence[CompanyJSON], prune: bool) -> None:
        await self.run(save_companies, companies, prune)

    async def replace_company(
        self, company: str, records: Sequence[InvoiceRecord], import_ids: Sequence[str]
    ) -> None:
        await self.run(replace_company, company, records, import_ids)

    def put_invoice(self, record: InvoiceRecord) -> None:
        self.submit(put_invoice, record)

    def delete_invoice(self, key: Key) -> None:
        self.submit(delete_invoice, key)

    def remember_import(self, import_id: str, company: str) -> None:
        self.submit(remember_import, import_id, company)

    async def settled(self) -> None:
        # Only this process reads the file, and its reads queue behind its writes.
        return

    async def invoice_page(
        self,
        company: str,
        flt: InvoiceFilter,
        field: InvoiceSortField,
        direction: SortDirection,
        start: int,
        count: int,
    ) -> tuple[list[tuple[str, Any]], int]:
        return await self.run(invoice_page, company, flt, field, direction, start, count)

    async def client_page(
        self, company: str, flt: ClientFilter, direction: SortDirection, start: int, count: int
    ) -> tuple[list[ClientRecord], int]:
        return await self.run(client_page, company, flt, direction, start, count)

    async def clients_by_key(self, keys: Sequence[Key]) -> list[ClientRecord | None]:
        return await self.run(clients_by_key, keys)

    async def client_invoice_keys(self, keys: Sequence[Key]) -> list[list[Key]]:
        return await self.run(client_invoice_keys, keys)

    async def company_of(self, invoice_id: str | None, import_id: str | None) -> str | None:
        return await self.run(company_of, invoice_id, import_id)

    async def stored_invoices(self, invoice_id: str) -> list[tuple[str, Any]]:
        return await self.run(stored_invoices, invoice_id)

    async def invoice_keys_of_import(self, import_id: str) -> list[Key]:
        return await self.run(invoice_keys_of_import, import_id)

    async def invoice_keys_by_id(self, invoice_ids: Sequence[str]) -> list[Key]:
        return await self.run(invoice_keys_by_id, invoice_ids)

    async def counts(self) -> dict[str, Counts]:
        return await self.run(counts)

    # --- opening and migrating -----------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.path != MEMORY:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5.0)
            if self.path != MEMORY:
                conn.execute("PRAGMA journal_mode=WAL")
                # WAL with NORMAL keeps commits cheap; a lost last write is re-fetched
                # on the invoice's next read or notification.
                conn.execute("PRAGMA synchronous=NORMAL")
            migrate(conn)
            _claim(conn, self.upstream)
            self._conn = conn
        return self._conn


def _log_failure(done: Future[Any]) -> None:
    exc = done.exception()
    if exc is not None:
        log.error("clubcollect index write failed", exc_info=exc)


def schema_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the file to the current schema (a file from a newer schema starts over)."""
    version = schema_version(conn)
    if version > len(MIGRATIONS):
        # The index is a cache of the upstream: rebuilding beats guessing a layout.
        tables = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        with conn:
            for (name,) in tables:
                conn.execute(f'DROP TABLE "{name}"')
        version = schema_version(conn)
    for number in range(version, len(MIGRATIONS)):
        conn.executescript(
            "BEGIN;"
            + MIGRATIONS[number]
            + f";INSERT INTO schema_version (version) VALUES ({number + 1}); COMMIT;"
        )


def _claim(conn: sqlite3.Connection, upstream: str) -> None:
    """Empty the index when it was built from another upstream."""
    row = conn.execute("SELECT value FROM meta WHERE name = 'upstream'").fetchone()
    if row is not None and row[0] == upstream:
        return
    with conn:
        for table in ("invoices", "clients", "imports", "companies"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('upstream', ?)", (upstream,))


# --- companies -----------------------------------------------------------------------


def load_companies(conn: sqlite3.Connection) -> dict[str, StoredCompany]:
    rows = conn.execute("SELECT company_id, raw, crawled FROM companies ORDER BY rowid")
    return {cid: StoredCompany(orjson.loads(raw), bool(crawled)) for cid, raw, crawled in rows}


def save_companies(conn: sqlite3.Connection, companies: Sequence[CompanyJSON], prune: bool) -> None:
    """Store the companies' details (keeping what was crawled); ``prune`` drops others."""
    with conn:
        for raw in companies:
            conn.execute(
                "INSERT INTO companies (company_id, raw) VALUES (?, ?) "
                "ON CONFLICT (company_id) DO UPDATE SET raw = excluded.raw",
                (raw["company_id"], orjson.dumps(raw)),
            )
        if prune:
            keep = {c["company_id"] for c in companies}
            gone = [c for c in load_companies(conn) if c not in keep]
            for company in gone:
                for table in ("invoices", "clients", "imports", "companies"):
                    conn.execute(f"DELETE FROM {table} WHERE company_id = ?", (company,))


# --- writes --------------------------------------------------------------------------


def replace_company(
    conn: sqlite3.Connection,
    company: str,
    records: Sequence[InvoiceRecord],
    import_ids: Iterable[str],
) -> None:
    """A company's crawl result replaces what the index held for it, at once."""
    with conn:
        for table in ("invoices", "clients", "imports"):
            conn.execute(f"DELETE FROM {table} WHERE company_id = ?", (company,))
        conn.executemany(
            "INSERT OR IGNORE INTO imports VALUES (?, ?)", [(i, company) for i in import_ids]
        )
        conn.executemany(
            "INSERT OR REPLACE INTO invoices VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [_invoice_row(r) for r in records],
        )
        # Each client as its newest invoice names it (later rows win ties: crawl order).
        newest = conn.execute(
            "SELECT client_id, customer FROM ("
            " SELECT client_id, customer, ROW_NUMBER() OVER ("
            "  PARTITION BY client_id ORDER BY issued_at DESC, rowid DESC) AS n"
            " FROM invoices WHERE company_id = ?) WHERE n = 1",
            (company,),
        ).fetchall()
        conn.executemany(
            "INSERT INTO clients VALUES (?,?,?,?,?,?)",
            [_client_row(company, cid, customer) for cid, customer in newest],
        )
        conn.execute("UPDATE companies SET crawled = 1 WHERE company_id = ?", (company,))


def put_invoice(conn: sqlite3.Connection, record: InvoiceRecord) -> None:
    """Insert or update one invoice and the client it names."""
    row = _invoice_row(record)
    company, invoice_id = row[0], row[1]
    old = conn.execute(
        "SELECT client_id, raw FROM invoices WHERE company_id = ? AND invoice_id = ?",
        (company, invoice_id),
    ).fetchone()
    if old is not None and old[1] == row[-1]:
        return
    with conn:
        conn.execute("INSERT OR REPLACE INTO invoices VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
        if row[2]:
            conn.execute("INSERT OR IGNORE INTO imports VALUES (?, ?)", (row[2], company))
        _refresh_clients(conn, company, {row[3], *([old[0]] if old else [])})


def delete_invoice(conn: sqlite3.Connection, key: Key) -> None:
    old = conn.execute(
        "SELECT client_id FROM invoices WHERE company_id = ? AND invoice_id = ?",
        (key.tenant, key.id),
    ).fetchone()
    if old is None:
        return
    with conn:
        conn.execute(
            "DELETE FROM invoices WHERE company_id = ? AND invoice_id = ?", (key.tenant, key.id)
        )
        _refresh_clients(conn, key.tenant, {old[0]})


def remember_import(conn: sqlite3.Connection, import_id: str, company: str) -> None:
    with conn:
        conn.execute("INSERT OR REPLACE INTO imports VALUES (?, ?)", (import_id, company))


def _refresh_clients(conn: sqlite3.Connection, company: str, client_ids: Iterable[str]) -> None:
    for cid in client_ids:
        newest = conn.execute(
            "SELECT customer FROM invoices WHERE company_id = ? AND client_id = ? "
            "ORDER BY issued_at DESC, rowid DESC LIMIT 1",
            (company, cid),
        ).fetchone()
        if newest is None:
            conn.execute(
                "DELETE FROM clients WHERE company_id = ? AND client_id = ?", (company, cid)
            )
        else:
            conn.execute(
                "INSERT OR REPLACE INTO clients VALUES (?,?,?,?,?,?)",
                _client_row(company, cid, newest[0]),
            )


# --- reads ---------------------------------------------------------------------------


def _invoice_where(company: str, flt: InvoiceFilter) -> tuple[str, list[Any]]:
    """The SQL form of ``invoice_matches`` (the tests hold the two to the same rows)."""
    clauses: list[str] = ["company_id = ?"]
    args: list[Any] = [company]
    if flt.statuses:
        statuses = sorted(s.value for s in flt.statuses)
        clauses.append(f"status IN ({','.join('?' * len(statuses))})")
        args += statuses
    for column, start, until in (
        ("issued_at", flt.issued_from, flt.issued_until),
        ("due_at", flt.due_from, flt.due_until),
    ):
        if start is None and until is None:
            continue
        # A missing date is outside any range.
        clauses.append(f"{column} IS NOT NULL")
        if start is not None:
            clauses.append(f"{column} >= ?")
            args.append(micros(start))
        if until is not None:
            clauses.append(f"{column} < ?")
            args.append(micros(until))
    if flt.with_balance_due:
        clauses.append("balance > 0")
    return " AND ".join(clauses), args


def invoice_page(
    conn: sqlite3.Connection,
    company: str,
    flt: InvoiceFilter,
    field: InvoiceSortField,
    direction: SortDirection,
    start: int,
    count: int,
) -> tuple[list[tuple[str, Any]], int]:
    """(invoice id, raw sort column) of a slice of the filtered, ordered list; its size."""
    where, args = _invoice_where(company, flt)
    column = _SORT_COLUMNS[field]
    way = "DESC" if direction is SortDirection.DESC else "ASC"
    rows = conn.execute(
        f"SELECT invoice_id, {column} FROM invoices WHERE {where} "
        f"ORDER BY {column} {way}, invoice_id {way} LIMIT ? OFFSET ?",
        [*args, count, start],
    ).fetchall()
    (total,) = conn.execute(f"SELECT COUNT(*) FROM invoices WHERE {where}", args).fetchone()
    return [(r[0], r[1]) for r in rows], int(total)


def _client_where(company: str, flt: ClientFilter) -> tuple[str, list[Any]]:
    """The SQL form of ``client_matches``."""
    clauses: list[str] = ["company_id = ?"]
    args: list[Any] = [company]
    if flt.email is not None:
        clauses.append("email_norm IS ?")
        args.append(normalize_email(flt.email))
    needle = flt.search.strip().casefold() if flt.search else ""
    if needle:
        clauses.append("(instr(name_key, ?) > 0 OR instr(email_fold, ?) > 0)")
        args += [needle, needle]
    return " AND ".join(clauses), args


def client_page(
    conn: sqlite3.Connection,
    company: str,
    flt: ClientFilter,
    direction: SortDirection,
    start: int,
    count: int,
) -> tuple[list[ClientRecord], int]:
    where, args = _client_where(company, flt)
    way = "DESC" if direction is SortDirection.DESC else "ASC"
    rows = conn.execute(
        f"SELECT client_id, customer FROM clients WHERE {where} "
        f"ORDER BY name_key {way}, client_id {way} LIMIT ? OFFSET ?",
        [*args, count, start],
    ).fetchall()
    (total,) = conn.execute(f"SELECT COUNT(*) FROM clients WHERE {where}", args).fetchone()
    return [_client(company, cid, customer) for cid, customer in rows], int(total)


def _client(company: str, client_id: str, customer: bytes) -> ClientRecord:
    raw: CustomerJSON = orjson.loads(customer)
    return map_client(raw, company, client_id)


def clients_by_key(conn: sqlite3.Connection, keys: Sequence[Key]) -> list[ClientRecord | None]:
    out: list[ClientRecord | None] = []
    for key in keys:
        row = conn.execute(
            "SELECT customer FROM clients WHERE company_id = ? AND client_id = ?",
            (key.tenant, key.id),
        ).fetchone()
        out.append(_client(key.tenant, key.id, row[0]) if row else None)
    return out


def client_invoice_keys(conn: sqlite3.Connection, keys: Sequence[Key]) -> list[list[Key]]:
    """Each client's invoices, newest first."""
    return [
        [
            invoice_key(key.tenant, invoice_id)
            for (invoice_id,) in conn.execute(
                "SELECT invoice_id FROM invoices WHERE company_id = ? AND client_id = ? "
                "ORDER BY issued_at DESC, rowid DESC",
                (key.tenant, key.id),
            )
        ]
        for key in keys
    ]


def company_of(
    conn: sqlite3.Connection, invoice_id: str | None, import_id: str | None
) -> str | None:
    """The company an invoice belongs to, as far as the index knows it or its import."""
    if invoice_id:
        row = conn.execute(
            "SELECT company_id FROM invoices WHERE invoice_id = ?", (invoice_id,)
        ).fetchone()
        if row:
            return str(row[0])
    if import_id:
        row = conn.execute(
            "SELECT company_id FROM imports WHERE import_id = ?", (import_id,)
        ).fetchone()
        if row:
            return str(row[0])
    return None


def stored_invoices(conn: sqlite3.Connection, invoice_id: str) -> list[tuple[str, Any]]:
    """(company, raw JSON) of every indexed invoice with this id."""
    rows = conn.execute(
        "SELECT company_id, raw FROM invoices WHERE invoice_id = ?", (invoice_id,)
    ).fetchall()
    return [(str(company), orjson.loads(raw)) for company, raw in rows]


def invoice_keys_of_import(conn: sqlite3.Connection, import_id: str) -> list[Key]:
    rows = conn.execute(
        "SELECT company_id, invoice_id FROM invoices WHERE import_id = ?", (import_id,)
    )
    return [invoice_key(c, i) for c, i in rows]


def invoice_keys_by_id(conn: sqlite3.Connection, invoice_ids: Sequence[str]) -> list[Key]:
    keys: list[Key] = []
    for invoice_id in invoice_ids:
        rows = conn.execute(
            "SELECT company_id FROM invoices WHERE invoice_id = ?", (invoice_id,)
        ).fetchall()
        keys += [invoice_key(c, invoice_id) for (c,) in rows]
    return keys


def counts(conn: sqlite3.Connection) -> dict[str, Counts]:
    """Invoices and clients per company."""
    out: dict[str, Counts] = {}
    for (company,) in conn.execute("SELECT company_id FROM companies ORDER BY rowid").fetchall():
        (invoices,) = conn.execute(
            "SELECT COUNT(*) FROM invoices WHERE company_id = ?", (company,)
        ).fetchone()
        (clients,) = conn.execute(
            "SELECT COUNT(*) FROM clients WHERE company_id = ?", (company,)
        ).fetchone()
        out[company] = Counts(int(invoices), int(clients))
    return out
