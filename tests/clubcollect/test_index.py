"""The ClubCollect invoice index in SQLite and in PostgreSQL: restarts, rebuilds,
schema, the CLI, and replicas sharing one index in PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio

import services
from clubgraph.cli import main
from clubgraph.connectors.base import ClientFilter, InvoiceFilter, InvoiceOrder, Stream
from clubgraph.connectors.clubcollect import DEV_CREDENTIALS, ClubCollectConnector, pgstore
from clubgraph.connectors.clubcollect.notifications import Notification
from clubgraph.connectors.clubcollect.store import MIGRATIONS
from clubgraph.domain import Key
from clubgraph.sandbox.clubcollect.protocol import STATE
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

CO = "cmp_utrecht_rc"


@pytest_asyncio.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["clubcollect"])
    yield running
    await running.stop()


async def requests(sandbox: RunningSandbox) -> list[str]:
    """The paths served since the last call (and clear the log)."""
    url = sandbox.urls["clubcollect"] + "/__sandbox/requests"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            log = await resp.json()
        await http.delete(url)
    return [e["path"] for e in log]


async def everything(conn: ClubCollectConnector) -> tuple[list[Key], list[Key]]:
    async def keys(streams: Any) -> list[Key]:
        out: list[Key] = []
        for stream in streams:
            assert isinstance(stream, Stream)
            out += [r.key for r in (await stream.fetch(0, 100_000)).rows]
        return out

    invoices = await keys(await conn.invoice_streams(InvoiceFilter(), InvoiceOrder()))
    clients = await keys(await conn.client_streams(ClientFilter()))
    return invoices, clients


@pytest.fixture(params=["sqlite", "postgres"])
async def where(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Where the index lives: a SQLite file (in a directory not made yet), or a
    PostgreSQL database of the test's own."""
    if request.param == "sqlite":
        yield str(tmp_path / "nested" / "index.sqlite3")
        return
    async with services.fresh_database() as url:
        yield url


def connector(
    sandbox: RunningSandbox, path: Path | str, url: str | None = None
) -> ClubCollectConnector:
    return ClubCollectConnector(
        url or sandbox.urls["clubcollect"], DEV_CREDENTIALS, index_path=str(path)
    )


def invoice_gets(paths: list[str]) -> int:
    return sum(p.startswith("/api/v2/invoices/") for p in paths)


async def new_invoice(sandbox: RunningSandbox, number: str) -> dict[str, Any]:
    """An invoice created upstream behind clubgraph's back (no notification read)."""
    probe = ClubCollectConnector(sandbox.urls["clubcollect"], DEV_CREDENTIALS)
    await probe.http.start()
    try:
        imp = await probe.api.create_import(CO, "Extra")
        return dict(
            await probe.api.create_invoice(
                {
                    "import_id": imp["import_id"],
                    "external_invoice_number": number,
                    "customer": {
                        "name": {"first_name": "Ina", "last_name": "Dex"},
                        "email": {"email_address": "ina.dex@example.com"},
                    },
                    "invoice_lines": [{"amount_cents": 999, "description": "Sleutel"}],
                    "amount_total_cents": 999,
                }
            )
        )
    finally:
        await probe.http.close()


async def test_the_index_survives_a_restart_without_a_crawl(
    sandbox: RunningSandbox, where: str
) -> None:
    path = where
    await requests(sandbox)
    first = connector(sandbox, path)
    await first.start()
    try:
        await first.index.ready()
        before = await everything(first)
    finally:
        await first.close()
    assert any(p.startswith("/api/v2/invoices/") for p in await requests(sandbox))
    assert where.startswith("postgresql://") or os.path.exists(path)  # noqa: ASYNC240

    second = connector(sandbox, path)
    await second.start()
    try:
        assert await second.tenants() == ["cmp_amsterdam_hc", CO]
        await second.index.ready()
        assert await everything(second) == before
        assert len(before[0]) == len(sandbox.apps["clubcollect"][STATE].invoices)
    finally:
        await second.close()
    assert await requests(sandbox) == []


async def test_an_index_of_another_upstream_is_not_served(
    sandbox: RunningSandbox, where: str
) -> None:
    path = where
    first = connector(sandbox, path)
    await first.start()
    await first.index.ready()
    await first.close()
    await requests(sandbox)
    other = connector(sandbox, path, sandbox.urls["clubcollect"].replace("127.0.0.1", "localhost"))
    await other.start()
    try:
        await other.index.ready()
    finally:
        await other.close()
    assert sum(p.startswith("/api/v2/invoices/") for p in await requests(sandbox)) > 100


async def test_rebuild_replaces_the_index(sandbox: RunningSandbox, where: str) -> None:
    conn = connector(sandbox, where)
    await conn.start()
    try:
        await conn.index.ready()
        raw = await new_invoice(sandbox, "URC-REBUILD-1")
        invoices, _ = await everything(conn)
        assert raw["invoice_id"] not in {k.id for k in invoices}
        counts = await conn.rebuild_index()
        invoices, clients = await everything(conn)
        assert raw["invoice_id"] in {k.id for k in invoices}
        assert "ina.dex@example.com" in {k.id for k in clients}
        assert sum(c.invoices for c in counts.values()) == len(invoices)
        assert sum(c.clients for c in counts.values()) == len(clients)
    finally:
        await conn.close()


