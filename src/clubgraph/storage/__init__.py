"""Where the server keeps its state: SQLite for one process, PostgreSQL for replicas."""

from __future__ import annotations

from .base import EventRow, KeyRow, Storage, StorageError
from .sqlite import SQLiteStorage

__all__ = ["EventRow", "KeyRow", "SQLiteStorage", "Storage", "StorageError", "open_storage"]


def open_storage(database_url: str | None, sqlite_path: str) -> Storage:
    """PostgreSQL at ``database_url`` when set, else SQLite at ``sqlite_path`` (not started)."""
    if database_url:
        from .postgres import PostgresStorage  # asyncpg only when PostgreSQL is used

        return PostgresStorage(database_url)
    return SQLiteStorage(sqlite_path)