async def test_schema_version_is_recorded_and_a_newer_file_starts_over(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "index.sqlite3"
    conn = connector(sandbox, path)
    await conn.start()
    await conn.index.ready()
    await conn.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone() == (
            len(MIGRATIONS),
        )
        db.execute("INSERT INTO schema_version VALUES (99)")
    db.close()
    await requests(sandbox)
    again = connector(sandbox, path)
    await again.start()
    try:
        await again.index.ready()
        invoices, _ = await everything(again)
    finally:
        await again.close()
    assert len(invoices) == len(sandbox.apps["clubcollect"][STATE].invoices)
    assert any(p.startswith("/api/v2/invoices/") for p in await requests(sandbox))


async def test_postgres_schema_version_is_recorded_once(sandbox: RunningSandbox) -> None:
    async with services.fresh_database() as url:
        first, second = connector(sandbox, url), connector(sandbox, url)
        await asyncio.gather(first.start(), second.start())
        try:
            await asyncio.gather(first.index.ready(), second.index.ready())
        finally:
            await asyncio.gather(first.close(), second.close())
        db = await asyncpg.connect(url)
        try:
            versions = await db.fetch("SELECT version FROM clubcollect_index_migrations")
            upstream = await db.fetchval(
                "SELECT value FROM clubcollect_meta WHERE name = 'upstream'"
            )
        finally:
            await db.close()
    assert [r["version"] for r in versions] == [v for v, _ in pgstore.MIGRATIONS]
    assert upstream == sandbox.urls["clubcollect"]


async def test_replicas_starting_together_crawl_once_and_list_the_same(
    sandbox: RunningSandbox,
) -> None:
    total = len(sandbox.apps["clubcollect"][STATE].invoices)
    async with services.fresh_database() as url:
        replicas = [connector(sandbox, url) for _ in range(3)]
        await requests(sandbox)
        await asyncio.gather(*(r.start() for r in replicas))
        try:
            await asyncio.gather(*(r.index.ready() for r in replicas))
            # Every invoice fetched once, by whichever replica crawled.
            assert invoice_gets(await requests(sandbox)) == total
            listed = [await everything(r) for r in replicas]
            late = connector(sandbox, url)
            await late.start()
            try:
                await late.index.ready()
                listed.append(await everything(late))
            finally:
                await late.close()
            assert await requests(sandbox) == []
        finally:
            await asyncio.gather(*(r.close() for r in replicas))
    assert len(listed[0][0]) == total
    assert all(each == listed[0] for each in listed)


async def test_a_notification_one_replica_applies_is_listed_by_every_replica(
    sandbox: RunningSandbox,
) -> None:
    async with services.fresh_database() as url:
        one, two = connector(sandbox, url), connector(sandbox, url)
        await asyncio.gather(one.start(), two.start())
        try:
            await asyncio.gather(one.index.ready(), two.index.ready())
            raw = await new_invoice(sandbox, "URC-SHARED-1")
            assert raw["invoice_id"] not in {k.id for k in (await everything(two))[0]}
            changes = await one.apply_notification(Notification((raw["invoice_id"],)))
            assert [c.after.key.id for c in changes if c.after] == [raw["invoice_id"]]
            invoices, clients = await everything(two)
            assert raw["invoice_id"] in {k.id for k in invoices}
            assert "ina.dex@example.com" in {k.id for k in clients}
            assert await everything(one) == (invoices, clients)
            # Deleted upstream and notified to the other replica: gone for both.
            await one.api.delete_invoice(raw["invoice_id"])
            await two.apply_notification(Notification((raw["invoice_id"],)))
            assert raw["invoice_id"] not in {k.id for k in (await everything(one))[0]}
        finally:
            await asyncio.gather(one.close(), two.close())


async def test_concurrent_rebuilds_leave_one_whole_index(sandbox: RunningSandbox) -> None:
    async with services.fresh_database() as url:
        one, two = connector(sandbox, url), connector(sandbox, url)
        await asyncio.gather(one.start(), two.start())
        try:
            counts = await asyncio.gather(one.rebuild_index(), two.rebuild_index())
            assert counts[0] == counts[1]
            invoices, clients = await everything(one)
            assert await everything(two) == (invoices, clients)
        finally:
            await asyncio.gather(one.close(), two.close())
    assert len(invoices) == len(sandbox.apps["clubcollect"][STATE].invoices)
    assert sum(c.invoices for c in counts[0].values()) == len(invoices)
    assert sum(c.clients for c in counts[0].values()) == len(clients)


async def test_cli_rebuild_prints_counts_and_fills_the_file(
    sandbox: RunningSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("CLUBGRAPH_CLUBCOLLECT_URL", sandbox.urls["clubcollect"])
    monkeypatch.setenv("CLUBGRAPH_CLUBCOLLECT_INDEX", str(path))
    for name in ("FITNESSFORCE", "TIMETAP", "TIGHT"):
        monkeypatch.delenv(f"CLUBGRAPH_{name}_URL", raising=False)
    # The command runs its own event loop: give it a thread of its own.
    assert await asyncio.to_thread(main, ["clubcollect-index", "rebuild"]) == 0
    out = capsys.readouterr().out
    assert str(path) in out
    assert "cmp_amsterdam_hc" in out
    assert CO in out
    assert "invoices" in out
    await requests(sandbox)
    conn = connector(sandbox, path)
    await conn.start()
    try:
        await conn.index.ready()
        invoices, _ = await everything(conn)
    finally:
        await conn.close()
    assert invoices
    assert await requests(sandbox) == []


def test_cli_without_clubcollect_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CLUBGRAPH_CLUBCOLLECT_URL", raising=False)
    assert main(["clubcollect-index", "rebuild"]) == 2
    assert "CLUBGRAPH_CLUBCOLLECT_URL" in capsys.readouterr().err
